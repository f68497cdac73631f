"""Figures of notebook 08 (throw GPUs at it?): env throughput, where an update's time goes, time and env steps to
a target return and the return at a fixed number of env steps against the number of envs, and K agents batched
vs one after another.

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
    """Wall seconds to a mean return of ``target`` against N, one dot per seed (open: not reached, at the run's
    wall time), the median of the seeds that reached it as a line."""
    fig, ax = _axes(ax)
    ttt = data["time_to_target"]
    for n, runs in zip(ttt["envs"], ttt["runs"]):
        for r in runs:
            if r["seconds"] is not None:
                ax.scatter(n, r["seconds"], color="C0", zorder=3, s=18)
            else:
                ax.scatter(n, r["wall"], facecolors="none", edgecolors="C3", zorder=3)
    medians = [_median([r["seconds"] for r in runs]) for runs in ttt["runs"]]
    ax.plot(ttt["envs"], medians, color="C0", label="median of the seeds that reached it")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("parallel envs N (minibatch of 32N samples)")
    ax.set_ylabel(f"wall seconds to mean return {data['target']:g}")
    ax.scatter([], [], facecolors="none", edgecolors="C3", label="did not reach it (wall time spent)")
    ax.legend(fontsize=8)
    ax.set_title(f"time to target on {data['device']}, one run at a time", fontsize=10)
    return fig


def plot_steps_to_target(data: dict[str, Any], ax: Axes | None = None) -> Figure:
    """Env steps to the target against N, one dot per seed that reached it, median as a line (log-log): a slope of
    one means wider rollouts waste samples in proportion (the same number of updates at every N)."""
    fig, ax = _axes(ax)
    ttt = data["time_to_target"]
    ax.set_xlabel("parallel envs N")
    ax.set_title("samples to target", fontsize=10)
    if not any(r["env_steps"] for runs in ttt["runs"] for r in runs):
        ax.text(0.5, 0.5, "no run reached the target", transform=ax.transAxes, ha="center")
        return fig
    for n, runs in zip(ttt["envs"], ttt["runs"]):
        ax.scatter([n] * sum(r["env_steps"] is not None for r in runs), [r["env_steps"] for r in runs if r["env_steps"] is not None],
                   color="C1", s=18, zorder=3)
    ax.plot(ttt["envs"], [_median([r["env_steps"] for r in runs]) for runs in ttt["runs"]], color="C1", label="median")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_ylabel(f"env steps to mean return {data['target']:g}")
    ax.legend(fontsize=8)
    return fig


def plot_returns(data: dict[str, Any], ax: Axes | None = None) -> Figure:
    """Deterministic evaluation return after the same number of env steps for every N: one dot per seed, the mean
    with its 95% t-interval; and the mean training return (last 20 episodes) at the end."""
    from ...experiments.stats import t_interval

    fig, ax = _axes(ax)
    ret = data["returns"]
    for i, (n, runs) in enumerate(zip(ret["envs"], ret["runs"])):
        vals = [r["eval_return"] for r in runs if not r["diverged"]]
        ax.scatter([n] * len(vals), vals, color="C2", alpha=0.5, s=14)
        mean, lo, hi = t_interval(vals)
        ax.errorbar([n], [mean], yerr=[[mean - lo], [hi - mean]], fmt="s", color="k", capsize=4,
                    label="mean, 95% t-interval" if i == 0 else None)
    train = [sum(r["final_train"] for r in runs if not r["diverged"]) / max(1, sum(not r["diverged"] for r in runs))
             for runs in ret["runs"]]
    ax.plot(ret["envs"], train, "o--", color="C1", label="training return (last 20 episodes), mean")
    ax.set_xscale("log", base=2)
    ax.set_xlabel(f"parallel envs N (each run {ret['env_steps']:,} env steps: {ret['env_steps']:,} / 32N updates)")
    ax.set_ylabel("return (evaluation: deterministic, 10 episodes)")
    ax.legend(fontsize=8)
    ax.set_title("return at a fixed number of env steps", fontsize=10)
    return fig


def plot_batched(data: dict[str, Any], ax: Axes | None = None) -> Figure:
    """Wall seconds to train K agents: one batched computation vs K single-agent runs in turn (both measured)."""
    fig, ax = _axes(ax)
    b = data["batched"]
    ax.plot(b["agents"], b["sequential"], "o-", label="K runs one after another (measured)")
    ax.plot(b["agents"], b["batched"], "s-", label="K agents as one batch (ppo_lite.batched)")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("agents K (seeds or hyperparameter settings)")
    ax.set_ylabel(f"wall seconds to train all K ({b['steps']:,} env steps each)")
    ax.legend(fontsize=8)
    ax.set_title("a hyperparameter search, batched", fontsize=10)
    return fig


PANELS = {"throughput": plot_throughput, "profile": plot_profile, "time_to_target": plot_time_to_target,
          "steps_to_target": plot_steps_to_target, "returns": plot_returns, "batched": plot_batched}
_DATA_OF = {"steps_to_target": "time_to_target"}  # a panel drawn from another panel's data


def plot_scaling(data: dict[str, Any]) -> Figure:
    """The panels of the committed sweep whose data are there, in one figure."""
    panels = [fn for name, fn in PANELS.items() if _DATA_OF.get(name, name) in data]
    fig, axes = plt.subplots(2, 3, figsize=(17, 8.5))
    for fn, ax in zip(panels, axes.flat):
        fn(data, ax)
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
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
    for name, fn in PANELS.items():
        if _DATA_OF.get(name, name) not in data:
            continue
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


def _median(xs: list[float | None]) -> float:
    xs = sorted(x for x in xs if x is not None)
    if not xs:
        return float("nan")
    mid = len(xs) // 2
    return xs[mid] if len(xs) % 2 else (xs[mid - 1] + xs[mid]) / 2
