r"""Reusing samples and keeping the policy step small: importance weights, the surrogate, its KL lower bound, and
the KL-constrained problem of PPO v1 with its dual (notebooks 03 and 04).

Notation. :math:`\pi_{old}` collected the data, :math:`\pi_\theta` is the policy being improved,
:math:`r = \pi_\theta(a|s)/\pi_{old}(a|s)` the importance weight (ratio).

Notebook 03 (reusing samples):

- importance sampling, :math:`\mathbb E_p[f] = \mathbb E_q[w f]` with :math:`w = p/q`; its weights have mean 1 and
  variance :math:`\chi^2(p\|q) = \mathbb E_q[w^2] - 1`, which for :math:`p = \mathcal N(\mu, \sigma^2)`,
  :math:`q = \mathcal N(0, \sigma^2)` is :math:`e^{\mu^2/\sigma^2} - 1` (:func:`gaussian_weight_variance`);
- the exact surrogate on a tabular MDP,
  :math:`L_{old}(\theta) = J(\pi_{old}) + \sum_s \rho_{old}(s) \sum_a \pi_\theta(a|s) A_{old}(s,a)`
  (:func:`exact_surrogate`), whose gradient at :math:`\theta_{old}` is the policy gradient;
- the Kakade–Langford / TRPO lower bound
  :math:`J(\pi) \ge L_{old}(\pi) - \frac{4\epsilon\gamma}{(1-\gamma)^2} \max_s \mathrm{KL}(\pi_{old}\|\pi)(s)`
  with :math:`\epsilon = \max_{s,a} |A_{old}(s,a)|` (:func:`trpo_lower_bound`);
- what many gradient steps on a sampled surrogate do to the true return (:func:`many_surrogate_steps`) and how
  far the ratio drifts from 1 across epochs and minibatches (:func:`ratio_drift`).

Notebook 04 (PPO v1, the KL-constrained problem):

- the toy problem :math:`\max_p \mathbb E_p[A]` s.t. :math:`\mathrm{KL}(p\|q) \le \delta` over categoricals, whose
  solution is :math:`p^* \propto q\, e^{A/\eta^*}` with :math:`\eta^*` the root of
  :math:`\mathrm{KL}(p_\eta\|q) = \delta` (:func:`constrained_optimum`), and its dual function
  :math:`g(\eta) = \eta\delta + \eta \log \sum_a q_a e^{A_a/\eta}`, :math:`g'(\eta) = \delta - \mathrm{KL}(p_\eta\|q)`
  (:func:`dual_function`);
- the primal-dual loop on it, with either controller of :mod:`ppo_lite.kl` (:func:`penalized_ascent_toy`);
- the PPO v1 loop on a tabular MDP (:func:`ppo_v1_tabular`) and the KL estimators compared
  (:func:`kl_estimator_study`).

Nothing here imports matplotlib; the figures are in ``ppo_lite.plots.nb03`` / ``nb04``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
import torch
from torch import Tensor

from .kl import AdaptiveBeta, DualDescent, kl_k1, kl_k2, kl_k3
from .objectives import clip_fraction, clipped_loss, kl_penalty_loss, ratio, surrogate_loss
from .tabular import TabularMDP

__all__ = [
    "kl_categorical",
    "gaussian_weight_variance",
    "importance_sampling_study",
    "tilted_distribution",
    "ConstrainedOptimum",
    "constrained_optimum",
    "dual_function",
    "penalized_ascent_toy",
    "kl_estimator_study",
    "state_kl",
    "exact_surrogate",
    "trpo_lower_bound",
    "SampledBatch",
    "sample_batch",
    "sampled_surrogate",
    "many_surrogate_steps",
    "pretrained_theta",
    "surrogate_step_study",
    "kl_early_stopping_gain",
    "ratio_drift",
    "ppo_v1_tabular",
]


# ---------------------------------------------------------------------------------------------------------------
# Small helpers with clear errors
# ---------------------------------------------------------------------------------------------------------------
def _check_positive(name: str, value: float) -> None:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")


def _check_count(name: str, value: int, minimum: int = 1) -> None:
    if not (isinstance(value, int) and value >= minimum):
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")


def _check_distribution(name: str, p: Tensor) -> None:
    if p.dim() < 1 or p.shape[-1] < 2:
        raise ValueError(f"{name} must have a last dimension of >= 2 outcomes, got shape {tuple(p.shape)}")
    if not torch.isfinite(p).all() or (p < 0).any():
        raise ValueError(f"{name} must be finite and non-negative, got min {p.min().item():.3g}")
    sums = p.sum(-1)
    if not torch.allclose(sums, torch.ones_like(sums), atol=1e-6):
        raise ValueError(f"{name} must sum to 1 over its last dimension, got sums in [{sums.min():.6g}, {sums.max():.6g}]")


def kl_categorical(p: Tensor, q: Tensor) -> Tensor:
    r""":math:`\mathrm{KL}(p\|q) = \sum_a p_a \log(p_a/q_a)` over the last dimension, with :math:`0 \log 0 = 0`.

    Infinite where :math:`p_a > 0 = q_a`. Used by notebooks 03 and 04.
    """
    if p.shape != q.shape:
        raise ValueError(f"p and q must have one shape, got {tuple(p.shape)} and {tuple(q.shape)}")
    terms = torch.where(p > 0, p * (torch.log(p) - torch.log(q)), torch.zeros_like(p))
    return terms.sum(-1)


# ---------------------------------------------------------------------------------------------------------------
# Notebook 03: importance sampling
# ---------------------------------------------------------------------------------------------------------------
def gaussian_weight_variance(shift: float | Tensor, sigma: float = 1.0) -> Tensor:
    r"""Exact variance of the importance weight :math:`w = p/q` under :math:`q`, for
    :math:`p = \mathcal N(\mu, \sigma^2)`, :math:`q = \mathcal N(0, \sigma^2)` (notebook 03):

    .. math:: \mathrm{Var}_q[w] = \mathbb E_q[w^2] - 1 = \chi^2(p\|q) = e^{\mu^2/\sigma^2} - 1.

    (:math:`\mathbb E_q[w^2] = \int p^2/q`, a Gaussian integral.) It grows like :math:`e^{\mu^2}`: doubling the
    distance between the policies squares the blow-up factor.
    """
    _check_positive("sigma", sigma)
    shift = torch.as_tensor(shift, dtype=torch.float64)
    return torch.expm1(shift**2 / sigma**2)


def importance_sampling_study(
    shifts: list[float], n_samples: int = 1000, n_repeats: int = 200, seed: int = 0
) -> dict[str, Tensor]:
    r"""Estimate :math:`\mathbb E_p[x] = \mu` for :math:`p = \mathcal N(\mu, 1)` from samples of
    :math:`q = \mathcal N(0, 1)` with the importance-weighted mean :math:`\frac1n \sum_i w_i x_i` (notebook 03).

    For each shift μ, ``n_repeats`` independent estimates from ``n_samples`` draws each. Returns, per shift:
    ``shift``; ``estimate_mean`` and ``estimate_std`` (mean and spread of the estimates; unbiased means
    ``estimate_mean`` ≈ μ within ``estimate_std / sqrt(n_repeats)``); ``weight_var`` (the measured variance of w,
    pooled over all draws) beside ``weight_var_exact`` (:func:`gaussian_weight_variance`); ``ess_fraction``, the
    effective sample size :math:`(\sum w)^2 / \sum w^2` divided by n (1 when p = q; small when a few huge weights
    carry the estimate).
    """
    _check_count("n_samples", n_samples, 2)
    _check_count("n_repeats", n_repeats, 2)
    if len(shifts) == 0:
        raise ValueError("shifts must name at least one shift mu")
    gen = torch.Generator().manual_seed(seed)
    out: dict[str, list[float]] = {k: [] for k in ("estimate_mean", "estimate_std", "weight_var", "ess_fraction")}
    for mu in shifts:
        x = torch.randn(n_repeats, n_samples, generator=gen, dtype=torch.float64)
        log_w = mu * x - 0.5 * mu**2  # log N(x; mu, 1) - log N(x; 0, 1)
        w = torch.exp(log_w)
        estimates = (w * x).mean(-1)
        out["estimate_mean"].append(estimates.mean().item())
        out["estimate_std"].append(estimates.std().item())
        out["weight_var"].append(w.var().item())
        out["ess_fraction"].append(((w.sum(-1) ** 2 / (w**2).sum(-1)) / n_samples).mean().item())
    result = {k: torch.tensor(v, dtype=torch.float64) for k, v in out.items()}
    result["shift"] = torch.tensor(shifts, dtype=torch.float64)
    result["weight_var_exact"] = gaussian_weight_variance(result["shift"])
    result["n_repeats"] = torch.tensor(n_repeats)
    return result


# ---------------------------------------------------------------------------------------------------------------
# Notebook 04: the KL-constrained toy problem and its closed form
# ---------------------------------------------------------------------------------------------------------------
def tilted_distribution(advantages: Tensor, q: Tensor, eta: float | Tensor) -> Tensor:
    r"""The maximizer of the Lagrangian :math:`\sum_a p_a A_a - \eta\, \mathrm{KL}(p\|q)` over distributions p:

    .. math:: p_\eta(a) = \frac{q_a\, e^{A_a/\eta}}{\sum_b q_b\, e^{A_b/\eta}}, \qquad \eta > 0

    (set the derivative of the Lagrangian plus :math:`\lambda(\sum_a p_a - 1)` to zero). Notebook 04.
    """
    eta = torch.as_tensor(eta, dtype=advantages.dtype)
    if not (eta > 0).all():
        raise ValueError(f"eta must be > 0 for the tilted distribution, got {eta}")
    return torch.softmax(torch.log(q) + advantages / eta, dim=-1)


def _as_toy_problem(advantages: Tensor, q: Tensor) -> tuple[Tensor, Tensor]:
    """float64 copies of the toy problem's advantages and reference distribution q, checked."""
    advantages = torch.as_tensor(advantages, dtype=torch.float64)
    q = torch.as_tensor(q, dtype=torch.float64)
    if advantages.dim() != 1 or q.shape != advantages.shape:
        raise ValueError(f"advantages and q must be 1-D of one length, got {tuple(advantages.shape)} and {tuple(q.shape)}")
    _check_distribution("q", q)
    if (q <= 0).any():
        raise ValueError("q must give every action positive probability (else KL(p||q) can be infinite)")
    if not torch.isfinite(advantages).all():
        raise ValueError("advantages must be finite")
    return advantages, q


