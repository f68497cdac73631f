r"""Reusing samples and keeping the policy step small (notebook 03): importance weights, the surrogate, its KL lower
bound, many steps on one batch, and the trust region.

Notation (notebook 00 §4). :math:`\pi_{old}` collected the data, :math:`\pi_\theta` is the policy being improved,
:math:`r_t(\theta) = \pi_\theta(a_t|s_t)/\pi_{old}(a_t|s_t)` the importance weight (ratio),
:math:`d_{old}(s) = \sum_t \gamma^t \Pr_{old}(s_t = s)` the unnormalised discounted visitation and
:math:`\bar\rho_{old}` its normalised distribution over the non-terminal states (:func:`state_weights`).

- importance sampling, :math:`\mathbb E_p[f] = \mathbb E_q[w f]` with :math:`w = p/q`; its weights have mean 1 and
  variance :math:`\chi^2(p\|q) = \mathbb E_q[w^2] - 1`, which for :math:`p = \mathcal N(m, \sigma^2)`,
  :math:`q = \mathcal N(0, \sigma^2)` is :math:`e^{m^2/\sigma^2} - 1` (:func:`gaussian_weight_variance`,
  :func:`importance_sampling_study`);
- the exact surrogate on a tabular MDP,
  :math:`L_{old}(\theta) = J(\pi_{old}) + \sum_s d_{old}(s) \sum_a \pi_\theta(a|s) A_{old}(s,a)`
  (:func:`exact_surrogate`), whose gradient at :math:`\theta_{old}` is the policy gradient;
- the Kakade–Langford / TRPO lower bound
  :math:`J(\pi) \ge L_{old}(\pi) - \frac{4A_{max}\gamma}{(1-\gamma)^2} \max_s \mathrm{KL}(\pi_{old}\|\pi)(s)`
  with :math:`A_{max} = \max_{s,a} |A_{old}(s,a)|` (:func:`trpo_lower_bound`, along the gradient
  :func:`bound_along_gradient`);
- the trust region's constraint, the mean KL over :math:`\bar\rho_{old}` (:func:`state_weights`, :func:`mean_kl`);
- what many gradient steps on a sampled surrogate do to the true return (:func:`many_surrogate_steps`,
  :func:`surrogate_step_study`) and, apart from sampling, on the exact one (:func:`exact_surrogate_steps`); the trust
  region as early stopping at :math:`\overline{\mathrm{KL}} \le \delta` (:func:`kl_early_stopping_gain`, and
  :func:`early_stopping_climbs`, whose last step is cut to land on δ), and how far the ratio drifts from 1 across
  epochs and minibatches (:func:`ratio_drift`).

The TRPO step (Fisher matrix, natural gradient, conjugate gradient, line search) is in :mod:`ppo_lite.course.trpo`;
notebook 04's KL-constrained problem in :mod:`ppo_lite.course.kl_constrained`, which builds on this module's sampled
batches (:func:`sample_batch`) and per-state KL (:func:`state_kl`). The notebook's settings are the constants below
(``MDP_ARGS``, ``STUDY``, ...), shared with ``ppo_lite.course.plots.nb03.save_key_figures`` so that its PNGs are the
notebook's figures. Nothing here imports matplotlib.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ..objectives import clip_fraction, clipped_loss, ratio, surrogate_loss
from ._checks import check_count, check_positive, check_thetas
from .tabular import TabularMDP

__all__ = [
    "IS_SHIFTS",
    "MDP_ARGS",
    "PRETRAIN_STEPS",
    "STUDY",
    "DELTAS",
    "BOUND_SCALES",
    "EXACT_CLIMB",
    "gaussian_weight_variance",
    "importance_sampling_study",
    "state_kl",
    "exact_surrogate",
    "trpo_lower_bound",
    "bound_along_gradient",
    "state_weights",
    "mean_kl",
    "SampledBatch",
    "sample_batch",
    "sampled_surrogate",
    "many_surrogate_steps",
    "exact_surrogate_steps",
    "pretrained_theta",
    "surrogate_step_study",
    "kl_early_stopping_gain",
    "early_stopping_climbs",
    "ratio_drift",
]

# ---------------------------------------------------------------------------------------------------------------
# Notebook 03's settings (its cells and ppo_lite.course.plots.nb03.save_key_figures read them)
# ---------------------------------------------------------------------------------------------------------------
#: Shifts m of the importance-sampling study, p = N(m, 1) against q = N(0, 1).
IS_SHIFTS = [0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0]
#: The random tabular MDP of notebooks 03 and 04 (:meth:`TabularMDP.random`).
MDP_ARGS = dict(num_states=8, num_actions=4, gamma=0.9, seed=0)
#: pi_old: this many exact policy-gradient steps from the uniform policy (:func:`pretrained_theta`).
PRETRAIN_STEPS = 5
#: Many steps on one batch's surrogate (:func:`surrogate_step_study`): 8 batches of 16 episodes, 300 steps of 0.5.
STUDY = dict(seeds=list(range(8)), episodes=16, steps=300, lr=0.5)
#: Trust-region radii of the early-stopping study (:func:`early_stopping_climbs`), in nats.
DELTAS = [0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0]
#: Step sizes s along the unit gradient direction at which the TRPO bound is evaluated (:func:`bound_along_gradient`).
BOUND_SCALES = [0.0, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0]
#: Climbing the exact surrogate (:func:`exact_surrogate_steps`).
EXACT_CLIMB = dict(steps=300, lr=0.5)


# ---------------------------------------------------------------------------------------------------------------
# Importance sampling
# ---------------------------------------------------------------------------------------------------------------
def gaussian_weight_variance(shift: float | Tensor, sigma: float = 1.0) -> Tensor:
    r"""Exact variance of the importance weight :math:`w = p/q` under :math:`q`, for
    :math:`p = \mathcal N(m, \sigma^2)`, :math:`q = \mathcal N(0, \sigma^2)` (notebook 03; m is ``shift``):

    .. math:: \mathrm{Var}_q[w] = \mathbb E_q[w^2] - 1 = \chi^2(p\|q) = e^{m^2/\sigma^2} - 1.

    (:math:`\mathbb E_q[w^2] = \int p^2/q`, a Gaussian integral.) It grows like :math:`e^{m^2}`: doubling the
    distance between the policies squares the blow-up factor.
    """
    check_positive("sigma", sigma)
    shift = torch.as_tensor(shift, dtype=torch.float64)
    return torch.expm1(shift**2 / sigma**2)


def importance_sampling_study(
    shifts: list[float], n_samples: int = 1000, n_repeats: int = 200, seed: int = 0
) -> dict[str, Tensor]:
    r"""Estimate :math:`\mathbb E_p[x] = m` for :math:`p = \mathcal N(m, 1)` from samples of
    :math:`q = \mathcal N(0, 1)` with the importance-weighted mean :math:`\frac1n \sum_i w_i x_i` (notebook 03).

    For each shift m, ``n_repeats`` independent estimates from ``n_samples`` draws each. Returns, per shift:
    ``shift``; ``estimate_mean`` and ``estimate_std`` (mean and spread of the estimates; unbiased means
    ``estimate_mean`` ≈ m within ``estimate_std / sqrt(n_repeats)``); ``weight_var`` (the measured variance of w,
    pooled over all draws) beside ``weight_var_exact`` (:func:`gaussian_weight_variance`); ``ess_fraction``, the
    effective sample size :math:`(\sum w)^2 / \sum w^2` divided by n (1 when p = q; small when a few huge weights
    carry the estimate).
    """
    check_count("n_samples", n_samples, 2)
    check_count("n_repeats", n_repeats, 2)
    if len(shifts) == 0:
        raise ValueError("shifts must name at least one shift m")
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
# The surrogate on a tabular MDP (exact J from ppo_lite.course.tabular)
# ---------------------------------------------------------------------------------------------------------------
def state_kl(mdp: TabularMDP, theta_old: Tensor, theta: Tensor) -> Tensor:
    r"""Per-state :math:`\mathrm{KL}(\pi_{old}(\cdot|s)\,\|\,\pi_\theta(\cdot|s))`, shape (S,), 0 on terminal states
    (no action is taken there, so they never count). Notebooks 03, 04."""
    check_thetas(mdp, theta_old=theta_old, theta=theta)
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
    check_thetas(mdp, theta=theta, theta_old=theta_old)
    theta_old = theta_old.detach()
    d_old = mdp.discounted_visitation(theta_old)
    adv_old = mdp.advantages(theta_old)
    return mdp.objective(theta_old) + (d_old[:, None] * torch.softmax(theta, -1) * adv_old).sum()


def trpo_lower_bound(mdp: TabularMDP, theta: Tensor, theta_old: Tensor) -> dict[str, float]:
    r"""The Kakade–Langford / TRPO lower bound (Schulman et al. 2015, Theorem 1 with :math:`D_{TV}^2 \le D_{KL}`):

    .. math:: J(\pi) \ge L_{old}(\pi) - C \max_s \mathrm{KL}(\pi_{old}(\cdot|s)\|\pi(\cdot|s)),
              \qquad C = \frac{4 A_{max} \gamma}{(1-\gamma)^2},\quad A_{max} = \max_{s,a} |A_{old}(s,a)|.

    Returns ``J``, ``L`` (:func:`exact_surrogate`), ``max_kl`` (over non-terminal states), ``C`` and
    ``bound = L - C max_kl``, as floats. Needs γ < 1. Notebook 03.
    """
    if not mdp.gamma < 1.0:
        raise ValueError(f"the TRPO bound needs gamma < 1, got gamma={mdp.gamma}")
    with torch.no_grad():
        a_max = mdp.advantages(theta_old)[~mdp.terminal].abs().max().item()
        C = 4.0 * a_max * mdp.gamma / (1.0 - mdp.gamma) ** 2
        J = mdp.objective(theta).item()
        L = exact_surrogate(mdp, theta, theta_old).item()
        max_kl = state_kl(mdp, theta_old, theta).max().item()
    return {"J": J, "L": L, "max_kl": max_kl, "C": C, "bound": L - C * max_kl}


def bound_along_gradient(mdp: TabularMDP, theta_old: Tensor, scales: list[float]) -> list[dict[str, float]]:
    r""":func:`trpo_lower_bound` at :math:`\theta = \theta_{old} + s\,u` for each step size s in ``scales``, with
    :math:`u = g/\|g\|` the unit exact policy gradient at :math:`\theta_{old}` (notebook 03, section 4)."""
    check_thetas(mdp, theta_old=theta_old)
    if len(scales) == 0:
        raise ValueError("scales must name at least one step size s")
    u = mdp.exact_policy_gradient(theta_old)
    u = u / u.norm()
    return [trpo_lower_bound(mdp, theta_old + s * u, theta_old) for s in scales]


# ---------------------------------------------------------------------------------------------------------------
# The trust region's constraint: the mean KL over the old policy's states
# ---------------------------------------------------------------------------------------------------------------
def state_weights(mdp: TabularMDP, theta_old: Tensor) -> Tensor:
    r"""The normalized discounted visitation :math:`\bar\rho_{old}(s) = d_{old}(s) / \sum_{s'} d_{old}(s')`, shape
    (S,), 0 on terminal states: the state distribution that the *mean* KL and the Fisher matrix average over
    (notebook 03). (:math:`\sum_s d_{old}(s)` is the expected discounted episode length. In a task that never ends it
    is :math:`1/(1-\gamma)` and :math:`\bar\rho_{old} = (1-\gamma)\,d_{old}`, notebook 00's definition; episodes of a
    tabular MDP end at its terminal state, so here the normaliser is the sum itself.)"""
    check_thetas(mdp, theta_old=theta_old)
    d_old = mdp.discounted_visitation(theta_old.detach()) * (~mdp.terminal).to(torch.float64)
    return d_old / d_old.sum()


def mean_kl(mdp: TabularMDP, theta_old: Tensor, theta: Tensor) -> Tensor:
    r"""TRPO's constraint, the mean KL over the old policy's states, exact (notebook 03), differentiable in θ:

    .. math:: \overline{\mathrm{KL}}(\theta_{old}, \theta) = \sum_s \bar\rho_{old}(s)\,
              \mathrm{KL}\big(\pi_{old}(\cdot|s)\,\|\,\pi_\theta(\cdot|s)\big)

    with :math:`\bar\rho_{old}` from :func:`state_weights` (the same mean as ``kl_mean`` of :func:`many_surrogate_steps`).
    """
    return (state_weights(mdp, theta_old) * state_kl(mdp, theta_old.detach(), theta)).sum()


# ---------------------------------------------------------------------------------------------------------------
# Sampled batches, and many steps on one batch's surrogate
# ---------------------------------------------------------------------------------------------------------------
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
    check_thetas(mdp, theta_old=theta_old)
    check_count("num_episodes", num_episodes)
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
    ``kl_max``, ``ratio_max`` (the largest :math:`r` in the batch) and ``ess_fraction``, the effective sample size of
    the batch's ratios as a fraction of its N steps, :math:`(\sum_i r_i)^2 / (N \sum_i r_i^2)` (1 at
    :math:`\theta_{old}`, small when a few large ratios carry :math:`\hat L`); and ``theta``, the table after the
    last step.
    """
    check_thetas(mdp, theta_old=theta_old)
    check_count("steps", steps)
    check_positive("lr", lr)
    theta_old = theta_old.detach()
    d_old = mdp.discounted_visitation(theta_old)
    j_old = mdp.objective(theta_old).item()
    theta = theta_old.clone().requires_grad_(True)
    keys = ("J", "L_hat", "L", "kl_mean", "kl_max", "ratio_max", "ess_fraction")
    rows: dict[str, list[float]] = {k: [] for k in keys}

    def record(l_hat: Tensor) -> None:
        with torch.no_grad():
            kl = state_kl(mdp, theta_old, theta)
            rows["J"].append(mdp.objective(theta).item())
            rows["L_hat"].append(j_old + l_hat.item())
            rows["L"].append(exact_surrogate(mdp, theta, theta_old).item())
            rows["kl_mean"].append(((d_old * kl).sum() / d_old.sum()).item())
            rows["kl_max"].append(kl.max().item())
            logp = torch.log_softmax(theta, -1)[batch.states, batch.actions]
            r = ratio(logp, batch.logp_old)
            rows["ratio_max"].append(r.max().item())
            rows["ess_fraction"].append((r.sum() ** 2 / (r.numel() * (r**2).sum())).item())

    for _ in range(steps):
        l_hat = sampled_surrogate(batch, theta)
        record(l_hat)
        (grad,) = torch.autograd.grad(l_hat, theta)
        with torch.no_grad():
            theta += lr * grad
    record(sampled_surrogate(batch, theta))
    out = {k: torch.tensor(v, dtype=torch.float64) for k, v in rows.items()}
    out["theta"] = theta.detach()
    return out


