"""The figure of each long experiment's results, drawn from the JSON the experiment wrote (as the notebooks read it).

The experiments in :mod:`ppo_lite.experiments` only write data; their entry point, ``python -m
ppo_lite.experiments NAME``, then calls :func:`draw_result_figure`, which looks NAME up in :data:`RESULT_FIGURES`
and writes ``<results>.png`` beside ``<results>.json``. So the plots depend on the experiments (nb06/nb07 read
their constants) and never the other way round.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from matplotlib.figure import Figure

from . import nb05, nb06, nb07, nb08, nb09, save_figures


@dataclass(frozen=True)
class ResultFigure:
    """How to draw one experiment's results: ``draw(data)`` on the parsed JSON, saved at ``dpi``."""

    draw: Callable[[dict[str, Any]], Figure]
    dpi: int = 110


# experiment name (a module of ppo_lite.experiments) -> its figure, with the notebook that shows it
RESULT_FIGURES: dict[str, ResultFigure] = {
    "clip_eps": ResultFigure(nb05.plot_sweep_summary),  # notebook 05
    "assembled": ResultFigure(nb06.plot_assembled),  # notebook 06
    "benchmark": ResultFigure(nb06.plot_benchmark),  # notebook 06 (against published numbers)
    "ablation": ResultFigure(nb07.plot_ablation),  # notebook 07 (evaluation returns per corner)
    "scaling": ResultFigure(nb08.plot_scaling, dpi=120),  # notebook 08
    "sensitivity": ResultFigure(nb09.plot_sensitivity, dpi=120),  # notebook 09
    "exploration": ResultFigure(nb09.plot_exploration, dpi=120),  # notebook 09
    "deep_sea": ResultFigure(nb09.plot_deep_sea, dpi=120),  # notebook 09 (exploration that scales with N)
}


def draw_result_figure(experiment: str, results: str | Path) -> Path:
    """Draw ``experiment``'s figure from its results file (``<dir>/<name>.json``, read back as written) and save it
    as ``<dir>/<name>.png``; returns the PNG's path."""
    if experiment not in RESULT_FIGURES:
        raise ValueError(f"no figure is registered for experiment {experiment!r}; "
                         f"RESULT_FIGURES has {', '.join(sorted(RESULT_FIGURES))}")
    results = Path(results)
    if results.suffix != ".json":
        raise ValueError(f"results must be the experiment's .json file, got {str(results)!r}")
    figure = RESULT_FIGURES[experiment]
    fig = figure.draw(json.loads(results.read_text()))
    (png,) = save_figures({results.with_suffix(".png").name: fig}, results.parent, dpi=figure.dpi, bbox_inches="tight")
    return png
