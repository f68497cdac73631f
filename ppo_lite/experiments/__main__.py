"""``python -m ppo_lite.experiments NAME [options]``: run experiment NAME, then draw its figure.

The experiment writes its results (``<name>.json`` under ``figures/``, or its ``--outdir``); this entry point then
draws each results file it wrote into a PNG beside it, with the registry
:data:`ppo_lite.course.plots.experiment_figures.RESULT_FIGURES`. It is the only module of ``ppo_lite.experiments`` that
imports plotting code, so the experiments and the plots that read their data never import each other both ways.
"""
from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no window

from ..course.plots.experiment_figures import draw_result_figure  # noqa: E402
from . import available, run  # noqa: E402

USAGE = "usage: python -m ppo_lite.experiments NAME [options]"


def main(argv: list[str]) -> int:
    """Run experiment ``argv[0]`` with the options ``argv[1:]``; if it succeeds, draw the figure of every results
    file it wrote. Returns the exit code."""
    if not argv or argv[0] in ("-h", "--help"):
        print(f"{USAGE}\nexperiments: {', '.join(available())}")
        return 0
    name, options = argv[0], argv[1:]
    written: list[Path] = []
    code = run(name, options, written=written)
    if code == 0:
        for path in written:
            print(f"drew {draw_result_figure(name, path)}")
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
