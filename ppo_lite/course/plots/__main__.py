"""Write every notebook's key figures into ``figures/``: ``python -m ppo_lite.course.plots [nb00 nb05 ...]``.

Each ``ppo_lite.course.plots.nbXX`` module's ``save_key_figures(outdir)`` recomputes its notebook's small experiments
(or reads the committed sweep results under ``figures/``) and writes ``nbXX_*.png``. The README shows them.
"""
from __future__ import annotations

import importlib
import pkgutil
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import torch  # noqa: E402

from ...experiments import FIGURES  # noqa: E402
from . import __path__ as _plots_path  # noqa: E402



def main(argv: list[str]) -> int:
    torch.set_num_threads(1)
    names = sorted(m.name for m in pkgutil.iter_modules(_plots_path) if m.name.startswith("nb"))
    chosen = argv or names
    unknown = sorted(set(chosen) - set(names))
    if unknown:
        print(f"unknown notebook modules {unknown}; available: {names}", file=sys.stderr)
        return 2
    for name in chosen:
        t0 = time.perf_counter()
        paths = importlib.import_module(f"{__package__}.{name}").save_key_figures(FIGURES)
        print(f"{name}: {len(paths)} figure(s) in {time.perf_counter() - t0:.1f} s: " + ", ".join(Path(p).name for p in paths))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
