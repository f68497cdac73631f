r"""Exercises of notebook 04: the k3 KL estimator, the dual-descent update, the tilted distribution.

Each ``check_*`` runs the learner's function against the reference on random inputs with
:func:`ppo_lite.exercises.check` and returns a :class:`~ppo_lite.exercises.CheckResult`.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

from ._check import CheckResult, check

__all__ = [
    "reference_k3",
    "reference_dual_update",
    "reference_tilted",
    "check_k3",
    "check_dual_update",
    "check_tilted",
]


def reference_k3(logp_new: Tensor, logp_old: Tensor) -> Tensor:
    r"""Per-sample :math:`k_3 = (r - 1) - \log r`, :math:`\log r = \log\pi_{new} - \log\pi_{old}`."""
    log_r = logp_new - logp_old
    return torch.expm1(log_r) - log_r


def reference_dual_update(eta: Tensor, kl: Tensor, delta: float, lr: float) -> Tensor:
    r"""Projected dual step :math:`\eta \leftarrow \max(0, \eta + \alpha_\eta(\mathrm{KL} - \delta))`."""
    return torch.clamp(eta + lr * (kl - delta), min=0.0)


def reference_tilted(advantages: Tensor, q: Tensor, eta: float) -> Tensor:
    r""":math:`p_\eta \propto q\, e^{A/\eta}`, normalized over the last dimension."""
    return torch.softmax(torch.log(q) + advantages / eta, dim=-1)


def _k3_inputs(gen: torch.Generator) -> dict[str, Tensor]:
    n = int(torch.randint(2, 50, (1,), generator=gen))
    logp_old = -torch.rand(n, generator=gen, dtype=torch.float64) * 3.0
    return {"logp_new": logp_old + torch.randn(n, generator=gen, dtype=torch.float64), "logp_old": logp_old}


def _dual_inputs(gen: torch.Generator) -> dict:
    # Small eta and KL below delta half the time: the projection onto eta >= 0 must act.
    eta = torch.rand((), generator=gen, dtype=torch.float64) * 0.5
    kl = torch.rand((), generator=gen, dtype=torch.float64) * 0.05
    return {"eta": eta, "kl": kl, "delta": 0.02, "lr": float(torch.randint(1, 30, (1,), generator=gen))}


def _tilted_inputs(gen: torch.Generator) -> dict:
    a = int(torch.randint(2, 8, (1,), generator=gen))
    return {
        "advantages": torch.randn(a, generator=gen, dtype=torch.float64),
        "q": torch.softmax(torch.randn(a, generator=gen, dtype=torch.float64), -1),
        "eta": float(0.1 + 3.0 * torch.rand((), generator=gen)),
    }


def check_k3(fn: Callable[[Tensor, Tensor], Tensor]) -> CheckResult:
    """Check ``fn(logp_new, logp_old)`` returns per-sample k3."""
    return check(fn, reference_k3, _k3_inputs, name="k3")


def check_dual_update(fn: Callable[[Tensor, Tensor, float, float], Tensor]) -> CheckResult:
    """Check ``fn(eta, kl, delta, lr)`` returns the projected dual-descent step."""
    return check(fn, reference_dual_update, _dual_inputs, name="dual_update")


def check_tilted(fn: Callable[[Tensor, Tensor, float], Tensor]) -> CheckResult:
    """Check ``fn(advantages, q, eta)`` returns the tilted distribution q exp(A/eta) / Z."""
    return check(fn, reference_tilted, _tilted_inputs, name="tilted")
