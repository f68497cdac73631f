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
    "check_clipped_objective", "check_clip_fraction", "check_clip_gradient", "check_sweep_reading",
    "SWEEP_READING_RTOL",
    "CLIPPED_OBJECTIVE_MISTAKES", "CLIP_FRACTION_MISTAKES", "CLIP_GRADIENT_MISTAKES",
]


def _reference_clipped_objective(logp_new: Tensor, logp_old: Tensor, advantages: Tensor, eps: float) -> Tensor:
    r"""Mean of :math:`\min(r A, \mathrm{clip}(r, 1-\epsilon, 1+\epsilon) A)` with :math:`r = e^{\log\pi_{new} - \log\pi_{old}}`."""
    r = torch.exp(logp_new - logp_old)
    return torch.minimum(r * advantages, torch.clamp(r, 1.0 - eps, 1.0 + eps) * advantages).mean()


def _reference_clip_fraction(logp_new: Tensor, logp_old: Tensor, eps: float) -> Tensor:
    r"""Fraction of samples with :math:`|r - 1| > \epsilon` (a float tensor in [0, 1])."""
    r = torch.exp(logp_new - logp_old)
    return ((r - 1.0).abs() > eps).float().mean()


def _solution_clip_gradient(r: Tensor, advantages: Tensor, eps: float) -> Tensor:
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
        lambda logp_new, logp_old, advantages, eps: _reference_clipped_objective(logp_new, logp_old, advantages, eps)
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
    return check(fn, _reference_clipped_objective, lambda g: _objective_inputs(g, True), name="clipped_objective",
                 mistakes=CLIPPED_OBJECTIVE_MISTAKES)


def check_clip_fraction(fn: Callable[[Tensor, Tensor, float], Tensor]) -> CheckResult:
    """Check ``fn(logp_new, logp_old, eps)`` returns the fraction of samples outside the band."""
    return check(fn, _reference_clip_fraction, lambda g: _objective_inputs(g, False), name="clip_fraction",
                 mistakes=CLIP_FRACTION_MISTAKES)


def check_clip_gradient(fn: Callable[[Tensor, Tensor, float], Tensor]) -> CheckResult:
    r"""Check ``fn(r, advantages, eps) -> (n,)`` returns each sample's :math:`\partial J_i/\partial\log\pi_i` of the
    clipped objective, against autograd (:func:`_solution_clip_gradient`); the known mistakes are
    :data:`CLIP_GRADIENT_MISTAKES`."""
    return check(fn, _solution_clip_gradient, _gradient_inputs, name="clip_gradient", mistakes=CLIP_GRADIENT_MISTAKES)


SWEEP_READING_RTOL = 0.03
"""The number of the sweep-reading exercise passes within this relative tolerance (read off a table to 2-3 digits)."""


def _sweep_rows(results: dict, env_id: str) -> dict[str, dict]:
    rows = {row["label"]: row for row in results["summary"] if row["env_id"] == env_id}
    if not rows:
        raise ValueError(f"results hold no summary rows for env_id={env_id!r}")
    if "0.2" not in rows:
        raise ValueError(f"the sweep's summary for {env_id} has no eps = 0.2 row to compare with")
    return rows


def check_sweep_reading(largest_kl_label: str | None, excursion_vs_eps02: float | None, results: dict,
                        env_id: str = "CartPole-v1") -> CheckResult:
    """Open exercise of notebook 05 (reading the clip-ε sweep): which setting (``results["labels"]``) has the largest
    approximate KL per update, averaged over its seeds' maxima (``max_approx_kl`` of the summary), and how many times
    larger is that setting's typical ratio excursion, the median per-update ``max|r - 1|`` (``median_ratio_dev``),
    than the ε = 0.2 setting's? The number must be within :data:`SWEEP_READING_RTOL`; guessing a label and a yes/no
    would pass one time in fourteen, a number read off the table does not pass by chance. Answers of ``None`` are
    not attempted."""
    if largest_kl_label is None or excursion_vs_eps02 is None:
        return CheckResult(False, "sweep_reading: not attempted yet (an answer is still None)", attempted=False)
    rows = _sweep_rows(results, env_id)
    if largest_kl_label not in rows:
        return CheckResult(False, f"sweep_reading: {largest_kl_label!r} is not a setting of the sweep; "
                                  f"the settings are {sorted(rows)}")
    by_kl = max(rows, key=lambda label: rows[label]["max_approx_kl"])
    if largest_kl_label != by_kl:
        return CheckResult(False, f"sweep_reading: setting {largest_kl_label!r} has max approx KL "
                                  f"{rows[largest_kl_label]['max_approx_kl']:.4g}; another setting's is larger")
    try:
        got = float(excursion_vs_eps02)
    except (TypeError, ValueError):
        return CheckResult(False, f"sweep_reading: the second answer must be a number, got {excursion_vs_eps02!r}")
    expected = rows[by_kl]["median_ratio_dev"] / rows["0.2"]["median_ratio_dev"]
    if abs(got - expected) <= SWEEP_READING_RTOL * expected:
        return CheckResult(True, f"sweep_reading: {by_kl!r} has the largest KL per update "
                                 f"({rows[by_kl]['max_approx_kl']:.4g} nats), and its median excursion is "
                                 f"{expected:.3g} times eps = 0.2's")
    mistakes = {
        "the largest excursion (max over updates) in place of the median": rows[by_kl]["max_ratio_dev"]
        / rows["0.2"]["max_ratio_dev"] if rows["0.2"].get("max_ratio_dev") else None,
        "the ratio inverted (eps = 0.2's excursion over this setting's)": 1.0 / expected,
        "divided by the number 0.2 (the clip range) instead of by the eps = 0.2 setting's median excursion":
            rows[by_kl]["median_ratio_dev"] / 0.2,
    }
    for description, wrong in mistakes.items():
        if wrong is not None and abs(got - wrong) <= SWEEP_READING_RTOL * abs(wrong):
            return CheckResult(False, f"sweep_reading: right setting; your number {got:.4g} looks like this mistake: "
                                      f"{description}.", mistake=description)
    return CheckResult(False, f"sweep_reading: right setting; but {got:.4g} is not its median per-update max|r-1| "
                              "divided by eps = 0.2's (read the column 'median per-update max |r-1|' again)")
