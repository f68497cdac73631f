r"""Exercises of notebook 01 (policy gradients): reward-to-go, the softmax score function, and the
variance-optimal state baseline.

Each ``check_*`` runs the learner's function against a reference on random inputs (:func:`ppo_lite.course.exercises.check`)
and names the usual mistakes when an answer makes one of them.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

from ...advantages import reward_to_go
from ..tabular import TabularMDP, score_function
from ._check import CheckResult, check

__all__ = [
    "check_reward_to_go",
    "check_softmax_score",
    "check_optimal_baseline",
]


# ---------------------------------------------------------------------------------------------- 1. reward-to-go
def _episode_rewards(gen: torch.Generator) -> dict:
    T = int(torch.randint(2, 30, (1,), generator=gen))
    gamma = float(torch.rand((), generator=gen, dtype=torch.float64)) ** 0.25  # mostly near 1, sometimes small
    return {"rewards": torch.randn(T, generator=gen, dtype=torch.float64), "gamma": gamma}


def _rtg_from_start(rewards: Tensor, gamma: float) -> Tensor:
    """The mistake of discounting from the episode's start: sum_{t' >= t} gamma^{t'} r_{t'}."""
    discount = gamma ** torch.arange(len(rewards), dtype=rewards.dtype)
    return (discount * rewards).flip(0).cumsum(0).flip(0)


RTG_MISTAKES = {
    "forgot the discount (a plain reversed cumulative sum)": lambda rewards, gamma: rewards.flip(0).cumsum(0).flip(0),
    "returned the whole-episode return G_0 at every step, not the reward-to-go":
        lambda rewards, gamma: reward_to_go(rewards, gamma)[:1].expand_as(rewards),
    "discounted from the start of the episode (gamma^t' instead of gamma^(t'-t))": _rtg_from_start,
}


def check_reward_to_go(fn: Callable[[Tensor, float], Tensor]) -> CheckResult:
    r"""``fn(rewards (T,), gamma) -> (T,)`` must return :math:`\hat R_t = \sum_{t' \ge t}\gamma^{t'-t} r_{t'}`
    (reference :func:`ppo_lite.advantages.reward_to_go`)."""
    return check(fn, reward_to_go, _episode_rewards, name="reward_to_go", mistakes=RTG_MISTAKES)


# ---------------------------------------------------------------------------------------------- 2. softmax score
def _reference_softmax_score(logits: Tensor, actions: Tensor) -> Tensor:
    r""":math:`\nabla_z \log\mathrm{softmax}(z)_a` by autograd, row by row: an answer that owes nothing to the
    closed form :math:`e_a - \mathrm{softmax}(z)` the learner derives."""
    z = logits.detach().clone().requires_grad_(True)
    torch.log_softmax(z, -1).gather(-1, actions[:, None]).sum().backward()
    return z.grad


def _logits_actions(gen: torch.Generator) -> dict:
    N, A = int(torch.randint(1, 10, (1,), generator=gen)), int(torch.randint(2, 6, (1,), generator=gen))
    logits = 3.0 * torch.randn(N, A, generator=gen, dtype=torch.float64)
    return {"logits": logits, "actions": torch.randint(0, A, (N,), generator=gen)}


def _one_hot(logits: Tensor, actions: Tensor) -> Tensor:
    return torch.nn.functional.one_hot(actions, logits.shape[1]).to(logits.dtype)


SCORE_MISTAKES = {
    "forgot the -softmax(z) term (returned the one-hot e_a)": _one_hot,
    "sign flipped: softmax(z) - e_a is the gradient of -log pi": lambda logits, actions: torch.softmax(logits, -1) - _one_hot(logits, actions),
    "divided by pi(a) (the gradient of pi(a), not of log pi(a), written as e_a/pi - 1)":
        lambda logits, actions: _one_hot(logits, actions) / torch.softmax(logits, -1).gather(-1, actions[:, None]) - 1.0,
}


def check_softmax_score(fn: Callable[[Tensor, Tensor], Tensor]) -> CheckResult:
    r"""``fn(logits (N, A), actions (N,)) -> (N, A)`` must return :math:`\nabla_z\log\pi(a|z)` for each row."""
    return check(fn, _reference_softmax_score, _logits_actions, name="softmax_score", mistakes=SCORE_MISTAKES)


# ---------------------------------------------------------------------------------------------- 3. optimal baseline
def _masked_returns_to_go(rewards: Tensor, mask: Tensor, gamma: float) -> Tensor:
    """G_t of every step of padded (E, T) episodes (padded steps carry reward 0 and get G = 0)."""
    out, running = torch.zeros_like(rewards), torch.zeros(rewards.shape[0], dtype=rewards.dtype)
    for t in range(rewards.shape[1] - 1, -1, -1):
        running = rewards[:, t] * mask[:, t] + gamma * running
        out[:, t] = running * mask[:, t]
    return out


def _per_episode(theta: Tensor, states: Tensor, actions: Tensor, mask: Tensor, weights: Tensor) -> Tensor:
    """sum_t weights[e, t] * grad log pi(a_t|s_t), per episode: (E, S, A), from the (E, T, S, A) scores."""
    return (score_function(theta, states, actions) * (weights * mask)[..., None, None]).sum(1)


def _solution_optimal_baseline(theta: Tensor, states: Tensor, actions: Tensor, rewards: Tensor, mask: Tensor,
                              gamma: float) -> Tensor:
    r"""Reference answer (notebook 01, §7): the state baseline minimising the sampled total variance of
    :math:`\hat g_b = \sum_t\gamma^t\nabla\log\pi(a_t|s_t)(G_t - b(s_t))`,

    .. math:: \hat b^*(s) = \frac{\sum_e \hat g_{0,e}[s]\cdot Y_e[s]}{\sum_e\|Y_e[s]\|^2},\qquad
              \hat g_{0} = \sum_t\gamma^t x_t G_t,\quad Y = \sum_t \gamma^t x_t,

    row s of each (S, A) sum; 0 for a state no episode visits. Written from :func:`ppo_lite.course.tabular.score_function`
    (the full (E, T, S, A) score tensor), independently of :func:`ppo_lite.course.baselines.optimal_state_baseline`."""
    discount = gamma ** torch.arange(states.shape[1], dtype=torch.float64)
    G = _masked_returns_to_go(rewards.to(torch.float64), mask.to(torch.float64), gamma)
    g0 = _per_episode(theta, states, actions, mask, discount * G)
    Y = _per_episode(theta, states, actions, mask, discount.expand_as(G))
    num, den = (g0 * Y).sum((0, 2)), Y.pow(2).sum((0, 2))
    return torch.where(den > 0, num / den.clamp_min(1e-300), 0.0)


def _per_visit(theta, states, actions, rewards, mask, gamma, power: float, discount_power: int = 2,
               use_mask: bool = True) -> Tensor:
    """Weighted mean of G_t over the visits to each state, weights gamma^(discount_power t) ||score||^power."""
    m = mask.to(torch.float64) if use_mask else torch.ones_like(mask, dtype=torch.float64)
    G = _masked_returns_to_go(rewards.to(torch.float64), m, gamma)
    pi = torch.softmax(theta, -1)
    score_sq = 1.0 - 2.0 * pi[states, actions] + pi.pow(2).sum(-1)[states]
    w = gamma ** (discount_power * torch.arange(states.shape[1], dtype=torch.float64)) * score_sq.pow(power / 2) * m
    S = theta.shape[0]
    num = torch.zeros(S, dtype=torch.float64).index_add_(0, states.flatten(), (w * G).flatten())
    den = torch.zeros(S, dtype=torch.float64).index_add_(0, states.flatten(), w.flatten())
    return torch.where(den > 0, num / den.clamp_min(1e-300), 0.0)


def _constant_baseline(theta, states, actions, rewards, mask, gamma) -> Tensor:
    """The best single number for every state: sum_e g0_e . Y_e / sum_e ||Y_e||^2 over all rows at once."""
    discount = gamma ** torch.arange(states.shape[1], dtype=torch.float64)
    G = _masked_returns_to_go(rewards.to(torch.float64), mask.to(torch.float64), gamma)
    g0 = _per_episode(theta, states, actions, mask, discount * G)
    Y = _per_episode(theta, states, actions, mask, discount.expand_as(G))
    return ((g0 * Y).sum() / Y.pow(2).sum()).expand(theta.shape[0]).clone()


def _undiscounted(theta, states, actions, rewards, mask, gamma) -> Tensor:
    """The optimal baseline of the estimator without gamma^t: sum_t x_t (G_t - b(s_t))."""
    G = _masked_returns_to_go(rewards.to(torch.float64), mask.to(torch.float64), gamma)
    g0 = _per_episode(theta, states, actions, mask, G)
    Y = _per_episode(theta, states, actions, mask, torch.ones_like(G))
    num, den = (g0 * Y).sum((0, 2)), Y.pow(2).sum((0, 2))
    return torch.where(den > 0, num / den.clamp_min(1e-300), 0.0)


def _unmasked(theta, states, actions, rewards, mask, gamma) -> Tensor:
    return _solution_optimal_baseline(theta, states, actions, rewards, torch.ones_like(mask), gamma)


BASELINE_MISTAKES = {
    "the mean return-to-go over the visits to s (a Monte Carlo V^pi(s)): the value is a good baseline, not the "
    "variance-optimal one": lambda theta, states, actions, rewards, mask, gamma: _per_visit(theta, states, actions, rewards, mask, gamma, power=0.0, discount_power=0),
    "weighted the returns by ||grad log pi|| instead of its square":
        lambda theta, states, actions, rewards, mask, gamma: _per_visit(theta, states, actions, rewards, mask, gamma, power=1.0),
    "the per-visit (Greensmith et al.) form: it drops the products between two visits to the same state, exact only "
    "when no state is visited twice": lambda theta, states, actions, rewards, mask, gamma: _per_visit(theta, states, actions, rewards, mask, gamma, power=2.0),
    "one constant for every state (the baseline is not conditioned on the state)": _constant_baseline,
    "dropped the gamma^t of the estimator (the optimal baseline of sum_t x_t (G_t - b))": _undiscounted,
    "forgot the mask: padded steps counted as visits to state 0": _unmasked,
}


def _random_episodes(gen: torch.Generator) -> dict:
    S, A = int(torch.randint(3, 7, (1,), generator=gen)), int(torch.randint(2, 5, (1,), generator=gen))
    gamma = float(torch.empty((), dtype=torch.float64).uniform_(0.8, 0.99, generator=gen))
    mdp = TabularMDP.random(S, A, gamma=gamma, seed=int(torch.randint(0, 2**31 - 1, (1,), generator=gen)), terminate_prob=0.15)
    theta = torch.randn(S, A, generator=gen, dtype=torch.float64)
    ep = mdp.sample_episodes(theta, int(torch.randint(20, 80, (1,), generator=gen)), gen)
    return {"theta": theta, "states": ep.states, "actions": ep.actions, "rewards": ep.rewards, "mask": ep.mask, "gamma": gamma}


def check_optimal_baseline(fn: Callable[..., Tensor]) -> CheckResult:
    r"""``fn(theta (S, A), states, actions, rewards, mask (E, T each), gamma) -> (S,)``: the state baseline
    :math:`\hat b^*(s)` that minimises the sampled total variance of
    :math:`\sum_t\gamma^t\nabla\log\pi(a_t|s_t)(G_t - b(s_t))` on the given episodes (0 for unvisited states),
    checked on random MDPs, policies and episode batches (reference :func:`_solution_optimal_baseline`)."""
    return check(fn, _solution_optimal_baseline, _random_episodes, name="optimal_baseline", trials=15,
                 rtol=1e-6, atol=1e-8, mistakes=BASELINE_MISTAKES)
