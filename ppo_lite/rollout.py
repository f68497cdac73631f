r"""Collect a (T, N) rollout from a vector env into tensors (notebook 06).

One call runs ``T`` steps of ``N`` environments with the current policy and stores, for every step ``t``:
observation (normalized with statistics frozen for the whole rollout), action (raw, unclipped: the log-prob
belongs to the sampled action; only the env sees the clipped one), :math:`\log\pi_{old}(a_t|s_t)`, :math:`V(s_t)`,
reward (scaled), ``terminated``, ``truncated``, and the true next observation, so that a time-limit truncation
can bootstrap from :math:`V(s'_{t+1})` rather than from the reset observation that follows it.

Nothing here reads a tensor back to the host: the loop is a fixed number of device ops per step.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from .advantages import gae, lambda_returns
from .envs.base import VecEnv
from .normalize import ObsNormalizer, RewardScaler
from .policies import ActorCritic


@dataclass
class Rollout:
    obs: Tensor  # (T, N, obs_dim), normalized
    actions: Tensor  # (T, N) int64 or (T, N, act_dim)
    logp: Tensor  # (T, N)
    values: Tensor  # (T, N)
    rewards: Tensor  # (T, N), scaled
    terminated: Tensor  # (T, N) bool
    truncated: Tensor  # (T, N) bool
    next_obs: Tensor  # (T, N, obs_dim), normalized true next observation
    raw_obs: Tensor  # (T, N, obs_dim), for the normalizer's statistics
    tracked_returns: Tensor  # (T, N), discounted returns for the reward scaler's statistics
    episode_return: Tensor  # (T, N), return of the episode that ended at (t, n), else 0
    episode_length: Tensor  # (T, N)

    @property
    def dones(self) -> Tensor:
        return self.terminated | self.truncated


@torch.no_grad()
def collect_rollout(
    env: VecEnv,
    agent: ActorCritic,
    obs: Tensor,
    num_steps: int,
    obs_norm: ObsNormalizer,
    reward_scaler: RewardScaler,
    generator: torch.Generator,
) -> tuple[Rollout, Tensor]:
    """Run ``num_steps`` steps from raw observation ``obs``; return the rollout and the last raw observation."""
    T, N, D = num_steps, env.num_envs, env.obs_dim
    dev = obs.device
    buf_obs = torch.empty(T, N, D, device=dev)
    raw_obs = torch.empty(T, N, D, device=dev)
    next_raw = torch.empty(T, N, D, device=dev)
    actions = torch.empty((T, N) if env.is_discrete else (T, N, env.act_dim), dtype=torch.int64 if env.is_discrete else torch.float32, device=dev)
    logp = torch.empty(T, N, device=dev)
    rewards = torch.empty(T, N, device=dev)
    tracked = torch.zeros(T, N, device=dev)  # stays 0 when reward scaling is off
    terminated = torch.empty(T, N, dtype=torch.bool, device=dev)
    truncated = torch.empty(T, N, dtype=torch.bool, device=dev)
    ep_ret = torch.empty(T, N, device=dev)
    ep_len = torch.empty(T, N, dtype=torch.int64, device=dev)
    if not env.is_discrete:
        space = env.single_action_space
        low = torch.as_tensor(space.low, dtype=torch.float32, device=dev)
        high = torch.as_tensor(space.high, dtype=torch.float32, device=dev)

    for t in range(T):
        obs_n = obs_norm(obs)
        action, logp[t] = agent.sample(obs_n, generator)
        actions[t] = action
        # Store the raw Gaussian sample; clip only what the env sees (tianshou #312, CleanRL #240).
        env_action = action if env.is_discrete else torch.clamp(action, low, high)
        next_obs, reward, term, trunc, info = env.step(env_action)
        buf_obs[t] = obs_n
        raw_obs[t] = obs
        next_raw[t] = info["final_obs"]
        if reward_scaler.enabled:  # a switch fixed for the run, not a tensor value: no sync
            tracked[t] = reward_scaler.track(reward, term | trunc)
        rewards[t] = reward_scaler(reward)
        terminated[t], truncated[t] = term, trunc
        ep_ret[t], ep_len[t] = info["episode_return"], info["episode_length"]
        obs = next_obs

    # The critic does not choose actions, so V(s_t) waits for the end: one batched pass instead of one per step.
    values = agent.rollout_values(buf_obs)
    rollout = Rollout(
        obs=buf_obs, actions=actions, logp=logp, values=values, rewards=rewards,
        terminated=terminated, truncated=truncated, next_obs=obs_norm(next_raw), raw_obs=raw_obs,
        tracked_returns=tracked, episode_return=ep_ret, episode_length=ep_len,
    )
    return rollout, obs


@torch.no_grad()
def compute_advantages(rollout: Rollout, agent: ActorCritic, gamma: float, lam: float) -> tuple[Tensor, Tensor]:
    r"""GAE advantages and value targets :math:`\hat R = \hat A + V` for a rollout.

    ``next_values[t] = V(s'_{t+1})`` is computed in one batched pass over the true next observations, so a
    truncated step bootstraps from its final observation and the last step bootstraps the unfinished rollout.
    """
    next_values = agent.rollout_values(rollout.next_obs)
    adv = gae(rollout.rewards, rollout.values, next_values, rollout.terminated, rollout.truncated, gamma, lam)
    return adv, lambda_returns(adv, rollout.values)


def flatten_rollout(rollout: Rollout, advantages: Tensor, returns: Tensor) -> dict[str, Tensor]:
    """The (T, N) rollout and its advantages and value targets as one batch of T·N samples, row-major over (t, n)."""
    T, N = rollout.rewards.shape
    return {
        "obs": rollout.obs.reshape(T * N, -1),
        "actions": rollout.actions.reshape(T * N, *rollout.actions.shape[2:]),
        "logp": rollout.logp.reshape(-1),
        "values": rollout.values.reshape(-1),
        "advantages": advantages.reshape(-1),
        "returns": returns.reshape(-1),
    }