@dataclass
class ConstrainedOptimum:
    r"""Solution of :math:`\max_p \mathbb E_p[A]` s.t. :math:`\mathrm{KL}(p\|q) \le \delta`."""

    p: Tensor  # the optimal distribution p*
    eta: float  # the optimal multiplier eta* (0 when the constraint does not bind)
    kl: float  # KL(p*||q): delta when the constraint binds
    value: float  # E_{p*}[A]


def constrained_optimum(advantages: Tensor, q: Tensor, delta: float, tol: float = 1e-12) -> ConstrainedOptimum:
    r"""Closed-form solution of the KL-constrained toy problem of notebook 04,

    .. math:: \max_p \sum_a p_a A_a \quad \text{s.t.} \quad \mathrm{KL}(p\|q) \le \delta,

    :math:`p^* = p_{\eta^*} \propto q\, e^{A/\eta^*}` (:func:`tilted_distribution`), where :math:`\eta^* > 0` solves
    :math:`\mathrm{KL}(p_\eta\|q) = \delta` (complementary slackness). :math:`\mathrm{KL}(p_\eta\|q)` falls
    monotonically from :math:`\mathrm{KL}_{max} = -\log\sum_{a \in \arg\max A} q_a` (η → 0, all mass on the best
    actions) to 0 (η → ∞), so the root is bracketed and found by bisection on :math:`\log\eta`. When
    :math:`\delta \ge \mathrm{KL}_{max}` the constraint does not bind: :math:`\eta^* = 0` and p* is q restricted to
    the best actions.
    """
    advantages, q = _as_toy_problem(advantages, q)
    _check_positive("delta", delta)
    best = advantages >= advantages.max() - 1e-12
    kl_max = -torch.log(q[best].sum()).item()
    if delta >= kl_max:
        p = torch.where(best, q, torch.zeros_like(q))
        p = p / p.sum()
        return ConstrainedOptimum(p=p, eta=0.0, kl=kl_max, value=(p * advantages).sum().item())

    def kl_at(log_eta: float) -> float:
        return kl_categorical(tilted_distribution(advantages, q, math.exp(log_eta)), q).item()

    lo, hi = 0.0, 0.0  # log-eta bracket: KL(lo) > delta > KL(hi)
    while kl_at(hi) > delta:
        hi += 1.0
    while kl_at(lo) < delta:
        lo -= 1.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if kl_at(mid) > delta:
            lo = mid
        else:
            hi = mid
        if hi - lo < tol:
            break
    eta = math.exp(0.5 * (lo + hi))
    p = tilted_distribution(advantages, q, eta)
    return ConstrainedOptimum(p=p, eta=eta, kl=kl_categorical(p, q).item(), value=(p * advantages).sum().item())


