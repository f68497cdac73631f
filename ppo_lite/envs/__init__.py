"""Vector environments for ppo_lite: torch-native classic control and any gymnasium id.

``make_env(env_id, num_envs, device, backend)``: ``backend="torch"`` uses the batched-tensor implementation
in :mod:`ppo_lite.envs.classic` (CartPole-v1, Acrobot-v1, MountainCar-v0, MountainCarContinuous-v0,
Pendulum-v1) and :mod:`ppo_lite.envs.deep_sea` (``DeepSea{N}-v0``, no gymnasium counterpart); ``"gymnasium"`` wraps gymnasium's own env; ``"auto"`` takes torch where it exists.
"""
from __future__ import annotations

from typing import Any

import gymnasium as gym
import torch

from .base import VecEnv, check_action_values, check_actions, check_spaces
from .deep_sea import DeepSea, deep_sea_id, deep_sea_size
from .gym_adapter import GymVecEnv
from .spec import check_gym_id, env_id_of

BACKENDS = ("auto", "torch", "gymnasium")


def torch_env_ids() -> tuple[str, ...]:
    """Env ids with a torch-native implementation."""
    try:
        from .classic import TORCH_ENVS
    except ImportError:
        return ()
    return tuple(TORCH_ENVS)


def check_env_id(env_id: str) -> None:
    """Raise a one-line ``ValueError`` for an env ppo_lite cannot make: an id gymnasium does not know (with the
    closest ids, or the versions that exist), a ``module:Name`` that does not import (:mod:`ppo_lite.envs.spec`)."""
    if not isinstance(env_id, str):
        raise ValueError(f"env_id must be a string, got {type(env_id).__name__} {env_id!r}; to train on your own env "
                         "class or factory, pass it to PPOConfig.for_env(...) or train(...), which record it")
    if env_id in torch_env_ids() or deep_sea_size(env_id) is not None:
        return
    check_gym_id(env_id)


def make_env(
    env_id: str, num_envs: int, device: torch.device | str = "cpu", backend: str = "auto",
    validate_actions: bool | None = None, **kwargs: Any,
) -> VecEnv:
    """Make ``num_envs`` copies of ``env_id`` as one :class:`VecEnv` on ``device``.

    ``validate_actions``: check action values (range, finiteness) on every step, for either backend; ``None`` takes
    the env's default (on for gymnasium envs and for torch-native envs on the CPU, off on CUDA, where it syncs).
    Other keyword arguments go to the env (``gymnasium.make_vec`` for the gymnasium backend; with any, ``auto``
    takes gymnasium's env, whose constructor reads them). ``env_id`` may name your own env (``module:Name``, see
    :mod:`ppo_lite.envs.spec`).
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if not isinstance(num_envs, int) or num_envs < 1:
        raise ValueError(f"num_envs must be a positive int, got {num_envs!r}")
    check_env_id(env_id)
    size = deep_sea_size(env_id)
    if size is not None:
        if backend == "gymnasium":
            raise ValueError(f"{env_id!r} exists only as a torch env (ppo_lite.envs.deep_sea); use backend='torch' or 'auto'")
        return DeepSea(size, num_envs=num_envs, device=device, validate_actions=validate_actions, **kwargs)
    # env kwargs configure gymnasium's env (CartPole's sutton_barto_reward, ...): the torch-native copies take none.
    env_kwargs = {k: v for k, v in kwargs.items() if k != "dtype"}
    if backend == "torch" and env_kwargs and env_id in torch_env_ids():
        raise ValueError(f"env kwargs {sorted(env_kwargs)} configure gymnasium's {env_id}; the torch-native copy takes "
                         "none: use backend='gymnasium' or 'auto'")
    if backend in ("auto", "torch") and env_id in torch_env_ids() and not env_kwargs:
        from .classic import TORCH_ENVS

        return TORCH_ENVS[env_id](num_envs=num_envs, device=device, validate_actions=validate_actions, **kwargs)
    if backend == "torch":
        raise ValueError(f"no torch backend for {env_id!r}; torch-native envs: {torch_env_ids()}")
    return GymVecEnv(env_id, num_envs, device=device, validate_actions=validate_actions, **kwargs)


__all__ = ["VecEnv", "GymVecEnv", "DeepSea", "deep_sea_id", "deep_sea_size", "make_env", "check_env_id", "check_actions", "check_action_values", "check_spaces", "torch_env_ids", "BACKENDS", "env_id_of"]
