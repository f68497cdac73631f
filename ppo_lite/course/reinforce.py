r"""REINFORCE with reward-to-go on a gymnasium environment (notebook 01).

One update from a batch of :math:`E` complete episodes:

.. math:: \hat g = \frac{1}{N}\sum_{e}\sum_{t} \nabla_\theta\log\pi_\theta(a^e_t|s^e_t)\,\hat A^e_t, \qquad
          \hat A^e_t = \frac{\hat R^e_t - m}{s}, \quad \hat R^e_t = \sum_{t'\ge t}\gamma^{t'-t} r^e_{t'},

with :math:`N` the number of steps in the batch and :math:`m, s` the batch mean and standard deviation of the
reward-to-go. Dividing by :math:`s` only rescales the step. Subtracting :math:`m` is *not* a state baseline: the
batch mean depends on every return of the batch, the sample's own included, so it is correlated with the sample's
action and adds a bias of order :math:`1/N` (a state baseline adds none, by :math:`\mathbb E[\nabla\log\pi] = 0`;
notebook 02, section 6, says the same of advantage normalization). As in all deep-RL code, the :math:`\gamma^t` factor of the exact
discounted gradient is dropped (notebook 01 shows it on the tabular MDP). Time-limit truncation is not
bootstrapped here: the reward-to-go of a truncated episode stops at the limit (notebook 02 measures what that costs).

Notebook 01's run is :data:`REINFORCE_ARGS`; :func:`random_policy_return` is the return it is compared with.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import gymnasium as gym
import torch
from torch import Tensor

from ..advantages import reward_to_go
from ..envs.base import make_gymnasium_env
from ..normalize import normalize_advantages
from ..objectives import pg_loss
from ..policies import ActorCritic

__all__ = ["REINFORCE_ARGS", "Episode", "ReinforceHistory", "run_episode", "evaluate", "train_reinforce",
           "random_policy_return"]

# Notebook 01's run (section 11): 16 updates of 8 CartPole-v1 episodes.
REINFORCE_ARGS = dict(num_updates=16, episodes_per_update=8, lr=2e-2, hidden=(32,), seed=0)


@dataclass
class Episode:
    """One complete episode: observations (T, obs_dim) float32, actions (T,), rewards (T,) float32."""

    observations: Tensor
    actions: Tensor
    rewards: Tensor
    truncated: bool

    @property
    def total_reward(self) -> float:
        return float(self.rewards.sum())


@dataclass
class ReinforceHistory:
    """Per update: mean undiscounted return of the batch's episodes and environment steps so far."""

    mean_return: list[float] = field(default_factory=list)
    env_steps: list[int] = field(default_factory=list)


def run_episode(
    env: gym.Env, model: ActorCritic, generator: torch.Generator, deterministic: bool = False, seed: int | None = None
) -> Episode:
    """Play one episode of ``model``'s policy in ``env`` (sampled actions, or the mode if ``deterministic``)."""
    obs, _ = env.reset(seed=seed)
    observations, actions, rewards = [], [], []
    while True:
        obs_t = torch.as_tensor(obs, dtype=torch.float32)
        action, _ = model.sample(obs_t, generator=generator, deterministic=deterministic)
        obs_next, reward, terminated, truncated, _ = env.step(int(action))
        observations.append(obs_t)
        actions.append(action)
        rewards.append(float(reward))
        obs = obs_next
        if terminated or truncated:
            return Episode(torch.stack(observations), torch.stack(actions), torch.tensor(rewards), bool(truncated))


def evaluate(env: gym.Env, model: ActorCritic, episodes: int, seed: int, deterministic: bool) -> list[float]:
    """Undiscounted returns of ``episodes`` episodes, sampled (``deterministic=False``) or greedy (``True``)."""
    gen = torch.Generator().manual_seed(seed)
    return [run_episode(env, model, gen, deterministic, seed=seed + i).total_reward for i in range(episodes)]


def train_reinforce(
    env_id: str = "CartPole-v1",
    num_updates: int = 40,
    episodes_per_update: int = 8,
    gamma: float = 0.99,
    lr: float = 1e-2,
    hidden: tuple[int, ...] = (32,),
    seed: int = 0,
) -> tuple[ActorCritic, ReinforceHistory]:
    r"""Train a categorical policy with REINFORCE (normalized reward-to-go, loss :func:`pg_loss`, Adam).

    Only the actor of :class:`ActorCritic` is trained; the critic is unused (notebook 02 brings it in).
    Raises on a non-finite loss rather than training on.
    """
    if num_updates < 1 or episodes_per_update < 1:
        raise ValueError(f"num_updates and episodes_per_update must be >= 1, got {num_updates}, {episodes_per_update}")
    if not 0.0 <= gamma <= 1.0 or not lr > 0.0:
        raise ValueError(f"need gamma in [0, 1] and lr > 0, got gamma={gamma}, lr={lr}")
    env = make_gymnasium_env(env_id)
    if not isinstance(env.action_space, gym.spaces.Discrete):
        raise ValueError(f"train_reinforce needs a Discrete action space, {env_id} has {env.action_space}")
    torch.manual_seed(seed)
    model = ActorCritic(env.observation_space.shape[0], int(env.action_space.n), discrete=True, hidden=hidden)
    optimizer = torch.optim.Adam(model.actor.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    env.reset(seed=seed)
    env.action_space.seed(seed)
    history, steps = ReinforceHistory(), 0
    for _ in range(num_updates):
        batch = [run_episode(env, model, gen) for _ in range(episodes_per_update)]
        obs = torch.cat([ep.observations for ep in batch])
        actions = torch.cat([ep.actions for ep in batch])
        returns = torch.cat([reward_to_go(ep.rewards, gamma) for ep in batch])
        advantages = normalize_advantages(returns)  # the trainer's per-batch normalization
        logp, _ = model.log_prob_entropy(obs, actions)
        loss = pg_loss(logp, advantages)
        if not math.isfinite(loss.item()):
            raise FloatingPointError(f"non-finite policy loss {loss.item()} after {steps} env steps")
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        steps += len(actions)
        history.mean_return.append(sum(ep.total_reward for ep in batch) / len(batch))
        history.env_steps.append(steps)
    env.close()
    return model, history


def random_policy_return(env_id: str = "CartPole-v1", episodes: int = 20, seed: int = 1000) -> float:
    """Mean return of an untrained (near-uniform: policy head gain 0.01) :class:`ActorCritic` over ``episodes``
    sampled episodes of ``env_id`` (a Discrete-action env); the torch seed ``seed`` draws its weights."""
    env = make_gymnasium_env(env_id)
    if not isinstance(env.action_space, gym.spaces.Discrete):
        raise ValueError(f"random_policy_return needs a Discrete action space, {env_id} has {env.action_space}")
    torch.manual_seed(seed)
    model = ActorCritic(env.observation_space.shape[0], int(env.action_space.n), discrete=True)
    returns = evaluate(env, model, episodes, seed, deterministic=False)
    env.close()
    return sum(returns) / len(returns)
