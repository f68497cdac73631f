r"""Exercises of notebook 03: the importance-weighted surrogate, the per-state KL of a tabular policy, a natural-gradient
step whose KL lands on δ, and (open) the KL penalty in place of early stopping.

Each ``check_*`` runs the learner's function against the reference on random inputs and returns a
:class:`~ppo_lite.course.exercises.CheckResult`: a stub that still raises :class:`NotImplementedError` is "not attempted",
a wrong answer that agrees with a usual mistake is told which one (``result.mistake``).
"""
from __future__ import annotations

import math
from typing import Callable

import torch
from torch import Tensor

from .. import surrogate_study as ss, trpo
from ..tabular import TabularMDP
from ._check import CheckResult, check

__all__ = [
        "check_surrogate",
    "check_state_kl",
    "check_natural_step",
    "penalized_climb_gains",
    "check_penalty_beta",
    "PENALTY_MIN_MEAN_GAIN",
]


# ---------------------------------------------------------------------------------------------------------------
# 1. The importance-weighted surrogate
# ---------------------------------------------------------------------------------------------------------------
def _reference_surrogate(logp_new: Tensor, logp_old: Tensor, advantages: Tensor) -> Tensor:
    r"""Surrogate *objective* (a gain, to maximize): :math:`\hat{\mathbb E}[r \hat A]`,
    :math:`r = \exp(\log\pi_\theta - \log\pi_{old})`."""
    return (torch.exp(logp_new - logp_old) * advantages).mean()


def _surrogate_inputs(gen: torch.Generator) -> dict[str, Tensor]:
    n = int(torch.randint(2, 50, (1,), generator=gen))
    logp_old = -torch.rand(n, generator=gen, dtype=torch.float64) * 3.0
    return {
        "logp_new": logp_old + 0.5 * torch.randn(n, generator=gen, dtype=torch.float64),
        "logp_old": logp_old,
        "advantages": torch.randn(n, generator=gen, dtype=torch.float64),
    }


SURROGATE_MISTAKES: dict[str, Callable[..., Tensor]] = {
    "the ratio is inverted, pi_old / pi_theta (openai/baselines stores NEGATIVE log-probs, #652)":
        lambda logp_new, logp_old, advantages: (torch.exp(logp_old - logp_new) * advantages).mean(),
    "log pi_theta * A (pg_loss's integrand): the same gradient at theta_old, a different function elsewhere":
        lambda logp_new, logp_old, advantages: (logp_new * advantages).mean(),
    "the minus sign of the loss: this exercise wants the gain E[r A], not -E[r A]":
        lambda logp_new, logp_old, advantages: -(torch.exp(logp_new - logp_old) * advantages).mean(),
    "a sum over the batch instead of the mean":
        lambda logp_new, logp_old, advantages: (torch.exp(logp_new - logp_old) * advantages).sum(),
}


def check_surrogate(fn: Callable[[Tensor, Tensor, Tensor], Tensor]) -> CheckResult:
    """Check ``fn(logp_new, logp_old, advantages)`` returns the importance-weighted surrogate mean."""
    return check(fn, _reference_surrogate, _surrogate_inputs, name="surrogate", mistakes=SURROGATE_MISTAKES)


# ---------------------------------------------------------------------------------------------------------------
# 2. Per-state KL of a tabular policy
# ---------------------------------------------------------------------------------------------------------------
def _reference_state_kl(pi_old: Tensor, pi_new: Tensor) -> Tensor:
    r"""Per-state :math:`\mathrm{KL}(\pi_{old}(\cdot|s)\|\pi_{new}(\cdot|s)) = \sum_a \pi_{old}\log(\pi_{old}/\pi_{new})`,
    shape (S,), with :math:`0\log 0 = 0`."""
    terms = torch.where(pi_old > 0, pi_old * (torch.log(pi_old) - torch.log(pi_new)), torch.zeros_like(pi_old))
    return terms.sum(-1)


def _state_kl_inputs(gen: torch.Generator) -> dict[str, Tensor]:
    s, a = int(torch.randint(1, 6, (1,), generator=gen)), int(torch.randint(2, 5, (1,), generator=gen))
    pi_old = torch.softmax(2.0 * torch.randn(s, a, generator=gen, dtype=torch.float64), -1)
    pi_old[0, 0] = 0.0  # a deterministic-ish row: 0 log 0 must count as 0
    pi_old = pi_old / pi_old.sum(-1, keepdim=True)
    pi_new = torch.softmax(2.0 * torch.randn(s, a, generator=gen, dtype=torch.float64), -1)
    return {"pi_old": pi_old, "pi_new": pi_new}


