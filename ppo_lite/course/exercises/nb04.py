r"""Exercises of notebook 04: the k3 KL estimator, the dual-descent update, the tilted distribution, one iteration of
PPO v1 with a dual-descent controller on a tabular policy, and (open) the adaptive β updated per minibatch.

Each ``check_*`` runs the learner's function against the reference (``_solution_*``, private) on random inputs with
:func:`ppo_lite.course.exercises.check` and returns a :class:`~ppo_lite.course.exercises.CheckResult`; the usual mistakes are
registered, so an answer that makes one is told which.
"""
from __future__ import annotations

import math
from typing import Callable

import torch
from torch import Tensor

from ...kl import AdaptiveBeta
from ..kl_constrained import ppo_v1_tabular
from ..tabular import TabularMDP
from ..surrogate_study import sample_batch
from ._check import CheckResult, check

__all__ = [
    "check_k3",
    "check_dual_update",
    "check_tilted",
    "check_ppo_v1_dual_iteration",
    "check_beta_spread",
    "BETA_SPREAD_RANGES",
    "BETA_SPREAD_MISTAKES",
]


# ----------------------------------------------------------------------------------------- 1. k3
def _solution_k3(logp_new: Tensor, logp_old: Tensor) -> Tensor:
    r"""Per-sample :math:`k_3 = (r - 1) - \log r`, :math:`\log r = \log\pi_{new} - \log\pi_{old}`."""
    log_r = logp_new - logp_old
    return torch.expm1(log_r) - log_r


def _k3_inputs(gen: torch.Generator) -> dict[str, Tensor]:
    n = int(torch.randint(2, 50, (1,), generator=gen))
    logp_old = -torch.rand(n, generator=gen, dtype=torch.float64) * 3.0
    return {"logp_new": logp_old + torch.randn(n, generator=gen, dtype=torch.float64), "logp_old": logp_old}


_K3_MISTAKES = {
    "k1 = -log r (unbiased, but not k3: it lacks the control variate r - 1)": lambda logp_new, logp_old: logp_old - logp_new,
    "k2 = (log r)^2 / 2 (biased)": lambda logp_new, logp_old: 0.5 * (logp_new - logp_old) ** 2,
    "the ratio inverted (r = pi_old / pi_new)": lambda logp_new, logp_old: _solution_k3(logp_old, logp_new),
}


def check_k3(fn: Callable[[Tensor, Tensor], Tensor]) -> CheckResult:
    """Check ``fn(logp_new, logp_old)`` returns per-sample k3."""
    return check(fn, _solution_k3, _k3_inputs, name="k3", mistakes=_K3_MISTAKES)


# ----------------------------------------------------------------------------------------- 2. dual update
def _solution_dual_update(eta: Tensor, kl: Tensor, delta: float, lr: float) -> Tensor:
    r"""Projected dual step :math:`\eta \leftarrow \max(0, \eta + \alpha_\eta(\mathrm{KL} - \delta))`."""
    return torch.clamp(eta + lr * (kl - delta), min=0.0)


def _dual_inputs(gen: torch.Generator) -> dict:
    # Small eta and KL below delta half the time: the projection onto eta >= 0 must act.
    eta = torch.rand((), generator=gen, dtype=torch.float64) * 0.5
    kl = torch.rand((), generator=gen, dtype=torch.float64) * 0.05
    return {"eta": eta, "kl": kl, "delta": 0.02, "lr": float(torch.randint(1, 30, (1,), generator=gen))}


_DUAL_MISTAKES = {
    "no projection onto eta >= 0 (a negative eta would reward KL)": lambda eta, kl, delta, lr: eta + lr * (kl - delta),
    "the sign reversed (eta must rise when KL > delta)":
        lambda eta, kl, delta, lr: torch.clamp(eta - lr * (kl - delta), min=0.0),
}


def check_dual_update(fn: Callable[[Tensor, Tensor, float, float], Tensor]) -> CheckResult:
    """Check ``fn(eta, kl, delta, lr)`` returns the projected dual-descent step."""
    return check(fn, _solution_dual_update, _dual_inputs, name="dual_update", mistakes=_DUAL_MISTAKES)


