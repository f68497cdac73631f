"""Figures of notebook 06 (PPO assembled: diagnostics, discrete and continuous tasks, PPO v1 against PPO v2).

``plot_assembled`` draws the data of ``python -m ppo_lite.experiments assembled`` (``figures/assembled.json``, read by
:func:`ppo_lite.course.assembled_demo.load_results`); ``plot_diagnostics`` draws the four diagnostics of a few live
runs (:func:`ppo_lite.course.assembled_demo.lr_demo`); ``plot_benchmark`` draws ``figures/benchmark.json``;
:func:`save_key_figures` writes the PNGs.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Mapping

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from ...history import History
from .. import assembled_demo
from . import save_figures

COLORS = {"clip": "tab:blue", "kl_adaptive": "tab:green", "kl_dual": "tab:orange"}
DIAGNOSTICS = (("approx_kl", "approx. KL (nats)"), ("clip_frac", "clip fraction"),
               ("explained_variance", "explained variance"), ("entropy", "policy entropy (nats)"))


def _mean_curve(runs: list[dict[str, Any]], key: str) -> tuple[list[int], list[float]]:
    steps = runs[0]["updates"]["env_steps"]
    out = []
    for i in range(len(steps)):
        vals = [r["updates"][key][i] for r in runs if r["updates"][key][i] is not None]
        out.append(sum(vals) / len(vals) if vals else math.nan)
    return steps, out


def plot_assembled(data: dict[str, Any]) -> Figure:
    """Rows: tasks. Columns: smoothed return, approximate KL, and the KL coefficient (β or η) — seed means."""
    envs = data["envs"]
    fig, axes = plt.subplots(len(envs), 3, figsize=(13, 2.7 * len(envs)), squeeze=False)
    for row, env_id in zip(axes, envs):
        for o in data["objectives"]:
            runs = [r for r in data["runs"] if (r["env_id"], r["objective"]) == (env_id, o)]
            if not runs:
                continue
            for ax, key in zip(row, ("return", "approx_kl", "kl_coef")):
                if key == "kl_coef" and o == "clip":
                    continue
                steps, ys = _mean_curve(runs, key)
                ax.plot(steps, ys, color=COLORS.get(o), label=o)
        row[0].set_ylabel(f"{env_id}\nsmoothed return")
        row[1].set_ylabel("approx. KL (nats)")
        row[1].set_yscale("log")
        row[2].set_ylabel(r"$\beta$ or $\eta$ (per nat)")
        row[2].set_yscale("log")
        for ax in row:
            ax.set_xlabel("environment steps")
            ax.grid(alpha=0.3)
        row[0].legend(fontsize=8)
    axes[0][0].set_title(f"return (mean of {data['seeds']} seeds)")
    axes[0][1].set_title("KL(π_old‖π_new) after each update")
    axes[0][2].set_title("PPO v1 penalty coefficient")
    fig.tight_layout()
    return fig


def plot_diagnostics(histories: Mapping[str, History]) -> Figure:
    """Return and the four diagnostics against env steps for a few labelled runs (e.g. learning rates)."""
    fig, axes = plt.subplots(1, 5, figsize=(17, 3.3))
    for label, h in histories.items():
        axes[0].plot(h.episodes["env_steps"], h.episodes["return"], ".", ms=2, alpha=0.5, label=label)
        for ax, (key, _) in zip(axes[1:], DIAGNOSTICS):
            ax.plot(h["env_steps"], h[key], label=label)
    axes[0].set_ylabel("episode return")
    for ax, (key, name) in zip(axes[1:], DIAGNOSTICS):
        ax.set_ylabel(name)
    axes[1].set_yscale("log")
    for ax in axes:
        ax.set_xlabel("environment steps")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8, markerscale=4)
    fig.tight_layout()
    return fig


def save_key_figures(outdir: Path) -> list[Path]:
    """Write the notebook's figures as ``nb06_*.png`` in ``outdir`` (the lr demonstration is retrained by
    :func:`ppo_lite.course.assembled_demo.lr_demo`)."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    figs = {"nb06_assembled": plot_assembled(assembled_demo.load_results()),
            "nb06_lr_diagnostics": plot_diagnostics(assembled_demo.lr_demo())}
    return save_figures({f"{name}.png": fig for name, fig in figs.items()}, outdir)


VARIANT_STYLE = {"ppo": ("tab:blue", "PPO (library defaults)"), "pg": ("tab:red", "PG, 1 epoch (A2C-like)"),
                 "ppo_generic": ("tab:purple", "PPO (the family's generic settings)")}


def plot_benchmark(data: dict[str, Any]) -> Figure:
    """The benchmark (``figures/benchmark.json``): per task, the learning curves (seed mean of the smoothed training
    return) and each seed's evaluation return with the mean and 95% t-interval, beside the published numbers
    (dashed: rl-baselines3-zoo's PPO, dotted: its A2C)."""
    envs = [e for e in data["tasks"] if any(r["env_id"] == e for r in data["summary"])]
    fig, axes = plt.subplots(2, max(1, len(envs)), figsize=(3.3 * max(1, len(envs)), 6.4), squeeze=False)
    for col, env_id in enumerate(envs):
        top, bottom = axes[0][col], axes[1][col]
        rows = [r for r in data["summary"] if r["env_id"] == env_id]
        for x, row in enumerate(rows):
            color, label = VARIANT_STYLE.get(row["variant"], ("gray", row["variant"]))
            cell = next(c for c in data["cells"] if c["runs"][0]["env_id"] == env_id and c["runs"][0]["variant"] == row["variant"])
            runs = [r for r in cell["runs"] if not r["diverged"]]
            steps = runs[0]["curve_steps"]
            mean = [sum(v for v in vals if v is not None) / max(1, sum(v is not None for v in vals))
                    if any(v is not None for v in vals) else math.nan for vals in zip(*(r["curve"] for r in runs))]
            top.plot(steps, mean, color=color, label=label)
            bottom.scatter([x] * len(row["per_seed"]), row["per_seed"], color=color, s=14, alpha=0.6)
            lo, hi = row["ci"]
            bottom.errorbar([x + 0.15], [row["eval_return"]], yerr=[[row["eval_return"] - lo], [hi - row["eval_return"]]],
                            fmt="o", color=color, capsize=3)
        for p in data["published"][env_id]:
            if p["source"].startswith("rl-baselines3-zoo"):
                style = "--" if p["algorithm"] == "PPO" else ":"
                for ax in (top, bottom):
                    ax.axhline(p["mean"], color="k", ls=style, lw=1, label=f"zoo {p['algorithm']} ({p['budget'] // 1000}k)" if ax is top else None)
        top.set_title(env_id, fontsize=10)
        top.set_xlabel("environment steps")
        bottom.set_xticks(range(len(rows)), [r["variant"] for r in rows])
        bottom.set_xlabel("variant")
        top.grid(alpha=0.3)
        bottom.grid(alpha=0.3)
        top.legend(fontsize=6)
    axes[0][0].set_ylabel("training return\n(mean of last 20 episodes)")
    axes[1][0].set_ylabel("evaluation return\n(10 deterministic episodes)")
    fig.tight_layout()
    return fig
