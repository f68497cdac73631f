"""Exercises of notebook 02 (advantages): TD residuals and GAE with termination vs truncation.

The learner's functions take the (T, N) conventions of :mod:`ppo_lite.advantages`; random inputs mix
terminations and time-limit truncations so a function that ignores either is caught.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

from ..advantages import gae, td_residuals
from ._check import CheckResult, check

__all__ = ["check_td_residuals", "check_gae"]


def _transitions(gen: torch.Generator, with_lambda: bool) -> dict:
    T, N = int(torch.randint(1, 25, (1,), generator=gen)), int(torch.randint(1, 5, (1,), generator=gen))
    ends = torch.rand(T, N, generator=gen)
    inputs = {
        "rewards": torch.randn(T, N, generator=gen, dtype=torch.float64),
        "values": torch.randn(T, N, generator=gen, dtype=torch.float64),
        "next_values": torch.randn(T, N, generator=gen, dtype=torch.float64),
        "terminated": ends < 0.1,
        "gamma": float(torch.empty(()).uniform_(0.8, 1.0, generator=gen)),
    }
    if with_lambda:
        inputs["truncated"] = (ends > 0.9) & ~inputs["terminated"]
        inputs["lam"] = float(torch.rand((), generator=gen))
    return inputs


def check_td_residuals(fn: Callable[..., Tensor]) -> CheckResult:
    r"""``fn(rewards, values, next_values, terminated, gamma) -> (T, N)``:
    :math:`\delta_t = r_t + \gamma(1-\text{term}_t)V(s'_{t+1}) - V(s_t)`."""
    return check(fn, td_residuals, lambda g: _transitions(g, False), name="td_residuals")


def check_gae(fn: Callable[..., Tensor]) -> CheckResult:
    r"""``fn(rewards, values, next_values, terminated, truncated, gamma, lam) -> (T, N)``:
    :math:`\hat A_t = \delta_t + \gamma\lambda(1-\text{done}_t)\hat A_{t+1}` (reference :func:`ppo_lite.advantages.gae`)."""
    return check(fn, gae, lambda g: _transitions(g, True), name="gae")
