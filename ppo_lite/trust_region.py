r"""Reusing samples and keeping the policy step small: importance weights, the surrogate, its KL lower bound and
the trust region (notebook 03).

Notation. :math:`\pi_{old}` collected the data, :math:`\pi_\theta` is the policy being improved,
:math:`r = \pi_\theta(a|s)/\pi_{old}(a|s)` the importance weight (ratio).

- importance sampling, :math:`\mathbb E_p[f] = \mathbb E_q[w f]` with :math:`w = p/q`; its weights have mean 1 and
  variance :math:`\chi^2(p\|q) = \mathbb E_q[w^2] - 1`, which for :math:`p = \mathcal N(\mu, \sigma^2)`,
  :math:`q = \mathcal N(0, \sigma^2)` is :math:`e^{\mu^2/\sigma^2} - 1` (:func:`gaussian_weight_variance`);
- the exact surrogate on a tabular MDP,
  :math:`L_{old}(\theta) = J(\pi_{old}) + \sum_s \rho_{old}(s) \sum_a \pi_\theta(a|s) A_{old}(s,a)`
  (:func:`exact_surrogate`), whose gradient at :math:`\theta_{old}` is the policy gradient;
- the Kakade–Langford / TRPO lower bound
  :math:`J(\pi) \ge L_{old}(\pi) - \frac{4\epsilon\gamma}{(1-\gamma)^2} \max_s \mathrm{KL}(\pi_{old}\|\pi)(s)`
  with :math:`\epsilon = \max_{s,a} |A_{old}(s,a)|` (:func:`trpo_lower_bound`);
- what many gradient steps on a sampled surrogate do to the true return (:func:`many_surrogate_steps`), the trust
  region as early stopping at :math:`\overline{\mathrm{KL}} \le \delta` (:func:`kl_early_stopping_gain`), and how
  far the ratio drifts from 1 across epochs and minibatches (:func:`ratio_drift`).

Notebook 04's KL-constrained problem, its dual and the tabular PPO v1 loop are in :mod:`ppo_lite.kl_constrained`,
which builds on this module's sampled batches (:func:`sample_batch`), per-state KL (:func:`state_kl`) and argument
checks (:func:`check_positive`, :func:`check_count`, :func:`check_thetas`).

Nothing here imports matplotlib; the figures are in ``ppo_lite.plots.nb03``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from .objectives import clip_fraction, clipped_loss, ratio, surrogate_loss
from .tabular import TabularMDP

__all__ = [
    "check_positive",
    "check_count",
    "check_thetas",
    "gaussian_weight_variance",
    "importance_sampling_study",
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
]


# ---------------------------------------------------------------------------------------------------------------
# Argument checks with clear errors (public: ppo_lite.kl_constrained checks its arguments with them too)
# ---------------------------------------------------------------------------------------------------------------
def check_positive(name: str, value: float) -> None:
    """Raise a ValueError naming ``name`` unless ``value`` is a finite number > 0 (a step size, a KL bound δ)."""
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")


def check_count(name: str, value: int, minimum: int = 1) -> None:
    """Raise a ValueError naming ``name`` unless ``value`` is an int >= ``minimum`` (steps, samples, epochs)."""
    if not (isinstance(value, int) and value >= minimum):
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")


def check_thetas(mdp: TabularMDP, **thetas: Tensor) -> None:
    """Raise a ValueError naming the argument unless each logit table has the shape (S, A) of ``mdp``."""
    for name, theta in thetas.items():
        if tuple(theta.shape) != (mdp.num_states, mdp.num_actions):
            raise ValueError(f"{name} must have shape {(mdp.num_states, mdp.num_actions)}, got {tuple(theta.shape)}")


# ---------------------------------------------------------------------------------------------------------------
# Importance sampling
# ---------------------------------------------------------------------------------------------------------------
def gaussian_weight_variance(shift: float | Tensor, sigma: float = 1.0) -> Tensor:
    r"""Exact variance of the importance weight :math:`w = p/q` under :math:`q`, for
    :math:`p = \mathcal N(\mu, \sigma^2)`, :math:`q = \mathcal N(0, \sigma^2)` (notebook 03):

    .. math:: \mathrm{Var}_q[w] = \mathbb E_q[w^2] - 1 = \chi^2(p\|q) = e^{\mu^2/\sigma^2} - 1.

    (:math:`\mathbb E_q[w^2] = \int p^2/q`, a Gaussian integral.) It grows like :math:`e^{\mu^2}`: doubling the
    distance between the policies squares the blow-up factor.
    """
    check_positive("sigma", sigma)
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
    check_count("n_samples", n_samples, 2)
    check_count("n_repeats", n_repeats, 2)
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
# The surrogate on a tabular MDP (exact J from ppo_lite.tabular)
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
    ``kl_max`` and ``ratio_max`` (the largest :math:`r` in the batch).
    """
    check_thetas(mdp, theta_old=theta_old)
    check_count("steps", steps)
    check_positive("lr", lr)
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
