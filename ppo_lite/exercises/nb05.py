r"""Exercises of notebook 05: the clipped objective and the clip fraction.

Each ``check_*`` runs the learner's function against the reference on random inputs with
:func:`ppo_lite.exercises.check` and returns a :class:`~ppo_lite.exercises.CheckResult`.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

from ._check import CheckResult, check

__all__ = ["reference_clipped_objective", "reference_clip_fraction", "check_clipped_objective", "check_clip_fraction"]


def reference_clipped_objective(logp_new: Tensor, logp_old: Tensor, advantages: Tensor, eps: float) -> Tensor:
    r"""Mean of :math:`\min(r A, \mathrm{clip}(r, 1-\epsilon, 1+\epsilon) A)` with :math:`r = e^{\log\pi_{new} - \log\pi_{old}}`."""
    r = torch.exp(logp_new - logp_old)
    return torch.minimum(r * advantages, torch.clamp(r, 1.0 - eps, 1.0 + eps) * advantages).mean()


def reference_clip_fraction(logp_new: Tensor, logp_old: Tensor, eps: float) -> Tensor:
    r"""Fraction of samples with :math:`|r - 1| > \epsilon` (a float tensor in [0, 1])."""
    r = torch.exp(logp_new - logp_old)
    return ((r - 1.0).abs() > eps).float().mean()


def _inputs(gen: torch.Generator, with_adv: bool) -> dict:
    n = int(torch.randint(4, 64, (1,), generator=gen))
    logp_old = -torch.rand(n, generator=gen, dtype=torch.float64) * 3.0
    # log-ratio spread of 0.5: a good share of samples land on each side of the band, so every case is exercised
    inputs = {"logp_new": logp_old + 0.5 * torch.randn(n, generator=gen, dtype=torch.float64), "logp_old": logp_old}
    if with_adv:
        inputs["advantages"] = torch.randn(n, generator=gen, dtype=torch.float64)
    inputs["eps"] = float(torch.tensor([0.1, 0.2, 0.3])[torch.randint(0, 3, (1,), generator=gen)])
    return inputs


def check_clipped_objective(fn: Callable[[Tensor, Tensor, Tensor, float], Tensor]) -> CheckResult:
    """Check ``fn(logp_new, logp_old, advantages, eps)`` returns the mean clipped objective (a scalar)."""
    return check(fn, reference_clipped_objective, lambda g: _inputs(g, True), name="clipped_objective")


def check_clip_fraction(fn: Callable[[Tensor, Tensor, float], Tensor]) -> CheckResult:
    """Check ``fn(logp_new, logp_old, eps)`` returns the fraction of samples outside the band."""
    return check(fn, reference_clip_fraction, lambda g: _inputs(g, False), name="clip_fraction")
