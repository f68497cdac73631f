"""Figures of notebook 01 (policy gradients): Monte Carlo error vs episodes, the baselines' variance over a family of
problems, REINFORCE on CartPole.

Each ``plot_*`` takes results computed by :mod:`ppo_lite.course.tabular` / :mod:`ppo_lite.course.reinforce` and returns a Figure;
:func:`save_key_figures` reruns the notebook's experiments (same seeds and settings) and writes the PNGs.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure

from .. import tabular as tab
from ..reinforce import ReinforceHistory, train_reinforce
from . import save_figures

# The notebook's settings, shared with save_key_figures so the PNGs are the notebook's figures.
THETA_SEED, THETA_SCALE = 0, 0.5
EPISODE_COUNTS = [10, 30, 100, 300, 1000, 3000]
REPEATS = 20
REINFORCE_ARGS = dict(num_updates=16, episodes_per_update=8, lr=2e-2, hidden=(32,), seed=0)


def small_problem() -> tuple[tab.TabularMDP, torch.Tensor]:
    """The corridor MDP and the (fixed, random) policy logits the notebook differentiates at."""
    mdp = tab.make_small_mdp()
    gen = torch.Generator().manual_seed(THETA_SEED)
    return mdp, THETA_SCALE * torch.randn(mdp.num_states, mdp.num_actions, generator=gen, dtype=torch.float64)


def random_policy_return(episodes: int = 20, seed: int = 1000) -> float:
    """Mean CartPole-v1 return of an untrained (near-uniform: policy head gain 0.01) ActorCritic."""
    import gymnasium as gym

    from ...policies import ActorCritic
    from ..reinforce import evaluate

    torch.manual_seed(seed)
    returns = evaluate(gym.make("CartPole-v1"), ActorCritic(4, 2, discrete=True), episodes, seed, deterministic=False)
    return sum(returns) / len(returns)


def convergence_study(seed: int = 0) -> dict[str, torch.Tensor]:
    """Error of each estimator vs number of episodes, (len(EPISODE_COUNTS), REPEATS) each."""
    mdp, theta = small_problem()
    gen = torch.Generator().manual_seed(seed)
    return {est: tab.gradient_error_vs_episodes(mdp, theta, est, EPISODE_COUNTS, REPEATS, gen) for est in tab.ESTIMATORS}


def plot_convergence(errors: dict[str, torch.Tensor]) -> Figure:
    """Root-mean-square error of the gradient estimate vs episodes, log-log, with a 1/sqrt(n) guide."""
    fig, ax = plt.subplots(figsize=(6, 4))
    n = torch.tensor(EPISODE_COUNTS, dtype=torch.float64)
    for est, err in errors.items():
        ax.loglog(n, err.pow(2).mean(1).sqrt(), "o-", label=est)
    first = errors["total_return"].pow(2).mean(1).sqrt()[0]
    ax.loglog(n, first * (n / n[0]) ** -0.5, "k--", lw=1, label=r"slope $-1/2$ ($\propto 1/\sqrt{n}$)")
    ax.set_xlabel("episodes averaged, n")
    ax.set_ylabel(r"RMS error $\|\hat g_n - \nabla J\|_2$ (return units per logit)")
    ax.set_title(f"Monte Carlo policy gradient on the 5-state corridor ({REPEATS} runs)")
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
    ax.set_title("Baselines on 30 corridor policies and 30 random MDPs")
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    return fig


def plot_learning_curve(history: ReinforceHistory, random_return: float) -> Figure:
    """Mean episode return per update vs environment steps, with the random policy's return."""
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(history.env_steps, history.mean_return, "o-", label="REINFORCE (8 episodes / update)")
    ax.axhline(random_return, color="gray", ls="--", label=f"random policy ({random_return:.0f})")
    ax.set_xlabel("environment steps")
    ax.set_ylabel("mean episode return (steps balanced)")
    ax.set_title("REINFORCE with reward-to-go on CartPole-v1")
    ax.legend()
    fig.tight_layout()
    return fig


def save_key_figures(outdir: Path) -> list[Path]:
    """Rerun the notebook's experiments and write ``nb01_*.png`` into ``outdir``."""
    torch.set_num_threads(1)
    convergence = plot_convergence(convergence_study())
    _, history = train_reinforce(**REINFORCE_ARGS)
    learning = plot_learning_curve(history, random_return=random_policy_return())
    return save_figures({"nb01_mc_gradient_convergence.png": convergence, "nb01_reinforce_cartpole.png": learning}, outdir, dpi=120)
