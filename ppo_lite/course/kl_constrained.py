r"""PPO v1, the KL-constrained problem (notebook 04): its closed-form optimum, its dual function, the primal-dual
loop on a toy problem and on a tabular MDP, and the KL estimators that loop relies on.

Notation as in notebook 00 §4 and :mod:`ppo_lite.course.surrogate_study` (notebook 03): :math:`\pi_{old}` collected
the data, :math:`\pi_\theta` is the policy being improved, :math:`r_t(\theta) = \pi_\theta(a_t|s_t)/\pi_{old}(a_t|s_t)`;
δ is the KL bound, η the Lagrange multiplier of the constraint (dual descent), β the adaptive rule's coefficient.

- the toy problem :math:`\max_p \mathbb E_p[A]` s.t. :math:`\mathrm{KL}(p\|q) \le \delta` over categoricals, whose
  solution is :math:`p^* \propto q\, e^{A/\eta^*}` (:func:`tilted_distribution`) with :math:`\eta^*` the root of
  :math:`\mathrm{KL}(p_\eta\|q) = \delta` (:func:`constrained_optimum`), and its dual function
  :math:`g(\eta) = \eta\delta + \eta \log \sum_a q_a e^{A_a/\eta}`, :math:`g'(\eta) = \delta - \mathrm{KL}(p_\eta\|q)`
  (:func:`dual_function`, on the notebook's grid :func:`toy_dual_curve`);
- the primal-dual loop on it, with either controller of :mod:`ppo_lite.kl` (:func:`penalized_ascent_toy`; the
  notebook's runs :func:`toy_runs`);
- the KL estimators :math:`k_1, k_2, k_3` compared (:func:`kl_estimator_study`);
- the PPO v1 loop on a tabular MDP (:func:`ppo_v1_tabular`; the notebook's two controllers :func:`ppo_v1_runs`), on
  the sampled batches of :func:`ppo_lite.course.surrogate_study.sample_batch`.

The notebook's settings are the constants below (``TOY_A``, ``MDP_ARGS``, ``V1_LOOP``, ...), shared with
``ppo_lite.course.plots.nb04.save_key_figures`` so that its PNGs are the notebook's figures. Nothing here imports
matplotlib; the figures are in ``ppo_lite.course.plots.nb04``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from ..kl import AdaptiveBeta, DualDescent, kl_k1, kl_k2, kl_k3
from ..objectives import kl_penalty_loss
from ._checks import check_count, check_positive, check_thetas
from .surrogate_study import sample_batch, state_kl
from .tabular import TabularMDP

__all__ = [
    "TOY_A",
    "TOY_Q",
    "TOY_DELTA",
    "TOY_LOOP",
    "TOY_ETA",
    "MDP_ARGS",
    "V1_DELTA",
    "V1_LOOP",
    "V1_ETA",
    "V1_BETA_INIT",
    "KL_SHIFTS",
    "kl_categorical",
    "tilted_distribution",
    "ConstrainedOptimum",
    "constrained_optimum",
    "dual_function",
    "penalized_ascent_toy",
    "kl_estimator_study",
    "ppo_v1_tabular",
    "toy_problem",
    "toy_runs",
    "toy_dual_curve",
    "ppo_v1_runs",
]

# ---------------------------------------------------------------------------------------------------------------
# Notebook 04's settings (its cells and ppo_lite.course.plots.nb04.save_key_figures read them)
# ---------------------------------------------------------------------------------------------------------------
#: The toy problem: advantages A_a and reference distribution q over 5 actions, the KL bound delta.
TOY_A = [1.0, 0.5, 0.0, -0.5, -1.0]
TOY_Q = [0.1, 0.15, 0.3, 0.3, 0.15]
TOY_DELTA = 0.1
#: The toy's primal-dual loop (:func:`penalized_ascent_toy`) and its dual-descent controller (eta_0, alpha_eta).
TOY_LOOP = dict(outer_steps=60, inner_steps=5, inner_lr=1.0)
TOY_ETA = dict(init=0.2, lr=1.0)
#: The tabular MDP of section 3 (the MDP of notebook 03).
MDP_ARGS = dict(num_states=8, num_actions=4, gamma=0.9, seed=0)
#: PPO v1 on it (:func:`ppo_v1_tabular`): the KL bound delta, the loop, dual descent's eta_0 and alpha_eta, adaptive
#: beta's beta_0.
V1_DELTA = 0.02
V1_LOOP = dict(iterations=30, episodes_per_batch=16, epochs=10, lr=0.1, seed=0)
V1_ETA = dict(init=1.0, lr=20.0)
V1_BETA_INIT = 1.0
#: Shifts m of the KL-estimator study (:func:`kl_estimator_study`).
KL_SHIFTS = [0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 2.5, 3.0]


# ---------------------------------------------------------------------------------------------------------------
# Argument checks with clear errors
# ---------------------------------------------------------------------------------------------------------------
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

    Infinite where :math:`p_a > 0 = q_a`. Notebook 04.
    """
    if p.shape != q.shape:
        raise ValueError(f"p and q must have one shape, got {tuple(p.shape)} and {tuple(q.shape)}")
    terms = torch.where(p > 0, p * (torch.log(p) - torch.log(q)), torch.zeros_like(p))
    return terms.sum(-1)


