"""Figures of notebook 09 (limits): hyperparameter sensitivity heat maps and the hard-exploration study.

Each ``plot_*`` takes the data of a committed sweep (``figures/sensitivity.json``, ``figures/exploration.json``)
and returns a Figure; :func:`save_key_figures` reads those files and writes ``nb09_*.png``.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

LABELS = {"lr": "learning rate", "clip_eps": r"clip $\epsilon$", "gae_lambda": r"GAE $\lambda$", "gamma": r"discount $\gamma$",
          "update_epochs": "update epochs", "num_minibatches": "minibatches per epoch"}
VARIANT_LABELS = {"none": "PPO, plain reward", "shaping": "potential-based shaping", "count_bonus": "count-based bonus"}


def _grid_array(g: dict[str, Any]) -> tuple[list[float], list[float], np.ndarray]:
    """A grid's axes and its (len(ys), len(xs)) array of normalized cell means (rows: y, columns: x)."""
    xs, ys = g["xs"], g["ys"]
    means = {tuple(c): m for c, m in zip(g["cells"], g["mean"])}
    return xs, ys, np.array([[means[(x, y)] for x in xs] for y in ys])


def plot_sensitivity(data: dict[str, Any]) -> Figure:
    """One heat map per (task, grid): the seed mean of the normalized evaluation score (0 random policy, 1 solved)
    of every cell, the best cell boxed, and the share of cells whose interval overlaps the best one's."""
    panels = [(env, name, g) for env, grids in data["results"].items() for name, g in grids.items()]
    cols = max(1, len({name for _, name, _ in panels}))
    rows = max(1, len(data["results"]))
    fig, axes = plt.subplots(rows, cols, figsize=(4.4 * cols, 3.6 * rows), squeeze=False)
    order = list(data["grids"])
    envs = list(data["results"])
    for ax in axes.flat:
        ax.axis("off")
    for env, name, g in panels:
        ax = axes[envs.index(env)][order.index(name) if name in order else 0]
        ax.axis("on")
        xs, ys, a = _grid_array(g)
        im = ax.imshow(a, origin="lower", cmap="viridis", vmin=min(0.0, float(a.min())), vmax=max(1.0, float(a.max())), aspect="auto")
        ax.set_xticks(range(len(xs)), [f"{x:g}" for x in xs], fontsize=7)
        ax.set_yticks(range(len(ys)), [f"{y:g}" for y in ys], fontsize=7)
        ax.set_xlabel(LABELS.get(g["x"], g["x"]), fontsize=8)
        ax.set_ylabel(LABELS.get(g["y"], g["y"]), fontsize=8)
        for i in range(len(ys)):
            for j in range(len(xs)):
                ax.text(j, i, f"{a[i, j]:.2f}", ha="center", va="center", color="w" if a[i, j] < 0.6 else "k", fontsize=7)
        bi, bj = ys.index(g["best"][1]), xs.index(g["best"][0])
        ax.add_patch(plt.Rectangle((bj - 0.5, bi - 0.5), 1, 1, fill=False, ec="red", lw=2))
        nb = g["near_best"] or g["near_best_same_seeds"]
        ax.set_title(f"{env} · {name}\nwithin ±{nb['margin']:g} of the best (TOST): {100 * nb['near']:.0f}%, "
                     f"worse: {100 * nb['far']:.0f}%, undecided: {100 * nb['undecided']:.0f}%", fontsize=8)
        fig.colorbar(im, ax=ax, label="normalized evaluation score")
    fig.suptitle(f"Evaluation score after {', '.join(f'{e}: {s:,}' for e, s in data['tasks'].items())} env steps, "
                 f"mean of {len(data['seeds'])} seeds per cell (red: best cell)", fontsize=9)
    fig.tight_layout()
    return fig


