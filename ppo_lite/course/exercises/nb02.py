r"""Exercises of notebook 02 (advantages): TD residuals, and GAE over a vectorized rollout with terminations and
time-limit truncations.

The learner's functions take the (T, N) conventions of :mod:`ppo_lite.advantages`. The GAE exercise hands the
rollout over the way a gymnasium vector env produces it (autoreset): ``values[t] = V(obs_t)``, where ``obs_t``
is the *reset* observation of a new episode when the previous one ended at ``t - 1``; ``final_values[t]`` is the
value of the true final observation of step ``t`` (gymnasium's ``final_obs``), meaningful only where the episode
ended there; ``last_values = V(obs_T)`` bootstraps the unfinished rollout. Random inputs mix terminations and
truncations, and the values where they must not be used hold random numbers, so each classic mistake is caught.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

from ...advantages import gae, td_residuals
from ._check import CheckResult, check

__all__ = [
    "check_td_residuals", "check_rollout_gae", "ROLLOUT_GAE_MISTAKES",
]


def _td_inputs(gen: torch.Generator) -> dict:
    T, N = int(torch.randint(1, 25, (1,), generator=gen)), int(torch.randint(1, 5, (1,), generator=gen))
    return {
        "rewards": torch.randn(T, N, generator=gen, dtype=torch.float64),
        "values": torch.randn(T, N, generator=gen, dtype=torch.float64),
        "next_values": torch.randn(T, N, generator=gen, dtype=torch.float64),
        "terminated": torch.rand(T, N, generator=gen) < 0.15,
        "gamma": float(torch.empty(()).uniform_(0.8, 0.99, generator=gen)),
    }


def _rollout_inputs(gen: torch.Generator) -> dict:
    T, N = int(torch.randint(2, 30, (1,), generator=gen)), int(torch.randint(1, 6, (1,), generator=gen))
    ends = torch.rand(T, N, generator=gen)
    return {
        "rewards": torch.randn(T, N, generator=gen, dtype=torch.float64),
        "values": torch.randn(T, N, generator=gen, dtype=torch.float64),
        # junk where the episode did not end: a function that reads it there is caught
        "final_values": torch.randn(T, N, generator=gen, dtype=torch.float64),
        "last_values": torch.randn(N, generator=gen, dtype=torch.float64),
        "terminated": ends < 0.12,
        "truncated": ends > 0.88,
        "gamma": float(torch.empty(()).uniform_(0.8, 0.99, generator=gen)),
        "lam": float(torch.empty(()).uniform_(0.5, 0.99, generator=gen)),
    }


def check_td_residuals(fn: Callable[..., Tensor]) -> CheckResult:
    r"""``fn(rewards, values, next_values, terminated, gamma) -> (T, N)``:
    :math:`\delta_t = r_t + \gamma(1-\text{term}_t)V(s'_{t+1}) - V(s_t)` (reference :func:`ppo_lite.advantages.td_residuals`)."""
    mistakes = {
        "no termination mask (a terminal next state has value 0, so nothing is bootstrapped there)":
            lambda rewards, values, next_values, terminated, gamma: rewards + gamma * next_values - values,
        "the discount is missing":
            lambda rewards, values, next_values, terminated, gamma: td_residuals(rewards, values, next_values, terminated, 1.0),
    }
    return check(fn, td_residuals, _td_inputs, name="td_residuals", mistakes=mistakes)


def _rollout_next_values(values: Tensor, final_values: Tensor, last_values: Tensor, terminated: Tensor,
                        truncated: Tensor) -> Tensor:
    r""":math:`V(s'_{t+1})` of each step of an autoreset rollout, (T, N): the true final observation's value where the
    episode ended at t, else the next step's ``values[t + 1]``, and ``last_values`` after the last step."""
    following = torch.cat([values[1:], last_values[None]])
    return torch.where(terminated | truncated, final_values, following)


def _solution_rollout_gae(rewards: Tensor, values: Tensor, final_values: Tensor, last_values: Tensor,
                         terminated: Tensor, truncated: Tensor, gamma: float, lam: float) -> Tensor:
    r"""Reference: :func:`ppo_lite.advantages.gae` on the next values of :func:`_rollout_next_values`,

    .. math:: \hat A_t = \delta_t + \gamma\lambda(1-\text{done}_t)\hat A_{t+1},\qquad
              \delta_t = r_t + \gamma(1-\text{term}_t)V(s'_{t+1}) - V(s_t).
    """
    next_values = _rollout_next_values(values, final_values, last_values, terminated, truncated)
    return gae(rewards, values, next_values, terminated, truncated, gamma, lam)


def _backward(deltas: Tensor, decay: Tensor) -> Tensor:
    out, running = torch.empty_like(deltas), torch.zeros_like(deltas[0])
    for t in range(deltas.shape[0] - 1, -1, -1):
        running = deltas[t] + decay[t] * running
        out[t] = running
    return out


def _truncation_as_termination(rewards, values, final_values, last_values, terminated, truncated, gamma, lam):
    return _solution_rollout_gae(rewards, values, final_values, last_values, terminated | truncated, truncated, gamma, lam)


def _flows_across_truncation(rewards, values, final_values, last_values, terminated, truncated, gamma, lam):
    next_values = _rollout_next_values(values, final_values, last_values, terminated, truncated)
    deltas = td_residuals(rewards, values, next_values, terminated, gamma)
    return _backward(deltas, gamma * lam * (~terminated).to(rewards.dtype))


def _flows_across_every_end(rewards, values, final_values, last_values, terminated, truncated, gamma, lam):
    next_values = _rollout_next_values(values, final_values, last_values, terminated, truncated)
    deltas = td_residuals(rewards, values, next_values, terminated, gamma)
    return _backward(deltas, torch.full_like(rewards, gamma * lam))


def _no_termination_mask(rewards, values, final_values, last_values, terminated, truncated, gamma, lam):
    next_values = _rollout_next_values(values, final_values, last_values, terminated, truncated)
    deltas = rewards + gamma * next_values - values
    return _backward(deltas, gamma * lam * (~(terminated | truncated)).to(rewards.dtype))


def _reset_observation(rewards, values, final_values, last_values, terminated, truncated, gamma, lam):
    following = torch.cat([values[1:], last_values[None]])
    return gae(rewards, values, following, terminated, truncated, gamma, lam)


ROLLOUT_GAE_MISTAKES: dict[str, Callable[..., Tensor]] = {
    "treated truncation as termination (a time limit does not end the MDP: bootstrap from the final observation's value)":
        _truncation_as_termination,
    "the recursion flows across a truncation (only termination stops it; a time limit ends the episode too)":
        _flows_across_truncation,
    "the recursion flows across episode ends (multiply the carried advantage by 1 - done)":
        _flows_across_every_end,
    "forgot to mask the bootstrap on termination (a terminal state's value is 0, whatever the critic says)":
        _no_termination_mask,
    "bootstrapped an ended episode from values[t + 1], the value of the next episode's reset observation, "
    "instead of final_values[t]":
        _reset_observation,
}


def check_rollout_gae(fn: Callable[..., Tensor]) -> CheckResult:
    r"""``fn(rewards, values, final_values, last_values, terminated, truncated, gamma, lam) -> (T, N)``: GAE over an
    autoreset rollout of N envs (see the module docstring for the inputs), reference :func:`_solution_rollout_gae`;
    the known mistakes are :data:`ROLLOUT_GAE_MISTAKES`."""
    return check(fn, _solution_rollout_gae, _rollout_inputs, name="rollout_gae", mistakes=ROLLOUT_GAE_MISTAKES)
