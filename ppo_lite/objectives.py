r"""Policy and value losses (notebooks 01, 03, 04, 05). All are *losses*: minimized by gradient descent,
so each is the negative of the objective the notebooks maximize. Inputs are per-sample tensors of one shape;
outputs are sample means: scalars by default, or means over one dimension with ``dim`` (``dim=1`` on ``(K, B)``
tensors gives K agents' losses at once, :mod:`ppo_lite.batched`; coefficients then broadcast, e.g. ``(K, 1)``).

With :math:`r_i(\theta) = \pi_\theta(a_i|s_i)/\pi_{old}(a_i|s_i) = \exp(\log\pi_\theta - \log\pi_{old})`:

===================  ==================================================================================
``pg_loss``          :math:`-\hat{\mathbb E}[\log\pi_\theta(a|s)\, \hat A]`  (REINFORCE / vanilla PG)
``surrogate_loss``   :math:`-\hat{\mathbb E}[r(\theta) \hat A]`  (importance-weighted, no constraint)
``clipped_loss``     :math:`-\hat{\mathbb E}[\min(r \hat A,\ \mathrm{clip}(r, 1-\epsilon, 1+\epsilon) \hat A)]`  (PPO v2)
``kl_penalty_loss``  :math:`-\hat{\mathbb E}[r \hat A] + c\, \widehat{\mathrm{KL}}(\pi_{old}\|\pi_\theta)`  (PPO v1)
``value_loss``       :math:`\tfrac12 \hat{\mathbb E}[(V - \hat R)^2]`, or its clipped (pessimistic) form
``entropy_bonus``    :math:`\hat{\mathbb E}[\mathcal H(\pi_\theta(\cdot|s))]` (subtracted, times a coefficient)
``policy_loss``      the first four by the name of the objective (``PPOConfig.objective``)
``ppo_loss``         the one loss an update minimizes, :math:`L = L^\pi + c_v L^V - c_H\,\hat{\mathbb E}[\mathcal H]`
===================  ==================================================================================

At :math:`\theta = \theta_{old}` (r = 1) the first four have the same gradient, the policy gradient
:math:`-\hat{\mathbb E}[\nabla\log\pi_\theta \hat A]` — the KL estimator used here has zero gradient there too.
"""
from __future__ import annotations

import torch
from torch import Tensor

from .kl import kl_k3

__all__ = [
    "ratio",
    "pg_loss",
    "surrogate_loss",
    "clipped_objective",
    "clipped_loss",
    "kl_penalty_loss",
    "clip_fraction",
    "value_loss",
    "entropy_bonus",
    "policy_loss",
    "ppo_loss",
]


def _mean(x: Tensor, dim: int | None) -> Tensor:
    """The sample mean: over every element (``dim=None``), or over ``dim``."""
    return x.mean() if dim is None else x.mean(dim)


def ratio(logp_new: Tensor, logp_old: Tensor) -> Tensor:
    r"""Importance weight :math:`r = \pi_\theta/\pi_{old} = \exp(\log\pi_\theta - \log\pi_{old})`.

    ``logp_old`` must be stored at rollout time and detached: recomputing it with the current network
    makes r ≡ 1 and clipping never acts (a classic bug, chainerrl PR #430).
    """
    return torch.exp(logp_new - logp_old.detach())


def pg_loss(logp: Tensor, advantages: Tensor, dim: int | None = None) -> Tensor:
    r"""Vanilla policy-gradient loss :math:`-\hat{\mathbb E}[\log\pi_\theta(a|s) \hat A]` (notebook 01)."""
    return -_mean(logp * advantages.detach(), dim)


def surrogate_loss(logp_new: Tensor, logp_old: Tensor, advantages: Tensor, dim: int | None = None) -> Tensor:
    r"""Importance-weighted surrogate :math:`-\hat{\mathbb E}[r(\theta)\hat A]` (CPI objective, notebook 03)."""
    return -_mean(ratio(logp_new, logp_old) * advantages.detach(), dim)


def clipped_objective(r: Tensor, advantages: Tensor, clip_eps: float | Tensor) -> Tensor:
    r"""Per-sample PPO-clip objective :math:`\min(r A, \mathrm{clip}(r, 1-\epsilon, 1+\epsilon) A)` (notebook 05).

    The min makes it a pessimistic (lower) bound of :math:`rA`: for A > 0 it is flat for r > 1+ε, for A < 0 flat
    for r < 1-ε, so samples already moved far enough in the improving direction give zero gradient.
    """
    advantages = advantages.detach()
    return torch.minimum(r * advantages, torch.clamp(r, 1.0 - clip_eps, 1.0 + clip_eps) * advantages)


def clipped_loss(
    logp_new: Tensor, logp_old: Tensor, advantages: Tensor, clip_eps: float | Tensor, dim: int | None = None
) -> Tensor:
    r"""PPO v2 loss :math:`-\hat{\mathbb E}[\min(r \hat A, \mathrm{clip}(r, 1-\epsilon, 1+\epsilon)\hat A)]`."""
    return -_mean(clipped_objective(ratio(logp_new, logp_old), advantages, clip_eps), dim)


