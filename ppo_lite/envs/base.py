"""The vector-environment interface the trainer sees (and nothing else about environments).

Every backend (gymnasium adapter, torch-native classic control) returns torch tensors on ``device``::

    obs = env.reset(seed=0)                      # (N, obs_dim) float32
    obs, reward, terminated, truncated, info = env.step(actions)

- ``actions``: int64 (N,) for Discrete spaces, float32 (N, act_dim) for Box spaces.
- ``obs``: the next observation, already reset where the episode ended (gymnasium's SAME_STEP autoreset).
- ``reward`` float32 (N,); ``terminated`` / ``truncated`` bool (N,).
- ``info["final_obs"]`` (N, obs_dim): the *true* last observation where an episode ended at this step (what a
  truncated step must bootstrap from), equal to ``obs`` elsewhere.
- ``info["episode_return"]`` float32 (N,) and ``info["episode_length"]`` int64 (N,): the undiscounted return and
  length of the episode that ended at this step (0 where none ended). Kept on the device, so a training loop
  can store them and read them back once per update.
"""
from __future__ import annotations

import contextlib
import sys
import warnings
from typing import Any, Iterator

import gymnasium as gym
import torch
from torch import Tensor


class VecEnv:
    """Base class of ppo_lite's vector environments (see the module docstring for the contract)."""

    env_id: str
    num_envs: int
    device: torch.device
    single_observation_space: gym.spaces.Box
    single_action_space: gym.spaces.Space

    def reset(self, seed: int | None = None) -> Tensor:
        raise NotImplementedError

    def reset_blocks(self, seeds: "list[int]") -> Tensor:
        """Start all episodes afresh, the envs in ``len(seeds)`` equal blocks, block k (envs ``[kn, (k+1)n)``,
        ``n = num_envs / len(seeds)``) drawing from its own random stream: exactly the episodes an ``n``-env copy
        reset with ``seed=seeds[k]`` would give, whatever the other blocks are. What lets agent k of a batch
        (:mod:`ppo_lite.batched`) see the same episodes as its seed trained alone."""
        raise NotImplementedError(f"{type(self).__name__} cannot reset in independently seeded blocks")

    def step(self, actions: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor, dict[str, Tensor]]:
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue the exact same trajectories (for checkpoint resume)."""
        raise NotImplementedError(f"{type(self).__name__} cannot save its state")

    def snapshot_unsupported(self) -> str | None:
        """Why :meth:`state_dict` cannot capture this env, or ``None`` when it can (asked before training starts,
        so that a run whose checkpoint cannot hold its environments says so up front, not after the work)."""
        return None

    def load_state_dict(self, state: dict[str, Any]) -> None:
        raise NotImplementedError(f"{type(self).__name__} cannot load a state")

    def close(self) -> None:
        pass

    @property
    def is_discrete(self) -> bool:
        return isinstance(self.single_action_space, gym.spaces.Discrete)

    @property
    def obs_dim(self) -> int:
        return int(self.single_observation_space.shape[0])

    @property
    def act_dim(self) -> int:
        """Number of discrete actions, or the dimension of a Box action."""
        space = self.single_action_space
        return int(space.n) if isinstance(space, gym.spaces.Discrete) else int(space.shape[0])


def check_block_seeds(env: VecEnv, seeds: Any) -> int:
    """Refuse block seeds that do not split ``env`` into equal blocks; the envs per block."""
    if not isinstance(seeds, (list, tuple)) or not seeds or not all(
            isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds):
        raise ValueError(f"{env.env_id}: block seeds must be a non-empty list of non-negative ints, got {seeds!r}")
    if env.num_envs % len(seeds):
        raise ValueError(f"{env.env_id}: {len(seeds)} block seeds do not split num_envs={env.num_envs} into equal blocks")
    return env.num_envs // len(seeds)


def check_spaces(env_id: str, obs_space: gym.spaces.Space, act_space: gym.spaces.Space) -> None:
    """Refuse spaces the library does not support, naming the bad one and what is allowed."""
    if not (isinstance(obs_space, gym.spaces.Box) and len(obs_space.shape) == 1):
        raise ValueError(
            f"{env_id}: unsupported observation space {obs_space}; ppo_lite supports flat Box observations "
            "(shape (d,)). Wrap image or dict observations with a gymnasium wrapper that flattens them."
        )
    if isinstance(act_space, gym.spaces.Discrete):
        if int(act_space.start) != 0:
            raise ValueError(f"{env_id}: Discrete action space must start at 0, got start={act_space.start}")
        return
    if isinstance(act_space, gym.spaces.Box) and len(act_space.shape) == 1:
        if not (bool(torch.isfinite(torch.as_tensor(act_space.low)).all()) and bool(torch.isfinite(torch.as_tensor(act_space.high)).all())):
            raise ValueError(f"{env_id}: Box action space must have finite bounds, got {act_space}")
        return
    raise ValueError(
        f"{env_id}: unsupported action space {act_space}; ppo_lite supports Discrete(n) and flat Box(d,) actions"
    )


def check_actions(env: VecEnv, actions: Tensor) -> None:
    """Shape and dtype checks for ``actions`` (cheap: no device sync)."""
    if not isinstance(actions, Tensor):
        raise TypeError(f"{env.env_id}: actions must be a torch.Tensor, got {type(actions).__name__}")
    if env.is_discrete:
        if actions.shape != (env.num_envs,) or actions.dtype not in (torch.int64, torch.int32):
            raise ValueError(
                f"{env.env_id}: discrete actions must be an int64 tensor of shape ({env.num_envs},), "
                f"got dtype {actions.dtype} and shape {tuple(actions.shape)}"
            )
    elif actions.shape != (env.num_envs, env.act_dim) or not actions.is_floating_point():
        raise ValueError(
            f"{env.env_id}: continuous actions must be a float tensor of shape ({env.num_envs}, {env.act_dim}), "
            f"got dtype {actions.dtype} and shape {tuple(actions.shape)}"
        )


def check_action_values(env: VecEnv, actions: Tensor) -> None:
    """Range and NaN checks on the values (they sync device -> host, hence the envs' ``validate_actions`` switch)."""
    if env.is_discrete:
        n = env.act_dim
        lo, hi = torch.aminmax(actions)  # one reduction, then two cheap scalar reads
        if lo < 0 or hi >= n:
            i = int(((actions < 0) | (actions >= n)).nonzero()[0, 0])
            raise ValueError(
                f"{env.env_id}: action {int(actions[i])} at env {i} is out of range; allowed: 0..{n - 1}"
            )
    elif not bool(torch.isfinite(actions).all()):
        i, j = (int(k) for k in (~torch.isfinite(actions)).nonzero()[0])
        low, high = env.single_action_space.low[j], env.single_action_space.high[j]
        raise ValueError(
            f"{env.env_id}: action {float(actions[i, j])} at env {i}, dim {j} is not finite; "
            f"allowed: finite floats (clipped to [{low}, {high}] as gymnasium does)"
        )


_EXTRAS = {"gymnasium.envs.box2d": "box2d", "gymnasium.envs.mujoco": "mujoco"}


# MuJoCo's compiler warnings that gymnasium's own model files trigger, not the user's: dropped instead of printed
# from C on every env made (gymnasium 1.4's half_cheetah.xml uses the deprecated 'settotalmass').
_KNOWN_MUJOCO_WARNINGS = ("compiler attribute 'settotalmass' is deprecated",)


@contextlib.contextmanager
def mujoco_warnings_to_python(spec: Any) -> Iterator[None]:
    """While making the env of ``spec`` (an id or a ``gymnasium.EnvSpec``): MuJoCo's warnings go to Python's
    :mod:`warnings` (shown once per message, filterable) instead of being printed from C on every env made, and the
    deprecations in gymnasium's own model files (:data:`_KNOWN_MUJOCO_WARNINGS`) are dropped. Imports MuJoCo only
    for gymnasium's MuJoCo envs or where it is already imported, so other envs never pay for it."""
    try:
        entry = str((spec if isinstance(spec, gym.envs.registration.EnvSpec) else gym.spec(spec)).entry_point)
    except gym.error.Error:
        entry = ""
    if not entry.startswith("gymnasium.envs.mujoco") and "mujoco" not in sys.modules:
        yield
        return
    try:
        import mujoco
    except ImportError:  # gymnasium's own error then names the package to install
        yield
        return

    def handler(message: str) -> None:
        if not any(known in message for known in _KNOWN_MUJOCO_WARNINGS):
            warnings.warn(f"MuJoCo: {message.strip()}", RuntimeWarning, stacklevel=2)

    previous = mujoco.get_mju_user_warning()
    mujoco.set_mju_user_warning(handler)
    try:
        yield
    finally:
        mujoco.set_mju_user_warning(previous)


def make_gymnasium_env(env_id: str, **kwargs: Any) -> gym.Env:
    """``gymnasium.make(env_id, **kwargs)``, with a one-line ``ValueError`` naming the package to install when the
    env needs an optional dependency that is missing (Box2D's pygame and box2d, MuJoCo), instead of a traceback."""
    from .spec import gym_spec

    try:
        spec = gym_spec(env_id)
        with mujoco_warnings_to_python(spec):
            return gym.make(spec, **kwargs)
    except (gym.error.DependencyNotInstalled, ImportError) as exc:
        raise ValueError(missing_dependency_message(env_id, exc)) from None


def missing_dependency_message(env_id: str, exc: BaseException) -> str:
    """What to install for ``env_id``, from the gymnasium extra its entry point belongs to."""
    entry = str(getattr(gym.spec(env_id), "entry_point", "")) if env_id in gym.registry else ""
    extra = next((name for prefix, name in _EXTRAS.items() if entry.startswith(prefix)), None)
    how = (f'pip install "gymnasium[{extra}]" (ppo_lite\'s requirements.txt installs it)' if extra
           else "install the package it names")
    first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    base, _, version = env_id.rpartition("-v")
    newer = sorted((k for k in gym.registry if k.rpartition("-v")[0] == base and k.rpartition("-v")[2].isdigit()
                    and version.isdigit() and int(k.rpartition("-v")[2]) > int(version)),
                   key=lambda k: int(k.rpartition("-v")[2]))
    if newer:  # HalfCheetah-v3 needs mujoco-py, which nobody should install: the current version is the fix
        return f"{env_id} is an old version that needs a retired package ({first_line}); use {newer[-1]!r}"
    return f"{env_id} needs an optional package that is not installed ({first_line}); {how}"