def dual_function(eta: float | Tensor, advantages: Tensor, q: Tensor, delta: float) -> Tensor:
    r"""Dual function of the toy problem (notebook 04):

    .. math:: g(\eta) = \max_p \big[\mathbb E_p[A] - \eta(\mathrm{KL}(p\|q) - \delta)\big]
              = \eta\delta + \eta \log \sum_a q_a e^{A_a/\eta},

    convex in η, with :math:`g'(\eta) = \delta - \mathrm{KL}(p_\eta\|q)`, so :math:`\eta^* = \arg\min_{\eta \ge 0} g`
    and a projected gradient step on g is the dual-descent update :math:`\eta \leftarrow \max(0, \eta + \alpha(\mathrm{KL} - \delta))`.
    Weak duality: :math:`g(\eta) \ge \mathbb E_{p^*}[A]` for every η > 0, with equality at η*.
    """
    eta = torch.as_tensor(eta, dtype=torch.float64)
    if not (eta > 0).all():
        raise ValueError(f"eta must be > 0, got {eta}")
    _check_positive("delta", delta)
    advantages = torch.as_tensor(advantages, dtype=torch.float64)
    q = torch.as_tensor(q, dtype=torch.float64)
    log_z = torch.logsumexp(torch.log(q) + advantages / eta.unsqueeze(-1), dim=-1)
    return eta * delta + eta * log_z