STATE_KL_MISTAKES: dict[str, Callable[..., Tensor]] = {
    "the direction is reversed, KL(pi_new || pi_old): the expectation must be under pi_old, which sampled the data":
        lambda pi_old, pi_new: _reference_state_kl(pi_new, pi_old),
    "the log-ratio is not weighted by pi_old (a plain sum over actions of log(pi_old / pi_new))":
        lambda pi_old, pi_new: torch.where(pi_old > 0, torch.log(pi_old) - torch.log(pi_new), torch.zeros_like(pi_old)).sum(-1),
    "one number for the whole table (summed over states) instead of one KL per state":
        lambda pi_old, pi_new: _reference_state_kl(pi_old, pi_new).sum(),
}


def _nan_as_error(fn: Callable[..., Tensor]) -> Callable[..., Tensor]:
    """Turn a NaN in the learner's output into an exception with a hint (0 log 0), which ``check`` reports."""

    def wrapped(**kwargs):
        out = fn(**kwargs)
        if isinstance(out, Tensor) and torch.isnan(out).any():
            bad = tuple(int(i) for i in torch.nonzero(torch.isnan(out))[0])
            raise ValueError(f"output is NaN at index {bad} (0 * log 0 must count as 0)")
        return out

    return wrapped


def check_state_kl(fn: Callable[[Tensor, Tensor], Tensor]) -> CheckResult:
    """Check ``fn(pi_old, pi_new)`` returns per-state KL(pi_old || pi_new), rows of zero probability included."""
    return check(_nan_as_error(fn), _reference_state_kl, _state_kl_inputs, name="state_kl", mistakes=STATE_KL_MISTAKES)


# ---------------------------------------------------------------------------------------------------------------
# 3. A natural-gradient step whose KL lands within 10% of delta
# ---------------------------------------------------------------------------------------------------------------
KL_TOLERANCE = 0.10
"""The step passes when its exact mean KL is within this fraction of δ."""
DIRECTION_MIN_COSINE = 0.995
"""... and its cosine with the natural gradient, in the Fisher metric, is at least this."""
SMALLEST_FMIN = 1.6e-4
"""About the smallest non-zero eigenvalue of F over the checker's 20 problems of seed 0 (measured: 1.65e-4)."""


def _reference_natural_step(g: Tensor, F: Tensor, fvp: Callable[[Tensor], Tensor], delta: float) -> Tensor:
    r"""TRPO's full step :math:`\Delta = \sqrt{2\delta / g^\top F^{+} g}\; F^{+} g` (shape of g), with the solve done
    by conjugate gradient on ``fvp`` (:func:`ppo_lite.course.trpo.conjugate_gradient`; F is singular, so no plain
    ``solve``). Notebook 03."""
    x = trpo.conjugate_gradient(fvp, g, iterations=4 * g.numel(), tolerance=1e-12)
    return trpo.trpo_step_size(g, x, delta) * x


def _pinv_direction(g: Tensor, F: Tensor) -> Tensor:
    return (torch.linalg.pinv(F, hermitian=True) @ g.flatten()).reshape(g.shape)


NATURAL_STEP_MISTAKES: dict[str, tuple[Callable[..., Tensor], bool]] = {
    # description: (a function making the mistake, whether its *length* must match too, not only its direction)
    "the plain gradient g as the direction instead of the natural gradient F^-1 g": (
        lambda g, F, fvp, delta: math.sqrt(2 * delta / (g * g).sum().item()) * g, False),
    "the step size sqrt(delta / g^T F^-1 g): the 2 from KL ~ (1/2) Delta^T F Delta is missing (the KL lands near delta/2)": (
        lambda g, F, fvp, delta: math.sqrt(delta / (g * _pinv_direction(g, F)).sum().item()) * _pinv_direction(g, F), True),
    "F in place of F^-1: the direction F g instead of F^-1 g": (
        lambda g, F, fvp, delta: math.sqrt(2 * delta / (g * fvp(g)).sum().item()) * fvp(g), False),
}


def _natural_step_problem(gen: torch.Generator) -> tuple[TabularMDP, Tensor, dict]:
    """A random tabular problem: a random MDP and θ_old, and what the learner gets (g, F, fvp, δ)."""
    S = int(torch.randint(4, 9, (1,), generator=gen))
    A = int(torch.randint(3, 6, (1,), generator=gen))
    mdp = TabularMDP.random(S, A, 0.9, seed=int(torch.randint(0, 2**31 - 1, (1,), generator=gen)))
    theta_old = 1.5 * torch.randn(S, A, generator=gen, dtype=torch.float64)
    delta = float(10 ** (-4 + torch.rand((), generator=gen, dtype=torch.float64).item()))  # log-uniform in [1e-4, 1e-3]
    inputs = {
        "g": mdp.exact_policy_gradient(theta_old),
        "F": trpo.fisher_matrix(mdp, theta_old),
        "fvp": lambda v: trpo.fisher_vector_product(mdp, theta_old, v),
        "delta": delta,
    }
    return mdp, theta_old, inputs


