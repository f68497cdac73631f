"""Exercises of notebook 09 (limits): the potential-based shaping term and the count-based bonus.

Random inputs mix terminated and live transitions, so a shaping term that forgets :math:`\\Phi = 0` after
termination, or the discount, is caught; counts include 1 and large values.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

from ...envs.exploration import count_bonus, shaping_reward
from ...experiments.stats import expected_max_score
from ._check import CheckResult, check

__all__ = ["check_shaping_reward", "check_count_bonus", "check_expected_max", "SHAPING_MISTAKES", "COUNT_BONUS_MISTAKES",
           "EXPECTED_MAX_MISTAKES"]


def _no_terminal_mask(phi: Tensor, phi_next: Tensor, terminated: Tensor, gamma: float) -> Tensor:
    return gamma * phi_next - phi


def _no_discount(phi: Tensor, phi_next: Tensor, terminated: Tensor, gamma: float) -> Tensor:
    return phi_next * (~terminated) - phi


SHAPING_MISTAKES: dict[str, Callable[..., Tensor]] = {
    "kept the potential after termination: Phi(s') must count as 0 there, or the telescoping breaks": _no_terminal_mask,
    "forgot the discount on Phi(s')": _no_discount,
}
COUNT_BONUS_MISTAKES: dict[str, Callable[..., Tensor]] = {
    "beta / n instead of beta / sqrt(n)": lambda counts, beta: beta / counts.double(),
    "forgot beta": lambda counts, beta: 1.0 / counts.double().sqrt(),
}


def _reference_expected_max(scores: Tensor, k: int) -> float:
    r"""Expected best of k settings drawn uniformly with replacement (:func:`ppo_lite.experiments.stats.expected_max_score`)."""
    return expected_max_score(scores.tolist(), k)


EXPECTED_MAX_MISTAKES: dict[str, Callable[[Tensor, int], float]] = {
    "the mean of the k best scores, not the expected best of k random draws": lambda scores, k: float(scores.sort(descending=True).values[:k].mean()),
    "the best of the first k scores (one draw, not the expectation)": lambda scores, k: float(scores[:k].max()),
    "drew without replacement: Dodge et al.'s estimator draws with replacement": lambda scores, k: _without_replacement(scores, k),
}


def _without_replacement(scores: Tensor, k: int) -> float:
    from math import comb

    v = scores.sort().values.tolist()
    n = len(v)
    k = min(k, n)
    return sum(v[i] * comb(i, k - 1) / comb(n, k) for i in range(k - 1, n))


def _scores(gen: torch.Generator) -> dict:
    n = int(torch.randint(4, 30, (1,), generator=gen))
    return {"scores": torch.rand(n, generator=gen, dtype=torch.float64) ** 2, "k": int(torch.randint(2, n, (1,), generator=gen))}


def check_expected_max(fn: Callable[[Tensor, int], float]) -> CheckResult:
    r"""``fn(scores, k)``: :math:`E[\max_k] = \sum_i v_{(i)}[(i/n)^k - ((i-1)/n)^k]` over the sorted scores."""
    return check(fn, _reference_expected_max, _scores, name="expected_max", rtol=1e-9, atol=1e-12, mistakes=EXPECTED_MAX_MISTAKES)


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
    (reference :func:`ppo_lite.envs.exploration.shaping_reward`)."""
    return check(fn, shaping_reward, _transitions, name="shaping_reward", mistakes=SHAPING_MISTAKES)


def _counts(gen: torch.Generator) -> dict:
    n = int(torch.randint(1, 33, (1,), generator=gen))
    return {"counts": torch.randint(1, 10_000, (n,), generator=gen), "beta": float(torch.rand((), generator=gen))}


def check_count_bonus(fn: Callable[..., Tensor]) -> CheckResult:
    r"""``fn(counts, beta) -> bonus``: :math:`\beta/\sqrt{n}` (reference :func:`ppo_lite.envs.exploration.count_bonus`)."""
    return check(fn, count_bonus, _counts, rtol=1e-5, atol=1e-7, name="count_bonus", mistakes=COUNT_BONUS_MISTAKES)
