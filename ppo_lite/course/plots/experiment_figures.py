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

from . import debugging, nb05, nb06, nb07, nb08, nb09, save_figures


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
    "stuck": ResultFigure(debugging.plot_stuck),  # notebook 10 section 8 (broken, or just short)
    "log_std": ResultFigure(debugging.plot_log_std),  # notebook 10 section 11 (a Gaussian's log-std collapsing)
    "corners": ResultFigure(lambda data: plot_corners(data)),  # issue 29: the ablation's corners, tuned, 30 seeds
}


def plot_corners(data: dict[str, Any]) -> Figure:
    """``corners`` (issue 29): per task, each corner's final runs logged so far (mean and 95% t-interval, the seeds as
    dots, successes counted under the axis), and below it each corner's learning-rate line from the tuning seeds."""
    import matplotlib.pyplot as plt
    import numpy as np

    colors = {"clip": "tab:blue", "kl_dual": "tab:orange", "surrogate": "tab:red"}
    tasks = data["design"]["tasks"]
    fig, axes = plt.subplots(2, len(tasks), figsize=(4.2 * len(tasks), 6.6), squeeze=False)
    for j, task in enumerate(tasks):
        top, bottom = axes[0][j], axes[1][j]
        mine = [c for c in data["corners"].values() if c["task"] == task["label"]]
        for i, c in enumerate(mine):
            color = colors.get(c["objective"], "k")
            summary = next((r["final"] for r in data["progress"]["corners"] if r["corner"] == f"{c['task']} | {c['objective']} | {c['setting']}"), None)
            if summary is not None:
                runs = [r for cell in c["final_cells"] for r in cell["runs"]]
                ys = [r["eval_return"] if r["eval_return"] is not None else data["declaration"]["margins"]["random_returns"][c["env_id"]] for r in runs]
                top.scatter(i + 0.15 * np.sin(np.arange(len(ys)) * 2.4), ys, s=6, color=color, alpha=0.35, lw=0)
                lo, hi = summary["ci"]
                top.errorbar([i], [summary["mean"]], yerr=[[summary["mean"] - lo], [hi - summary["mean"]]], fmt="o", ms=5,
                             capsize=3, color=color)
                top.annotate(f"{summary['successes']}/{summary['seeds']}", (i, 0), xycoords=("data", "axes fraction"),
                             xytext=(0, 2), textcoords="offset points", ha="center", fontsize=7)
            t = c["tuning"]
            if t is not None:
                line = t["lines"][0]
                xs = line["values"]
                bottom.plot(xs, [line["summaries"][f"{v:g}"]["mean"] for v in xs], "o-" if c["setting"] == "all on" else "s--",
                            ms=3, lw=1, color=color, label=f"{c['objective']}, {c['setting']}")
        env = mine[0]["env_id"] if mine else task["env_id"]
        for ax in (top, bottom):
            ax.axhline(data["declaration"]["margins"]["success_score"][task["label"]], color="green", ls="--", lw=0.8)
            ax.axhline(data["declaration"]["margins"]["random_returns"][env], color="gray", ls=":", lw=0.8)
            ax.grid(alpha=0.3)
        top.set_xticks(range(len(mine)), [f"{c['objective']}\n{c['setting']}" for c in mine], fontsize=7)
        top.set_title(f"{task['label']}, {task['steps']:,} env steps", fontsize=9)
        top.set_ylabel("evaluation return (final seeds)", fontsize=8)
        bottom.set_xscale("log")
        bottom.set_xlabel("learning rate", fontsize=8)
        bottom.set_ylabel("mean evaluation return (tuning seeds)", fontsize=8)
        if bottom.get_legend_handles_labels()[0]:
            bottom.legend(fontsize=6)
    fig.suptitle(f"Corners at their own tuned settings ({data['cells_done']} cells logged, at least "
                 f"{data['cells_to_do_at_least']} to do); mean and 95% t-interval, successes under each", fontsize=9)
    fig.tight_layout()
    return fig


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
