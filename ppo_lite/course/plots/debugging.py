"""Figures of notebook 10 (when PPO goes wrong): the trainer's own figures for a bad setting and its fix, the KL
reading, the evaluation with and without the observation statistics, gradient shares, and discount weights.

Every function only draws: the runs and probes come from :mod:`ppo_lite.course.debugging`.
"""
from __future__ import annotations

import math
from typing import Callable, Mapping, Sequence

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from ...history import History

PANELS = {
    "return": ("mean return, last 20 episodes", False),
    "approx_kl": ("approx. KL per update (nats)", True),
    "clip_frac": ("clip fraction", False),
    "explained_variance": ("explained variance", False),
    "entropy": ("policy entropy (nats)", False),
    "value_loss": ("value loss (mean over steps)", True),
    "policy_loss": ("policy loss (mean over steps)", False),
    "grad_norm": ("gradient norm before clipping", True),
}
"""History key -> (axis label with units, log scale). ``return`` is the smoothed episode return."""
COLORS = ("tab:blue", "tab:red", "tab:green", "tab:purple", "tab:orange")
"""In order of the arms: the notebook lists the reference or fix first (blue), the bad setting second (red)."""


def _series(h: History, key: str) -> list[float]:
    return h.smoothed_returns(20) if key == "return" else h[key]