# ---------------------------------------------------------------------------------------------------------------
# The KL-constrained toy problem and its closed form
# ---------------------------------------------------------------------------------------------------------------
def tilted_distribution(advantages: Tensor, q: Tensor, eta: float | Tensor) -> Tensor:
    r"""The maximizer of the Lagrangian :math:`\sum_a p_a A_a - \eta\, \mathrm{KL}(p\|q)` over distributions p:

    .. math:: p_\eta(a) = \frac{q_a\, e^{A_a/\eta}}{\sum_b q_b\, e^{A_b/\eta}}, \qquad \eta > 0

    (set the derivative of the Lagrangian plus :math:`\nu(\sum_a p_a - 1)` to zero, ν the multiplier of the
    normalization). Notebook 04.
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
    check_positive("delta", delta)
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
    check_positive("delta", delta)
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

    .. math:: \theta \leftarrow \theta + \alpha_\theta \nabla_\theta\big[\mathbb E_{p_\theta}[A] - \eta\,\mathrm{KL}(p_\theta\|q)\big]

    (η the controller's current coefficient, β for the adaptive rule); (2) measure :math:`\mathrm{KL}(p_\theta\|q)`
    and let the controller update it: dual descent
    :math:`\eta \leftarrow \max(0, \eta + \alpha_\eta(\mathrm{KL} - \delta))`, or the PPO paper's adaptive β.

    Returns the traces ``p`` (outer_steps+1, A), ``coef``, ``kl``, ``value`` (:math:`\mathbb E_p[A]`), entry 0
    being the start.
    """
    advantages, q = _as_toy_problem(advantages, q)
    check_count("outer_steps", outer_steps)
    check_count("inner_steps", inner_steps)
    check_positive("inner_lr", inner_lr)
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
# KL estimators
# ---------------------------------------------------------------------------------------------------------------
def kl_estimator_study(
    shifts: list[float], n_samples: int = 100, n_repeats: int = 2000, seed: int = 0, family: str = "gaussian"
) -> dict[str, Tensor]:
    r"""Bias and spread of the KL estimators :math:`k_1, k_2, k_3` (:mod:`ppo_lite.kl`) of
    :math:`\mathrm{KL}(\pi_{old}\|\pi_{new})`, with samples drawn from :math:`\pi_{old}` (notebook 04).

    ``family="gaussian"``: :math:`\pi_{old} = \mathcal N(0,1)`, :math:`\pi_{new} = \mathcal N(m,1)`; exact
    :math:`\mathrm{KL} = m^2/2`, and in closed form :math:`\log r = m x - m^2/2`, so
    :math:`\mathbb E[k_2] = \tfrac12(m^2 + m^4/4)`: k2's bias is :math:`m^4/8`.
    ``family="categorical"``: :math:`\pi_{old}` uniform over 4 actions, :math:`\pi_{new} = \mathrm{softmax}(m z)`
    for a fixed logit direction z = (1, 0.5, -0.5, -1); exact KL by :func:`kl_categorical`.

    For each shift m (``shifts``): ``exact``; per estimator k ∈ {k1, k2, k3}: ``{k}_mean`` (mean over all draws, its bias is
    ``{k}_mean - exact``), ``{k}_se`` (standard error of that mean), ``{k}_std`` (per-sample standard deviation),
    ``{k}_batch_std`` (spread of the ``n_samples``-sample batch mean across repeats), ``{k}_min`` (smallest single
    sample: k1 goes negative, k2 and k3 never do); and the exact raw moments ``logr_m2``
    :math:`= \mathbb E_{old}[(\log r)^2]` and ``logr_m4`` :math:`= \mathbb E_{old}[(\log r)^4]` (Gaussian: with
    :math:`\log r \sim \mathcal N(c, s^2)`, :math:`c = -m^2/2`, :math:`s = m`, they are :math:`s^2 + c^2` and
    :math:`c^4 + 6c^2s^2 + 3s^4`; categorical: sums over the 4 actions). To second order in :math:`\log r`
    (notebook 04), :math:`\mathrm{std}(k_1) \approx \sqrt{2\,\mathrm{KL}}` and
    :math:`\mathrm{std}(k_3) \approx \sqrt{\mathrm{kurt} - 1}\,\mathrm{KL}` with the kurtosis of the log-ratio
    :math:`\mathrm{kurt}` = ``logr_m4 / logr_m2**2``.
    """
    if family not in ("gaussian", "categorical"):
        raise ValueError(f"family must be 'gaussian' or 'categorical', got {family!r}")
    check_count("n_samples", n_samples, 2)
    check_count("n_repeats", n_repeats, 2)
    if len(shifts) == 0:
        raise ValueError("shifts must name at least one shift m")
    gen = torch.Generator().manual_seed(seed)
    estimators = {"k1": kl_k1, "k2": kl_k2, "k3": kl_k3}
    rows: dict[str, list[float]] = {"exact": []}
    for name in estimators:
        for stat in ("mean", "se", "std", "batch_std", "min"):
            rows[f"{name}_{stat}"] = []
    rows["logr_m2"], rows["logr_m4"] = [], []
    z = torch.tensor([1.0, 0.5, -0.5, -1.0], dtype=torch.float64)
    for mu in shifts:
        if family == "gaussian":
            x = torch.randn(n_repeats, n_samples, generator=gen, dtype=torch.float64)
            logp_old = -0.5 * x**2
            logp_new = -0.5 * (x - mu) ** 2  # the shared -log sqrt(2 pi) cancels in every estimator
            exact = 0.5 * mu**2
            m, s2 = -0.5 * mu**2, mu**2  # log r = mu x - mu^2/2 ~ N(m, s2)
            m2, m4 = s2 + m**2, m**4 + 6 * m**2 * s2 + 3 * s2**2
        else:
            p_old = torch.full((4,), 0.25, dtype=torch.float64)
            log_new = torch.log_softmax(mu * z, -1)
            a = torch.multinomial(p_old, n_repeats * n_samples, replacement=True, generator=gen).view(n_repeats, n_samples)
            logp_old = torch.log(p_old)[a]
            logp_new = log_new[a]
            exact = kl_categorical(p_old, log_new.exp()).item()
            log_r = log_new - torch.log(p_old)
            m2, m4 = (p_old * log_r**2).sum().item(), (p_old * log_r**4).sum().item()
        rows["exact"].append(exact)
        rows["logr_m2"].append(m2)
        rows["logr_m4"].append(m4)
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
# PPO v1 on a tabular MDP
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
    heldout_episodes: int = 0,
) -> dict[str, Tensor]:
    r"""PPO v1 on a tabular softmax policy (notebook 04, which writes the same loop out in a cell and checks that
    it reproduces this function's traces). Each iteration:

    1. sample a batch from :math:`\pi_{old}` (:func:`sample_batch`, advantages :math:`G_t - V_{old}(s_t)`);
    2. ``epochs`` full-batch Adam steps (a fresh Adam per batch) on :func:`ppo_lite.objectives.kl_penalty_loss`,
       :math:`-\hat{\mathbb E}[r\hat A] + \eta\,\hat{\mathbb E}[k_3]` with the controller's current coefficient
       (η for :class:`~ppo_lite.kl.DualDescent`, β for :class:`~ppo_lite.kl.AdaptiveBeta`);
    3. measure :math:`\widehat{\mathrm{KL}} = \hat{\mathbb E}[k_3]` on the batch and call ``controller.update`` once.

    The PPO paper's penalty (Schulman et al. 2017, eq. 8) and its adaptive rule use the analytic per-state KL
    :math:`\mathrm{KL}[\pi_{old}(\cdot|s_t), \pi_\theta(\cdot|s_t)]`; this loop uses the sample estimator
    :math:`k_3 = (r-1) - \log r` instead (it needs only the log-probabilities of the taken actions, and
    :math:`\mathbb E_{old}[\nabla_\theta k_3] = \nabla_\theta \mathrm{KL}(\pi_{old}\|\pi_\theta)`, notebook 04).

    ``update_every_minibatch = M > 0`` instead splits each epoch into M random minibatches and updates the
    controller after every minibatch step on that minibatch's noisy KL (what TorchRL PR #1922 warns against).

    Returns per-iteration traces: ``J`` (exact return of the policy *before* the iteration, plus the final one:
    length iterations+1), ``kl`` (the batch estimate the controller saw, last one in an iteration), ``kl_states``
    (the analytic :math:`\mathrm{KL}(s_t)` averaged over the batch's states: what eq. 8 would measure),
    ``kl_exact`` (:math:`\sum_s d_{old}(s)\mathrm{KL}(s)/\sum_s d_{old}(s)`), ``coef`` (after the update),
    ``coef_all`` (every value the coefficient took).

    ``heldout_episodes = E > 0`` also records ``kl_heldout``: :math:`\hat{\mathbb E}[k_3]` of the new policy on E
    *fresh* episodes from :math:`\pi_{old}` that the epochs never saw (drawn from a generator of their own, so the
    training trace is the same as without them), an estimate of the KL that in-sample fitting cannot bias.
    """
    check_count("iterations", iterations)
    check_count("episodes_per_batch", episodes_per_batch)
    check_count("epochs", epochs)
    check_positive("lr", lr)
    if not (isinstance(update_every_minibatch, int) and update_every_minibatch >= 0):
        raise ValueError(f"update_every_minibatch must be an int >= 0, got {update_every_minibatch!r}")
    check_count("heldout_episodes", heldout_episodes, 0)
    gen = torch.Generator().manual_seed(seed)
    heldout_gen = torch.Generator().manual_seed(seed + 7_919)  # its own stream: the training samples are unchanged
    theta = (torch.zeros(mdp.num_states, mdp.num_actions, dtype=torch.float64) if theta_init is None else theta_init.detach().clone())
    check_thetas(mdp, theta_init=theta)
    theta.requires_grad_(True)
    keys = ("J", "kl", "kl_states", "kl_exact", "coef", "coef_all") + (("kl_heldout",) if heldout_episodes else ())
    rows: dict[str, list[float]] = {k: [] for k in keys}
    for _ in range(iterations):
        theta_old = theta.detach().clone()
        rows["J"].append(mdp.objective(theta_old).item())
        batch = sample_batch(mdp, theta_old, episodes_per_batch, gen)
        optimizer = torch.optim.Adam([theta], lr=lr)
        n = batch.states.shape[0]
        for _ in range(epochs):
            # Full batch: one step on all samples, in their order (no permutation, so the notebook's loop, which
            # does the same, reproduces this trace bit for bit). Minibatches: a fresh random split per epoch.
            if update_every_minibatch:
                minibatches = list(torch.randperm(n, generator=gen).chunk(min(update_every_minibatch, n)))
            else:
                minibatches = [slice(None)]
            for idx in minibatches:
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
            kl_s = state_kl(mdp, theta_old, theta.detach())
            d_old = mdp.discounted_visitation(theta_old)
            kl_exact = ((d_old * kl_s).sum() / d_old.sum()).item()
            if heldout_episodes:
                fresh = sample_batch(mdp, theta_old, heldout_episodes, heldout_gen)
                logp_fresh = torch.log_softmax(theta, -1)[fresh.states, fresh.actions]
                rows["kl_heldout"].append(kl_k3(logp_fresh, fresh.logp_old).mean().item())
        if not update_every_minibatch:
            controller.update(kl_batch)
            rows["coef_all"].append(float(controller.coef))
        rows["kl"].append(kl_mb if update_every_minibatch else kl_batch)
        rows["kl_states"].append(kl_s[batch.states].mean().item())
        rows["kl_exact"].append(kl_exact)
        rows["coef"].append(float(controller.coef))
    rows["J"].append(mdp.objective(theta.detach()).item())
    return {k: torch.tensor(v, dtype=torch.float64) for k, v in rows.items()}