def penalized_ascent_toy(
    advantages: Tensor,
    q: Tensor,
    controller: DualDescent | AdaptiveBeta,
    outer_steps: int = 200,
    inner_steps: int = 20,
    inner_lr: float = 1.0,
) -> dict[str, Tensor]:
    r"""The primal-dual loop of PPO v1 on the toy problem (notebook 04).

    Each outer step: (1) maximize the Lagrangian over the logits θ of :math:`p_\theta = \mathrm{softmax}(\theta)`
    by ``inner_steps`` gradient-ascent steps, warm-started from the previous θ (θ starts at log q, i.e. p = q):

    .. math:: \theta \leftarrow \theta + \alpha_\theta \nabla_\theta\big[\mathbb E_{p_\theta}[A] - c\,\mathrm{KL}(p_\theta\|q)\big];

    (2) measure :math:`\mathrm{KL}(p_\theta\|q)` and let the controller update its coefficient c: dual descent
    :math:`\eta \leftarrow \max(0, \eta + \alpha_\eta(\mathrm{KL} - \delta))`, or the PPO paper's adaptive β.

    Returns the traces ``p`` (outer_steps+1, A), ``coef``, ``kl``, ``value`` (:math:`\mathbb E_p[A]`), entry 0
    being the start.
    """
    advantages, q = _as_toy_problem(advantages, q)
    _check_count("outer_steps", outer_steps)
    _check_count("inner_steps", inner_steps)
    _check_positive("inner_lr", inner_lr)
    theta = torch.log(q).clone().requires_grad_(True)
    traces: dict[str, list] = {"p": [q.clone()], "coef": [float(controller.coef)], "kl": [0.0], "value": [(q * advantages).sum().item()]}
    for _ in range(outer_steps):
        coef = float(controller.coef)
        for _ in range(inner_steps):
            p = torch.softmax(theta, -1)
            lagrangian = (p * advantages).sum() - coef * kl_categorical(p, q)
            (grad,) = torch.autograd.grad(lagrangian, theta)
            with torch.no_grad():
                theta += inner_lr * grad
        with torch.no_grad():
            p = torch.softmax(theta, -1)
            kl = kl_categorical(p, q).item()
            if not math.isfinite(kl):
                raise FloatingPointError("KL became non-finite in the toy primal-dual loop; lower inner_lr")
            controller.update(kl)
        traces["p"].append(p.clone())
        traces["coef"].append(float(controller.coef))
        traces["kl"].append(kl)
        traces["value"].append((p * advantages).sum().item())
    return {
        "p": torch.stack(traces["p"]),
        "coef": torch.tensor(traces["coef"], dtype=torch.float64),
        "kl": torch.tensor(traces["kl"], dtype=torch.float64),
        "value": torch.tensor(traces["value"], dtype=torch.float64),
    }


# ---------------------------------------------------------------------------------------------------------------
# Notebook 04: KL estimators
# ---------------------------------------------------------------------------------------------------------------
def kl_estimator_study(
    shifts: list[float], n_samples: int = 100, n_repeats: int = 2000, seed: int = 0, family: str = "gaussian"
) -> dict[str, Tensor]:
    r"""Bias and spread of the KL estimators :math:`k_1, k_2, k_3` (:mod:`ppo_lite.kl`) of
    :math:`\mathrm{KL}(\pi_{old}\|\pi_{new})`, with samples drawn from :math:`\pi_{old}` (notebook 04).

    ``family="gaussian"``: :math:`\pi_{old} = \mathcal N(0,1)`, :math:`\pi_{new} = \mathcal N(\mu,1)`; exact
    :math:`\mathrm{KL} = \mu^2/2`, and in closed form :math:`\log r = \mu x - \mu^2/2`, so
    :math:`\mathbb E[k_2] = \tfrac12(\mu^2 + \mu^4/4)`: k2's bias is :math:`\mu^4/8`.
    ``family="categorical"``: :math:`\pi_{old}` uniform over 4 actions, :math:`\pi_{new} = \mathrm{softmax}(\mu z)`
    for a fixed logit direction z = (1, 0.5, -0.5, -1); exact KL by :func:`kl_categorical`.

    For each shift μ: ``exact``; per estimator k ∈ {k1, k2, k3}: ``{k}_mean`` (mean over all draws, its bias is
    ``{k}_mean - exact``), ``{k}_se`` (standard error of that mean), ``{k}_std`` (per-sample standard deviation),
    ``{k}_batch_std`` (spread of the ``n_samples``-sample batch mean across repeats), ``{k}_min`` (smallest single
    sample: k1 goes negative, k2 and k3 never do).
    """
    if family not in ("gaussian", "categorical"):
        raise ValueError(f"family must be 'gaussian' or 'categorical', got {family!r}")
    _check_count("n_samples", n_samples, 2)
    _check_count("n_repeats", n_repeats, 2)
    if len(shifts) == 0:
        raise ValueError("shifts must name at least one shift mu")
    gen = torch.Generator().manual_seed(seed)
    estimators = {"k1": kl_k1, "k2": kl_k2, "k3": kl_k3}
    rows: dict[str, list[float]] = {"exact": []}
    for name in estimators:
        for stat in ("mean", "se", "std", "batch_std", "min"):
            rows[f"{name}_{stat}"] = []
    z = torch.tensor([1.0, 0.5, -0.5, -1.0], dtype=torch.float64)
    for mu in shifts:
        if family == "gaussian":
            x = torch.randn(n_repeats, n_samples, generator=gen, dtype=torch.float64)
            logp_old = -0.5 * x**2
            logp_new = -0.5 * (x - mu) ** 2  # the shared -log sqrt(2 pi) cancels in every estimator
            exact = 0.5 * mu**2
        else:
            p_old = torch.full((4,), 0.25, dtype=torch.float64)
            log_new = torch.log_softmax(mu * z, -1)
            a = torch.multinomial(p_old, n_repeats * n_samples, replacement=True, generator=gen).view(n_repeats, n_samples)
            logp_old = torch.log(p_old)[a]
            logp_new = log_new[a]
            exact = kl_categorical(p_old, log_new.exp()).item()
        rows["exact"].append(exact)
        for name, fn in estimators.items():
            k = fn(logp_new, logp_old)
            rows[f"{name}_mean"].append(k.mean().item())
            rows[f"{name}_se"].append((k.std() / math.sqrt(k.numel())).item())
            rows[f"{name}_std"].append(k.std().item())
            rows[f"{name}_batch_std"].append(k.mean(-1).std().item())
            rows[f"{name}_min"].append(k.min().item())
    result = {k: torch.tensor(v, dtype=torch.float64) for k, v in rows.items()}
    result["shift"] = torch.tensor(shifts, dtype=torch.float64)
    return result


