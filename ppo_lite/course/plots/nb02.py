"""Figures of notebook 02 (advantages and GAE): bias/variance of GAE(λ), its critic/returns split, the discount γ
as a bias-variance knob, and time-limit truncation.

Each ``plot_*`` takes results computed by :mod:`ppo_lite.course.gae_study` (which also holds the notebook's settings,
the defaults of the grid arguments here) and returns a Figure; :func:`save_key_figures` asks that module for the
notebook's experiments (same seeds and settings) and writes the PNGs.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure

from .. import gae_study
from ..gae_study import BATCH_EPISODES, GAMMAS, LAMS, TIME_LIMIT
from . import save_figures


def _plot_error_decomposition(x: torch.Tensor, study: dict[str, torch.Tensor], batch_episodes: int, xlabel: str,
                              ylabel: str, title: str) -> Figure:
    """bias² (exact, floored at 1e-6 for the log axis), variance over a batch of episodes (measured) and their sum."""
    bias2, var = study["bias2"], study["variance"] / batch_episodes
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.semilogy(x, bias2.clamp_min(1e-6), "o-", label=r"bias$^2$ (exact)")
    ax.semilogy(x, var, "s-", label=f"variance / {batch_episodes} episodes (measured)")
    ax.semilogy(x, bias2 + var, "k^-", label="MSE")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    return fig


def plot_bias_variance(study: dict[str, torch.Tensor], lams: list[float] = LAMS, batch_episodes: int = BATCH_EPISODES) -> Figure:
    """bias², variance / batch and MSE of the GAE(λ) gradient against λ (:func:`ppo_lite.course.gae_study.bias_variance_study`)."""
    return _plot_error_decomposition(
        torch.tensor(lams), study, batch_episodes, r"GAE $\lambda$", r"squared error of $\hat g_\lambda$ ((return units per logit)$^2$)",
        r"GAE($\lambda$) policy gradient with a noisy critic (bias$^2$ floored at 1e-6)")


def plot_variance_split(split: dict[str, torch.Tensor], lams: list[float] = LAMS) -> Figure:
    """The variance of a one-episode GAE(λ) gradient and its returns' and critic's parts against λ
    (:func:`ppo_lite.course.gae_study.variance_split_study`)."""
    lams = torch.tensor(lams)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(lams, split["total"], "k^-", label=r"total (noisy critic $\hat V = V^\pi + e_V$)")
    ax.plot(lams, split["returns"], "o-", label=r"returns' part (exact critic, $e_V = 0$)")
    ax.plot(lams, split["critic"], "s-", label=r"critic's part (GAE of $e_V$ alone)")
    ax.plot(lams, split["covariance"], "d--", label="2 tr Cov(returns, critic)")
    ax.axhline(0, color="gray", lw=0.8)
    ax.set_xlabel(r"GAE $\lambda$")
    ax.set_ylabel(r"tr Var of a one-episode $\hat g_\lambda$ ((return units per logit)$^2$)")
    ax.set_title("Where the variance of the GAE gradient comes from")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_gamma_just(study: dict[str, torch.Tensor], gamma_eval: float, gammas: list[float] = GAMMAS,
                    batch_episodes: int = BATCH_EPISODES) -> Figure:
    """bias², variance / batch and MSE of the GAE(γ, 1) gradient against γ (:func:`ppo_lite.course.gae_study.gamma_just_study`)."""
    return _plot_error_decomposition(
        torch.tensor(gammas), study, batch_episodes,
        r"discount $\gamma$ of the advantage estimator (GAE($\gamma$, 1), exact critic $V^{\pi,\gamma}$)",
        r"squared error of $\hat g^\gamma$ ((return units per logit)$^2$)",
        rf"$\gamma$ below the problem's $\gamma_{{eval}} = {gamma_eval:g}$ (bias$^2$ floored at 1e-6)")


def plot_truncation(study: dict[str, torch.Tensor], time_limit: int = TIME_LIMIT) -> Figure:
    """Left: the mean value-target error by step within the episode, both treatments of the time limit. Right: the
    exact and the two fitted values of the live states (:func:`ppo_lite.course.gae_study.truncation_study`)."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    t = torch.arange(len(study["target_error_bootstrap"]))
    ax1.plot(t, study["target_error_bootstrap"], label="bootstrap at the time limit (SB3, TorchRL)")
    ax1.plot(t, study["target_error_terminal"], label="time limit as terminal (CleanRL, PureJaxRL)")
    ax1.axhline(0, color="gray", lw=0.8)
    ax1.set_xlabel(f"step t within the episode (time limit {time_limit})")
    ax1.set_ylabel(r"mean value-target error $\hat R_t - V(s_t)$ (return units)")
    ax1.legend(fontsize=8)
    live = study["live"]
    states = torch.arange(len(study["V"]))[live]
    w = 0.27
    ax2.bar(states - w, study["V"][live], w, label=r"exact $V^\pi$")
    ax2.bar(states, study["V_fit_bootstrap"][live], w, label="fitted, bootstrap")
    ax2.bar(states + w, study["V_fit_terminal"][live], w, label="fitted, limit as terminal")
    ax2.set_xlabel("state")
    ax2.set_ylabel("value (return units)")
    ax2.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def save_key_figures(outdir: Path) -> list[Path]:
    """Notebook 02's experiments (from :mod:`ppo_lite.course.gae_study`), drawn as ``nb02_*.png`` in ``outdir``."""
    torch.set_num_threads(1)
    return save_figures({
        "nb02_gae_bias_variance.png": plot_bias_variance(gae_study.bias_variance_study()),
        "nb02_gae_variance_split.png": plot_variance_split(gae_study.variance_split_study()),
        "nb02_gamma_just.png": plot_gamma_just(gae_study.gamma_just_study(), gae_study.GAMMA_EVAL),
        "nb02_time_limit_truncation.png": plot_truncation(gae_study.truncation_study()),
    }, outdir, dpi=120)
