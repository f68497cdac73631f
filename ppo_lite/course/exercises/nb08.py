"""Exercises of notebook 08 (throw GPUs at it?): the overhead model of a step and Amdahl's law for an update.

Random inputs: step timings that follow :math:`t(N) = a + bN` plus noise, and per-phase update timings with a
random subset of phases accelerated.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

from ...experiments.scaling import amdahl_time, fit_line
from ._check import CheckResult, check

__all__ = ["check_fit_line", "check_amdahl_time", "FIT_LINE_MISTAKES", "AMDAHL_MISTAKES"]


def _reference_fit(envs: Tensor, seconds: Tensor) -> tuple[float, float]:
    return fit_line(envs.tolist(), seconds.tolist())


def _timings(gen: torch.Generator) -> dict:
    n = int(torch.randint(3, 9, (1,), generator=gen))
    envs = (2.0 ** torch.randint(0, 17, (n,), generator=gen).double()).unique()
    while envs.numel() < 2:  # a line needs two distinct widths
        envs = torch.cat([envs, envs[:1] * 2])
    a, b = 1e-4 * torch.rand((), generator=gen, dtype=torch.float64), 1e-8 * torch.rand((), generator=gen, dtype=torch.float64)
    noise = 1 + 0.05 * torch.randn(envs.shape, generator=gen, dtype=torch.float64)
    return {"envs": envs, "seconds": (a + b * envs) * noise}


def _through_origin(envs: Tensor, seconds: Tensor) -> tuple[float, float]:
    return 0.0, float((envs * seconds).sum() / (envs * envs).sum())


def _swapped(envs: Tensor, seconds: Tensor) -> tuple[float, float]:
    a, b = _reference_fit(envs, seconds)
    return b, a


FIT_LINE_MISTAKES: dict[str, Callable[[Tensor, Tensor], tuple[float, float]]] = {
    "a line through the origin: forgot the fixed cost a (the whole point of the overhead model)": _through_origin,
    "returned (b, a): the slope first": _swapped,
}


def _all_accelerated(phase_seconds: Tensor, accelerated: Tensor, speedup: float) -> Tensor:
    return phase_seconds.sum() / speedup


def _accelerated_dropped(phase_seconds: Tensor, accelerated: Tensor, speedup: float) -> Tensor:
    return phase_seconds[~accelerated].sum()


AMDAHL_MISTAKES: dict[str, Callable[[Tensor, Tensor, float], Tensor]] = {
    "divided every phase by the speedup: only the accelerated ones get faster": _all_accelerated,
    "dropped the accelerated phases: they get faster, they do not vanish": _accelerated_dropped,
}


def check_fit_line(fn: Callable[[Tensor, Tensor], tuple[float, float]]) -> CheckResult:
    r"""``fn(envs, seconds) -> (a, b)``: least-squares fit of :math:`t(N) = a + bN` (reference
    :func:`ppo_lite.experiments.scaling.fit_line`)."""
    return check(fn, _reference_fit, _timings, rtol=1e-6, atol=1e-12, name="fit_line", mistakes=FIT_LINE_MISTAKES)


def _phases(gen: torch.Generator) -> dict:
    p = int(torch.randint(2, 7, (1,), generator=gen))
    return {
        "phase_seconds": torch.rand(p, generator=gen, dtype=torch.float64),
        "accelerated": torch.rand(p, generator=gen) < 0.5,
        "speedup": float(1 + 99 * torch.rand((), generator=gen)),
    }


def check_amdahl_time(fn: Callable[[Tensor, Tensor, float], Tensor]) -> CheckResult:
    r"""``fn(phase_seconds, accelerated, speedup) -> T'``:
    :math:`T' = \sum_{p \notin A} t_p + \frac1s\sum_{p\in A} t_p` (reference :func:`~ppo_lite.experiments.scaling.amdahl_time`)."""
    return check(fn, amdahl_time, _phases, name="amdahl_time", mistakes=AMDAHL_MISTAKES)