# ---------------------------------------------------------------------------------------------------------------
# Notebook 03: the surrogate on a tabular MDP (exact J from ppo_lite.tabular)
# ---------------------------------------------------------------------------------------------------------------
def _check_thetas(mdp: TabularMDP, **thetas: Tensor) -> None:
    for name, theta in thetas.items():
        if tuple(theta.shape) != (mdp.num_states, mdp.num_actions):
            raise ValueError(f"{name} must have shape {(mdp.num_states, mdp.num_actions)}, got {tuple(theta.shape)}")


def state_kl(mdp: TabularMDP, theta_old: Tensor, theta: Tensor) -> Tensor:
    r"""Per-state :math:`\mathrm{KL}(\pi_{old}(\cdot|s)\,\|\,\pi_\theta(\cdot|s))`, shape (S,), 0 on terminal states
    (no action is taken there, so they never count). Notebooks 03, 04."""
    _check_thetas(mdp, theta_old=theta_old, theta=theta)
    log_old, log_new = torch.log_softmax(theta_old, -1), torch.log_softmax(theta, -1)
    kl = (log_old.exp() * (log_old - log_new)).sum(-1)
    return torch.where(mdp.terminal, torch.zeros_like(kl), kl)


def exact_surrogate(mdp: TabularMDP, theta: Tensor, theta_old: Tensor) -> Tensor:
    r"""The exact (expected) surrogate of notebook 03, differentiable in θ:

    .. math:: L_{old}(\theta) = J(\pi_{old}) + \sum_s d_{old}(s) \sum_a \pi_\theta(a|s)\, A_{old}(s,a)
              = J(\pi_{old}) + \mathbb E_{old}\Big[\sum_t \gamma^t\, r_t(\theta)\, A_{old}(s_t, a_t)\Big],

    with :math:`d_{old}(s) = \sum_t \gamma^t \Pr_{old}(s_t = s)` (:meth:`TabularMDP.discounted_visitation`). It is
    the performance-difference identity :math:`J(\pi) = J(\pi_{old}) + \sum_s d_{\pi}(s) \sum_a \pi(a|s) A_{old}(s,a)`
    with the *new* visitation :math:`d_\pi` replaced by the old one — exact to first order at :math:`\theta_{old}`,
    so :math:`\nabla L_{old}(\theta_{old}) = \nabla J(\theta_{old})`.
    """
    _check_thetas(mdp, theta=theta, theta_old=theta_old)
    theta_old = theta_old.detach()
    d_old = mdp.discounted_visitation(theta_old)
    adv_old = mdp.advantages(theta_old)
    return mdp.objective(theta_old) + (d_old[:, None] * torch.softmax(theta, -1) * adv_old).sum()


def trpo_lower_bound(mdp: TabularMDP, theta: Tensor, theta_old: Tensor) -> dict[str, float]:
    r"""The Kakade–Langford / TRPO lower bound (Schulman et al. 2015, Theorem 1 with :math:`D_{TV}^2 \le D_{KL}`):

    .. math:: J(\pi) \ge L_{old}(\pi) - C \max_s \mathrm{KL}(\pi_{old}(\cdot|s)\|\pi(\cdot|s)),
              \qquad C = \frac{4 \epsilon \gamma}{(1-\gamma)^2},\quad \epsilon = \max_{s,a} |A_{old}(s,a)|.

    Returns ``J``, ``L`` (:func:`exact_surrogate`), ``max_kl`` (over non-terminal states), ``C`` and
    ``bound = L - C max_kl``, as floats. Needs γ < 1. Notebook 03.
    """
    if not mdp.gamma < 1.0:
        raise ValueError(f"the TRPO bound needs gamma < 1, got gamma={mdp.gamma}")
    with torch.no_grad():
        eps = mdp.advantages(theta_old)[~mdp.terminal].abs().max().item()
        C = 4.0 * eps * mdp.gamma / (1.0 - mdp.gamma) ** 2
        J = mdp.objective(theta).item()
        L = exact_surrogate(mdp, theta, theta_old).item()
        max_kl = state_kl(mdp, theta_old, theta).max().item()
    return {"J": J, "L": L, "max_kl": max_kl, "C": C, "bound": L - C * max_kl}