def _fisher_inner(F: Tensor, u: Tensor, v: Tensor) -> float:
    return (u.flatten() @ F @ v.flatten()).item()


def _fisher_cosine(F: Tensor, u: Tensor, v: Tensor) -> float:
    """cos of the angle between u and v in the Fisher metric: blind to the directions that do not change the policy."""
    denom = math.sqrt(max(_fisher_inner(F, u, u), 0.0) * max(_fisher_inner(F, v, v), 0.0))
    return _fisher_inner(F, u, v) / denom if denom > 0 else 0.0


def check_natural_step(fn: Callable[..., Tensor], trials: int = 20, seed: int = 0) -> CheckResult:
    r"""Check ``fn(g, F, fvp, delta)`` returns a natural-gradient step :math:`\Delta` (shape of g) whose exact mean KL
    :math:`\overline{\mathrm{KL}}(\theta_{old}, \theta_{old}+\Delta)` is within 10% of δ.

    On ``trials`` random tabular problems (S in 4..8 states, A in 3..5 actions, random θ_old, δ log-uniform in
    [1e-4, 1e-3]) the step must point along the natural gradient :math:`F^{+}g` (Fisher-metric cosine ≥ 0.995, which
    ignores the logit shifts that do not change the policy) and land within 10% of δ in exact KL. Any way of solving
    :math:`F x = g` that respects F's singularity (pseudo-inverse, conjugate gradient with ``fvp``, or damping) and
    any length rule that gets the KL right (the quadratic model, or a search on the exact KL — which this checker
    does not hand you) pass.

    Damping passes only when it is small against F's smallest non-zero eigenvalue :math:`f_{min}`:
    :math:`(F+\mu I)^{-1}g` shrinks g's component along an eigenvector of eigenvalue :math:`f_i` by
    :math:`f_i/(f_i+\mu)`, so a μ comparable to :math:`f_{min}` bends the direction and shortens the step.
    μ ≤ 0.1 :math:`f_{min}` passes on every problem here; the problems' :math:`f_{min}` go down to about
    :data:`SMALLEST_FMIN` (rarely visited states carry little weight in F), so a fixed μ = 1e-3 fails and μ = 1e-5
    passes. A failure message names the problem's :math:`f_{min}`.
    """
    name = "natural_step"
    gen = torch.Generator().manual_seed(seed)
    for trial in range(trials):
        mdp, theta_old, inputs = _natural_step_problem(gen)
        g, F, delta = inputs["g"], inputs["F"], inputs["delta"]
        shape = f"S={mdp.num_states}, A={mdp.num_actions}, delta={delta:.4g}"
        try:
            step = fn(g.clone(), F.clone(), inputs["fvp"], delta)
        except NotImplementedError:
            return CheckResult(False, f"{name}: not attempted yet (the function still raises NotImplementedError)",
                               attempted=False)
        except Exception as exc:  # report, do not raise
            hint = " (F is singular: a plain solve cannot work; use a pseudo-inverse, damping or CG)" \
                if "singular" in str(exc).lower() else ""
            return CheckResult(False, f"{name}: your function raised {type(exc).__name__}: {exc}{hint} on trial {trial} ({shape})")
        step = torch.as_tensor(step, dtype=torch.float64)
        if step.shape != g.shape:
            return CheckResult(False, f"{name}: the step has shape {tuple(step.shape)}, expected {tuple(g.shape)} like g (trial {trial})")
        if not torch.isfinite(step).all():
            return CheckResult(False, f"{name}: the step has non-finite entries on trial {trial} ({shape}); is F singular in your solve?")
        natural = _pinv_direction(g, F)
        cosine = _fisher_cosine(F, step, natural)
        kl_ratio = ss.mean_kl(mdp, theta_old, theta_old + step).item() / delta
        if cosine >= DIRECTION_MIN_COSINE and abs(kl_ratio - 1) <= KL_TOLERANCE:
            continue
        eigenvalues = torch.linalg.eigvalsh(F)
        f_min = eigenvalues[eigenvalues > 1e-10 * eigenvalues.max()].min().item()
        message = (f"{name}: on trial {trial} ({shape}) the step's Fisher-metric cosine with F^+ g is {cosine:.4f} "
                   f"(needs >= {DIRECTION_MIN_COSINE}) and its exact mean KL is {kl_ratio:.3f} delta (needs "
                   f"{1 - KL_TOLERANCE:.2f}..{1 + KL_TOLERANCE:.2f}); F's smallest non-zero eigenvalue here is "
                   f"{f_min:.2g}: if you damp, mu must be small against it (mu <= 0.1 f_min passes)")
        best, best_cosine = None, 0.999  # the registered mistake closest in direction (and length, where it counts)
        for description, (wrong_fn, match_length) in NATURAL_STEP_MISTAKES.items():
            wrong = wrong_fn(**inputs)
            to_wrong = _fisher_cosine(F, step, wrong)
            length_ratio = math.sqrt(max(_fisher_inner(F, step, step), 0.0) / _fisher_inner(F, wrong, wrong))
            if to_wrong > best_cosine and (abs(length_ratio - 1) < 0.02 or not match_length):
                best, best_cosine = description, to_wrong
        if best is not None:
            return CheckResult(False, f"{name}: your answer looks like this mistake: {best}. ({message})", mistake=best)
        return CheckResult(False, message)
    return CheckResult(True, f"{name}: natural direction and KL within {KL_TOLERANCE:.0%} of delta on {trials} random tabular problems")