def exact_surrogate_steps(mdp: TabularMDP, theta_old: Tensor, steps: int = 300, lr: float = 0.5) -> dict[str, Tensor]:
    r"""Plain gradient ascent on the *exact* surrogate, :math:`\theta \leftarrow \theta + \alpha\nabla L_{old}(\theta)`:
    no sampling, so whatever goes wrong is the surrogate's own model error, :math:`J - L_{old}` (notebook 03).

    Returns traces of length steps+1 (entry 0 = :math:`\theta_{old}`): ``J``, ``L`` (:func:`exact_surrogate`),
    ``kl_mean`` (:func:`mean_kl`), ``kl_max`` and ``min_state_gain``
    :math:`= \min_{s \notin \mathcal T} \sum_a \pi_\theta(a|s) A_{old}(s,a)`: when it is :math:`\ge 0`, the policy
    improvement theorem gives :math:`J(\theta) \ge J(\theta_{old})`.
    """
    check_thetas(mdp, theta_old=theta_old)
    check_count("steps", steps)
    check_positive("lr", lr)
    theta_old = theta_old.detach()
    adv_old = mdp.advantages(theta_old)
    rows: dict[str, list[float]] = {k: [] for k in ("J", "L", "kl_mean", "kl_max", "min_state_gain")}
    theta = theta_old.clone()
    for step in range(steps + 1):
        theta_var = theta.clone().requires_grad_(True)
        surrogate = exact_surrogate(mdp, theta_var, theta_old)
        (grad,) = torch.autograd.grad(surrogate, theta_var)
        with torch.no_grad():
            rows["J"].append(mdp.objective(theta).item())
            rows["L"].append(surrogate.item())
            rows["kl_mean"].append(mean_kl(mdp, theta_old, theta).item())
            rows["kl_max"].append(state_kl(mdp, theta_old, theta).max().item())
            rows["min_state_gain"].append((mdp.policy(theta) * adv_old).sum(-1)[~mdp.terminal].min().item())
        if step < steps:
            theta = theta + lr * grad
    return {k: torch.tensor(v, dtype=torch.float64) for k, v in rows.items()}


