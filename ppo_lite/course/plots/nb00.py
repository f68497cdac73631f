"""Figures of notebook 00 (orientation): the first agent's learning curve.

:func:`plot_learning_curve` draws a training :class:`~ppo_lite.history.History`; :func:`save_key_figures` trains the
notebook's first agent again (its settings and stopping rule are
:data:`ppo_lite.course.exercises.nb00.FIRST_AGENT` and :func:`~ppo_lite.course.exercises.nb00.stop_when_solved`, which
the notebook uses) with :func:`ppo_lite.train` and writes ``nb00_*.png``.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from ...config import SOLVED_THRESHOLDS
from ...history import History
from . import save_figures

THRESHOLD = SOLVED_THRESHOLDS["CartPole-v1"]
WINDOW = 20


def plot_learning_curve(history: History, threshold: float = THRESHOLD, last: int = WINDOW, title: str = "") -> Figure:
    """Every episode's return (dots) and the mean of the last ``last`` (line) against env steps, with the threshold."""
    steps, returns = history.episodes["env_steps"], history.episodes["return"]
    running = [sum(returns[max(0, i + 1 - last):i + 1]) / len(returns[max(0, i + 1 - last):i + 1]) for i in range(len(returns))]
    fig, ax = plt.subplots(figsize=(7.5, 3.8))
    ax.scatter(steps, returns, s=4, alpha=0.35, color="C0", label="episode return")
    ax.plot(steps, running, color="C1", lw=2, label=f"mean of last {last} episodes")
    ax.axhline(threshold, color="k", ls="--", lw=1, label=f"threshold {threshold:g}")
    solved = history.steps_to_threshold(threshold, last)
    if solved is not None:
        ax.axvline(solved, color="C2", lw=1, label=f"reached at {solved:,.0f} steps")
    ax.set_xlabel("environment steps")
    ax.set_ylabel("episode return (steps balanced, max 500)")
    ax.set_title(title or "PPO on CartPole-v1")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def save_key_figures(outdir: Path) -> list[Path]:
    """Train notebook 00's first agent again and write ``nb00_first_agent.png`` into ``outdir``."""
    from ... import PPOConfig, train
    from ..exercises.nb00 import FIRST_AGENT, stop_when_solved

    cfg = PPOConfig.for_env(FIRST_AGENT["env_id"], seed=FIRST_AGENT["seed"], total_steps=FIRST_AGENT["total_steps"])
    history = train(cfg, progress=False, callback=stop_when_solved(THRESHOLD, WINDOW))
    return save_figures({"nb00_first_agent.png": plot_learning_curve(history)}, outdir, bbox_inches="tight")
