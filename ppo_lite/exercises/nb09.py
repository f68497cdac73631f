"""Exercises of notebook 09 (limits): the potential-based shaping term and the count-based bonus.

Random inputs mix terminated and live transitions, so a shaping term that forgets :math:`\\Phi = 0` after
termination, or the discount, is caught; counts include 1 and large values.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

from ..exploration import count_bonus, shaping_reward
from ._check import CheckResult, check

__all__ = ["check_shaping_reward", "check_count_bonus"]


def _transitions(gen: torch.Generator) -> dict:
    n = int(torch.randint(1, 33, (1,), generator=gen))
    return {
        "phi": 10 * torch.randn(n, generator=gen, dtype=torch.float64),
        "phi_next": 10 * torch.randn(n, generator=gen, dtype=torch.float64),
        "terminated": torch.rand(n, generator=gen) < 0.3,
        "gamma": float(torch.empty(()).uniform_(0.8, 0.999, generator=gen)),
    }


def check_shaping_reward(fn: Callable[..., Tensor]) -> CheckResult:
    r"""``fn(phi, phi_next, terminated, gamma) -> F``: :math:`F = \gamma\Phi(s')(1-\mathrm{term}) - \Phi(s)`
    (reference :func:`ppo_lite.exploration.shaping_reward`)."""
    return check(fn, shaping_reward, _transitions, name="shaping_reward")


def _counts(gen: torch.Generator) -> dict:
    n = int(torch.randint(1, 33, (1,), generator=gen))
    return {"counts": torch.randint(1, 10_000, (n,), generator=gen), "beta": float(torch.rand((), generator=gen))}


def check_count_bonus(fn: Callable[..., Tensor]) -> CheckResult:
    r"""``fn(counts, beta) -> bonus``: :math:`\beta/\sqrt{n}` (reference :func:`ppo_lite.exploration.count_bonus`)."""
    return check(fn, count_bonus, _counts, rtol=1e-5, atol=1e-7, name="count_bonus")
