"""Evaluate a trained policy from a checkpoint (``python -m ppo_lite evaluate run.pt``).

Evaluation is deterministic by default (the mode of π: argmax logits / the Gaussian mean). Training curves
report returns of the *stochastic* policy; the two can differ (SB3 #1063), so both are available.
"""
from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import torch
from torch import Tensor

from .agent import Agent, load
from .checkpoint import load_checkpoint
from .config import PPOConfig
from .envs import make_env
from .envs.spec import env_id_of
from .normalize import ObsNormalizer
from .policies import ActorCritic

if TYPE_CHECKING:  # annotations only (the trainer imports this module for its periodic evaluations: a Trainer
    # source is written "Trainer" in the annotations below, a name only the docs resolve)
    from .batched import BatchedTrainer
    from .envs import VecEnv


def load_policy(path: str | Path, device: str = "cpu") -> tuple[PPOConfig, ActorCritic, ObsNormalizer]:
    """The config, network and observation normalizer stored in a checkpoint (:func:`ppo_lite.load` gives them as
    one :class:`~ppo_lite.agent.Agent`, which also applies them)."""
    agent = load(path, device=device)
    return agent.config, agent.net, agent.obs_norm


def as_agent(source: "str | Path | Agent | Trainer", env: Any = None, device: str = "cpu") -> Agent:
    """An :class:`~ppo_lite.agent.Agent` from a checkpoint path, an agent, or a trainer (its current policy)."""
    if isinstance(source, Agent):
        return source
    if isinstance(source, (str, Path)):
        return load(source, env=env, device=device)
    if hasattr(source, "agent") and hasattr(source, "obs_norm") and hasattr(source, "config"):
        return Agent.from_trainer(source)
    raise TypeError(f"expected a checkpoint path, a ppo_lite Agent or a Trainer, got {type(source).__name__}")


def one_episode_each(env: "VecEnv", act: Callable[[Tensor], Tensor], seed: int | list[int]) -> Tensor:
    """Reset ``env`` with ``seed`` (a list: one seed per block of envs, :meth:`~ppo_lite.envs.VecEnv.reset_blocks`), then step it with ``act(obs) -> actions`` (Box actions clamped to the action
    space) until every one of its envs has finished one episode; the returns of those episodes (CPU float tensor,
    one per env). The loop of every evaluation here: each env contributes exactly one complete episode."""
    obs = env.reset_blocks(seed) if isinstance(seed, list) else env.reset(seed=seed)
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
    source: "str | Path | Agent | Trainer",
    episodes: int = 20,
    deterministic: bool = True,
    seed: int = 12345,
    device: str = "cpu",
    backend: str = "auto",
    env: Any = None,
) -> list[float]:
    """Returns of ``episodes`` complete episodes of a policy (each env runs one episode): ``source`` is a checkpoint
    path, an :class:`~ppo_lite.agent.Agent` (``ppo_lite.load``) or a :class:`~ppo_lite.trainer.Trainer`.

    ``env``: only for a checkpoint whose env no import can rebuild (a lambda; a class from a script or notebook):
    the same class or factory again. ``seed`` seeds the evaluation envs; keep it apart from the training seeds."""
    if not isinstance(episodes, int) or isinstance(episodes, bool) or episodes < 1:
        raise ValueError(f"episodes must be a positive int, got {episodes!r}")
    agent = as_agent(source, env=env, device=device)
    config = agent.config
    if env is not None and not isinstance(source, (str, Path)):
        config = config.replace(env_id=env_id_of(env))
    venv = make_env(config.env_id, episodes, agent.device, backend, **config.env_kwargs)
    if (venv.obs_dim, venv.act_dim) != (agent.net.obs_dim, agent.net.act_dim):
        venv.close()
        raise ValueError(f"the policy's network shape (obs {agent.net.obs_dim}, actions {agent.net.act_dim}) does "
                         f"not match {config.env_id} (obs {venv.obs_dim}, actions {venv.act_dim})")
    generator = torch.Generator(device=agent.device).manual_seed(seed)
    try:
        returns = one_episode_each(venv, lambda obs: agent.act(obs, deterministic, generator), seed)
    finally:
        venv.close()
    return returns.tolist()


