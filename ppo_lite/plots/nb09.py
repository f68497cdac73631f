"""Figures of notebook 09 (limits): hyperparameter sensitivity heat maps and the hard-exploration study.

Each ``plot_*`` takes the data of a committed sweep (``figures/sensitivity.json``, ``figures/exploration.json``)
and returns a Figure; :func:`save_key_figures` reads those files and writes ``nb09_*.png``.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

LABELS = {"lr": "learning rate", "clip_eps": r"clip $\epsilon$", "gae_lambda": r"GAE $\lambda$", "gamma": r"discount $\gamma$",
          "update_epochs": "update epochs", "num_minibatches": "minibatches per epoch"}
VARIANT_LABELS = {"none": "PPO, plain reward", "shaping": "potential-based shaping", "count_bonus": "count-based bonus"}


def _cell_means(grid: dict[str, Any]) -> list[list[float]]:
    return [[sum(seeds) / len(seeds) for seeds in row] for row in grid["final"]]


def plot_sensitivity(data: dict[str, Any]) -> Figure:
    """One heat map per grid: seed-mean final return (mean of the last 20 episodes) of each cell."""
    grids = data["grids"]
    fig, axes = plt.subplots(1, len(grids), figsize=(4.6 * len(grids), 3.9), squeeze=False)
    hi = 500.0 if data.get("env_id") == "CartPole-v1" else None
    for ax, (name, grid) in zip(axes[0], grids.items()):
        means = _cell_means(grid)
        im = ax.imshow(means, origin="lower", cmap="viridis", vmin=0.0, vmax=hi, aspect="auto")
        ax.set_xticks(range(len(grid["cols"])), [f"{c:g}" for c in grid["cols"]])
        ax.set_yticks(range(len(grid["rows"])), [f"{r:g}" for r in grid["rows"]])
        ax.set_xlabel(LABELS.get(grid["col"], grid["col"]))
        ax.set_ylabel(LABELS.get(grid["row"], grid["row"]))
        for i, row in enumerate(means):
            for j, m in enumerate(row):
                ax.text(j, i, f"{m:.0f}", ha="center", va="center", color="w" if m < 300 else "k", fontsize=9)
        ax.set_title(f"{name}: {100 * grid['good_fraction']:.0f}% of cells within 10% of best", fontsize=9)
        fig.colorbar(im, ax=ax, label="final return (mean of last 20 episodes)")
    fig.suptitle(f"{data.get('env_id', '')}: final return after {data.get('steps', 0):,} env steps, "
                 f"mean of {len(data.get('seeds', []))} seeds per cell", fontsize=10)
    fig.tight_layout()
    return fig


def plot_pendulum_story(data: dict[str, Any]) -> Figure:
    """Final return of Pendulum-v1 with SB3's generic defaults vs the tuned classic-control defaults, per seed."""
    story = data["pendulum"]
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for x, label in enumerate(("sb3_defaults", "tuned")):
        finals = story[label]["final"]
        ax.scatter([x] * len(finals), finals, s=40, zorder=3)
        ax.bar(x, sum(finals) / len(finals), color=f"C{x}", alpha=0.4)
    ax.set_xticks([0, 1], ["SB3 generic defaults", "tuned classic-control"])
    ax.set_ylabel("final return (mean of last 20 episodes)")
    ax.axhline(data["random_return"]["Pendulum-v1"], color="gray", ls="--", label="random policy")
    ax.set_title(f"Pendulum-v1 after {story['steps']:,} env steps", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_exploration(data: dict[str, Any]) -> Figure:
    """Learning curves (true task return) of each variant on MountainCar-v0, and the fraction of episodes that
    reach the goal."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    for c, (name, runs) in enumerate(data["variants"].items()):
        for s, run in enumerate(runs):
            axes[0].plot(run["env_steps"], run["return"], color=f"C{c}", alpha=0.8, lw=1.2,
                         label=VARIANT_LABELS.get(name, name) if s == 0 else None)
        goal = [sum(r["goal_fraction"] for r in runs) / len(runs)]
        axes[1].bar(c, goal[0], color=f"C{c}")
    axes[0].axhline(-200, color="gray", ls="--", lw=0.8, label="never reaches the goal (−200)")
    axes[0].set_xlabel("env steps")
    axes[0].set_ylabel("true episode return (mean of last 20)")
    axes[0].legend(fontsize=8)
    names = list(data["variants"])
    axes[1].set_xticks(range(len(names)), [VARIANT_LABELS.get(n, n) for n in names], fontsize=8)
    axes[1].set_ylabel("fraction of episodes reaching the goal")
    fig.suptitle(f"MountainCar-v0, {data['steps']:,} env steps per run, {len(data['seeds'])} seeds", fontsize=10)
    fig.tight_layout()
    return fig


def save_key_figures(outdir: Path) -> list[Path]:
    """Plot the committed sweeps found in ``outdir`` (``sensitivity.json``, ``exploration.json``) as ``nb09_*.png``."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    written = []
    sens, expl = outdir / "sensitivity.json", outdir / "exploration.json"
    if sens.exists():
        data = json.loads(sens.read_text())
        written.append(_save(plot_sensitivity(data), outdir / "nb09_sensitivity_heatmaps.png"))
        if "pendulum" in data:
            written.append(_save(plot_pendulum_story(data), outdir / "nb09_pendulum_defaults_vs_tuned.png"))
    if expl.exists():
        written.append(_save(plot_exploration(json.loads(expl.read_text())), outdir / "nb09_mountaincar_exploration.png"))
    return written


def _save(fig: Figure, path: Path) -> Path:
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path