@dataclass
class SampledBatch:
    r"""One batch of on-policy data from :math:`\pi_{old}`, flattened over the steps that happened.

    ``advantages`` are Monte Carlo :math:`\hat A_t = G_t - V_{old}(s_t)` (exact baseline, so unbiased);
    ``discount`` is :math:`\gamma^t`; ``logp_old`` is :math:`\log\pi_{old}(a_t|s_t)`, stored at sampling time.
    """

    states: Tensor
    actions: Tensor
    logp_old: Tensor
    advantages: Tensor
    discount: Tensor
    num_episodes: int


def sample_batch(mdp: TabularMDP, theta_old: Tensor, num_episodes: int, generator: torch.Generator) -> SampledBatch:
    """Sample ``num_episodes`` episodes of :math:`\\pi_{old}` and flatten them into a :class:`SampledBatch`."""
    _check_thetas(mdp, theta_old=theta_old)
    _check_count("num_episodes", num_episodes)
    theta_old = theta_old.detach()
    episodes = mdp.sample_episodes(theta_old, num_episodes, generator)
    advantages = mdp.discounted_rewards_to_go(episodes) - mdp.values(theta_old)[episodes.states]
    T = episodes.states.shape[1]
    discount = (mdp.gamma ** torch.arange(T, dtype=torch.float64)).expand_as(advantages)
    keep = episodes.mask.bool()
    states, actions = episodes.states[keep], episodes.actions[keep]
    logp_old = torch.log_softmax(theta_old, -1)[states, actions]
    return SampledBatch(states, actions, logp_old, advantages[keep], discount[keep], num_episodes)


def sampled_surrogate(batch: SampledBatch, theta: Tensor) -> Tensor:
    r"""Monte Carlo surrogate gain (notebook 03), an unbiased estimate of :math:`L_{old}(\theta) - J(\pi_{old})`:

    .. math:: \hat L(\theta) = \frac1E \sum_{e} \sum_t \gamma^t\, r_{e,t}(\theta)\, \hat A_{e,t}
              = \frac{N}{E}\, \hat{\mathbb E}_{N\ \text{steps}}[r\, \gamma^t \hat A],

    written with :func:`ppo_lite.objectives.surrogate_loss` (the minus sign turns its loss back into a gain). At
    :math:`\theta = \theta_{old}` its gradient is the REINFORCE-with-baseline gradient of notebook 01.
    """
    logp_new = torch.log_softmax(theta, -1)[batch.states, batch.actions]
    n_steps = batch.states.shape[0]
    return -surrogate_loss(logp_new, batch.logp_old, batch.discount * batch.advantages) * n_steps / batch.num_episodes


def many_surrogate_steps(
    mdp: TabularMDP, theta_old: Tensor, batch: SampledBatch, steps: int = 300, lr: float = 1.0
) -> dict[str, Tensor]:
    r"""Take ``steps`` plain gradient-ascent steps :math:`\theta \leftarrow \theta + \alpha \nabla \hat L(\theta)` on
    the surrogate of one fixed batch, and track what really happens (notebook 03).

    Returns traces of length steps+1 (entry 0 = :math:`\theta_{old}`): ``J`` (exact return),
    ``L_hat`` (:math:`J(\pi_{old}) + \hat L(\theta)`, what the batch believes), ``L`` (:func:`exact_surrogate`, what the
    surrogate would say with infinite data), ``kl_mean`` (:math:`\sum_s d_{old}(s)\mathrm{KL}(s) / \sum_s d_{old}(s)`),
    ``kl_max`` and ``ratio_max`` (the largest :math:`r` in the batch).
    """
    _check_thetas(mdp, theta_old=theta_old)
    _check_count("steps", steps)
    _check_positive("lr", lr)
    theta_old = theta_old.detach()
    d_old = mdp.discounted_visitation(theta_old)
    j_old = mdp.objective(theta_old).item()
    theta = theta_old.clone().requires_grad_(True)
    rows: dict[str, list[float]] = {k: [] for k in ("J", "L_hat", "L", "kl_mean", "kl_max", "ratio_max")}

    def record(l_hat: Tensor) -> None:
        with torch.no_grad():
            kl = state_kl(mdp, theta_old, theta)
            rows["J"].append(mdp.objective(theta).item())
            rows["L_hat"].append(j_old + l_hat.item())
            rows["L"].append(exact_surrogate(mdp, theta, theta_old).item())
            rows["kl_mean"].append(((d_old * kl).sum() / d_old.sum()).item())
            rows["kl_max"].append(kl.max().item())
            logp = torch.log_softmax(theta, -1)[batch.states, batch.actions]
            rows["ratio_max"].append(ratio(logp, batch.logp_old).max().item())

    for _ in range(steps):
        l_hat = sampled_surrogate(batch, theta)
        record(l_hat)
        (grad,) = torch.autograd.grad(l_hat, theta)
        with torch.no_grad():
            theta += lr * grad
    record(sampled_surrogate(batch, theta))
    return {k: torch.tensor(v, dtype=torch.float64) for k, v in rows.items()}


