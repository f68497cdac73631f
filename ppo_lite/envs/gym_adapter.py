"""Any gymnasium environment id as a :class:`~ppo_lite.envs.base.VecEnv` (numpy on the host, tensors outside).

Uses gymnasium's ``SyncVectorEnv`` with SAME_STEP autoreset: when an episode ends, ``step`` returns the reset
observation and hands the true final observation over in ``info["final_obs"]``, which is what a time-limit
truncation must bootstrap from.
"""
from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import Tensor

from .base import (VecEnv, check_action_values, check_actions, check_block_seeds, check_spaces, missing_dependency_message,
                   mujoco_warnings_to_python)
from .spec import gym_spec


class GymVecEnv(VecEnv):
    """``num_envs`` copies of a gymnasium id, stepped by ``SyncVectorEnv``; tensors on ``device`` in and out.

    ``validate_actions`` (default on: the actions go to the host anyway) refuses out-of-range discrete actions and
    non-finite continuous ones with an error naming the env and the value, as the torch-native envs do.
    """

    def __init__(
        self, env_id: str, num_envs: int, device: torch.device | str = "cpu", validate_actions: bool | None = None,
        **make_kwargs: Any,
    ) -> None:
        self.validate_actions = True if validate_actions is None else bool(validate_actions)
        try:
            spec = gym_spec(env_id)
            with mujoco_warnings_to_python(spec):
                self.env = gym.make_vec(
                    spec,
                    num_envs=num_envs,
                    vectorization_mode="sync",
                    vector_kwargs={"autoreset_mode": gym.vector.AutoresetMode.SAME_STEP},
                    **make_kwargs,
                )
        except (gym.error.DependencyNotInstalled, ImportError) as exc:
            raise ValueError(missing_dependency_message(env_id, exc)) from None
        except gym.error.Error as exc:  # unknown id, bad arguments, ...
            raise ValueError(f"cannot make gymnasium env {env_id!r}: {exc}") from exc
        self.env_id = env_id
        self.num_envs = num_envs
        self.device = torch.device(device)
        self.single_observation_space = self.env.single_observation_space
        self.single_action_space = self.env.single_action_space
        check_spaces(env_id, self.single_observation_space, self.single_action_space)
        self._ep_return = np.zeros(num_envs, dtype=np.float64)
        self._ep_length = np.zeros(num_envs, dtype=np.int64)

    def _tensor(self, x: np.ndarray, dtype: torch.dtype) -> Tensor:
        return torch.as_tensor(np.asarray(x), dtype=dtype).to(self.device)

    def reset(self, seed: int | None = None) -> Tensor:
        return self._reset(seed)

    def reset_blocks(self, seeds: list[int]) -> Tensor:
        # gymnasium seeds sub-env i of a reset(seed=s) with s + i: block k's sub-envs get seeds[k] + i, as alone
        n = check_block_seeds(self, seeds)
        return self._reset([s + i for s in seeds for i in range(n)])

    def _reset(self, seed: int | list[int] | None) -> Tensor:
        obs, _ = self.env.reset(seed=seed)
        if self.validate_actions:
            _check_finite_obs(self.env_id, obs, "reset")
        self._ep_return[:] = 0.0
        self._ep_length[:] = 0
        return self._tensor(obs, torch.float32)

    def step(self, actions: Tensor):
        check_actions(self, actions)
        if self.validate_actions:
            check_action_values(self, actions)
        act = actions.detach().cpu().numpy()
        obs, reward, terminated, truncated, info = self.env.step(act)
        if self.validate_actions:  # the host has the arrays anyway: blame a broken env, not the next action
            _check_finite_obs(self.env_id, obs, "step")
        done = np.logical_or(terminated, truncated)
        self._ep_return += reward
        self._ep_length += 1
        ep_return = np.where(done, self._ep_return, 0.0)
        ep_length = np.where(done, self._ep_length, 0)
        self._ep_return[done] = 0.0
        self._ep_length[done] = 0
        final_obs = np.array(obs, dtype=np.float32, copy=True)
        if "_final_obs" in info:
            for i in np.flatnonzero(info["_final_obs"]):
                final_obs[i] = info["final_obs"][i]
        out_info = {
            "final_obs": self._tensor(final_obs, torch.float32),
            "episode_return": self._tensor(ep_return, torch.float32),
            "episode_length": self._tensor(ep_length, torch.int64),
        }
        return (
            self._tensor(obs, torch.float32),
            self._tensor(reward, torch.float32),
            self._tensor(terminated, torch.bool),
            self._tensor(truncated, torch.bool),
            out_info,
        )

    # -- snapshots: classic control keeps its state in ``.state``, MuJoCo in ``data.qpos`` / ``data.qvel`` -------
    @staticmethod
    def _kind(base: gym.Env) -> str | None:
        if hasattr(base, "set_state") and hasattr(getattr(base, "data", None), "qpos"):
            return "mujoco"
        if hasattr(base, "state"):
            return "state"
        return None

    def snapshot_unsupported(self) -> str | None:
        if self._kind(self.env.envs[0].unwrapped) is None:
            return (f"{self.env_id} keeps its state where ppo_lite cannot copy it (not a classic-control .state vector "
                    "nor MuJoCo's qpos/qvel)")
        return None

    def state_dict(self) -> dict[str, Any]:
        """Exact state of every sub-env (classic control's ``.state``; MuJoCo's ``qpos``, ``qvel`` and time), its
        time-limit counter and random stream, and the running episode statistics. Refuses other envs
        (:meth:`snapshot_unsupported` says why)."""
        reason = self.snapshot_unsupported()
        if reason is not None:
            raise NotImplementedError(reason)
        subs = []
        for sub in self.env.envs:
            base = sub.unwrapped
            if self._kind(base) == "mujoco":
                state = torch.as_tensor(np.concatenate([base.data.qpos, base.data.qvel, [base.data.time]]).astype(np.float64))
            elif base.state is None:
                raise NotImplementedError(f"{self.env_id}: reset the env before taking its state")
            else:
                state = torch.as_tensor(np.array(base.state, dtype=np.float64))
            rng = base.np_random.bit_generator.state
            subs.append({
                "state": state,
                "elapsed": _time_limit_steps(sub),
                "rng_state": torch.as_tensor(np.frombuffer(repr(rng).encode(), dtype=np.uint8).copy()),
            })
        return {"subs": subs, "ep_return": torch.as_tensor(self._ep_return), "ep_length": torch.as_tensor(self._ep_length)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        import ast

        self.env.reset()  # gymnasium refuses step() before reset(); the state is overwritten below
        for sub, s in zip(self.env.envs, state["subs"]):
            base = sub.unwrapped
            values = s["state"].numpy()
            if self._kind(base) == "mujoco":
                nq, nv = base.model.nq, base.model.nv
                base.set_state(values[:nq], values[nq:nq + nv])
                base.data.time = float(values[nq + nv])
            else:
                base.state = values.astype(np.asarray(base.state).dtype)
            limit = sub
            while hasattr(limit, "env"):
                if isinstance(limit, gym.wrappers.TimeLimit):
                    limit._elapsed_steps = s["elapsed"]
                limit = limit.env
            base.np_random.bit_generator.state = ast.literal_eval(bytes(s["rng_state"].numpy()).decode())
        self._ep_return[:] = state["ep_return"].numpy()
        self._ep_length[:] = state["ep_length"].numpy()

    def close(self) -> None:
        self.env.close()


def _time_limit_steps(env: gym.Env) -> int:
    """The step counter of the TimeLimit wrapper around ``env`` (-1 when there is none)."""
    while hasattr(env, "env"):
        if isinstance(env, gym.wrappers.TimeLimit):
            return int(env._elapsed_steps)
        env = env.env
    return -1


def _check_finite_obs(env_id: str, obs: np.ndarray, where: str) -> None:
    obs = np.asarray(obs)
    if obs.dtype.kind == "f" and not np.isfinite(obs).all():
        i, j = (int(k) for k in np.argwhere(~np.isfinite(obs))[0])
        raise ValueError(f"{env_id}: {where}() returned a non-finite observation ({obs[i, j]} at env {i}, dim {j}); "
                         "the env is broken, not the policy: check its dynamics or its reward/obs scaling")