def headless_gl(env_id: str) -> None:
    """Pick an OpenGL backend MuJoCo can render with when there is no display: ``MUJOCO_GL=egl`` (GPU or Mesa's
    EGL), else ``osmesa`` (software); a backend the user set is kept. Other envs render with pygame, in memory."""
    if os.environ.get("MUJOCO_GL") or os.environ.get("DISPLAY") or not _is_mujoco(env_id):
        return
    import ctypes.util

    for backend, library in (("egl", "EGL"), ("osmesa", "OSMesa")):
        if ctypes.util.find_library(library):
            os.environ["MUJOCO_GL"] = backend
            return


def _is_mujoco(env_id: str) -> bool:
    import gymnasium as gym

    spec = gym.registry.get(env_id)
    return spec is not None and str(spec.entry_point).startswith("gymnasium.envs.mujoco")


def record_video_check(source: "str | Path | Agent | Trainer", out: str | Path, env: Any = None) -> None:
    """Render one frame of the policy's env before any episode runs, so that a machine that cannot render says so
    in one line (with the fix) instead of failing after the evaluation. Leaves no ``MUJOCO_LOG.TXT`` behind."""
    from .envs.base import make_gymnasium_env

    if isinstance(source, (str, Path)):
        config = PPOConfig.from_dict(load_checkpoint(source)["config"])
    else:
        config = as_agent(source).config
    env_id = config.env_id if env is None else env_id_of(env)
    headless_gl(env_id)
    log = Path("MUJOCO_LOG.TXT")
    had_log = log.exists()
    probe = make_gymnasium_env(env_id, render_mode="rgb_array", **config.env_kwargs)
    try:
        probe.reset(seed=0)
        probe.render()
    except Exception as exc:  # mujoco.FatalError, pygame errors, ...: one line with what to do
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ValueError(
            f"cannot render {env_id} here ({type(exc).__name__}: {first}); "
            + ("MuJoCo needs an OpenGL backend without a display: install EGL (libegl1) or OSMesa "
               "(libosmesa6) and set MUJOCO_GL=egl or MUJOCO_GL=osmesa" if _is_mujoco(env_id)
               else "check that the env supports render_mode='rgb_array'")
        ) from None
    finally:
        probe.close()
        if log.exists() and not had_log:
            log.unlink()


@torch.no_grad()
def record_video(
    source: "str | Path | Agent | Trainer",
    out: str | Path,
    episodes: int = 1,
    seed: int = 12345,
    deterministic: bool = True,
    fps: int = 30,
    scale: float = 0.5,
    max_frames: int = 1000,
    frame_every: int = 1,
    env: Any = None,
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

    policy = as_agent(source, env=env)  # frames render on the CPU: the network and statistics are copied there
    config, agent = policy.config, copy.deepcopy(policy.net).cpu()
    obs_norm = ObsNormalizer(agent.obs_dim, config.norm_obs)
    obs_norm.load_state_dict(policy.obs_norm.state_dict())
    if env is not None:
        config = config.replace(env_id=env_id_of(env))
    headless_gl(config.env_id)
    env = make_gymnasium_env(config.env_id, render_mode="rgb_array", **config.env_kwargs)
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
    the agents never trained on. Agent k owns envs ``[k·episodes, (k+1)·episodes)``, as in training. With
    per-agent streams (the trainer's ``streams``) every agent plays the same ``episodes`` starts, those a batch of one
    would play, so an agent's score does not depend on its batch-mates; with a shared stream the K·episodes envs
    draw from one.
    """
    if not isinstance(episodes, int) or episodes < 1:
        raise ValueError(f"episodes must be a positive int, got {episodes!r}")
    cfg, K = trainer.config.base, trainer.config.num_agents
    env = make_env(cfg.env_id, K * episodes, trainer.device, cfg.backend, cfg.validate_actions, **cfg.env_kwargs)
    per_agent = trainer.config.streams == "per_agent"
    generator = ([torch.Generator(device=trainer.device).manual_seed(seed) for _ in range(K)] if per_agent
                 else torch.Generator(device=trainer.device).manual_seed(seed))
    try:
        returns = one_episode_each(env, lambda obs: trainer.net.sample(trainer.obs_norm(obs), generator, deterministic=deterministic)[0],
                                   [seed] * K if per_agent else seed)
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
