r"""The TRPO step (Schulman et al. 2015), exact on a tabular MDP (notebook 03, section 6).

The constraint, the mean KL :math:`\overline{\mathrm{KL}}(\theta_{old}, \theta) = \sum_s \bar\rho_{old}(s)\,
\mathrm{KL}(\pi_{old}(\cdot|s)\|\pi_\theta(\cdot|s))`, is :func:`ppo_lite.course.surrogate_study.mean_kl`; here:

- the Fisher matrix :math:`F = \mathbb E_{s\sim\bar\rho_{old}, a\sim\pi_{old}}[\nabla\log\pi\,\nabla\log\pi^\top]`
  (:func:`fisher_matrix`) and its product with a vector (:func:`fisher_vector_product`);
- the natural gradient :math:`F^{+}g` or :math:`(F + \mu I)^{-1} g` with damping μ (Kakade 2001;
  :func:`natural_gradient`), and conjugate gradient, which reaches it with products :math:`Fv` only
  (:func:`conjugate_gradient`);
- the step scale :math:`\alpha_{max} = \sqrt{2\delta/g^\top F^{-1}g}` (:func:`trpo_step_size`), the backtracking line
  search (:func:`backtracking_line_search`) and all of it assembled (:func:`trpo_step`);
- the equal-KL scaling of any direction (:func:`scale_to_kl`), the natural-against-plain comparison at equal KL
  (:func:`equal_kl_comparison`) and the notebook's 40 random problems for it (:func:`random_problems`).

Nothing here imports matplotlib; the figures are in ``ppo_lite.course.plots.nb03``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor

from ._checks import check_count, check_positive, check_thetas
from .surrogate_study import PRETRAIN_STEPS, exact_surrogate, mean_kl, pretrained_theta, state_weights
from .tabular import TabularMDP, score_function

__all__ = [
    "TRPO_DELTAS",
    "fisher_matrix",
    "fisher_vector_product",
    "natural_gradient",
    "conjugate_gradient",
    "trpo_step_size",
    "LineSearchResult",
    "backtracking_line_search",
    "trpo_step",
    "scale_to_kl",
    "equal_kl_comparison",
    "random_problems",
]

#: Trust-region radii of notebook 03's step-size and natural-against-plain studies, in nats.
TRPO_DELTAS = [0.1, 0.03, 0.01, 0.003, 0.001, 0.0003, 0.0001, 0.00001]


def fisher_matrix(mdp: TabularMDP, theta_old: Tensor) -> Tensor:
    r"""The Fisher information matrix of the policy, averaged over the old policy's states (notebook 03; Kakade 2001,
    Amari 1998), built literally from its definition as an expectation of score outer products:

    .. math:: F = \mathbb E_{s\sim\bar\rho_{old},\, a\sim\pi_{old}(\cdot|s)}
              \big[\nabla_\theta\log\pi_\theta(a|s)\,\nabla_\theta\log\pi_\theta(a|s)^\top\big]_{\theta_{old}},

    shape (S·A, S·A) on the flattened table (index s·A + a). For a softmax table the score of (s, a) is
    :math:`e_a - \pi(\cdot|s)` in row s (:func:`ppo_lite.course.tabular.score_function`), so F is block diagonal with
    blocks :math:`\bar\rho_{old}(s)\,(\mathrm{diag}\,\pi_s - \pi_s\pi_s^\top)`. F is also the Hessian of
    :func:`~ppo_lite.course.surrogate_study.mean_kl` at :math:`\theta = \theta_{old}`. It is singular: each block annihilates the all-ones vector
    (adding a constant to a state's logits leaves its policy unchanged), and states with
    :math:`\bar\rho_{old}(s) = 0` contribute nothing at all.
    """
    check_thetas(mdp, theta_old=theta_old)
    theta_old = theta_old.detach()
    S, A = mdp.num_states, mdp.num_actions
    weights = state_weights(mdp, theta_old)[:, None] * mdp.policy(theta_old)  # Pr(s, a) = rho(s) pi_old(a|s)
    states = torch.arange(S).repeat_interleave(A)
    actions = torch.arange(A).repeat(S)
    scores = score_function(theta_old, states, actions).reshape(S * A, S * A)  # row i: the score of pair i
    return torch.einsum("i,ij,ik->jk", weights.flatten(), scores, scores)


def fisher_vector_product(mdp: TabularMDP, theta_old: Tensor, v: Tensor) -> Tensor:
    r""":math:`F v` without forming F (notebook 03), shape (S, A) like ``v``:

    .. math:: (F v)_s = \bar\rho_{old}(s)\,\big(\pi_s \odot v_s - \pi_s\,(\pi_s^\top v_s)\big),

    O(S·A) work where forming F costs O((S·A)²). TRPO computes the same product for a neural network as the
    Hessian-vector product of the mean KL by differentiating twice (Schulman et al. 2015, Appendix C); here the
    softmax table gives it in closed form.
    """
    check_thetas(mdp, theta_old=theta_old, v=v)
    pi = mdp.policy(theta_old.detach())
    return state_weights(mdp, theta_old)[:, None] * (pi * v - pi * (pi * v).sum(-1, keepdim=True))


def natural_gradient(mdp: TabularMDP, theta_old: Tensor, damping: float = 0.0) -> Tensor:
    r"""The natural policy gradient :math:`F^{-1} g` (Kakade 2001), by a direct dense solve (notebook 03), shape (S, A);
    :math:`g = \nabla_\theta J(\theta_{old})` (:meth:`TabularMDP.exact_policy_gradient`).

    F is singular (:func:`fisher_matrix`), so :math:`F^{-1}` means one of:

    - ``damping = 0``: the pseudo-inverse, :math:`F^{+} g`, the minimum-norm solution of :math:`F x = g`. g has no
      component along F's null space (:math:`\sum_a \pi(a|s) A(s,a) = 0` makes each row of g orthogonal to the
      all-ones vector, and g is 0 where :math:`d_{old} = 0`), so :math:`F F^{+} g = g` exactly;
    - ``damping = μ > 0``: :math:`(F + \mu I)^{-1} g`, what TRPO's code does to keep conjugate gradient stable.
      Since g lies in the range of F this is :math:`F^+ g` with its component along each eigenvector of F (eigenvalue
      :math:`f_i > 0`) shrunk by :math:`f_i / (f_i + \mu)`: close to :math:`F^+ g` only when μ is small against F's
      smallest non-zero eigenvalue :math:`f_{min}` (μ = 0.01 f_min shrinks no component by more than 1%).

    For the softmax table the answer is known in closed form: :math:`(F^+ g)_{sa} = \big(\sum_{s'} d_{old}(s')\big)
    \big(A_{old}(s,a) - \frac{1}{|\mathcal A|}\sum_b A_{old}(s,b)\big)` on visited states (:math:`|\mathcal A|` actions) — the natural gradient points along the
    advantages (Kakade 2001).
    """
    check_thetas(mdp, theta_old=theta_old)
    if not (isinstance(damping, (int, float)) and math.isfinite(damping) and damping >= 0):
        raise ValueError(f"damping must be a finite number >= 0, got {damping!r}")
    F = fisher_matrix(mdp, theta_old)
    g = mdp.exact_policy_gradient(theta_old).flatten()
    if damping == 0:
        x = torch.linalg.pinv(F, hermitian=True) @ g
    else:
        x = torch.linalg.solve(F + damping * torch.eye(F.shape[0], dtype=F.dtype), g)
    return x.reshape(mdp.num_states, mdp.num_actions)


def conjugate_gradient(
    matvec: Callable[[Tensor], Tensor], b: Tensor, iterations: int = 10, tolerance: float = 1e-10
) -> Tensor:
    r"""Solve :math:`F x = b` for a symmetric positive semi-definite F given only :math:`v \mapsto F v`
    (Hestenes & Stiefel 1952; TRPO runs 10 iterations, Schulman et al. 2015, Appendix C). Notebook 03.

    From :math:`x_0 = 0`, :math:`r_0 = p_0 = b`, repeat
    :math:`\alpha_k = r_k^\top r_k / p_k^\top F p_k`, :math:`x_{k+1} = x_k + \alpha_k p_k`,
    :math:`r_{k+1} = r_k - \alpha_k F p_k`, :math:`p_{k+1} = r_{k+1} + (r_{k+1}^\top r_{k+1} / r_k^\top r_k)\, p_k`,
    for ``iterations`` steps or until :math:`\|r\| \le` ``tolerance`` :math:`\cdot \|b\|`. F⁻¹ is never formed: the
    cost is one product F v per iteration. Every iterate lies in the Krylov space :math:`\mathrm{span}\{b, Fb,
    F^2 b, \dots\}`, which is inside the range of F when b is: so for a singular F and b in its range CG converges
    to the minimum-norm solution :math:`F^+ b`, in at most as many iterations as F has distinct non-zero eigenvalues.
    ``b`` may have any shape that ``matvec`` accepts.
    """
    check_count("iterations", iterations)
    if not (isinstance(tolerance, (int, float)) and math.isfinite(tolerance) and tolerance >= 0):
        raise ValueError(f"tolerance must be a finite number >= 0, got {tolerance!r}")
    x = torch.zeros_like(b)
    r = b.clone()
    p = b.clone()
    rr = (r * r).sum()
    stop = (tolerance * b.norm()) ** 2
    for _ in range(iterations):
        if rr <= stop:
            break
        Fp = matvec(p)
        pFp = (p * Fp).sum()
        if pFp <= 0:
            raise ValueError(f"matvec is not positive definite along the search direction (p^T F p = {pFp.item():.3g}); "
                             "is b in the range of F, or does F need damping?")
        alpha = rr / pFp
        x = x + alpha * p
        r = r - alpha * Fp
        rr_new = (r * r).sum()
        p = r + (rr_new / rr) * p
        rr = rr_new
    return x


def trpo_step_size(g: Tensor, x: Tensor, delta: float) -> float:
    r"""The step scale :math:`\alpha_{max}` that puts :math:`\theta_{old} + \alpha_{max} x` on the boundary of the quadratic trust region
    (Schulman et al. 2015, Appendix C), for :math:`x \approx F^{-1} g` (notebook 03):

    .. math:: \tfrac12 (\alpha_{max} x)^\top F (\alpha_{max} x) = \delta,\quad F x = g
              \;\Rightarrow\; \alpha_{max} = \sqrt{\frac{2\delta}{g^\top F^{-1} g}} = \sqrt{\frac{2\delta}{g^\top x}}.

    The mean KL is :math:`\tfrac12\Delta^\top F\Delta + O(\|\Delta\|^3)`, so the step's exact KL is δ to second order.
    """
    check_positive("delta", delta)
    if g.shape != x.shape:
        raise ValueError(f"g and x must have the same shape, got {tuple(g.shape)} and {tuple(x.shape)}")
    gx = (g * x).sum().item()
    if not gx > 0:
        raise ValueError(f"g^T x must be > 0 (x should be F^-1 g for a positive semi-definite F), got {gx!r}")
    return math.sqrt(2.0 * delta / gx)


@dataclass
class LineSearchResult:
    """What :func:`backtracking_line_search` accepted: ``theta`` (θ_old itself when nothing was accepted),
    ``fraction`` of the full step taken (0 when rejected), ``backtracks`` (shrinks before acceptance), ``accepted``,
    and the ``objective`` and ``kl`` at ``theta``."""

    theta: Tensor
    fraction: float
    backtracks: int
    accepted: bool
    objective: float
    kl: float


def backtracking_line_search(
    objective: Callable[[Tensor], float],
    kl: Callable[[Tensor], float],
    theta_old: Tensor,
    full_step: Tensor,
    delta: float,
    shrink: float = 0.5,
    max_backtracks: int = 10,
) -> LineSearchResult:
    r"""TRPO's line search (Schulman et al. 2015, Appendix C), notebook 03: try
    :math:`\theta = \theta_{old} + \text{shrink}^k\,\Delta` for k = 0, 1, ..., ``max_backtracks`` and accept the
    first one that improves the surrogate and satisfies the constraint,

    .. math:: L_{old}(\theta) > L_{old}(\theta_{old}) \quad\text{and}\quad \overline{\mathrm{KL}}(\theta_{old},\theta) \le \delta,

    i.e. the line search on :math:`L_{old}(\theta) - \mathcal X[\overline{\mathrm{KL}} \le \delta]` of the paper
    (:math:`\mathcal X` is 0 when its argument holds and +∞ otherwise). The quadratic model of the KL behind the full
    step :math:`\Delta` can be off by its third-order term; the search repairs that. When no k is accepted the step is
    rejected (θ stays θ_old). (OpenAI baselines' TRPO accepts KL up to 1.5 δ; this follows the paper.)
    """
    check_positive("delta", delta)
    check_count("max_backtracks", max_backtracks, 0)
    if not (isinstance(shrink, (int, float)) and 0 < shrink < 1):
        raise ValueError(f"shrink must lie strictly between 0 and 1, got {shrink!r}")
    if full_step.shape != theta_old.shape:
        raise ValueError(f"full_step must have the shape of theta_old {tuple(theta_old.shape)}, got {tuple(full_step.shape)}")
    theta_old = theta_old.detach()
    base = float(objective(theta_old))
    for k in range(max_backtracks + 1):
        fraction = shrink**k
        theta = theta_old + fraction * full_step
        value, divergence = float(objective(theta)), float(kl(theta))
        if value > base and divergence <= delta:
            return LineSearchResult(theta, fraction, k, True, value, divergence)
    return LineSearchResult(theta_old.clone(), 0.0, max_backtracks, False, base, 0.0)


def trpo_step(
    mdp: TabularMDP,
    theta_old: Tensor,
    delta: float,
    cg_iterations: int = 10,
    shrink: float = 0.5,
    max_backtracks: int = 10,
) -> LineSearchResult:
    r"""One exact TRPO update on a tabular MDP (Schulman et al. 2015; notebook 03 assembles it piece by piece):
    :math:`g = \nabla J(\theta_{old})`; :math:`x \approx F^{-1} g` by :func:`conjugate_gradient` with
    :func:`fisher_vector_product`; full step :math:`\Delta = \sqrt{2\delta / g^\top x}\; x` (:func:`trpo_step_size`);
    then :func:`backtracking_line_search` on the exact surrogate (:func:`~ppo_lite.course.surrogate_study.exact_surrogate`) with the exact
    :func:`~ppo_lite.course.surrogate_study.mean_kl` constraint."""
    check_thetas(mdp, theta_old=theta_old)
    check_positive("delta", delta)
    theta_old = theta_old.detach()
    g = mdp.exact_policy_gradient(theta_old)
    x = conjugate_gradient(lambda v: fisher_vector_product(mdp, theta_old, v), g, iterations=cg_iterations)
    full_step = trpo_step_size(g, x, delta) * x
    with torch.no_grad():
        return backtracking_line_search(
            lambda th: exact_surrogate(mdp, th, theta_old).item(),
            lambda th: mean_kl(mdp, theta_old, th).item(),
            theta_old, full_step, delta, shrink=shrink, max_backtracks=max_backtracks,
        )


def scale_to_kl(mdp: TabularMDP, theta_old: Tensor, direction: Tensor, delta: float, rtol: float = 1e-10) -> float:
    r"""The step length t > 0 with :math:`\overline{\mathrm{KL}}(\theta_{old}, \theta_{old} + t\,u) = \delta` exactly
    (up to ``rtol``), by bisection (notebook 03: the equal-KL comparison of the natural and the plain gradient).

    Along a ray, each state's :math:`\mathrm{KL}(\pi_{old}\|\pi_{\theta_{old}+tu}) = \log\sum_b e^{\theta_b + t u_b}
    - \sum_a \pi_{old}(a)(\theta_a + t u_a) + \text{const}` is convex in t with its minimum 0 at t = 0, so the mean KL
    is non-decreasing in t ≥ 0 and the root is unique. Raises if the direction does not change the policy on
    visited states, or if even a huge step cannot reach δ (the mean KL is bounded along some rays).
    """
    check_thetas(mdp, theta_old=theta_old, direction=direction)
    check_positive("delta", delta)
    check_positive("rtol", rtol)
    theta_old, direction = theta_old.detach(), direction.detach()

    def kl_at(t: float) -> float:
        return mean_kl(mdp, theta_old, theta_old + t * direction).item()

    lo, hi = 0.0, 1.0
    while kl_at(hi) < delta:
        lo, hi = hi, 2.0 * hi
        if hi > 1e12:
            raise ValueError(f"the mean KL along this direction never reaches delta={delta} (does it change the policy?)")
    while hi - lo > rtol * hi:
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if kl_at(mid) < delta else (lo, mid)
    return 0.5 * (lo + hi)


def equal_kl_comparison(mdp: TabularMDP, theta_old: Tensor, delta: float) -> dict[str, float]:
    r"""The TRPO step (:func:`trpo_step`) against a plain-gradient step of the *same* exact mean KL (notebook 03).

    The plain step is :math:`t\,g` with t from :func:`scale_to_kl` at the KL the TRPO step actually reached. Returns
    ``natural_gain`` and ``plain_gain`` (true :math:`J - J(\theta_{old})`), ``kl`` (the common mean KL),
    ``backtracks`` (of the TRPO line search), and ``cauchy_schwarz``
    :math:`= \sqrt{g^\top F^+ g \; g^\top F g} / g^\top g \ge 1`, the ratio of the two gains to first order in
    :math:`\sqrt\delta` (natural: :math:`\sqrt{2\delta\, g^\top F^+ g}`; plain: :math:`\sqrt{2\delta}\, g^\top g /
    \sqrt{g^\top F g}`), which is ≥ 1 by the Cauchy–Schwarz inequality in the metric F (g lies in F's range).
    """
    check_thetas(mdp, theta_old=theta_old)
    check_positive("delta", delta)
    theta_old = theta_old.detach()
    step = trpo_step(mdp, theta_old, delta)
    if not step.accepted:
        raise ValueError(f"the TRPO line search rejected every step at delta={delta}; nothing to compare")
    g = mdp.exact_policy_gradient(theta_old)
    t = scale_to_kl(mdp, theta_old, g, step.kl)
    j_old = mdp.objective(theta_old).item()
    x = natural_gradient(mdp, theta_old)
    gFg = (g * fisher_vector_product(mdp, theta_old, g)).sum().item()
    return {
        "natural_gain": mdp.objective(step.theta).item() - j_old,
        "plain_gain": mdp.objective(theta_old + t * g).item() - j_old,
        "kl": step.kl,
        "backtracks": float(step.backtracks),
        "cauchy_schwarz": math.sqrt((g * x).sum().item() * gFg) / (g * g).sum().item(),
    }


def random_problems(count: int = 20) -> list[tuple[TabularMDP, Tensor]]:
    r"""Notebook 03's random problems for the natural-against-plain comparison: ``count`` random 8-state, 4-action
    MDPs (γ = 0.9, seeds 100, 101, ...), each twice, with the partly trained :math:`\theta_{old}` of
    :func:`~ppo_lite.course.surrogate_study.pretrained_theta` (``PRETRAIN_STEPS`` exact gradient steps) and with random
    logits :math:`1.5\,\mathcal N(0, 1)` (generator seeds 0, 1, ...): a list of 2·``count`` (mdp, θ_old) pairs."""
    check_count("count", count)
    problems = []
    for k in range(count):
        mdp_k = TabularMDP.random(8, 4, 0.9, seed=100 + k)
        problems.append((mdp_k, pretrained_theta(mdp_k, PRETRAIN_STEPS)))
        problems.append((mdp_k, 1.5 * torch.randn(8, 4, generator=torch.Generator().manual_seed(k), dtype=torch.float64)))
    return problems
