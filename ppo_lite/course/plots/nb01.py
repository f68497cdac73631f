"""Figures of notebook 01 (policy gradients): Monte Carlo error vs episodes, the baselines' variance over a family of
problems, REINFORCE on CartPole.

Each ``plot_*`` takes results computed by :mod:`ppo_lite.course.baselines` / :mod:`ppo_lite.course.reinforce` (which
also hold the notebook's settings) and returns a Figure; :func:`save_key_figures` asks those modules for the
notebook's experiments (same seeds and settings) and writes the PNGs.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure

from .. import baselines as bl
from .. import reinforce as rf
from ..reinforce import ReinforceHistory
from . import save_figures


def plot_convergence(errors: dict[str, torch.Tensor], episode_counts: list[int]) -> Figure:
    """Root-mean-square error of the gradient estimate vs episodes, log-log, with a 1/sqrt(n) guide.

    ``errors`` maps an estimator to its errors, (len(episode_counts), runs) (:func:`ppo_lite.course.baselines.convergence_study`)."""
    fig, ax = plt.subplots(figsize=(6, 4))
    n = torch.tensor(episode_counts, dtype=torch.float64)
    runs = next(iter(errors.values())).shape[1]
    for est, err in errors.items():
        ax.loglog(n, err.pow(2).mean(1).sqrt(), "o-", label=est)
    first = errors["total_return"].pow(2).mean(1).sqrt()[0]
    ax.loglog(n, first * (n / n[0]) ** -0.5, "k--", lw=1, label=r"slope $-1/2$ ($\propto 1/\sqrt{n}$)")
    ax.set_xlabel("episodes averaged, n")
    ax.set_ylabel(r"RMS error $\|\hat g_n - \nabla J\|_2$ (return units per logit)")
    ax.set_title(f"Monte Carlo policy gradient on the 5-state corridor ({runs} runs)")
    ax.legend()
    fig.tight_layout()
    return fig


def plot_baseline_family(family: dict[str, list[dict]]) -> Figure:
    """Change of the gradient estimator's total variance, in % of the variance without a baseline, made by
    :math:`V^\\pi` (x) and by the fitted optimal baseline :math:`\\hat b^*` (y), one point per problem.

    ``family`` maps a family name to cases holding ``"V vs none"`` and ``"b* vs V"`` as (change, standard error) and
    ``"variance none"`` (the notebook's ``family_case``)."""
    fig, ax = plt.subplots(figsize=(6.2, 4.4))
    for (name, cases), marker in zip(family.items(), "os^v"):
        base = torch.tensor([c["variance none"] for c in cases], dtype=torch.float64)
        by_value = torch.tensor([c["V vs none"][0] for c in cases], dtype=torch.float64)
        by_best = by_value + torch.tensor([c["b* vs V"][0] for c in cases], dtype=torch.float64)
        ax.scatter(100 * by_value / base, 100 * by_best / base, marker=marker, alpha=0.7, label=name)
    lo = min(ax.get_xlim()[0], ax.get_ylim()[0])
    hi = max(ax.get_xlim()[1], ax.get_ylim()[1], 5.0)
    ax.plot([lo, hi], [lo, hi], "k--", lw=1, label="b* as good as V")
    ax.axvline(0, color="gray", lw=0.8)
    ax.axhline(0, color="gray", lw=0.8)
    ax.fill_betweenx([lo, hi], 0, hi, color="C3", alpha=0.08, label="V raises the variance")
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_xlabel(r"change of total variance with $V^\pi$ (% of no baseline)")
    ax.set_ylabel(r"change with the fitted $\hat b^*$ (% of no baseline)")
    ax.set_title("Baselines on " + " and ".join(f"{len(cases)} {name} problems" for name, cases in family.items()))
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    return fig


def plot_learning_curve(history: ReinforceHistory, random_return: float,
                        episodes_per_update: int = rf.REINFORCE_ARGS["episodes_per_update"]) -> Figure:
    """Mean episode return per update vs environment steps, with the random policy's return."""
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(history.env_steps, history.mean_return, "o-", label=f"REINFORCE ({episodes_per_update} episodes / update)")
    ax.axhline(random_return, color="gray", ls="--", label=f"random policy ({random_return:.0f})")
    ax.set_xlabel("environment steps")
    ax.set_ylabel("mean episode return (steps balanced)")
    ax.set_title("REINFORCE with reward-to-go on CartPole-v1")
    ax.legend()
    fig.tight_layout()
    return fig


def save_key_figures(outdir: Path) -> list[Path]:
    """Notebook 01's experiments (from :mod:`ppo_lite.course.baselines` and :mod:`ppo_lite.course.reinforce`), drawn
    as ``nb01_*.png`` in ``outdir``."""
    torch.set_num_threads(1)
    convergence = plot_convergence(bl.convergence_study(), bl.EPISODE_COUNTS)
    _, history = rf.train_reinforce(**rf.REINFORCE_ARGS)
    learning = plot_learning_curve(history, random_return=rf.random_policy_return())
    return save_figures({"nb01_mc_gradient_convergence.png": convergence, "nb01_reinforce_cartpole.png": learning}, outdir, dpi=120)
