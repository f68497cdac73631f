"""Evaluate a trained policy from a checkpoint (``python -m ppo_lite evaluate run.pt``).

Evaluation is deterministic by default (the mode of π: argmax logits / the Gaussian mean). Training curves
report returns of the *stochastic* policy; the two can differ (SB3 #1063), so both are available.
"""
from __future__ import annotations

from pathlib import Path

import torch

from .checkpoint import load_checkpoint
from .config import PPOConfig
from .envs import make_env
from .normalize import ObsNormalizer
from .policies import ActorCritic


def load_policy(path: str | Path, device: str = "cpu") -> tuple[PPOConfig, ActorCritic, ObsNormalizer]:
    """The config, network and observation normalizer stored in a checkpoint."""
    ckpt = load_checkpoint(path)
    config = PPOConfig.from_dict(ckpt["config"])
    net = ckpt["net"]
    agent = ActorCritic(net["obs_dim"], net["act_dim"], net["discrete"], config.hidden, config.activation, False, config.log_std_init)
    try:
        agent.load_state_dict(ckpt["agent"])
    except RuntimeError as exc:
        raise ValueError(f"checkpoint {str(path)!r} does not fit the network its config describes: {exc}") from exc
    obs_norm = ObsNormalizer(net["obs_dim"], config.norm_obs, device=device)
    obs_norm.load_state_dict(ckpt["obs_norm"])
    return config, agent.to(device), obs_norm


@torch.no_grad()
def evaluate(
    path: str | Path,
    episodes: int = 20,
    deterministic: bool = True,
    seed: int = 12345,
    device: str = "cpu",
    backend: str = "auto",
) -> list[float]:
    """Returns of ``episodes`` complete episodes of the checkpoint's policy (each env runs one episode)."""
    if not isinstance(episodes, int) or episodes < 1:
        raise ValueError(f"episodes must be a positive int, got {episodes!r}")
    config, agent, obs_norm = load_policy(path, device)
    env = make_env(config.env_id, episodes, device, backend)
    if (env.obs_dim, env.act_dim) != (agent.obs_dim, agent.act_dim):
        raise ValueError(f"checkpoint {str(path)!r}: network shape does not match {config.env_id}")
    generator = torch.Generator(device=device).manual_seed(seed)
    obs = env.reset(seed=seed)
    returns = torch.full((episodes,), float("nan"))
    finished = torch.zeros(episodes, dtype=torch.bool)
    while not bool(finished.all()):
        action, _ = agent.sample(obs_norm(obs), generator, deterministic=deterministic)
        if not env.is_discrete:
            space = env.single_action_space
            action = torch.clamp(action, torch.as_tensor(space.low, device=device), torch.as_tensor(space.high, device=device))
        obs, _, term, trunc, info = env.step(action)
        done = (term | trunc).cpu() & ~finished
        returns[done] = info["episode_return"].cpu()[done]
        finished |= done
    env.close()
    return returns.tolist()