# ---------------------------------------------------------------------------------------------------------------
# 4. (open) A KL penalty instead of early stopping
# ---------------------------------------------------------------------------------------------------------------
PENALTY_MIN_MEAN_GAIN = 0.45
"""The open exercise passes with a β whose mean true gain over the 8 batches reaches this (reward units)."""


def penalized_climb_gains(beta: float, steps: int = 300, lr: float = 0.5) -> dict[str, Tensor]:
    r"""Notebook 03's section-3 setting (8-state MDP, π_old after 5 exact PG steps, 8 batches of 16 episodes) with
    the early stopping replaced by a penalty: ``steps`` gradient-ascent steps on
    :math:`\hat L(\theta) - \beta\,\overline{\mathrm{KL}}(\theta_{old}, \theta)` per batch (the mean KL exact).
    Returns per batch the true ``gain`` :math:`J(\theta) - J(\theta_{old})` and the final ``kl`` (mean KL)."""
    if not (isinstance(beta, (int, float)) and math.isfinite(beta) and beta >= 0):
        raise ValueError(f"beta must be a finite number >= 0, got {beta!r}")
    mdp = TabularMDP.random(num_states=8, num_actions=4, gamma=0.9, seed=0)
    theta_old = ss.pretrained_theta(mdp, 5)
    j_old = mdp.objective(theta_old).item()
    weights = ss.state_weights(mdp, theta_old)  # rho_old once: mean_kl would recompute it at every step
    gains, kls = [], []
    for seed in range(8):
        batch = ss.sample_batch(mdp, theta_old, 16, torch.Generator().manual_seed(seed))
        theta = theta_old.clone().requires_grad_(True)
        for _ in range(steps):
            objective = ss.sampled_surrogate(batch, theta) - beta * (weights * ss.state_kl(mdp, theta_old, theta)).sum()
            (grad,) = torch.autograd.grad(objective, theta)
            with torch.no_grad():
                theta += lr * grad
        with torch.no_grad():
            gains.append(mdp.objective(theta).item() - j_old)
            kls.append(ss.mean_kl(mdp, theta_old, theta).item())
    return {"gain": torch.tensor(gains, dtype=torch.float64), "kl": torch.tensor(kls, dtype=torch.float64)}


def check_penalty_beta(beta: float | None) -> CheckResult:
    r"""Open exercise: a penalty coefficient β for :func:`penalized_climb_gains`. Passes when the mean true gain over
    the 8 batches is at least :data:`PENALTY_MIN_MEAN_GAIN`; reports the mean gain, the batches improved and the
    mean KL reached, whatever β is (so it can be used to scan). ``None`` means not attempted."""
    if beta is None:
        return CheckResult(False, "penalty_beta: not attempted yet (set my_beta to a number)", attempted=False)
    try:
        out = penalized_climb_gains(beta)
    except ValueError as exc:
        return CheckResult(False, f"penalty_beta: {exc}")
    gain, kl = out["gain"], out["kl"]
    summary = (f"beta = {beta:g}: mean true gain {gain.mean():.3f} (needs >= {PENALTY_MIN_MEAN_GAIN}), "
               f"{int((gain > 0).sum())}/8 batches improved, mean KL reached {kl.mean():.3f} nats")
    return CheckResult(bool(gain.mean() >= PENALTY_MIN_MEAN_GAIN), "penalty_beta: " + summary)
