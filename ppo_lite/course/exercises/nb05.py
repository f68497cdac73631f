r"""Exercises of notebook 05: the clipped objective, the clip fraction, the gradient regions of the clipped objective,
and reading the clip-ε sweep.

Each ``check_*`` runs the learner's function against the reference on random inputs with
:func:`ppo_lite.course.exercises.check` and returns a :class:`~ppo_lite.course.exercises.CheckResult`; the usual mistakes are
registered, so an answer that makes one is told which.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

from ...objectives import clipped_objective
from ._check import CheckResult, check

__all__ = [
    "reference_clipped_objective", "reference_clip_fraction", "solution_clip_gradient",
    "check_clipped_objective", "check_clip_fraction", "check_clip_gradient", "check_sweep_reading",
    "CLIPPED_OBJECTIVE_MISTAKES", "CLIP_FRACTION_MISTAKES", "CLIP_GRADIENT_MISTAKES",
]


def reference_clipped_objective(logp_new: Tensor, logp_old: Tensor, advantages: Tensor, eps: float) -> Tensor:
    r"""Mean of :math:`\min(r A, \mathrm{clip}(r, 1-\epsilon, 1+\epsilon) A)` with :math:`r = e^{\log\pi_{new} - \log\pi_{old}}`."""
    r = torch.exp(logp_new - logp_old)
    return torch.minimum(r * advantages, torch.clamp(r, 1.0 - eps, 1.0 + eps) * advantages).mean()


def reference_clip_fraction(logp_new: Tensor, logp_old: Tensor, eps: float) -> Tensor:
    r"""Fraction of samples with :math:`|r - 1| > \epsilon` (a float tensor in [0, 1])."""
    r = torch.exp(logp_new - logp_old)
    return ((r - 1.0).abs() > eps).float().mean()


def solution_clip_gradient(r: Tensor, advantages: Tensor, eps: float) -> Tensor:
    r"""Per-sample :math:`\partial J_i / \partial \log\pi_i` of :math:`J_i = \min(r_i A_i, \mathrm{clip}(r_i, 1-\epsilon, 1+\epsilon) A_i)`
    with :math:`r_i = e^{\log\pi_i - \log\pi_{old,i}}`, by autograd through :func:`ppo_lite.objectives.clipped_objective`
    (notebook 05, section 2): :math:`0` where :math:`J_i` is flat (:math:`A>0, r>1+\epsilon` or :math:`A<0, r<1-\epsilon`),
    :math:`r_i A_i` everywhere else."""
    logp = torch.log(r.detach()).requires_grad_()
    (grad,) = torch.autograd.grad(clipped_objective(torch.exp(logp), advantages, eps).sum(), logp)
    return grad


def _objective_inputs(gen: torch.Generator, with_adv: bool) -> dict:
    n = int(torch.randint(4, 64, (1,), generator=gen))
    logp_old = -torch.rand(n, generator=gen, dtype=torch.float64) * 3.0
    # log-ratio spread of 0.5: a good share of samples land on each side of the band, so every case is exercised
    inputs = {"logp_new": logp_old + 0.5 * torch.randn(n, generator=gen, dtype=torch.float64), "logp_old": logp_old}
    if with_adv:
        inputs["advantages"] = torch.randn(n, generator=gen, dtype=torch.float64)
    inputs["eps"] = float(torch.tensor([0.1, 0.2, 0.3])[torch.randint(0, 3, (1,), generator=gen)])
    return inputs


def _gradient_inputs(gen: torch.Generator) -> dict:
    n = int(torch.randint(8, 64, (1,), generator=gen))
    return {
        "r": torch.exp(0.4 * torch.randn(n, generator=gen, dtype=torch.float64)),  # samples in and on both sides of the band
        "advantages": torch.randn(n, generator=gen, dtype=torch.float64),
        "eps": float(torch.tensor([0.1, 0.2, 0.3])[torch.randint(0, 3, (1,), generator=gen)]),
    }


def _ratio(logp_new: Tensor, logp_old: Tensor) -> Tensor:
    return torch.exp(logp_new - logp_old)


CLIPPED_OBJECTIVE_MISTAKES: dict[str, Callable[..., Tensor]] = {
    "clipped the ratio without the min (optimistic where the move made things worse)":
        lambda logp_new, logp_old, advantages, eps: (
            torch.clamp(_ratio(logp_new, logp_old), 1 - eps, 1 + eps) * advantages).mean(),
    "max instead of min (the clipped objective is a pessimistic bound)":
        lambda logp_new, logp_old, advantages, eps: torch.maximum(
            _ratio(logp_new, logp_old) * advantages,
            torch.clamp(_ratio(logp_new, logp_old), 1 - eps, 1 + eps) * advantages).mean(),
    "the sum instead of the mean over samples":
        lambda logp_new, logp_old, advantages, eps: reference_clipped_objective(logp_new, logp_old, advantages, eps)
        * logp_new.numel(),
}

CLIP_FRACTION_MISTAKES: dict[str, Callable[..., Tensor]] = {
    "compared the log-ratio with eps (the band is on r = exp(log-ratio))":
        lambda logp_new, logp_old, eps: ((logp_new - logp_old).abs() > eps).float().mean(),
    "counted only r > 1 + eps (samples below 1 - eps are outside the band too)":
        lambda logp_new, logp_old, eps: (_ratio(logp_new, logp_old) > 1 + eps).float().mean(),
}


def _flat(r: Tensor, advantages: Tensor, eps: float) -> Tensor:
    return ((advantages > 0) & (r > 1 + eps)) | ((advantages < 0) & (r < 1 - eps))


def _inside(r: Tensor, eps: float) -> Tensor:
    return (r >= 1 - eps) & (r <= 1 + eps)


def _zero_wrong_side(r: Tensor, advantages: Tensor, eps: float) -> Tensor:
    wrong = ((advantages > 0) & (r < 1 - eps)) | ((advantages < 0) & (r > 1 + eps))
    return torch.where(wrong, 0.0, r * advantages)


CLIP_GRADIENT_MISTAKES: dict[str, Callable[..., Tensor]] = {
    "zero gradient on the wrong side of the band (flat where A > 0 and r > 1 + eps, or A < 0 and r < 1 - eps)":
        _zero_wrong_side,
    "d/dr instead of d/dlog pi: A instead of r*A (d(rA)/dlog pi = r*A, since dr/dlog pi = r)":
        lambda r, advantages, eps: torch.where(_flat(r, advantages, eps), 0.0, advantages),
    "zero gradient inside the band (there the clipped objective is the surrogate r*A, gradient r*A)":
        lambda r, advantages, eps: torch.where(_flat(r, advantages, eps) | _inside(r, eps), 0.0, r * advantages),
    "zero gradient wherever r is outside the band (the clip flattens only the side that improves the objective)":
        lambda r, advantages, eps: torch.where(_inside(r, eps), r * advantages, 0.0),
}


def check_clipped_objective(fn: Callable[[Tensor, Tensor, Tensor, float], Tensor]) -> CheckResult:
    """Check ``fn(logp_new, logp_old, advantages, eps)`` returns the mean clipped objective (a scalar)."""
    return check(fn, reference_clipped_objective, lambda g: _objective_inputs(g, True), name="clipped_objective",
                 mistakes=CLIPPED_OBJECTIVE_MISTAKES)


def check_clip_fraction(fn: Callable[[Tensor, Tensor, float], Tensor]) -> CheckResult:
    """Check ``fn(logp_new, logp_old, eps)`` returns the fraction of samples outside the band."""
    return check(fn, reference_clip_fraction, lambda g: _objective_inputs(g, False), name="clip_fraction",
                 mistakes=CLIP_FRACTION_MISTAKES)


def check_clip_gradient(fn: Callable[[Tensor, Tensor, float], Tensor]) -> CheckResult:
    r"""Check ``fn(r, advantages, eps) -> (n,)`` returns each sample's :math:`\partial J_i/\partial\log\pi_i` of the
    clipped objective, against autograd (:func:`solution_clip_gradient`); the known mistakes are
    :data:`CLIP_GRADIENT_MISTAKES`."""
    return check(fn, solution_clip_gradient, _gradient_inputs, name="clip_gradient", mistakes=CLIP_GRADIENT_MISTAKES)


def check_sweep_reading(largest_kl_label: str | None, largest_kl_has_largest_ratio: bool | None, results: dict,
                        env_id: str = "CartPole-v1") -> CheckResult:
    """Open exercise of notebook 05 (reading the clip-ε sweep): which setting (``results["labels"]``) has the largest
    approximate KL per update, averaged over its seeds' maxima (``max_approx_kl`` of the summary), and does the same
    setting have the largest per-update ``max|r - 1|`` (``max_ratio_dev``)? Answers of ``None`` are not attempted."""
    if largest_kl_label is None or largest_kl_has_largest_ratio is None:
        return CheckResult(False, "sweep_reading: not attempted yet (an answer is still None)", attempted=False)
    rows = {row["label"]: row for row in results["summary"] if row["env_id"] == env_id}
    if not rows:
        raise ValueError(f"results hold no summary rows for env_id={env_id!r}")
    if largest_kl_label not in rows:
        return CheckResult(False, f"sweep_reading: {largest_kl_label!r} is not a setting of the sweep; "
                                  f"the settings are {sorted(rows)}")
    by_kl = max(rows, key=lambda label: rows[label]["max_approx_kl"])
    by_ratio = max(rows, key=lambda label: rows[label]["max_ratio_dev"])
    if largest_kl_label != by_kl:
        return CheckResult(False, f"sweep_reading: setting {largest_kl_label!r} has max approx KL "
                                  f"{rows[largest_kl_label]['max_approx_kl']:.4g}; another setting's is larger")
    if bool(largest_kl_has_largest_ratio) != (by_ratio == by_kl):
        return CheckResult(False, f"sweep_reading: right setting; but compare its max|r-1| "
                                  f"({rows[by_kl]['max_ratio_dev']:.4g}) with the other settings' again")
    return CheckResult(True, f"sweep_reading: {by_kl!r} has the largest KL per update "
                             f"({rows[by_kl]['max_approx_kl']:.4g} nats), and "
                             + ("also" if by_ratio == by_kl else "not") + " the largest max|r-1|")
