r"""Exercises of notebook 10 (when PPO goes wrong): turning the trainer's figures into readings.

1. :func:`check_weight_beyond`: the share of the discount weight past step T, :math:`\gamma^T`;
2. :func:`check_explained_variance`: :math:`1 - \mathrm{Var}[\hat R - V]/\mathrm{Var}[\hat R]` (unbiased variances);
3. :func:`check_sigma_from_entropy`: a diagonal Gaussian's geometric-mean σ from its entropy.

Each ``check_*`` runs the learner's function against the reference on random inputs with
:func:`ppo_lite.course.exercises.check`; the usual mistakes are registered, so an answer that makes one is told which.
The reference solutions are private (``_solution_*``); in the notebook a checker cell ends with ``.require()``, which
raises only for an attempted wrong answer.
"""
from __future__ import annotations

import math
from typing import Callable

import torch
from torch import Tensor

from ...trainer import explained_variance
from ._check import CheckResult, check

__all__ = [
    "check_weight_beyond", "check_explained_variance", "check_sigma_from_entropy",
    "WEIGHT_BEYOND_MISTAKES", "EXPLAINED_VARIANCE_MISTAKES", "SIGMA_MISTAKES",
]

_GAUSS_CONST = 0.5 * (1.0 + math.log(2.0 * math.pi))


def _solution_weight_beyond(gamma: Tensor, steps: Tensor) -> Tensor:
    r""":math:`\sum_{t\ge T}\gamma^t \big/ \sum_{t\ge0}\gamma^t = \frac{\gamma^T/(1-\gamma)}{1/(1-\gamma)} = \gamma^T`, elementwise."""
    return gamma ** steps


def _solution_explained_variance(values: Tensor, returns: Tensor) -> Tensor:
    r""":math:`1 - \mathrm{Var}[\hat R - V] / \mathrm{Var}[\hat R]`, unbiased variances (:func:`ppo_lite.trainer.explained_variance`)."""
    return explained_variance(values, returns)


def _solution_sigma_from_entropy(entropy: Tensor, act_dim: int) -> Tensor:
    r""":math:`\bar\sigma = \exp(\mathcal H/d - \tfrac12(1+\log 2\pi))` from :math:`\mathcal H = \sum_i\log\sigma_i + \tfrac d2(1+\log2\pi)`."""
    return torch.exp(entropy / act_dim - _GAUSS_CONST)


def _horizon_inputs(gen: torch.Generator) -> dict:
    n = int(torch.randint(4, 32, (1,), generator=gen))
    return {"gamma": 0.5 + 0.499 * torch.rand(n, generator=gen, dtype=torch.float64),
            "steps": torch.randint(1, 1000, (n,), generator=gen).double()}


def _value_inputs(gen: torch.Generator) -> dict:
    n = int(torch.randint(16, 256, (1,), generator=gen))
    returns = 10.0 * torch.randn(n, generator=gen, dtype=torch.float64) + 50.0 * torch.randn((), generator=gen, dtype=torch.float64)
    # A critic that tracks the returns with noise and a constant offset (as critics lagging a moving target do).
    values = 0.7 * returns + 3.0 * torch.randn(n, generator=gen, dtype=torch.float64) + 5.0 * torch.randn((), generator=gen, dtype=torch.float64)
    return {"values": values, "returns": returns}


def _entropy_inputs(gen: torch.Generator) -> dict:
    d = int(torch.randint(2, 7, (1,), generator=gen))  # d >= 2, so that forgetting to divide by d shows
    log_std = -3.0 + 4.0 * torch.rand(int(torch.randint(4, 32, (1,), generator=gen)), d, generator=gen, dtype=torch.float64)
    return {"entropy": (log_std + _GAUSS_CONST).sum(-1), "act_dim": d}


def _var(x: Tensor) -> Tensor:
    return x.var()


WEIGHT_BEYOND_MISTAKES: dict[str, Callable[..., Tensor]] = {
    "1 - gamma^T: the weight of the first T steps, not of the steps beyond":
        lambda gamma, steps: 1.0 - gamma ** steps,
    "gamma^(T-1): off by one (the steps t >= T start at gamma^T)":
        lambda gamma, steps: gamma ** (steps - 1),
    "(1 - gamma) gamma^T: the weight of step T alone, not of all the steps from T on":
        lambda gamma, steps: (1.0 - gamma) * gamma ** steps,
}

EXPLAINED_VARIANCE_MISTAKES: dict[str, Callable[..., Tensor]] = {
    "1 - mean((R - V)^2) / Var[R]: the mean squared error also counts a constant offset, which Var[R - V] does not":
        lambda values, returns: 1.0 - (returns - values).pow(2).mean() / _var(returns),
    "Var[V] / Var[R]: the critic's spread, not how much of the returns' spread it explains":
        lambda values, returns: _var(values) / _var(returns),
    "1 - Var[R - V] / Var[V]: divided by the critic's variance instead of the returns'":
        lambda values, returns: 1.0 - _var(returns - values) / _var(values),
}

SIGMA_MISTAKES: dict[str, Callable[..., Tensor]] = {
    "forgot to divide by the action dimension (the entropy sums over the d dimensions)":
        lambda entropy, act_dim: torch.exp(entropy - _GAUSS_CONST),
    "exp(H): the entropy is log sigma plus a constant, not log sigma":
        lambda entropy, act_dim: torch.exp(entropy / act_dim),
    "subtracted log(2 pi)/2 only: the constant is (1 + log 2 pi)/2":
        lambda entropy, act_dim: torch.exp(entropy / act_dim - 0.5 * math.log(2.0 * math.pi)),
}


def check_weight_beyond(fn: Callable[[Tensor, Tensor], Tensor]) -> CheckResult:
    r"""``fn(gamma, steps)``: elementwise share of the discount weight beyond ``steps``, :math:`\gamma^T`."""
    return check(fn, _solution_weight_beyond, _horizon_inputs, rtol=1e-7, atol=1e-12, name="weight_beyond",
                 mistakes=WEIGHT_BEYOND_MISTAKES)


def check_explained_variance(fn: Callable[[Tensor, Tensor], Tensor]) -> CheckResult:
    r"""``fn(values, returns)``: :math:`1 - \mathrm{Var}[\hat R - V]/\mathrm{Var}[\hat R]` (a scalar; unbiased variances)."""
    return check(fn, _solution_explained_variance, _value_inputs, rtol=1e-6, atol=1e-9, name="explained_variance",
                 mistakes=EXPLAINED_VARIANCE_MISTAKES)


def check_sigma_from_entropy(fn: Callable[[Tensor, int], Tensor]) -> CheckResult:
    r"""``fn(entropy, act_dim)``: the geometric-mean σ of a diagonal Gaussian whose entropy (per row) is ``entropy``."""
    return check(fn, _solution_sigma_from_entropy, _entropy_inputs, rtol=1e-7, atol=1e-12, name="sigma_from_entropy",
                 mistakes=SIGMA_MISTAKES)
