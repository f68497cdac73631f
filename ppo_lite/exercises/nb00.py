r"""Exercises of notebook 00: reading a training History.

``check_mean_last`` runs the learner's function against the reference on random inputs; ``check_solved``
checks a trained History against the CartPole-v1 criterion the course uses.
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch

from ..history import History
from ._check import CheckResult, check

__all__ = ["reference_mean_last", "check_mean_last", "check_solved"]


def reference_mean_last(returns: Sequence[float], last: int) -> float:
    r"""Mean of the last ``last`` episode returns, :math:`\frac1n\sum_{i=N-n+1}^{N} G_i` with :math:`n=\min(last, N)`;
    nan for no episodes (what :meth:`ppo_lite.History.mean_return` computes)."""
    tail = list(returns)[-last:]
    return sum(tail) / len(tail) if tail else float("nan")


def _inputs(gen: torch.Generator) -> dict:
    n = int(torch.randint(0, 60, (1,), generator=gen))
    returns = (torch.rand(n, generator=gen, dtype=torch.float64) * 500.0).round().tolist()
    return {"returns": returns, "last": int(torch.randint(1, 30, (1,), generator=gen))}


def check_mean_last(fn: Callable[[Sequence[float], int], float]) -> CheckResult:
    """Check ``fn(returns, last)`` (including fewer than ``last`` episodes, and none at all)."""
    return check(fn, reference_mean_last, _inputs, name="mean_last", trials=40)


def check_solved(history: History, threshold: float = 475.0, last: int = 20, seed: int | None = None) -> CheckResult:
    """Did the run reach ``threshold`` as the mean of the last ``last`` episodes, and does its History say so
    consistently (``steps_to_threshold`` set and not after the last logged step)?"""
    if not isinstance(history, History):
        return CheckResult(False, f"expected a ppo_lite.History (what train() returns), got {type(history).__name__}")
    if len(history) == 0:
        return CheckResult(False, "the History is empty: train() ran no update")
    mean = history.mean_return(last)
    steps = history.steps_to_threshold(threshold, last)
    who = "" if seed is None else f"seed {seed}: "
    if not mean >= threshold:
        return CheckResult(False, f"{who}mean return of the last {last} episodes is {mean:.1f} < {threshold}: train longer "
                                  f"(more total_steps) or stop with a callback only once it is reached")
    if steps is None or steps > history["env_steps"][-1]:
        return CheckResult(False, f"{who}steps_to_threshold is {steps}, inconsistent with the final mean {mean:.1f}")
    return CheckResult(True, f"{who}reached {threshold} (mean of last {last} episodes) at {steps:,.0f} env steps")