def pretrained_theta(mdp: TabularMDP, steps: int, lr: float = 1.0) -> Tensor:
    r"""Logits after ``steps`` exact policy-gradient steps :math:`\theta \leftarrow \theta + \alpha\nabla J` from
    the uniform policy θ = 0: a reasonable but unfinished :math:`\pi_{old}` for the experiments of notebooks 03/04."""
    check_count("steps", steps, 0)
    check_positive("lr", lr)
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
            check_positive("delta", delta)
            inside = torch.nonzero(tr["kl_mean"] <= delta).flatten()
            stop = int(inside.max())  # step 0 has KL 0, so there is always one
            gains[i, j] = tr["J"][stop] - tr["J"][0]
    return gains


def early_stopping_climbs(
    mdp: TabularMDP, theta_old: Tensor, seeds: list[int], deltas: list[float], episodes: int = 16, steps: int = 300,
    lr: float = 0.5, tol: float = 1e-9,
) -> dict[str, Tensor]:
    r"""The trust region as early stopping, with steps that can stay inside δ (notebook 03).

    On the batch of each seed (the batches of :func:`surrogate_step_study`), climb the sampled surrogate with the same
    plain steps :math:`\theta \leftarrow \theta + \alpha\nabla\hat L(\theta)`, and for each δ stop at the first step
    that would take the exact mean KL :math:`\overline{\mathrm{KL}}(\pi_{old}\|\pi_\theta)` past δ — but take that
    step cut short, by bisection on its length, so that it lands on :math:`\overline{\mathrm{KL}} = \delta` (within
    ``tol`` δ). :func:`kl_early_stopping_gain` stops at the last *full* step inside δ instead, and where the first
    full step already exceeds δ it takes no step at all (a gain of exactly 0 that says nothing about the trust region).

    Returns, shaped (len(deltas), len(seeds)): ``gain`` (:math:`J(\theta_{stop}) - J(\theta_{old})`), ``kl`` (the
    mean KL at the stop), ``full_steps`` (how many whole steps were taken before the cut one: 0 is where
    :func:`kl_early_stopping_gain` takes no step) and ``gain_full_steps`` (that function's gain, on the same path).
    A path that stays inside δ for all ``steps`` steps stops at the last one.
    """
    check_thetas(mdp, theta_old=theta_old)
    check_count("steps", steps)
    check_positive("lr", lr)
    if len(seeds) == 0 or len(deltas) == 0:
        raise ValueError("need at least one seed and one delta")
    for delta in deltas:
        check_positive("delta", delta)
    theta_old = theta_old.detach()
    weights = state_weights(mdp, theta_old)
    j_old = mdp.objective(theta_old).item()

    def kl_of(theta: Tensor) -> float:
        return (weights * state_kl(mdp, theta_old, theta)).sum().item()

    out = {k: torch.zeros(len(deltas), len(seeds), dtype=torch.float64)
           for k in ("gain", "kl", "full_steps", "gain_full_steps")}
    for j, seed in enumerate(seeds):
        batch = sample_batch(mdp, theta_old, episodes, torch.Generator().manual_seed(seed))
        path, kls = [theta_old.clone()], [0.0]
        theta = theta_old.clone().requires_grad_(True)
        for _ in range(steps):  # the path of many_surrogate_steps, every step kept
            (grad,) = torch.autograd.grad(sampled_surrogate(batch, theta), theta)
            with torch.no_grad():
                theta += lr * grad
            path.append(theta.detach().clone())
            kls.append(kl_of(path[-1]))
            if kls[-1] > max(deltas):
                break
        kl_path = torch.tensor(kls, dtype=torch.float64)
        for i, delta in enumerate(deltas):
            beyond = torch.nonzero(kl_path > delta).flatten()
            if len(beyond) == 0:  # inside delta for the whole climb
                k, stop = len(path) - 1, path[-1]
            else:
                k = int(beyond[0]) - 1  # path[k] is inside delta, path[k + 1] is not
                lo, hi = 0.0, 1.0
                while (hi - lo) > 1e-15:
                    mid = 0.5 * (lo + hi)
                    kl_mid = kl_of(path[k] + mid * (path[k + 1] - path[k]))
                    if abs(kl_mid - delta) <= tol * delta:
                        lo = hi = mid
                    elif kl_mid > delta:
                        hi = mid
                    else:
                        lo = mid
                stop = path[k] + lo * (path[k + 1] - path[k])
            out["gain"][i, j] = mdp.objective(stop).item() - j_old
            out["kl"][i, j] = kl_of(stop)
            out["full_steps"][i, j] = k
            out["gain_full_steps"][i, j] = mdp.objective(path[k]).item() - j_old
    return out


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
    check_count("epochs", epochs)
    check_count("minibatches", minibatches)
    check_positive("lr", lr)
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