def plot_runs(
    runs: Mapping[str, Sequence[History]], panels: Sequence[str], title: str,
    telltale: tuple[str, str] | None = None, lines: Mapping[str, Sequence[float]] | None = None,
    ylim: Mapping[str, tuple[float, float]] | None = None, xmax: float | None = None,
) -> Figure:
    """One panel per History key against environment steps; one colour per arm, one line per seed.

    ``telltale = (key, text)`` names the sign to look for: that panel's title says it, in red. ``lines`` draws
    horizontal reference lines (e.g. ``{"explained_variance": [0.0]}``); ``ylim`` fixes a panel's range and ``xmax``
    draws only the updates up to that many environment steps (to compare runs of different lengths over a common
    budget).
    """
    unknown = [k for k in panels if k not in PANELS]
    if unknown:
        raise ValueError(f"unknown panels {unknown}; choose from {sorted(PANELS)}")
    fig, axes = plt.subplots(1, len(panels), figsize=(3.5 * len(panels), 3.0), squeeze=False)
    axes = axes[0]
    for c, (label, histories) in enumerate(runs.items()):
        color = COLORS[c % len(COLORS)]
        for s, h in enumerate(histories):
            n = len(h) if xmax is None else sum(x <= xmax for x in h["env_steps"])  # the y range follows what is shown
            for ax, key in zip(axes, panels):
                ys = _series(h, key)[:n]
                if PANELS[key][1]:
                    ys = [y if y > 0 else math.nan for y in ys]  # a log axis cannot show 0 (a KL of exactly 0, say)
                ax.plot(h["env_steps"][:n], ys, color=color, alpha=0.75, lw=1.2, label=label if s == 0 else None)
    for ax, key in zip(axes, panels):
        name, log = PANELS[key]
        ax.set_ylabel(name)
        ax.set_xlabel("environment steps")
        if log:
            ax.set_yscale("log")
        for y in (lines or {}).get(key, ()):
            ax.axhline(y, color="k", lw=0.8, ls="--")
        if ylim and key in ylim:
            ax.set_ylim(*ylim[key])
        ax.grid(alpha=0.3)
        if telltale is not None and key == telltale[0]:
            ax.set_title(telltale[1], color="tab:red", fontsize=9)
            for side in ax.spines.values():
                side.set_edgecolor("tab:red")
                side.set_linewidth(1.6)
    axes[0].legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def plot_kl_reading(measured: Sequence[tuple[float, float]], model: Sequence[tuple[float, float]], at: float = 0.02) -> Figure:
    """Fraction of sampled actions whose probability moved by >= 10% against the update's approximate KL:
    measured updates (points) and the normal small-step model (line); a dashed line marks KL = ``at``."""
    fig, ax = plt.subplots(figsize=(5.2, 3.6))
    ax.plot([k for k, _ in model], [f for _, f in model], color="k", lw=1.2, label=r"model: $r-1\sim\mathcal{N}(0, 2\,\mathrm{KL})$")
    ax.scatter([k for k, _ in measured], [f for _, f in measured], color="tab:red", s=18, zorder=3, label="measured updates")
    ax.axvline(at, color="tab:gray", ls="--", lw=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("approx. KL of the update (nats)")
    ax.set_ylabel(r"fraction with $|r - 1| \geq 0.1$")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_evaluation(scores: Mapping[str, Sequence[Sequence[float]]], ylabel: str = "evaluation return") -> Figure:
    """Per agent, the mean deterministic evaluation return of each way of loading it (one bar group per agent)."""
    fig, ax = plt.subplots(figsize=(5.2, 3.4))
    width = 0.8 / len(scores)
    for c, (label, per_agent) in enumerate(scores.items()):
        xs = [k + (c - (len(scores) - 1) / 2) * width for k in range(len(per_agent))]
        ax.bar(xs, [sum(r) / len(r) for r in per_agent], width, color=COLORS[c % len(COLORS)], label=label)
    n = len(next(iter(scores.values())))
    ax.set_xticks(range(n), [f"agent {k}" for k in range(n)])
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_bars(values: Mapping[str, Mapping[str, float]], ylabel: str, log: bool = False) -> Figure:
    """Grouped bars: ``{group: {bar: value}}`` (e.g. gradient norms of each loss for each network layout)."""
    fig, ax = plt.subplots(figsize=(5.6, 3.4))
    bars = list(next(iter(values.values())))
    width = 0.8 / len(bars)
    for c, bar in enumerate(bars):
        xs = [g + (c - (len(bars) - 1) / 2) * width for g in range(len(values))]
        ax.bar(xs, [v[bar] for v in values.values()], width, color=COLORS[c % len(COLORS)], label=bar)
    ax.set_xticks(range(len(values)), list(values))
    ax.set_ylabel(ylabel)
    if log:
        ax.set_yscale("log")
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_discount_weights(gammas: Sequence[float], episode_length: int, steps: int) -> Figure:
    r"""Weight :math:`(1-\gamma)\gamma^t` of the reward t steps ahead, for each γ, with the episode's time limit marked
    (the area to its right is the share :math:`\gamma^T` that the truncation bootstrap must supply)."""
    fig, ax = plt.subplots(figsize=(5.6, 3.4))
    ts = list(range(steps + 1))
    for c, g in enumerate(gammas):
        ax.plot(ts, [(1 - g) * g**t for t in ts], color=COLORS[c % len(COLORS)],
                label=rf"$\gamma$ = {g:g}: horizon {1 / (1 - g):.0f} steps, {100 * g**episode_length:.1f}% beyond {episode_length}")
    ax.axvline(episode_length, color="k", ls="--", lw=0.8)
    ax.set_yscale("log")
    ax.set_ylim(1e-6, 1)
    ax.set_xlabel("steps ahead, t")
    ax.set_ylabel(r"weight $(1-\gamma)\gamma^t$")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def _nan_for_none(values: Sequence[float | None]) -> list[float]:
    return [math.nan if v is None else v for v in values]


def _plot_arms(data: Mapping, panels: Sequence[tuple[str, Callable[[Mapping], list[float]]]], figsize: tuple[float, float],
               tick_size: int) -> tuple[Figure, list]:
    """One line per arm and seed in each panel (its y label, and the values it takes from a run's ``updates``)
    against env steps, and a last panel of each run's deterministic evaluation return (diverged runs left out)."""
    fig, axes = plt.subplots(1, len(panels) + 1, figsize=figsize)
    names = list(data["arms"])
    for c, name in enumerate(names):
        color = COLORS[c % len(COLORS)]
        runs = [run for run in data["arms"][name] if not run.get("diverged")]
        for s, run in enumerate(runs):
            for ax, (_, values) in zip(axes, panels):
                ax.plot(run["updates"]["env_steps"], values(run["updates"]), color=color, alpha=0.7, lw=1,
                        label=name if s == 0 and ax is axes[0] else None)
        axes[-1].scatter([c] * len(runs), [r["eval_return"] for r in runs], color=color, alpha=0.7)
    for ax, (ylabel, _) in zip(axes, panels):
        ax.set_xlabel("environment steps")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
    axes[-1].set_xticks(range(len(names)), [n.replace(", ", ",\n") for n in names], fontsize=tick_size)
    axes[-1].set_ylabel("evaluation return (10 episodes, deterministic)")
    axes[-1].grid(alpha=0.3)
    return fig, list(axes)


def plot_stuck(data: Mapping) -> Figure:
    """``figures/stuck.json`` (``python -m ppo_lite.experiments stuck``): per arm and seed, the training return and
    the explained variance of every update against env steps, and each run's deterministic evaluation return."""
    fig, axes = _plot_arms(data, [("mean return, last 20 episodes", lambda u: _nan_for_none(u["return"])),
                                  ("explained variance", lambda u: _nan_for_none(u["explained_variance"]))],
                           (11.5, 3.2), 8)
    axes[1].axhline(0.0, color="k", lw=0.8, ls="--")
    for ax in axes[:2]:
        ax.axvline(10_240, color="k", lw=0.8, ls=":")
    axes[0].legend(fontsize=8)
    fig.suptitle(f"{data['env_id']}, {data['steps']:,} env steps, {len(data['seeds'])} seeds per arm "
                 "(dotted: 10,240 steps, where both look stuck)", fontsize=10)
    fig.tight_layout()
    return fig


def plot_log_std(data: Mapping) -> Figure:
    """``figures/log_std.json`` (``python -m ppo_lite.experiments log_std``): per arm and seed, σ read off the logged
    entropy (:func:`ppo_lite.course.debugging.gaussian_sigma`) and the training return against env steps, and each
    run's deterministic evaluation return."""
    from ..debugging import gaussian_sigma

    fig, axes = _plot_arms(data, [("policy σ from the entropy (torque units)", lambda u: [gaussian_sigma(h) for h in u["entropy"]]),
                                  ("mean return, last 20 episodes", lambda u: _nan_for_none(u["return"]))],
                           (12.5, 3.4), 7)
    axes[0].set_yscale("log")
    axes[0].legend(fontsize=7)
    fig.suptitle(f"{data['env_id']}, {data['steps']:,} env steps, {len(data['seeds'])} seeds per arm", fontsize=10)
    fig.tight_layout()
    return fig