# ----------------------------------------------------------------------------------------- 3. tilted distribution
def _solution_tilted(advantages: Tensor, q: Tensor, eta: float) -> Tensor:
    r""":math:`p_\eta \propto q\, e^{A/\eta}`, normalized over the last dimension."""
    return torch.softmax(torch.log(q) + advantages / eta, dim=-1)


def _tilted_inputs(gen: torch.Generator) -> dict:
    a = int(torch.randint(2, 8, (1,), generator=gen))
    return {
        "advantages": torch.randn(a, generator=gen, dtype=torch.float64),
        "q": torch.softmax(torch.randn(a, generator=gen, dtype=torch.float64), -1),
        "eta": float(0.1 + 3.0 * torch.rand((), generator=gen)),
    }


_TILTED_MISTAKES = {
    "forgot the reference q (softmax(A / eta) alone)": lambda advantages, q, eta: torch.softmax(advantages / eta, -1),
    "multiplied by eta instead of dividing (q e^{eta A})":
        lambda advantages, q, eta: torch.softmax(torch.log(q) + eta * advantages, -1),
    "did not normalize (q e^{A/eta} without / Z)": lambda advantages, q, eta: q * torch.exp(advantages / eta),
}


def check_tilted(fn: Callable[[Tensor, Tensor, float], Tensor]) -> CheckResult:
    """Check ``fn(advantages, q, eta)`` returns the tilted distribution q exp(A/eta) / Z."""
    return check(fn, _solution_tilted, _tilted_inputs, name="tilted", mistakes=_TILTED_MISTAKES)


# ----------------------------------------------------------------------------------------- 4. one PPO v1 iteration
def _mean_state_kl(theta_p: Tensor, theta_q: Tensor, states: Tensor) -> Tensor:
    r""":math:`\frac1N\sum_i \mathrm{KL}(\pi_p(\cdot|s_i)\,\|\,\pi_q(\cdot|s_i))` for softmax logits tables."""
    log_p, log_q = torch.log_softmax(theta_p, -1)[states], torch.log_softmax(theta_q, -1)[states]
    return (log_p.exp() * (log_p - log_q)).sum(-1).mean()


def _ppo_v1_iteration(theta_old: Tensor, states: Tensor, actions: Tensor, advantages: Tensor, eta: float,
                      delta: float, dual_lr: float, lr: float, steps: int, penalty: Callable[[Tensor], Tensor],
                      measure: Callable[[Tensor], Tensor], dual_step: Callable[[float, float], float]):
    """The iteration with its three parts pluggable, so that the reference and each registered mistake share it."""
    theta_old = theta_old.detach()
    logp_old = torch.log_softmax(theta_old, -1)[states, actions]
    theta = theta_old.clone().requires_grad_(True)
    for _ in range(steps):
        ratio = torch.exp(torch.log_softmax(theta, -1)[states, actions] - logp_old)
        objective = (ratio * advantages).mean() - eta * penalty(theta)
        (grad,) = torch.autograd.grad(objective, theta)
        with torch.no_grad():
            theta += lr * grad
    theta = theta.detach()
    kl = float(measure(theta))
    return theta, kl, dual_step(float(eta), kl)


def _solution_ppo_v1_dual_iteration(
    theta_old: Tensor, states: Tensor, actions: Tensor, advantages: Tensor, eta: float, delta: float,
    dual_lr: float, lr: float, steps: int,
) -> tuple[Tensor, float, float]:
    r"""One iteration of PPO v1 with the paper's analytic KL (Schulman et al. 2017, eq. 8) and a dual-descent
    controller, on a tabular softmax policy :math:`\pi_\theta(a|s) = \mathrm{softmax}(\theta_s)_a` (notebook 04).

    Given a batch :math:`(s_i, a_i, \hat A_i)_{i \le N}` sampled from :math:`\pi_{old} = \pi_{\theta_{old}}`:

    1. start at :math:`\theta = \theta_{old}` and take ``steps`` plain gradient-ascent steps
       :math:`\theta \leftarrow \theta + \alpha_\theta \nabla_\theta\big[\hat L(\theta) - \eta\,\overline{\mathrm{KL}}(\theta)\big]`,
       with :math:`\hat L(\theta) = \frac1N\sum_i r_i(\theta)\hat A_i` and
       :math:`\overline{\mathrm{KL}}(\theta) = \frac1N\sum_i \mathrm{KL}(\pi_{old}(\cdot|s_i)\,\|\,\pi_\theta(\cdot|s_i))`;
    2. measure :math:`\overline{\mathrm{KL}}` at the final θ;
    3. :math:`\eta \leftarrow \max(0, \eta + \alpha_\eta(\overline{\mathrm{KL}} - \delta))`.

    Returns ``(theta, kl, eta_new)``.
    """
    kl_old_new = lambda th: _mean_state_kl(theta_old, th, states)  # noqa: E731 - KL(pi_old || pi_theta)
    return _ppo_v1_iteration(theta_old, states, actions, advantages, eta, delta, dual_lr, lr, steps,
                             penalty=kl_old_new, measure=kl_old_new,
                             dual_step=lambda e, kl: max(0.0, e + dual_lr * (kl - delta)))


