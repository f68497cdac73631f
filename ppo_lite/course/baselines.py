r"""State-dependent baselines for the REINFORCE estimator on tabular MDPs, and which one minimises the variance
(notebook 01).

The estimator, one per episode, with a baseline :math:`b(s)` that depends on the state only:

.. math:: \hat g_b = \sum_t \gamma^t\, x_t\,\big(G_t - b(s_t)\big), \qquad x_t = \nabla_\theta\log\pi_\theta(a_t|s_t),
          \quad G_t = \sum_{t'\ge t}\gamma^{t'-t} r_{t'} .

Every such baseline leaves :math:`\mathbb E[\hat g_b] = \nabla J` unchanged (the expected-grad-log-prob lemma,
conditioned on the history :math:`h_t`). For a softmax table the score :math:`x_t` lives in row :math:`s_t` of
:math:`\theta` only, so with the per-episode *baseline directions*

.. math:: Y[s] = \sum_{t:\, s_t = s}\gamma^t\, x_t[s] \quad(\text{row } s \text{ of } Y = \textstyle\sum_t \gamma^t x_t),

the baselined estimator is :math:`\hat g_b[s] = \hat g_0[s] - b(s)\,Y[s]` row by row, and its total variance
(trace of the covariance) changes by

.. math:: \Delta(b) = \operatorname{tr}\operatorname{Cov}\hat g_b - \operatorname{tr}\operatorname{Cov}\hat g_0
          = \sum_s \Big(b(s)^2\,\mathbb E\|Y[s]\|^2 - 2\,b(s)\,\mathbb E\big[\hat g_0[s]\cdot Y[s]\big]\Big)

(the mean does not move, so only second moments change). Each state's term is a parabola in :math:`b(s)`, minimal at

.. math:: b^*(s) = \frac{\mathbb E\big[\hat g_0[s]\cdot Y[s]\big]}{\mathbb E\,\|Y[s]\|^2},

and a baseline lowers state s's part of the variance exactly when :math:`b(s)` lies between 0 and :math:`2b^*(s)`.
Dropping the products between *different* visits to s gives Greensmith, Bartlett & Baxter's (2004) form, a weighted
mean of the returns over the visits,
:math:`\tilde b(s) = \mathbb E[\sum_{t: s_t=s}\gamma^{2t}\|x_t\|^2 G_t] / \mathbb E[\sum_{t:s_t=s}\gamma^{2t}\|x_t\|^2]`,
equal to :math:`b^*` when no state is visited twice in an episode.

Everything is float64 and takes the padded :class:`ppo_lite.course.tabular.Episodes` of
:meth:`ppo_lite.course.tabular.TabularMDP.sample_episodes`.

The module also holds notebook 01's problem (:func:`small_problem`: the corridor and the fixed policy it differentiates
at) and its Monte Carlo study (:func:`convergence_study`, with the settings :data:`EPISODE_COUNTS` and
:data:`REPEATS`); :mod:`ppo_lite.course.plots.nb01` draws the results.
"""
from __future__ import annotations

import torch
from torch import Tensor

from . import tabular as tab
from .tabular import Episodes, TabularMDP

__all__ = [
    "THETA_SEED",
    "THETA_SCALE",
    "EPISODE_COUNTS",
    "REPEATS",
    "small_problem",
    "convergence_study",
    "baseline_directions",
    "baselined_gradient_samples",
    "optimal_state_baseline",
    "per_visit_baseline",
    "exact_per_visit_baseline",
    "variance_change",
]

_DTYPE = torch.float64

# Notebook 01's settings: the policy it differentiates at, and the Monte Carlo study of its section 9.
THETA_SEED, THETA_SCALE = 0, 0.5
EPISODE_COUNTS = [10, 30, 100, 300, 1000, 3000]
REPEATS = 20


def small_problem() -> tuple[TabularMDP, Tensor]:
    r"""Notebook 01's test bed: the 5-state corridor (:func:`ppo_lite.course.tabular.make_small_mdp`) and the fixed
    random softmax logits :math:`\theta \sim \mathcal N(0, 0.5^2)` (seed :data:`THETA_SEED`) it differentiates at."""
    mdp = tab.make_small_mdp()
    gen = torch.Generator().manual_seed(THETA_SEED)
    return mdp, THETA_SCALE * torch.randn(mdp.num_states, mdp.num_actions, generator=gen, dtype=_DTYPE)


def convergence_study(seed: int = 0, episode_counts: list[int] = EPISODE_COUNTS, repeats: int = REPEATS) -> dict[str, Tensor]:
    r"""Error :math:`\|\hat g_n - \nabla J\|_2` of each estimator of :data:`ppo_lite.course.tabular.ESTIMATORS`
    averaged over n episodes, on :func:`small_problem`: estimator -> (len(episode_counts), repeats)
    (:func:`ppo_lite.course.tabular.gradient_error_vs_episodes`; notebook 01, section 9)."""
    mdp, theta = small_problem()
    gen = torch.Generator().manual_seed(seed)
    return {est: tab.gradient_error_vs_episodes(mdp, theta, est, episode_counts, repeats, gen) for est in tab.ESTIMATORS}


