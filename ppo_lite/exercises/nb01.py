"""Exercises of notebook 01 (policy gradients): reward-to-go and the softmax score function.

Each ``check_*`` runs the learner's function against a reference on random inputs (:func:`ppo_lite.exercises.check`).
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

from ..advantages import reward_to_go
from ._check import CheckResult, check

__all__ = ["check_reward_to_go", "check_softmax_score", "reference_softmax_score"]


def _episode_rewards(gen: torch.Generator) -> dict:
    T = int(torch.randint(1, 30, (1,), generator=gen))
    gamma = float(torch.rand((), generator=gen, dtype=torch.float64)) ** 0.25  # mostly near 1, sometimes small
    return {"rewards": torch.randn(T, generator=gen, dtype=torch.float64), "gamma": gamma}


def check_reward_to_go(fn: Callable[[Tensor, float], Tensor]) -> CheckResult:
    r"""``fn(rewards (T,), gamma) -> (T,)`` must return :math:`\hat R_t = \sum_{t' \ge t}\gamma^{t'-t} r_{t'}`
    (reference :func:`ppo_lite.advantages.reward_to_go`)."""
    return check(fn, reward_to_go, _episode_rewards, name="reward_to_go")


def reference_softmax_score(logits: Tensor, actions: Tensor) -> Tensor:
    r""":math:`\nabla_z \log\mathrm{softmax}(z)_a` by autograd, row by row: an answer that owes nothing to the
    closed form :math:`e_a - \mathrm{softmax}(z)` the learner derives."""
    z = logits.detach().clone().requires_grad_(True)
    torch.log_softmax(z, -1).gather(-1, actions[:, None]).sum().backward()
    return z.grad


def _logits_actions(gen: torch.Generator) -> dict:
    N, A = int(torch.randint(1, 10, (1,), generator=gen)), int(torch.randint(2, 6, (1,), generator=gen))
    logits = 3.0 * torch.randn(N, A, generator=gen, dtype=torch.float64)
    return {"logits": logits, "actions": torch.randint(0, A, (N,), generator=gen)}


def check_softmax_score(fn: Callable[[Tensor, Tensor], Tensor]) -> CheckResult:
    r"""``fn(logits (N, A), actions (N,)) -> (N, A)`` must return :math:`\nabla_z\log\pi(a|z)` for each row."""
    return check(fn, reference_softmax_score, _logits_actions, name="softmax_score")