# ---------------------------------------------------------------------------------------------------------------
# Notebook 04's runs (its cells and ppo_lite.course.plots.nb04.save_key_figures call them)
# ---------------------------------------------------------------------------------------------------------------
def toy_problem() -> tuple[Tensor, Tensor, float]:
    """The toy problem of notebook 04 as float64 tensors: ``(A, q, delta)`` from ``TOY_A``, ``TOY_Q``, ``TOY_DELTA``."""
    return torch.tensor(TOY_A, dtype=torch.float64), torch.tensor(TOY_Q, dtype=torch.float64), TOY_DELTA


def toy_runs() -> tuple[ConstrainedOptimum, dict[str, Tensor], dict[str, Tensor]]:
    """The toy's closed-form optimum (:func:`constrained_optimum`) and its primal-dual loop
    (:func:`penalized_ascent_toy`) with dual descent (``TOY_ETA``) and with adaptive β (β₀ = η₀), settings ``TOY_*``."""
    a, q, delta = toy_problem()
    opt = constrained_optimum(a, q, delta)
    dual = penalized_ascent_toy(a, q, DualDescent(target=delta, **TOY_ETA), **TOY_LOOP)
    beta = penalized_ascent_toy(a, q, AdaptiveBeta(target=delta, init=TOY_ETA["init"]), **TOY_LOOP)
    return opt, dual, beta