def pretrained_theta(mdp: TabularMDP, steps: int, lr: float = 1.0) -> Tensor:
    r"""Logits after ``steps`` exact policy-gradient steps :math:`\theta \leftarrow \theta + \alpha\nabla J` from
    the uniform policy θ = 0: a reasonable but unfinished :math:`\pi_{old}` for the experiments of notebooks 03/04."""
    _check_count("steps", steps, 0)
    _check_positive("lr", lr)
    theta = torch.zeros(mdp.num_states, mdp.num_actions, dtype=torch.float64)
    for _ in range(steps):
        theta = theta + lr * mdp.exact_policy_gradient(theta)
    return theta


def surrogate_step_study(
    mdp: TabularMDP, theta_old: Tensor, seeds: list[int], episodes: int = 16, steps: int = 300, lr: float = 1.0
) -> list[dict[str, Tensor]]:
    """:func:`many_surrogate_steps` on one fresh batch of ``episodes`` episodes per seed (notebook 03)."""
    if len(seeds) == 0:
        raise ValueError("seeds must name at least one seed")
    traces = []
    for seed in seeds:
        batch = sample_batch(mdp, theta_old, episodes, torch.Generator().manual_seed(seed))
        traces.append(many_surrogate_steps(mdp, theta_old, batch, steps=steps, lr=lr))
    return traces


def kl_early_stopping_gain(traces: list[dict[str, Tensor]], deltas: list[float]) -> Tensor:
    r"""The trust region as early stopping (notebook 03): on each path of :func:`surrogate_step_study`, stop at the
    last step whose mean KL :math:`\bar{\mathrm{KL}}(\pi_{old}\|\pi_\theta) \le \delta` (KL grows along these
    paths), and return the true gain :math:`J(\theta_{stop}) - J(\theta_{old})`, shape (len(deltas), len(traces)).
    """
    if len(traces) == 0 or len(deltas) == 0:
        raise ValueError("need at least one trace and one delta")
    gains = torch.zeros(len(deltas), len(traces), dtype=torch.float64)
    for j, tr in enumerate(traces):
        for i, delta in enumerate(deltas):
            _check_positive("delta", delta)
            inside = torch.nonzero(tr["kl_mean"] <= delta).flatten()
            stop = int(inside.max())  # step 0 has KL 0, so there is always one
            gains[i, j] = tr["J"][stop] - tr["J"][0]
    return gains


def ratio_drift(
    batch: SampledBatch,
    theta_old: Tensor,
    epochs: int = 4,
    minibatches: int = 4,
    lr: float = 0.05,
    clip_eps: float = 0.2,
    recompute_old: bool = False,
    seed: int = 0,
) -> dict[str, Tensor]:
    r"""How far the ratio :math:`r = \pi_\theta/\pi_{old}` is from 1 at each PPO minibatch step (notebook 03).

    Runs ``epochs`` passes over ``batch`` in ``minibatches`` shuffled minibatches, one Adam step on
    :func:`ppo_lite.objectives.clipped_loss` per minibatch, and records *before* each step, on that minibatch,
    ``max_dev`` :math:`= \max_i |r_i - 1|` and ``clip_frac`` (the fraction with :math:`|r-1| > \epsilon`), each
    shaped (epochs, minibatches), and ``theta``, the table after the last step. Only entry [0, 0] sees θ = θ_old, so
    only there is r ≡ 1.

    ``recompute_old=True`` reproduces the classic bug: :math:`\log\pi_{old}` recomputed from the *current* θ before
    each step, so r ≡ 1 everywhere, clipping never acts and the update is plain policy gradient.
    """
    _check_count("epochs", epochs)
    _check_count("minibatches", minibatches)
    _check_positive("lr", lr)
    n = batch.states.shape[0]
    if minibatches > n:
        raise ValueError(f"minibatches={minibatches} exceeds the {n} samples in the batch")
    gen = torch.Generator().manual_seed(seed)
    theta = theta_old.detach().clone().requires_grad_(True)
    optimizer = torch.optim.Adam([theta], lr=lr)
    max_dev = torch.zeros(epochs, minibatches, dtype=torch.float64)
    clip_frac = torch.zeros(epochs, minibatches, dtype=torch.float64)
    for epoch in range(epochs):
        order = torch.randperm(n, generator=gen)
        for m, idx in enumerate(order.chunk(minibatches)):
            logp_new = torch.log_softmax(theta, -1)[batch.states[idx], batch.actions[idx]]
            logp_old = logp_new.detach() if recompute_old else batch.logp_old[idx]
            r = ratio(logp_new, logp_old)
            max_dev[epoch, m] = (r.detach() - 1.0).abs().max()
            clip_frac[epoch, m] = clip_fraction(r, clip_eps)
            loss = clipped_loss(logp_new, logp_old, batch.advantages[idx], clip_eps)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return {"max_dev": max_dev, "clip_frac": clip_frac, "theta": theta.detach()}