def _check_baseline(mdp: TabularMDP, baseline: Tensor) -> Tensor:
    baseline = torch.as_tensor(baseline, dtype=_DTYPE)
    if baseline.shape != (mdp.num_states,):
        raise ValueError(f"baseline must have one entry per state, shape {(mdp.num_states,)}; got {tuple(baseline.shape)}")
    if not torch.isfinite(baseline).all():
        raise ValueError("baseline holds a NaN or an infinity")
    return baseline


def _check_episodes(mdp: TabularMDP, theta: Tensor, episodes: Episodes) -> None:
    if tuple(theta.shape) != (mdp.num_states, mdp.num_actions):
        raise ValueError(f"theta must have shape {(mdp.num_states, mdp.num_actions)} (states, actions), got {tuple(theta.shape)}")
    if not isinstance(episodes, Episodes):
        raise TypeError(f"episodes must be a ppo_lite.course.tabular.Episodes (from sample_episodes), got {type(episodes).__name__}")
    if episodes.states.dim() != 2 or any(x.shape != episodes.states.shape for x in episodes):
        raise ValueError(f"episodes' states, actions, rewards and mask must all be (E, T); got "
                         f"{[tuple(x.shape) for x in episodes]}")


def baseline_directions(mdp: TabularMDP, theta: Tensor, episodes: Episodes) -> Tensor:
    r"""Per episode :math:`Y = \sum_t \gamma^t \nabla_\theta\log\pi_\theta(a_t|s_t)`, shape (E, S, A) (notebook 01).

    Row s of Y is :math:`\sum_{t:\,s_t=s}\gamma^t x_t[s]`: the direction along which the baseline value b(s) moves
    the estimate, :math:`\hat g_b[s] = \hat g_0[s] - b(s)\,Y[s]`.
    """
    _check_episodes(mdp, theta, episodes)
    discount = mdp.gamma ** torch.arange(episodes.states.shape[1], dtype=_DTYPE)
    return mdp.weighted_score_sums(theta, episodes.states, episodes.actions, discount * episodes.mask)


def baselined_gradient_samples(mdp: TabularMDP, theta: Tensor, episodes: Episodes, baseline: Tensor) -> Tensor:
    r"""One estimate per episode of :math:`\hat g_b = \sum_t\gamma^t\nabla\log\pi(a_t|s_t)(G_t - b(s_t))`,
    shape (E, S, A) (notebook 01). ``baseline`` (S,) is any state-only baseline; zeros give the reward-to-go
    estimator, :math:`V^\pi` gives ``reinforce_gradient_samples(..., "baseline")``."""
    _check_episodes(mdp, theta, episodes)
    baseline = _check_baseline(mdp, baseline)
    g0 = mdp.reinforce_gradient_samples(theta, episodes, "reward_to_go")
    return g0 - baseline[None, :, None] * baseline_directions(mdp, theta, episodes)


def optimal_state_baseline(mdp: TabularMDP, theta: Tensor, episodes: Episodes) -> Tensor:
    r"""The state baseline that minimises the total variance of :math:`\hat g_b` on these episodes, shape (S,)
    (notebook 01):

    .. math:: \hat b^*(s) = \frac{\sum_e \hat g_{0,e}[s]\cdot Y_e[s]}{\sum_e \|Y_e[s]\|^2},

    the least-squares fit of the reward-to-go estimate :math:`\hat g_0` by the baseline directions :math:`Y`
    (:func:`baseline_directions`), one state at a time. It is the sample version of
    :math:`b^*(s) = \mathbb E[\hat g_0[s]\cdot Y[s]] / \mathbb E\|Y[s]\|^2` and minimises
    :math:`\frac1E\sum_e\|\hat g_{b,e}\|^2` exactly (rows of different states are orthogonal for a softmax table).
    States never visited get 0.
    """
    _check_episodes(mdp, theta, episodes)
    g0 = mdp.reinforce_gradient_samples(theta, episodes, "reward_to_go")
    Y = baseline_directions(mdp, theta, episodes)
    numerator, denominator = (g0 * Y).sum((0, 2)), Y.pow(2).sum((0, 2))
    return torch.where(denominator > 0, numerator / denominator.clamp_min(1e-300), 0.0)


