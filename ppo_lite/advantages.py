"""Returns and advantages over a (T, N) batch of transitions.

Taught in notebook 01 (reward-to-go) and notebook 02 (TD residuals, GAE(λ), termination vs truncation).

Conventions, shared by every function here. Step ``t`` of env ``n`` is the transition
``(s_t, a_t) -> (r_t, s'_{t+1})`` and all tensors are indexed ``[t, n]``:

- ``terminated[t]``: ``s'_{t+1}`` is terminal (the MDP ended). Its value is 0, so nothing is bootstrapped.
- ``truncated[t]``: the episode was cut by a time limit at ``s'_{t+1}``. The MDP did not end, so the target
  bootstraps from ``V(s'_{t+1})``, the value of the *true final observation* that gymnasium hands over at
  autoreset, not the value of the reset observation that follows it.
- ``next_values[t] = V(s'_{t+1})``: the value of the true next observation (the final observation when the
  episode ended at ``t``; ``V(s_{t+1})`` otherwise). At ``t = T-1`` it bootstraps the unfinished rollout.

An episode ends at ``t`` when ``terminated[t] or truncated[t]``; nothing flows backwards across that boundary.
"""
from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["discounted_returns", "reward_to_go", "td_residuals", "gae", "lambda_returns"]


def _check_shapes(**tensors: Tensor) -> None:
    shapes = {name: tuple(t.shape) for name, t in tensors.items()}
    first = next(iter(shapes.values()))
    if len(first) != 2 or any(s != first for s in shapes.values()):
        raise ValueError(f"expected tensors of one (T, N) shape, got {shapes}")


def discounted_returns(rewards: Tensor, dones: Tensor, gamma: float, bootstrap: Tensor | None = None) -> Tensor:
    r"""Discounted return from each step to the end of its episode.

    .. math:: G_t = r_t + \gamma (1 - d_t) G_{t+1}, \qquad G_T = \text{bootstrap} \; (0 \text{ by default})

    ``dones[t]`` marks the last step of an episode. Within one episode of a single env, ``G_t`` is the
    reward-to-go :math:`\hat R_t = \sum_{t' \ge t} \gamma^{t'-t} r_{t'}` of notebook 01.
    """
    _check_shapes(rewards=rewards, dones=dones)
    not_done = 1.0 - dones.to(rewards.dtype)
    out = torch.empty_like(rewards)
    running = torch.zeros_like(rewards[0]) if bootstrap is None else bootstrap.to(rewards.dtype)
    for t in range(rewards.shape[0] - 1, -1, -1):
        running = rewards[t] + gamma * not_done[t] * running
        out[t] = running
    return out


def reward_to_go(rewards: Tensor, gamma: float = 1.0) -> Tensor:
    r"""Reward-to-go of one episode, a 1-D tensor: :math:`\hat R_t = \sum_{t'=t}^{T-1} \gamma^{t'-t} r_{t'}`."""
    if rewards.dim() != 1:
        raise ValueError(f"reward_to_go takes one episode as a 1-D tensor, got shape {tuple(rewards.shape)}")
    dones = torch.zeros_like(rewards)
    return discounted_returns(rewards[:, None], dones[:, None], gamma)[:, 0]


def td_residuals(rewards: Tensor, values: Tensor, next_values: Tensor, terminated: Tensor, gamma: float | Tensor) -> Tensor:
    r"""One-step TD residuals.

    .. math:: \delta_t = r_t + \gamma (1 - \text{term}_t) V(s'_{t+1}) - V(s_t)

    A truncated step bootstraps (``next_values`` holds the value of the true final observation); only
    termination zeroes the next value.
    """
    _check_shapes(rewards=rewards, values=values, next_values=next_values, terminated=terminated)
    not_term = 1.0 - terminated.to(rewards.dtype)
    return rewards + gamma * not_term * next_values - values


def _check_unit_interval(name: str, x: float | Tensor) -> None:
    """Refuse a discount or λ outside [0, 1] (a float, or a tensor of per-env values)."""
    bad = bool(((x < 0) | (x > 1)).any()) if isinstance(x, Tensor) else not 0.0 <= x <= 1.0
    if bad:
        raise ValueError(f"{name} must lie in [0, 1], got {name}={x}")


def gae(
    rewards: Tensor,
    values: Tensor,
    next_values: Tensor,
    terminated: Tensor,
    truncated: Tensor,
    gamma: float | Tensor,
    lam: float | Tensor,
) -> Tensor:
    r"""Generalized advantage estimation, GAE(γ, λ) (Schulman et al. 2016), notebook 02.

    .. math::
        \hat A_t = \delta_t + \gamma \lambda (1 - \text{done}_t) \hat A_{t+1}, \qquad \hat A_T = 0,

    with :math:`\delta_t` from :func:`td_residuals` and :math:`\text{done}_t = \text{term}_t \lor \text{trunc}_t`.
    Equivalently :math:`\hat A_t = \sum_{l \ge 0} (\gamma\lambda)^l \delta_{t+l}` within an episode.
    λ = 0 gives :math:`\delta_t`; λ = 1 gives the discounted return (bootstrapped at the end) minus :math:`V(s_t)`.
    ``gamma`` and ``lam`` are numbers, or (N,) tensors of per-env values (K agents batched as one, :mod:`ppo_lite.batched`).
    """
    _check_unit_interval("gamma", gamma)
    _check_unit_interval("lam", lam)
    deltas = td_residuals(rewards, values, next_values, terminated, gamma)
    _check_shapes(deltas=deltas, truncated=truncated)
    # Precompute the per-step decay so the backward loop is one multiply-add per step.
    done = torch.logical_or(terminated.bool(), truncated.bool())
    decay = gamma * lam * (~done).to(rewards.dtype)
    advantages = torch.empty_like(deltas)
    running = torch.zeros_like(deltas[0])
    for t in range(deltas.shape[0] - 1, -1, -1):
        running = deltas[t] + decay[t] * running
        advantages[t] = running
    return advantages


def lambda_returns(advantages: Tensor, values: Tensor) -> Tensor:
    r"""Value targets for GAE: :math:`\hat R_t = \hat A_t + V(s_t)` (the TD(λ) return)."""
    return advantages + values