def toy_dual_curve() -> tuple[Tensor, Tensor]:
    r"""The toy's dual function :math:`g(\eta)` (:func:`dual_function`) on the grid η = 0.10, 0.11, ..., 6.00 (exact
    grid points k/100): ``(eta, g)``, what notebook 04's figure of the dual draws."""
    a, q, delta = toy_problem()
    eta = torch.arange(10, 601, dtype=torch.float64) / 100
    return eta, dual_function(eta, a, q, delta)


def ppo_v1_runs(mdp: TabularMDP, theta_init: Tensor | None = None) -> dict[str, dict[str, Tensor]]:
    """PPO v1 on ``mdp`` (:func:`ppo_v1_tabular`, settings ``V1_*``) with each controller: ``"dual descent"``
    (:class:`~ppo_lite.kl.DualDescent`, ``V1_ETA``) and ``"adaptive beta"`` (:class:`~ppo_lite.kl.AdaptiveBeta`,
    ``V1_BETA_INIT``)."""
    return {
        "dual descent": ppo_v1_tabular(mdp, DualDescent(target=V1_DELTA, **V1_ETA), theta_init=theta_init, **V1_LOOP),
        "adaptive beta": ppo_v1_tabular(mdp, AdaptiveBeta(target=V1_DELTA, init=V1_BETA_INIT), theta_init=theta_init,
                                        **V1_LOOP),
    }
