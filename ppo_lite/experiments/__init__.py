"""Long experiments behind the course's figures: ``python -m ppo_lite.experiments NAME [options]``.

Each experiment is a module here with ``main(argv: list[str]) -> int`` that runs its sweep and writes data
(JSON) and plots (PNG) under ``figures/``. Notebooks run a small live version and plot the committed results.
"""
from __future__ import annotations

import importlib
import json
import pkgutil
import platform
import time
from pathlib import Path
from typing import Any, Callable

FIGURES = Path(__file__).resolve().parents[2] / "figures"


def available() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))


def run(name: str, argv: list[str]) -> int:
    if name not in available():
        raise SystemExit(f"unknown experiment {name!r}; available: {', '.join(available())}")
    return importlib.import_module(f"{__name__}.{name}").main(argv)


def write_results(
    name: str,
    data: dict[str, Any],
    seconds: float,
    command: str,
    outdir: str | Path | None = None,
    plot: Callable[[dict[str, Any]], Any] | None = None,
    dpi: int = 110,
) -> Path:
    """Write ``<outdir>/<name>.json`` (``figures/`` by default) with the data plus provenance (command, wall time,
    machine, versions); with ``plot``, also ``<name>.png``, drawn from the file as written (what a notebook reads)."""
    import torch

    outdir = FIGURES if outdir is None else Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    path = outdir / f"{name}.json"
    meta = {
        "command": command,
        "wall_seconds": round(seconds, 1),
        "date": time.strftime("%Y-%m-%d"),
        "machine": cpu_name(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "python": platform.python_version(),
    }
    path.write_text(json.dumps({"meta": meta, **data}, indent=1))
    if plot is not None:
        import matplotlib.pyplot as plt  # only here: importing the library must not import matplotlib

        fig = plot(json.loads(path.read_text()))
        fig.savefig(path.with_suffix(".png"), dpi=dpi, bbox_inches="tight")
        plt.close(fig)
    return path


def cpu_name() -> str:
    """The CPU's model name from /proc/cpuinfo (``platform.processor()`` elsewhere)."""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"

