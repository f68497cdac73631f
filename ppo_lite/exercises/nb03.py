r"""Exercises of notebook 03: the importance-weighted surrogate and the per-state KL of a tabular policy.

Each ``check_*`` runs the learner's function against the reference on random inputs with
:func:`ppo_lite.exercises.check` and returns a :class:`~ppo_lite.exercises.CheckResult`.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

from ._check import CheckResult, check

__all__ = ["reference_surrogate", "reference_state_kl", "check_surrogate", "check_state_kl"]


def reference_surrogate(logp_new: Tensor, logp_old: Tensor, advantages: Tensor) -> Tensor:
    r"""Surrogate *objective* (a gain, to maximize): :math:`\hat{\mathbb E}[r \hat A]`,
    :math:`r = \exp(\log\pi_\theta - \log\pi_{old})`."""
    return (torch.exp(logp_new - logp_old) * advantages).mean()


def reference_state_kl(pi_old: Tensor, pi_new: Tensor) -> Tensor:
    r"""Per-state :math:`\mathrm{KL}(\pi_{old}(\cdot|s)\|\pi_{new}(\cdot|s)) = \sum_a \pi_{old}\log(\pi_{old}/\pi_{new})`,
    shape (S,), with :math:`0\log 0 = 0`."""
    terms = torch.where(pi_old > 0, pi_old * (torch.log(pi_old) - torch.log(pi_new)), torch.zeros_like(pi_old))
    return terms.sum(-1)


def _surrogate_inputs(gen: torch.Generator) -> dict[str, Tensor]:
    n = int(torch.randint(2, 50, (1,), generator=gen))
    logp_old = -torch.rand(n, generator=gen, dtype=torch.float64) * 3.0
    return {
        "logp_new": logp_old + 0.5 * torch.randn(n, generator=gen, dtype=torch.float64),
        "logp_old": logp_old,
        "advantages": torch.randn(n, generator=gen, dtype=torch.float64),
    }


def _state_kl_inputs(gen: torch.Generator) -> dict[str, Tensor]:
    s, a = int(torch.randint(1, 6, (1,), generator=gen)), int(torch.randint(2, 5, (1,), generator=gen))
    pi_old = torch.softmax(2.0 * torch.randn(s, a, generator=gen, dtype=torch.float64), -1)
    pi_old[0, 0] = 0.0  # a deterministic-ish row: 0 log 0 must count as 0
    pi_old = pi_old / pi_old.sum(-1, keepdim=True)
    pi_new = torch.softmax(2.0 * torch.randn(s, a, generator=gen, dtype=torch.float64), -1)
    return {"pi_old": pi_old, "pi_new": pi_new}


def check_surrogate(fn: Callable[[Tensor, Tensor, Tensor], Tensor]) -> CheckResult:
    """Check ``fn(logp_new, logp_old, advantages)`` returns the importance-weighted surrogate mean."""
    return check(fn, reference_surrogate, _surrogate_inputs, name="surrogate")


def _nan_as_error(fn: Callable[..., Tensor]) -> Callable[..., Tensor]:
    """Turn a NaN in the learner's output into an exception that ``check`` reports (its own comparison
    raises IndexError on a NaN output in this version of ``ppo_lite.exercises._check``)."""

    def wrapped(**kwargs):
        out = fn(**kwargs)
        if isinstance(out, Tensor) and torch.isnan(out).any():
            bad = tuple(int(i) for i in torch.nonzero(torch.isnan(out))[0])
            raise ValueError(f"output is NaN at index {bad} (0 * log 0 must count as 0)")
        return out

    return wrapped


def check_state_kl(fn: Callable[[Tensor, Tensor], Tensor]) -> CheckResult:
    """Check ``fn(pi_old, pi_new)`` returns per-state KL(pi_old || pi_new), rows of zero probability included."""
    return check(_nan_as_error(fn), reference_state_kl, _state_kl_inputs, name="state_kl")