def per_visit_baseline(mdp: TabularMDP, theta: Tensor, episodes: Episodes, power: float = 2.0) -> Tensor:
    r"""Greensmith, Bartlett & Baxter's (2004) per-visit form, shape (S,) (notebook 01): the mean of the returns
    :math:`G_t` over the visits to s, weighted by :math:`\gamma^{2t}\|\nabla\log\pi(a_t|s_t)\|^{p}` (``power`` p = 2),

    .. math:: \tilde b(s) = \frac{\sum_{e,t:\,s_t=s}\gamma^{2t}\|x_t\|^{p}\,G_t}{\sum_{e,t:\,s_t=s}\gamma^{2t}\|x_t\|^{p}} .

    With p = 2 it is :func:`optimal_state_baseline` with the products between different visits to the same state
    dropped: the two agree when no state is visited twice in an episode. ``power=0`` gives the plain every-visit
    mean of :math:`G_t` (with :math:`\gamma^{2t}` weights). States never visited get 0.
    """
    _check_episodes(mdp, theta, episodes)
    if power < 0:
        raise ValueError(f"power must be >= 0, got {power}")
    pi = mdp.policy(theta.detach())
    states, actions = episodes.states, episodes.actions
    # ||e_a - pi(.|s)||^2 = 1 - 2 pi(a|s) + sum_b pi(b|s)^2: the squared norm of a softmax score.
    score_sq = 1.0 - 2.0 * pi[states, actions] + pi.pow(2).sum(-1)[states]
    discount_sq = mdp.gamma ** (2 * torch.arange(states.shape[1], dtype=_DTYPE))
    weights = discount_sq * score_sq.pow(power / 2) * episodes.mask
    G = mdp.discounted_rewards_to_go(episodes)
    numerator = torch.zeros(mdp.num_states, dtype=_DTYPE).index_add_(0, states.flatten(), (weights * G).flatten())
    denominator = torch.zeros(mdp.num_states, dtype=_DTYPE).index_add_(0, states.flatten(), weights.flatten())
    return torch.where(denominator > 0, numerator / denominator.clamp_min(1e-300), 0.0)


def exact_per_visit_baseline(mdp: TabularMDP, theta: Tensor) -> Tensor:
    r"""The expectation form of :func:`per_visit_baseline` (``power=2``) in closed form, shape (S,) (notebook 01).

    Numerator and denominator both carry the factor :math:`\sum_t\gamma^{2t}\Pr(s_t=s)`, which cancels, and
    :math:`\mathbb E[G_t|s_t=s,a_t=a] = Q^\pi(s,a)`, so

    .. math:: \tilde b(s) = \frac{\sum_a \pi(a|s)\,\|e_a-\pi(\cdot|s)\|^2\,Q^\pi(s,a)}{\sum_a \pi(a|s)\,\|e_a-\pi(\cdot|s)\|^2},
              \qquad V^\pi(s) = \sum_a \pi(a|s)\,Q^\pi(s,a):

    the value with every action weighted by its squared score norm, :math:`1 - 2\pi(a|s) + \sum_b\pi(b|s)^2`,
    which is largest for the rare actions. Terminal states get 0.
    """
    if tuple(theta.shape) != (mdp.num_states, mdp.num_actions):
        raise ValueError(f"theta must have shape {(mdp.num_states, mdp.num_actions)} (states, actions), got {tuple(theta.shape)}")
    pi = mdp.policy(theta.detach())
    weights = pi * (1.0 - 2.0 * pi + pi.pow(2).sum(-1, keepdim=True))
    b = (weights * mdp.q_values(theta.detach())).sum(-1) / weights.sum(-1).clamp_min(1e-300)
    return torch.where(mdp.terminal, 0.0, b)


def variance_change(mdp: TabularMDP, theta: Tensor, episodes: Episodes, baseline: Tensor,
                    reference: Tensor | None = None) -> tuple[float, float]:
    r"""Monte Carlo estimate of :math:`\Delta = \operatorname{tr}\operatorname{Cov}\hat g_b - \operatorname{tr}\operatorname{Cov}\hat g_{b'}`
    and its standard error, from the paired per-episode differences :math:`\|\hat g_{b,e}\|^2 - \|\hat g_{b',e}\|^2`
    (notebook 01), where :math:`b'` is ``reference`` (default: no baseline, :math:`b' = 0`). All state baselines
    give the same mean, so the change of variance is the change of the second moment; pairing the two on the same
    episodes cancels most of the noise. Negative: ``baseline`` has the lower variance. Pass episodes independent
    of those a baseline was fitted on.
    """
    _check_episodes(mdp, theta, episodes)
    baseline = _check_baseline(mdp, baseline)
    reference = torch.zeros(mdp.num_states, dtype=_DTYPE) if reference is None else _check_baseline(mdp, reference)
    gb = baselined_gradient_samples(mdp, theta, episodes, baseline)
    gr = baselined_gradient_samples(mdp, theta, episodes, reference)
    diff = gb.pow(2).sum((1, 2)) - gr.pow(2).sum((1, 2))
    return diff.mean().item(), (diff.std() / len(diff) ** 0.5).item()