def _iteration_inputs(gen: torch.Generator) -> dict:
    """A random tabular MDP, random old logits, a batch of 4 episodes from them, and controller settings chosen so
    that the projection onto eta >= 0 acts on some trials (small eta, KL below delta) and not on others."""
    num_states, num_actions = int(torch.randint(3, 7, (1,), generator=gen)), int(torch.randint(2, 5, (1,), generator=gen))
    mdp = TabularMDP.random(num_states, num_actions, 0.9, seed=int(torch.randint(0, 10_000, (1,), generator=gen)))
    theta_old = torch.randn(num_states, num_actions, generator=gen, dtype=torch.float64)
    batch = sample_batch(mdp, theta_old, 4, gen)
    return {
        "theta_old": theta_old,
        "states": batch.states,
        "actions": batch.actions,
        "advantages": batch.advantages,
        "eta": float(0.3 * torch.rand((), generator=gen)),
        "delta": float(0.002 + 0.03 * torch.rand((), generator=gen)),
        "dual_lr": float(torch.randint(5, 40, (1,), generator=gen)),
        "lr": float(0.2 + 0.8 * torch.rand((), generator=gen)),
        "steps": int(torch.randint(1, 6, (1,), generator=gen)),
    }


def _mistake_iteration(reverse_kl: bool = False, sampled_k3: bool = False, project: bool = True, sign: float = 1.0):
    def run(theta_old, states, actions, advantages, eta, delta, dual_lr, lr, steps):
        logp_old = torch.log_softmax(theta_old, -1)[states, actions]
        if sampled_k3:
            kl = lambda th: _solution_k3(torch.log_softmax(th, -1)[states, actions], logp_old).mean()  # noqa: E731
        elif reverse_kl:
            kl = lambda th: _mean_state_kl(th, theta_old, states)  # noqa: E731
        else:
            kl = lambda th: _mean_state_kl(theta_old, th, states)  # noqa: E731
        step = lambda e, k: e + sign * dual_lr * (k - delta)  # noqa: E731
        return _ppo_v1_iteration(theta_old, states, actions, advantages, eta, delta, dual_lr, lr, steps,
                                 penalty=kl, measure=kl,
                                 dual_step=(lambda e, k: max(0.0, step(e, k))) if project else step)
    return run


_ITERATION_MISTAKES = {
    "no projection of eta at 0 (eta + alpha (KL - delta) can go negative)": _mistake_iteration(project=False),
    "the eta update's sign reversed (eta must rise when KL > delta)": _mistake_iteration(sign=-1.0),
    "KL(pi_theta || pi_old) instead of KL(pi_old || pi_theta)": _mistake_iteration(reverse_kl=True),
    "the sampled k3 on the batch's actions instead of the analytic per-state KL of eq. 8":
        _mistake_iteration(sampled_k3=True),
}


def check_ppo_v1_dual_iteration(fn: Callable[..., tuple]) -> CheckResult:
    """Check ``fn(theta_old, states, actions, advantages, eta, delta, dual_lr, lr, steps)`` returns
    ``(theta, kl, eta_new)`` of one PPO v1 iteration with dual descent (:func:`_solution_ppo_v1_dual_iteration`)."""
    return check(fn, _solution_ppo_v1_dual_iteration, _iteration_inputs, name="ppo_v1_dual_iteration",
                 rtol=1e-6, atol=1e-9, mistakes=_ITERATION_MISTAKES)


