"""A trained policy, ready to act: ``agent = ppo_lite.load("run.pt"); action = agent.predict(obs)``.

An :class:`Agent` holds what acting needs and nothing else: the config it was trained with, the actor-critic
network, the observation normalizer's statistics (applied to every observation: forgetting them fails silently,
returning a far worse policy), and the action bounds (Box actions are clipped to them, as the trainer's envs do).
Observations go in as numpy arrays, one or a batch; actions come out as numpy arrays in the env's action space.
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from .checkpoint import load_checkpoint
from .config import PPOConfig
from .normalize import ObsNormalizer
from .policies import ActorCritic

__all__ = ["Agent", "load"]


class Agent:
    """A policy with its observation normalizer and action bounds (see the module docstring).

    ``predict(obs, deterministic=True)``: ``obs`` of shape ``(obs_dim,)`` gives one action (an ``int`` for a
    Discrete space, a ``(act_dim,)`` float32 array for a Box one); ``(B, obs_dim)`` gives ``B`` actions. Unlike
    Stable-Baselines3's ``predict``, which returns ``(action, state)``, this returns the action alone.
    """

    def __init__(self, config: PPOConfig, net: ActorCritic, obs_norm: ObsNormalizer,
                 action_low: Tensor | None = None, action_high: Tensor | None = None, seed: int = 0) -> None:
        self.config = config
        self.net = net.eval()
        self.obs_norm = obs_norm
        self.device = next(net.parameters()).device
        if not net.discrete and (action_low is None or action_high is None):
            raise ValueError("an agent with Box actions needs the action bounds (action_low, action_high)")
        self.action_low = None if action_low is None else torch.as_tensor(action_low, dtype=torch.float32, device=self.device)
        self.action_high = None if action_high is None else torch.as_tensor(action_high, dtype=torch.float32, device=self.device)
        self.generator = torch.Generator(device=self.device).manual_seed(seed)  # for deterministic=False

    @property
    def obs_dim(self) -> int:
        return self.net.obs_dim

    @property
    def discrete(self) -> bool:
        return self.net.discrete

    @torch.no_grad()
    def act(self, obs: Tensor, deterministic: bool = True, generator: torch.Generator | None = None) -> Tensor:
        """Actions for a batch of raw observations (a tensor on the agent's device): normalize, take the mode (or
        sample), clip Box actions to the bounds."""
        action, _ = self.net.sample(self.obs_norm(obs), generator or self.generator, deterministic=deterministic)
        if not self.discrete:
            action = torch.clamp(action, self.action_low, self.action_high)
        return action

    def predict(self, obs: Any, deterministic: bool = True) -> Any:
        """The action(s) for ``obs`` (numpy, one observation or a batch; see the class docstring)."""
        x = torch.as_tensor(np.asarray(obs, dtype=np.float32), device=self.device)
        single = x.ndim == 1
        if x.ndim not in (1, 2) or x.shape[-1] != self.obs_dim:
            raise ValueError(f"predict: expected an observation of shape ({self.obs_dim},) or a batch "
                             f"(B, {self.obs_dim}), got shape {tuple(x.shape)}")
        action = self.act(x[None] if single else x, deterministic).cpu().numpy()
        if single:
            return int(action[0]) if self.discrete else action[0]
        return action

    @classmethod
    def from_trainer(cls, trainer: Any) -> "Agent":
        """A :class:`~ppo_lite.trainer.Trainer`'s current policy, copied (later training does not change the agent).
        (Typed ``Any``: the trainer imports this module for its periodic evaluations, not the other way round.)"""
        net = copy.deepcopy(trainer.agent)
        obs_norm = ObsNormalizer(net.obs_dim, trainer.config.norm_obs, device=trainer.device)
        obs_norm.load_state_dict(trainer.obs_norm.state_dict())
        low, high = _bounds(trainer.env.single_action_space)
        return cls(trainer.config, net, obs_norm, low, high)


def _bounds(space: Any) -> tuple[Tensor | None, Tensor | None]:
    if hasattr(space, "low"):
        return torch.as_tensor(space.low, dtype=torch.float32), torch.as_tensor(space.high, dtype=torch.float32)
    return None, None


def load(path: str | Path, env: Any = None, device: str = "cpu") -> Agent:
    """The agent saved in the checkpoint at ``path`` (``train(..., save_path=...)``, ``--save``).

    ``env``: only for a checkpoint whose env no import can rebuild (trained on a lambda, or on a class defined in a
    script or notebook): the same class or factory again. The checkpoint's own env is used otherwise.
    """
    from .envs import make_env

    ckpt = load_checkpoint(path)
    config = PPOConfig.from_dict(ckpt["config"])
    if env is not None:
        from .envs.spec import env_id_of

        config = config.replace(env_id=env_id_of(env))
    shape = ckpt["net"]
    net = ActorCritic(shape["obs_dim"], shape["act_dim"], shape["discrete"], config.hidden, config.activation, False,
                      config.log_std_init)
    try:
        net.load_state_dict(ckpt["agent"])
    except RuntimeError as exc:
        raise ValueError(f"checkpoint {str(path)!r} does not fit the network its config describes: {exc}") from exc
    net = net.to(device)
    obs_norm = ObsNormalizer(shape["obs_dim"], config.norm_obs, device=device)
    obs_norm.load_state_dict(ckpt["obs_norm"])
    low, high = shape.get("action_low"), shape.get("action_high")
    if not shape["discrete"] and low is None:  # checkpoints written before the bounds were stored: ask the env
        probe = make_env(config.env_id, 1, "cpu", config.backend, **config.env_kwargs)
        try:
            low, high = _bounds(probe.single_action_space)
        finally:
            probe.close()
    return Agent(config, net, obs_norm, low, high)
