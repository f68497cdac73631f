"""Evaluate a trained policy from a checkpoint (``python -m ppo_lite evaluate run.pt``).

Evaluation is deterministic by default (the mode of π: argmax logits / the Gaussian mean). Training curves
report returns of the *stochastic* policy; the two can differ (SB3 #1063), so both are available.
"""
from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import torch
from torch import Tensor

from .checkpoint import load_checkpoint
from .config import PPOConfig
from .envs import make_env
from .normalize import ObsNormalizer
from .policies import ActorCritic

if TYPE_CHECKING:  # annotations only: the trainers do not import this module
    from .batched import BatchedTrainer
    from .envs import VecEnv
    from .trainer import Trainer


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


def one_episode_each(env: "VecEnv", act: Callable[[Tensor], Tensor], seed: int) -> Tensor:
    """Reset ``env`` with ``seed``, then step it with ``act(obs) -> actions`` (Box actions clamped to the action
    space) until every one of its envs has finished one episode; the returns of those episodes (CPU float tensor,
    one per env). The loop of every evaluation here: each env contributes exactly one complete episode."""
    obs = env.reset(seed=seed)
    n = env.num_envs
    returns = torch.full((n,), float("nan"))
    finished = torch.zeros(n, dtype=torch.bool)
    if not env.is_discrete:
        space = env.single_action_space
        low, high = torch.as_tensor(space.low, device=obs.device), torch.as_tensor(space.high, device=obs.device)
    while not bool(finished.all()):
        action = act(obs)
        if not env.is_discrete:
            action = torch.clamp(action, low, high)
        obs, _, term, trunc, info = env.step(action)
        done = (term | trunc).cpu() & ~finished
        returns[done] = info["episode_return"].float().cpu()[done]
        finished |= done
    return returns


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
    try:
        returns = one_episode_each(env, lambda obs: agent.sample(obs_norm(obs), generator, deterministic=deterministic)[0], seed)
    finally:
        env.close()
    return returns.tolist()


