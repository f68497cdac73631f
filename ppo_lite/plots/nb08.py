"""Figures of notebook 08 (throw GPUs at it?): env throughput, where an update's time goes, time to a target
return against the number of envs, and K agents batched vs one after another.

Each ``plot_*`` takes the data of ``figures/scaling.json`` (:mod:`ppo_lite.experiments.scaling`) and returns a
Figure; :func:`save_key_figures` reads that file and writes ``nb08_*.png``.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure

PHASE_LABELS = {"env_step": "env stepping", "policy_forward": "policy forward (rollout)", "rollout_other": "rollout buffers",
                "gae": "GAE", "update": "update (epochs of gradient steps)", "bookkeeping": "KL, read-back, logging"}


def plot_throughput(data: dict[str, Any], ax: Axes | None = None) -> Figure:
    """Env steps/s against the number of envs N: torch-native and gymnasium SyncVectorEnv (log-log)."""
    fig, ax = _axes(ax)
    tp = data["throughput"]
    for c, (name, label) in enumerate((("torch", f"torch-native ({data['device']})"), ("gymnasium", "gymnasium SyncVectorEnv (cpu)"))):
        envs, sec = tp[name]["envs"], tp[name]["seconds_per_step"]
        ax.loglog(envs, [n / s for n, s in zip(envs, sec)], "o-", color=f"C{c}", label=label)
    sc = data["step_cost"]
    ax.axvline(sc["overhead_bound_below"], color="gray", ls=":", label=f"N* = a/b ≈ {sc['overhead_bound_below']:,.0f}: overhead-bound below")
    ax.set_xlabel("parallel envs N")
    ax.set_ylabel("env steps per second (random actions)")
    ax.legend(fontsize=8)
    ax.set_title(f"{data['env_id']}: stepping throughput", fontsize=10)
    return fig


def plot_profile(data: dict[str, Any], ax: Axes | None = None) -> Figure:
    """Seconds per PPO update by phase, for each N (stacked bars)."""
    fig, ax = _axes(ax)
    prof = data["profile"]
    x = range(len(prof["envs"]))
    bottom = [0.0] * len(prof["envs"])
    for c, (phase, label) in enumerate(PHASE_LABELS.items()):
        vals = [1000 * p[phase] for p in prof["phases"]]
        ax.bar(x, vals, bottom=bottom, color=f"C{c}", label=label)
        bottom = [b + v for b, v in zip(bottom, vals)]
    ax.set_xticks(list(x), [str(n) for n in prof["envs"]])
    ax.set_xlabel("parallel envs N (rollout of N × 32 steps)")
    ax.set_ylabel("milliseconds per PPO update")
    ax.legend(fontsize=7)
    ax.set_title("where one update's time goes", fontsize=10)
    return fig


def plot_time_to_target(data: dict[str, Any], ax: Axes | None = None) -> Figure:
    """Wall seconds (and env steps) to a mean return of ``target`` against N; open markers: not reached."""
    fig, ax = _axes(ax)
    ttt = data["time_to_target"]
    for n, runs in zip(ttt["envs"], ttt["runs"]):
        for r in runs:
            if r["seconds"] is not None:
                ax.scatter(n, r["seconds"], color="C0", zorder=3)
            else:
                ax.scatter(n, r["wall"], facecolors="none", edgecolors="C3", zorder=3)
    means = [_mean([r["seconds"] for r in runs]) for runs in ttt["runs"]]
    ax.plot(ttt["envs"], means, color="C0", label="mean of seeds that reached it")
    ax.set_xscale("log")
    ax.set_xlabel("parallel envs N")
    ax.set_ylabel(f"wall seconds to mean return {data['target']:g}")
    ax.scatter([], [], facecolors="none", edgecolors="C3", label="did not reach it (wall time spent)")
    ax.legend(fontsize=8)
    ax.set_title(f"time to target on {data['device']} (defaults otherwise)", fontsize=10)
    return fig


def plot_batched(data: dict[str, Any], ax: Axes | None = None) -> Figure:
    """Seconds per update of K agents: one batched computation vs K single-agent updates in turn."""
    fig, ax = _axes(ax)
    b = data["batched"]
    ax.plot(b["agents"], b["sequential"], "o-", label="K agents one after another")
    ax.plot(b["agents"], b["batched"], "s-", label="K agents as one batch (ppo_lite.batched)")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("agents K (seeds or hyperparameter settings)")
    ax.set_ylabel("seconds per PPO update of all K")
    ax.legend(fontsize=8)
    ax.set_title("a hyperparameter search, batched", fontsize=10)
    return fig


def plot_scaling(data: dict[str, Any]) -> Figure:
    """The four panels of the committed sweep in one figure."""
    fig, axes = plt.subplots(2, 2, figsize=(12, 8.5))
    for fn, ax in zip((plot_throughput, plot_profile, plot_time_to_target, plot_batched), axes.flat):
        fn(data, ax)
    fig.tight_layout()
    return fig


def save_key_figures(outdir: Path) -> list[Path]:
    """Plot ``outdir/scaling.json`` (if present) as ``nb08_*.png``."""
    outdir = Path(outdir)
    path = outdir / "scaling.json"
    if not path.exists():
        return []
    data = json.loads(path.read_text())
    written = []
    for name, fn in (("throughput", plot_throughput), ("profile", plot_profile), ("time_to_target", plot_time_to_target), ("batched", plot_batched)):
        fig = fn(data)
        fig.tight_layout()
        out = outdir / f"nb08_{name}.png"
        fig.savefig(out, dpi=120, bbox_inches="tight")
        plt.close(fig)
        written.append(out)
    return written


def _axes(ax: Axes | None) -> tuple[Figure, Axes]:
    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 4))
        return fig, ax
    return ax.figure, ax


def _mean(xs: list[float | None]) -> float:
    xs = [x for x in xs if x is not None]
    return sum(xs) / len(xs) if xs else float("nan")