def plot_expected_max(data: dict[str, Any], grids: tuple[str, ...] = ("ppo_lr_lambda", "pg_lr_lambda")) -> Figure:
    """Expected best normalized score after k settings drawn at random from the grid (Dodge et al. 2019), with the
    seed-bootstrap 95% band, per task: PPO against the one-epoch policy gradient on the same grid."""
    envs = list(data["results"])
    fig, axes = plt.subplots(1, max(1, len(envs)), figsize=(4.6 * max(1, len(envs)), 3.5), squeeze=False)
    for ax, env in zip(axes[0], envs):
        for k, name in enumerate(grids):
            g = data["results"][env].get(name)
            if g is None:
                continue
            ks = np.arange(1, len(g["expected_max"]) + 1)
            ax.plot(ks, g["expected_max"], color=f"C{k}", label=f"{name} ({data['algorithms'][g['algorithm']].split(' (')[0]})")
            ax.fill_between(ks, g["expected_max_ci"][0], g["expected_max_ci"][1], color=f"C{k}", alpha=0.2)
        ax.axhline(1.0, color="green", ls="--", lw=1)
        ax.set_xscale("log")
        ax.set_xlabel("settings tried at random, k")
        ax.set_ylabel("expected best normalized score\n(0 random policy, 1 solved)", fontsize=8)
        ax.set_title(env, fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_pendulum_story(data: dict[str, Any]) -> Figure:
    """Evaluation return of Pendulum-v1 with SB3's generic defaults vs the tuned classic-control defaults, per seed."""
    story = data["story"]
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for x, label in enumerate(("sb3_defaults", "tuned")):
        scores = [r["eval_return"] for r in story[label]["runs"] if not r["diverged"]]
        ax.scatter([x] * len(scores), scores, s=30, zorder=3, color=f"C{x}")
        ax.bar(x, sum(scores) / len(scores), color=f"C{x}", alpha=0.4)
    ax.set_xticks([0, 1], ["SB3 generic defaults", "tuned classic-control"])
    ax.set_ylabel("evaluation return (10 deterministic episodes)", fontsize=8)
    ax.axhline(data["random_returns"]["Pendulum-v1"], color="gray", ls="--", label="random policy")
    ax.axhline(-200, color="green", ls=":", label="solved (−200)")
    ax.set_title(f"Pendulum-v1 after {data['tasks']['Pendulum-v1']:,} env steps", fontsize=10)
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
        written.append(_save(plot_expected_max(data), outdir / "nb09_expected_max.png"))
        if data.get("story"):
            written.append(_save(plot_pendulum_story(data), outdir / "nb09_pendulum_defaults_vs_tuned.png"))
    if expl.exists():
        written.append(_save(plot_exploration(json.loads(expl.read_text())), outdir / "nb09_mountaincar_exploration.png"))
    return written


def _save(fig: Figure, path: Path) -> Path:
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path


DEEP_SEA_STYLE = {"ppo": ("tab:blue", "PPO"), "count_bonus": ("tab:orange", "PPO + count bonus"),
                  "shaping": ("tab:green", "PPO + shaping (Φ = column)")}


def plot_deep_sea(data: dict[str, Any]) -> Figure:
    """DeepSea (``figures/deep_sea.json``): against the size N, the share of seeds whose final policy reaches the
    treasure (Clopper-Pearson 95%), and the share of training episodes that reached it; the random policy's
    :math:`2^{-N}` for scale."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    for k, variant in enumerate(data["variants"]):
        rows = sorted((r for r in data["summary"] if r["variant"] == variant), key=lambda r: r["size"])
        if not rows:
            continue
        color, label = DEEP_SEA_STYLE.get(variant, ("gray", variant))
        if variant == "count_bonus" and data.get("beta") is not None:
            label += f" (β = {data['beta']:g})"
        sizes = [r["size"] + 0.15 * (k - 1) for r in rows]
        share = [r["solved"] / r["seeds"] for r in rows]
        err = [[s - r["solved_ci"][0] for s, r in zip(share, rows)], [r["solved_ci"][1] - s for s, r in zip(share, rows)]]
        axes[0].errorbar(sizes, share, yerr=err, fmt="o-", color=color, capsize=3, label=label)
        found = [r for r in rows if r["train_success"] > 0]
        axes[1].plot([r["size"] for r in found], [r["train_success"] for r in found], "o-", color=color, label=label)
        never = [r["size"] for r in rows if r["train_success"] == 0]  # no episode reached it: drawn on the floor
        axes[1].plot(never, [1e-6] * len(never), "v", color=color, mfc="none")
    sizes = sorted({r["size"] for r in data["summary"]})
    if sizes:
        axes[1].plot(sizes, [2.0 ** -n for n in sizes], "k:", label=r"random policy, $2^{-N}$")
    axes[0].set_ylabel(f"seeds solved (of {len(data['seeds'])})\n(deterministic policy reaches the treasure)")
    axes[0].set_ylim(-0.05, 1.05)
    axes[1].set_ylabel("share of training episodes\nthat reached the treasure\n(open ▽ on the floor: none did)")
    axes[1].set_yscale("log")
    for ax in axes:
        ax.set_xlabel("DeepSea size N (steps per episode)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"DeepSea, {data['episodes']:,} training episodes per agent", fontsize=10)
    fig.tight_layout()
    return fig