# ----------------------------------------------------------------------------------------- 5. (open) beta per minibatch
BETA_SPREAD_RANGES = {0: (1.0, 4.0), 8: (20.0, 200.0)}
"""Plausible ``log2(max beta / min beta)`` over a run, per ``update_every_minibatch`` (0: once per batch), quoted in
failure messages as a hint. Measured on notebook 04's MDP over batch seeds 0-5: 2-3 doublings per batch, 39-68 per
minibatch. Since β only ever doubles or halves (exactly, in floating point), the answer is an integer. The checker
itself compares with the reference run on this machine, exactly: a range cannot tell the 52 doublings of every
value β took from the 49 of the values after each batch."""


def _beta_spread_run(mdp: TabularMDP, update_every_minibatch: int) -> dict[str, Tensor]:
    """Notebook 04's adaptive-β run of exercise 5 (δ = 0.02, β₀ = 1, 30 iterations of 16 episodes, 10 epochs, seed 0)."""
    return ppo_v1_tabular(mdp, AdaptiveBeta(target=0.02, init=1.0), iterations=30, episodes_per_batch=16, epochs=10,
                          lr=0.1, seed=0, update_every_minibatch=update_every_minibatch)


def _doublings(coef: Tensor) -> float:
    return math.log2(coef.max().item() / coef.min().item())


def _solution_beta_spread(mdp: TabularMDP, update_every_minibatch: int) -> float:
    r""":math:`\log_2(\max\beta / \min\beta)` over every value the adaptive β takes in notebook 04's PPO v1 run
    (δ = 0.02, β₀ = 1, 30 iterations of 16 episodes, 10 epochs, seed 0): ``run["coef_all"]``."""
    return _doublings(_beta_spread_run(mdp, update_every_minibatch)["coef_all"])


BETA_SPREAD_MISTAKES = {
    "the values after each batch (run['coef'], one per iteration) instead of every value beta took "
    "(run['coef_all'], one per controller update)": lambda run: _doublings(run["coef"]),
    "the natural log instead of log2 (the spread in doublings is log2(max / min))":
        lambda run: math.log(run["coef_all"].max().item() / run["coef_all"].min().item()),
}


def check_beta_spread(fn: Callable[[TabularMDP, int], float], mdp: TabularMDP) -> CheckResult:
    """Open exercise: ``fn(mdp, update_every_minibatch)`` measures the spread of β in doublings over every value β
    took; the answers for 0 (once per batch) and 8 (every minibatch) must equal the reference run's, computed here on
    this machine (the run is seeded, so the comparison is exact on any CPU). An answer that matches a registered
    mistake (:data:`BETA_SPREAD_MISTAKES`: the per-batch ``run["coef"]``, the natural log) is told so."""
    got = {}
    for m in BETA_SPREAD_RANGES:
        try:
            got[m] = float(fn(mdp, m))
        except NotImplementedError:
            return CheckResult(False, "beta_spread: not attempted yet (the function still raises NotImplementedError)",
                               attempted=False)
        except Exception as exc:  # report, do not raise
            return CheckResult(False, f"beta_spread: your function raised {type(exc).__name__}: {exc}")
    for m, (lo, hi) in BETA_SPREAD_RANGES.items():
        run = _beta_spread_run(mdp, m)
        expected = _doublings(run["coef_all"])
        if abs(got[m] - expected) < 1e-9:  # log2 written as log(x) / log(2) rounds differently: not a mistake
            continue
        for description, wrong in BETA_SPREAD_MISTAKES.items():
            if abs(got[m] - wrong(run)) < 1e-9:
                return CheckResult(False, f"beta_spread: your answer looks like this mistake: {description}. "
                                          f"(update_every_minibatch={m} gave {got[m]:.4g})", mistake=description)
        if abs(got[m] - round(got[m])) > 1e-9:
            return CheckResult(False, f"beta_spread: update_every_minibatch={m} gave {got[m]:.4g}, not an integer; beta "
                                      "moves by factors of 2, so log2(max beta / min beta) is a whole number of doublings")
        return CheckResult(False, f"beta_spread: update_every_minibatch={m} gave {got[m]:.1f} doublings, not the "
                                  f"reference run's (expect something within [{lo:g}, {hi:g}]; use section 3's setting, "
                                  "seed 0, and every value beta took)")
    return CheckResult(True, f"beta_spread: {got[0]:.0f} doublings updated once per batch, {got[8]:.0f} per minibatch: "
                             "both the reference run's")
