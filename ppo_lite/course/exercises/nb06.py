r"""Exercises of notebook 06: the diagnostics a practitioner watches — explained variance and clip fraction.

Each ``check_*`` runs the learner's function against the reference on random inputs with
:func:`ppo_lite.course.exercises.check` and returns a :class:`~ppo_lite.course.exercises.CheckResult`. The references
are written from the formulas, apart from the library; the library's own :func:`ppo_lite.diagnostics.explained_variance`
and :func:`ppo_lite.objectives.clip_fraction` (what the trainer logs) pass these checkers, and
``tests/test_experiments_nb06_07.py`` holds the references equal to them on random inputs.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

from ._check import CheckResult, check

__all__ = ["check_explained_variance", "check_clip_fraction"]


def _reference_explained_variance(values: Tensor, returns: Tensor) -> Tensor:
    r""":math:`1 - \mathrm{Var}[\hat R - V] / \mathrm{Var}[\hat R]` (unbiased variances; 1 perfect, 0 a constant, < 0 worse)."""
    return 1.0 - (returns - values).var() / returns.var()


def _reference_clip_fraction(ratio: Tensor, clip_eps: float) -> Tensor:
    r"""Fraction of samples whose ratio lies outside :math:`[1-\epsilon, 1+\epsilon]`: :math:`\tfrac1B\sum_i \mathbb 1[|r_i-1|>\epsilon]`."""
    return ((ratio - 1.0).abs() > clip_eps).to(ratio.dtype).mean()


def _ev_inputs(gen: torch.Generator) -> dict:
    n = int(torch.randint(8, 200, (1,), generator=gen))
    returns = torch.randn(n, generator=gen, dtype=torch.float64) * 3 + 1
    quality = float(torch.rand((), generator=gen)) * 1.5  # from a good critic to one worse than a constant
    values = returns + quality * 3 * torch.randn(n, generator=gen, dtype=torch.float64) + float(torch.randn((), generator=gen))
    return {"values": values, "returns": returns}


def _clip_inputs(gen: torch.Generator) -> dict:
    n = int(torch.randint(8, 200, (1,), generator=gen))
    return {"ratio": torch.exp(0.3 * torch.randn(n, generator=gen, dtype=torch.float64)),
            "clip_eps": float(torch.tensor([0.1, 0.2, 0.3])[torch.randint(0, 3, (1,), generator=gen)])}


def check_explained_variance(fn: Callable[[Tensor, Tensor], Tensor]) -> CheckResult:
    """Check ``fn(values, returns)`` returns the explained variance of the critic."""
    return check(fn, _reference_explained_variance, _ev_inputs, name="explained_variance")


def check_clip_fraction(fn: Callable[[Tensor, float], Tensor]) -> CheckResult:
    """Check ``fn(ratio, clip_eps)`` returns the fraction of ratios outside the clip band."""
    return check(fn, _reference_clip_fraction, _clip_inputs, name="clip_fraction")