# ---------------------------------------------------------------------------------------------------------------
# Notebook 04: PPO v1 on a tabular MDP
# ---------------------------------------------------------------------------------------------------------------
def ppo_v1_tabular(
    mdp: TabularMDP,
    controller: DualDescent | AdaptiveBeta,
    iterations: int = 30,
    episodes_per_batch: int = 16,
    epochs: int = 10,
    lr: float = 0.1,
    seed: int = 0,
    theta_init: Tensor | None = None,
    update_every_minibatch: int = 0,
) -> dict[str, Tensor]:
    r"""PPO v1 on a tabular softmax policy (notebook 04). Each iteration:

    1. sample a batch from :math:`\pi_{old}` (:func:`sample_batch`, advantages :math:`G_t - V_{old}(s_t)`);
    2. ``epochs`` full-batch Adam steps on :func:`ppo_lite.objectives.kl_penalty_loss`,
       :math:`-\hat{\mathbb E}[r\hat A] + c\,\hat{\mathbb E}[k_3]` with the controller's current c;
    3. measure :math:`\widehat{\mathrm{KL}} = \hat{\mathbb E}[k_3]` on the batch and call ``controller.update`` once.

    ``update_every_minibatch = M > 0`` instead splits each epoch into M minibatches and updates the controller after
    every minibatch step on that minibatch's noisy KL (what TorchRL PR #1922 warns against).

    Returns per-iteration traces: ``J`` (exact return of the policy *before* the iteration, plus the final one:
    length iterations+1), ``kl`` (the batch estimate the controller saw, last one in an iteration), ``kl_exact``
    (:math:`\sum_s d_{old}(s)\mathrm{KL}(s)/\sum_s d_{old}(s)`), ``coef`` (after the update), ``coef_all`` (every
    value the coefficient took).
    """
    _check_count("iterations", iterations)
    _check_count("episodes_per_batch", episodes_per_batch)
    _check_count("epochs", epochs)
    _check_positive("lr", lr)
    if not (isinstance(update_every_minibatch, int) and update_every_minibatch >= 0):
        raise ValueError(f"update_every_minibatch must be an int >= 0, got {update_every_minibatch!r}")
    gen = torch.Generator().manual_seed(seed)
    theta = (torch.zeros(mdp.num_states, mdp.num_actions, dtype=torch.float64) if theta_init is None else theta_init.detach().clone())
    _check_thetas(mdp, theta_init=theta)
    theta.requires_grad_(True)
    rows: dict[str, list[float]] = {k: [] for k in ("J", "kl", "kl_exact", "coef", "coef_all")}
    for _ in range(iterations):
        theta_old = theta.detach().clone()
        rows["J"].append(mdp.objective(theta_old).item())
        batch = sample_batch(mdp, theta_old, episodes_per_batch, gen)
        optimizer = torch.optim.Adam([theta], lr=lr)
        n = batch.states.shape[0]
        splits = max(1, min(update_every_minibatch, n))
        for _ in range(epochs):
            for idx in torch.randperm(n, generator=gen).chunk(splits):
                logp_new = torch.log_softmax(theta, -1)[batch.states[idx], batch.actions[idx]]
                loss = kl_penalty_loss(logp_new, batch.logp_old[idx], batch.advantages[idx], controller.coef)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                if not torch.isfinite(theta).all():
                    raise FloatingPointError("policy logits became non-finite; lower lr")
                if update_every_minibatch:
                    with torch.no_grad():
                        logp_mb = torch.log_softmax(theta, -1)[batch.states[idx], batch.actions[idx]]
                        kl_mb = kl_k3(logp_mb, batch.logp_old[idx]).mean().item()
                    controller.update(kl_mb)
                    rows["coef_all"].append(float(controller.coef))
        with torch.no_grad():
            logp_new = torch.log_softmax(theta, -1)[batch.states, batch.actions]
            kl_batch = kl_k3(logp_new, batch.logp_old).mean().item()
            d_old = mdp.discounted_visitation(theta_old)
            kl_exact = ((d_old * state_kl(mdp, theta_old, theta.detach())).sum() / d_old.sum()).item()
        if not update_every_minibatch:
            controller.update(kl_batch)
            rows["coef_all"].append(float(controller.coef))
        rows["kl"].append(kl_mb if update_every_minibatch else kl_batch)
        rows["kl_exact"].append(kl_exact)
        rows["coef"].append(float(controller.coef))
    rows["J"].append(mdp.objective(theta.detach()).item())
    return {k: torch.tensor(v, dtype=torch.float64) for k, v in rows.items()}