def kl_penalty_loss(
    logp_new: Tensor, logp_old: Tensor, advantages: Tensor, coef: float | Tensor, dim: int | None = None
) -> Tensor:
    r"""PPO v1 loss :math:`-\hat{\mathbb E}[r \hat A] + c\, \hat{\mathbb E}[k_3]` (notebook 04).

    ``coef`` is β (adaptive rule) or η (dual descent). :math:`k_3 = (r-1) - \log r` is an unbiased,
    non-negative estimate of :math:`\mathrm{KL}(\pi_{old}\|\pi_\theta)` whose gradient is unbiased too:
    :math:`\nabla \mathbb E_{old}[k_3] = \mathbb E_{old}[\nabla r - \nabla\log\pi_\theta] = \nabla\mathrm{KL}`.
    """
    kl = _mean(kl_k3(logp_new, logp_old.detach()), dim)
    return surrogate_loss(logp_new, logp_old, advantages, dim) + coef * kl


def clip_fraction(r: Tensor, clip_eps: float | Tensor, dim: int | None = None) -> Tensor:
    r"""Fraction of samples with :math:`|r - 1| > \epsilon` (a diagnostic; no gradient)."""
    return _mean(((r.detach() - 1.0).abs() > clip_eps).float(), dim)


def value_loss(
    values: Tensor, returns: Tensor, old_values: Tensor | None = None, clip_eps: float | None = None,
    dim: int | None = None,
) -> Tensor:
    r"""Value regression :math:`\tfrac12 \hat{\mathbb E}[(V_\phi(s) - \hat R)^2]`.

    With ``clip_eps`` (PPO2 baselines' value clipping), the pessimistic form
    :math:`\tfrac12 \hat{\mathbb E}[\max((V - \hat R)^2, (V_{old} + \mathrm{clip}(V - V_{old}, -\epsilon, \epsilon) - \hat R)^2)]`:
    the value may not profit from moving more than ε away from its rollout-time prediction. Whether it helps
    depends on the reward scale (baselines #91); notebook 07 measures it.
    """
    returns = returns.detach()
    unclipped = (values - returns) ** 2
    if clip_eps is None:
        return 0.5 * _mean(unclipped, dim)
    if old_values is None:
        raise ValueError("value clipping needs old_values (the values predicted at rollout time)")
    old_values = old_values.detach()
    clipped = (old_values + torch.clamp(values - old_values, -clip_eps, clip_eps) - returns) ** 2
    return 0.5 * _mean(torch.maximum(unclipped, clipped), dim)


def entropy_bonus(entropy: Tensor, dim: int | None = None) -> Tensor:
    r""":math:`\hat{\mathbb E}[\mathcal H]`; the trainer *subtracts* ``ent_coef`` times this from the loss."""
    return _mean(entropy, dim)


def policy_loss(
    objective: str, logp: Tensor, logp_old: Tensor, adv: Tensor, clip_eps: float | Tensor, kl_coef: Tensor | None,
    dim: int | None = None,
) -> Tensor:
    """The policy loss :math:`L^\\pi` of each objective (the table above); ``dim`` as there."""
    if objective == "clip":
        return clipped_loss(logp, logp_old, adv, clip_eps, dim)
    if objective in ("kl_adaptive", "kl_dual"):
        return kl_penalty_loss(logp, logp_old, adv, kl_coef, dim)
    if objective == "surrogate":
        return surrogate_loss(logp, logp_old, adv, dim)
    if objective == "pg":
        return pg_loss(logp, adv, dim)
    raise ValueError(f"unknown objective {objective!r}")


def ppo_loss(
    objective: str, logp: Tensor, logp_old: Tensor, adv: Tensor, entropy: Tensor, values: Tensor, returns: Tensor,
    old_values: Tensor, *, clip_eps: float | Tensor, vf_coef: float, ent_coef: float | Tensor,
    value_clip_eps: float | None, kl_coef: Tensor | None = None, dim: int | None = None,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    r"""The loss one gradient step of PPO minimizes, and its parts: ``(L, L^pi, L^V, mean entropy)`` with

    .. math:: L = L^\pi + c_v\,L^V - c_H\,\hat{\mathbb E}[\mathcal H]

    (Schulman et al. 2017, eq. 9; notebook 06). The single-agent trainer and the K-agent batched trainer both
    call it (``dim=1`` and ``(K,)`` or ``(K, 1)`` coefficients for K agents). ``value_clip_eps`` None: the plain
    value loss. A ``c_H`` given as the number 0 leaves the entropy out of the graph (same gradient, fewer ops)."""
    pi = policy_loss(objective, logp, logp_old, adv, clip_eps, kl_coef, dim)
    v = value_loss(values, returns, old_values, value_clip_eps, dim)
    ent = entropy_bonus(entropy, dim)
    loss = pi + vf_coef * v
    if isinstance(ent_coef, Tensor) or ent_coef != 0:
        loss = loss - ent_coef * ent
    return loss, pi, v, ent