@torch.no_grad()
def record_video(
    source: "str | Path | Trainer",
    out: str | Path,
    episodes: int = 1,
    seed: int = 12345,
    deterministic: bool = True,
    fps: int = 30,
    scale: float = 0.5,
    max_frames: int = 1000,
    frame_every: int = 1,
) -> dict[str, float]:
    """Record ``episodes`` episodes of a policy into ``out`` (``.gif`` or ``.mp4``), headless. ``source`` is a
    checkpoint path, or a :class:`~ppo_lite.trainer.Trainer` (its current network and observation statistics).

    The frames come from gymnasium's own renderer (``render_mode="rgb_array"``: pygame surfaces, no display). The
    episodes run in gymnasium's env of the same id, whose dynamics the torch-native envs reproduce step by step
    (``tests/test_envs.py``), so an agent trained on the torch backend is shown as it behaves. Frames are scaled by
    ``scale``, every ``frame_every``-th step is kept, and at most ``max_frames`` are, so that a GIF stays small. Returns the episodes' returns
    summary and the file size.
    """
    out = Path(out)
    if out.suffix.lower() not in (".gif", ".mp4"):
        raise ValueError(f"video path must end in .gif or .mp4, got {str(out)!r}")
    if not isinstance(episodes, int) or episodes < 1:
        raise ValueError(f"episodes must be a positive int, got {episodes!r}")
    if not 0.05 <= scale <= 1.0 or fps < 1 or max_frames < 1 or frame_every < 1:
        raise ValueError(f"need 0.05 <= scale <= 1 and fps, max_frames, frame_every >= 1; got scale={scale}, fps={fps}, "
                         f"max_frames={max_frames}, frame_every={frame_every}")
    # pygame draws into memory surfaces: no display and no audio device is needed (or looked for).
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    import imageio.v2 as imageio
    import numpy as np
    from PIL import Image

    from .envs.base import make_gymnasium_env

    if isinstance(source, (str, Path)):
        config, agent, obs_norm = load_policy(source)
    else:  # a Trainer: its network and its observation statistics, copied to the CPU
        config = source.config
        agent = copy.deepcopy(source.agent).cpu()
        obs_norm = ObsNormalizer(agent.obs_dim, config.norm_obs)
        obs_norm.load_state_dict(source.obs_norm.state_dict())
    env = make_gymnasium_env(config.env_id, render_mode="rgb_array")
    generator = torch.Generator().manual_seed(seed)
    frames, returns = [], []

    def frame() -> np.ndarray:
        image = Image.fromarray(env.render())
        size = (max(2, int(image.width * scale) // 2 * 2), max(2, int(image.height * scale) // 2 * 2))  # even: for mp4
        return np.asarray(image.resize(size, Image.BILINEAR))

    try:
        for k in range(episodes):
            obs, _ = env.reset(seed=seed + k)
            frames.append(frame())
            total, done, step = 0.0, False, 0
            while not done:
                obs_t = obs_norm(torch.as_tensor(np.asarray(obs), dtype=torch.float32)[None])
                action, _ = agent.sample(obs_t, generator, deterministic=deterministic)
                if agent.discrete:
                    act = int(action[0])
                else:
                    space = env.action_space
                    act = np.clip(action[0].numpy(), space.low, space.high)
                obs, reward, terminated, truncated, _ = env.step(act)
                total += float(reward)
                done = terminated or truncated
                step += 1
                if len(frames) < max_frames and (step % frame_every == 0 or done):
                    frames.append(frame())
            returns.append(total)
    finally:
        env.close()
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".gif":
        imageio.mimsave(out, frames, duration=1000 / fps, loop=0)
    else:
        try:
            imageio.mimsave(out, frames, fps=fps, macro_block_size=2)
        except (ImportError, ValueError, RuntimeError) as exc:
            raise ValueError(f"writing {str(out)!r} needs imageio-ffmpeg ({exc}); pip install imageio-ffmpeg, or use .gif") from None
    return {"frames": len(frames), "mean_return": sum(returns) / len(returns), "bytes": out.stat().st_size}


@torch.no_grad()
def evaluate_agents(trainer: "BatchedTrainer", episodes: int = 10, seed: int = 1_000_000, deterministic: bool = True) -> list[list[float]]:
    """Returns of ``episodes`` complete evaluation episodes for each of a batched trainer's K agents (one list per
    agent), all K·episodes episodes stepped as one vector env (notebooks 07 and 09 score sweeps with it).

    Deterministic by default (the mode of each agent's policy), each agent with its own observation statistics;
    ``seed`` seeds the evaluation envs and should differ from every training seed, so the scores are of episodes
    the agents never trained on. Agent k owns envs ``[k·episodes, (k+1)·episodes)``, as in training.
    """
    if not isinstance(episodes, int) or episodes < 1:
        raise ValueError(f"episodes must be a positive int, got {episodes!r}")
    cfg, K = trainer.config.base, trainer.config.num_agents
    env = make_env(cfg.env_id, K * episodes, trainer.device, cfg.backend, cfg.validate_actions)
    generator = torch.Generator(device=trainer.device).manual_seed(seed)
    try:
        returns = one_episode_each(env, lambda obs: trainer.net.sample(trainer.obs_norm(obs), generator, deterministic=deterministic)[0], seed)
    finally:
        env.close()
    return returns.reshape(K, episodes).tolist()


@torch.no_grad()
def random_policy_returns(env_id: str, episodes: int = 100, seed: int = 2_000_000, backend: str = "auto") -> list[float]:
    """Returns of ``episodes`` complete episodes of the uniform random policy (each action drawn uniformly from the
    action space: a category for Discrete, a point of the box for Box). The zero of a normalized score
    (:mod:`ppo_lite.experiments.sweep`: :math:`(R - R_{random}) / (R_{solved} - R_{random})`), as rliable normalizes Atari by
    a random agent."""
    if not isinstance(episodes, int) or episodes < 1:
        raise ValueError(f"episodes must be a positive int, got {episodes!r}")
    env = make_env(env_id, episodes, "cpu", backend)
    generator = torch.Generator().manual_seed(seed)

    def uniform(obs: Tensor) -> Tensor:
        if env.is_discrete:
            return torch.randint(0, env.act_dim, (episodes,), generator=generator)
        space = env.single_action_space
        low, high = torch.as_tensor(space.low), torch.as_tensor(space.high)
        return low + (high - low) * torch.rand((episodes, env.act_dim), generator=generator)

    try:
        returns = one_episode_each(env, uniform, seed)
    finally:
        env.close()
    return returns.tolist()
