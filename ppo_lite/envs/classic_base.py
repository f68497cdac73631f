"""The vector machinery shared by the torch-native classic-control envs (:mod:`ppo_lite.envs.classic`).

Each env only says three things: how to draw an initial state, how one step moves the physics, and what the
agent observes. This base class adds everything a :class:`~ppo_lite.envs.base.VecEnv` owes the trainer:

- the time limit (``truncated = elapsed >= max_episode_steps``, gymnasium's ``TimeLimit``);
- SAME_STEP autoreset: where ``terminated | truncated``, the returned ``obs`` is a fresh reset state and
  ``info["final_obs"]`` holds the true last observation;
- undiscounted episode return and length, reported (on the device) at the step an episode ends;
- one ``torch.Generator`` on the device for all initial-state noise, so the same seed gives the same
  trajectories, and its state is part of :meth:`state_dict`; or, after :meth:`reset_blocks`, one per block of envs
  (a batch's agents, :mod:`ppo_lite.batched`), each block drawing exactly what an env of that size would draw alone.

No host sync in :meth:`step`'s fast path: no ``.item()``, no Python ``if`` on tensor values. Autoreset draws a
candidate initial state for *every* env at every step and keeps it only where an episode ended
(``torch.where``); drawing N small uniforms costs far less than the device->host sync that picking out the
finished envs would need. Value checks on the actions (range, NaN) do sync, so they sit behind
``validate_actions`` (on by default on CPU, where a sync is free, off on CUDA).
"""
from __future__ import annotations

import warnings
from typing import Any

import torch
from torch import Tensor

from .base import VecEnv, check_actions, check_action_values, check_block_seeds, check_spaces

FLOAT_DTYPES = (torch.float32, torch.float64)


class TorchClassicEnv(VecEnv):
    """N copies of one classic-control env held as tensors: ``state`` is (N, state_dim) on ``device``.

    ``state`` has gymnasium's ``unwrapped.state`` layout (one row per env), computed in ``dtype``
    (float64 reproduces gymnasium's own float64 arithmetic; observations and rewards are returned as float32,
    exactly as gymnasium casts its float64 state to a float32 observation).

    Subclasses set ``env_id``, ``max_episode_steps``, ``state_dim``, the two spaces, and implement
    :meth:`_initial_state`, :meth:`_physics` and :meth:`_observe`.
    """

    env_id: str
    max_episode_steps: int
    state_dim: int

    def __init__(
        self,
        num_envs: int,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
        validate_actions: bool | None = None,
        max_episode_steps: int | None = None,
        compile: bool = False,
    ) -> None:
        if isinstance(num_envs, bool) or not isinstance(num_envs, int) or num_envs < 1:
            raise ValueError(f"{self.env_id}: num_envs must be a positive int, got {num_envs!r}")
        if dtype not in FLOAT_DTYPES:
            raise ValueError(f"{self.env_id}: dtype must be one of {FLOAT_DTYPES}, got {dtype!r}")
        self.device = torch.device(device)
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"{self.env_id}: device {device!r} requested but CUDA is not available; use device='cpu'")
        if max_episode_steps is not None:
            if isinstance(max_episode_steps, bool) or not isinstance(max_episode_steps, int) or max_episode_steps < 1:
                raise ValueError(f"{self.env_id}: max_episode_steps must be a positive int, got {max_episode_steps!r}")
            self.max_episode_steps = max_episode_steps
        check_spaces(self.env_id, self.single_observation_space, self.single_action_space)
        self.num_envs = num_envs
        self.dtype = dtype
        self.validate_actions = self.device.type == "cpu" if validate_actions is None else bool(validate_actions)
        self.generator = torch.Generator(device=self.device)
        self.generator.seed()  # nondeterministic until reset(seed=...)
        self.block_generators: list[torch.Generator] | None = None  # one per block after reset_blocks()
        self.state: Tensor | None = None  # (N, state_dim); None until reset()
        self.elapsed = torch.zeros(num_envs, dtype=torch.int64, device=self.device)
        self.episode_return = torch.zeros(num_envs, dtype=dtype, device=self.device)
        self._step_tensors = self._maybe_compile(compile)

    # --- what each env defines -------------------------------------------------------------------------------
    def _initial_state(self, n: int) -> Tensor:
        """(n, state_dim) initial states drawn from ``self.generator`` with gymnasium's reset distribution."""
        raise NotImplementedError

    def _physics(self, state: Tensor, actions: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """One step for all envs: ``(next_state, reward, terminated)`` in ``self.dtype`` / bool."""
        raise NotImplementedError

    def _observe(self, state: Tensor) -> Tensor:
        """(n, obs_dim) observation of ``state`` in ``self.dtype`` (cast to float32 by the caller)."""
        raise NotImplementedError

    # --- VecEnv ----------------------------------------------------------------------------------------------
    def _uniform(self, n: int, low: Tensor | float, high: Tensor | float, width: int) -> Tensor:
        """``low + (high - low) * U[0, 1)``, shape (n, width): numpy's ``Generator.uniform`` on our generator."""
        if self.block_generators is None:
            u = torch.rand(n, width, generator=self.generator, device=self.device, dtype=self.dtype)
        else:  # each block from its own stream: len(blocks) small draws instead of one (what agent-by-agent reproducibility costs)
            m = n // len(self.block_generators)
            u = torch.cat([torch.rand(m, width, generator=g, device=self.device, dtype=self.dtype) for g in self.block_generators])
        return u.mul_(high - low).add_(low)  # in place: two fewer allocations per step (autoreset draws every step)

    def reset(self, seed: int | None = None) -> Tensor:
        """Start all N episodes afresh; ``seed`` reseeds the generator (``None`` continues its stream)."""
        if seed is not None:
            if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
                raise ValueError(f"{self.env_id}: seed must be a non-negative int or None, got {seed!r}")
            self.generator.manual_seed(seed)
            self.block_generators = None
        return self._start()

    def reset_blocks(self, seeds: list[int]) -> Tensor:
        check_block_seeds(self, seeds)
        self.block_generators = [torch.Generator(device=self.device).manual_seed(s) for s in seeds]
        return self._start()

    def _start(self) -> Tensor:
        self.state = self._initial_state(self.num_envs)
        self.elapsed.zero_()
        self.episode_return.zero_()
        return self._observe(self.state).to(torch.float32)

    def step(self, actions: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor, dict[str, Tensor]]:
        check_actions(self, actions)
        if actions.device != self.device:
            raise ValueError(f"{self.env_id}: actions are on {actions.device}, the env is on {self.device}")
        if self.state is None:
            raise RuntimeError(f"{self.env_id}: call reset() before step()")
        if self.validate_actions:
            check_action_values(self, actions)
        if not self.is_discrete:
            actions = actions.to(self.dtype)
        fresh = self._initial_state(self.num_envs)  # used only where an episode ends (see module docstring)
        self.state, self.elapsed, self.episode_return, obs, reward, terminated, truncated, info = self._step_tensors(
            self.state, self.elapsed, self.episode_return, actions, fresh
        )
        return obs, reward, terminated, truncated, info

    def _step_eager(self, state: Tensor, elapsed: Tensor, ep_return: Tensor, actions: Tensor, fresh: Tensor):
        """Pure tensor step (no Python branching on values), so ``torch.compile`` can fuse it whole.

        ``elapsed`` is both the time-limit counter and the episode length (both restart with the episode).
        """
        next_state, reward, terminated = self._physics(state, actions)
        elapsed = elapsed + 1
        truncated = elapsed >= self.max_episode_steps
        done = terminated | truncated
        ep_return = ep_return + reward
        # masking by multiplying with `done` (x * 1 = x, x * 0 = 0 exactly), and restarting the counters by
        # subtracting what was reported (x - x = 0), is exact and costs a third of `torch.where` with a scalar
        ended_return = ep_return * done
        ended_length = elapsed * done
        info = {
            "final_obs": self._observe(next_state).to(torch.float32),
            "episode_return": ended_return.to(torch.float32),
            "episode_length": ended_length,
        }
        state = torch.where(done.unsqueeze(1), fresh, next_state)
        obs = self._observe(state).to(torch.float32)
        return (
            state, elapsed - ended_length, ep_return - ended_return,
            obs, reward.to(torch.float32), terminated, truncated, info,
        )

    def _maybe_compile(self, compile: bool):
        """The pure step, ``torch.compile``d when asked (fuses the ~40 small kernels of a step into a few).

        Compilation happens at the first call; if it fails there (no C++ toolchain, unsupported platform), warn
        once and step eagerly from then on. The step is pure (the generator is used outside it), so re-running
        the failed call eagerly changes nothing.
        """
        if not compile:
            return self._step_eager
        compiled = torch.compile(self._step_eager, dynamic=False)

        def step_tensors(*args):
            try:
                return compiled(*args)
            except Exception as exc:  # noqa: BLE001 (any compiler failure means: run eager)
                warnings.warn(f"{self.env_id}: torch.compile failed ({type(exc).__name__}: {exc}); stepping eagerly")
                self._step_tensors = self._step_eager
                return self._step_eager(*args)

        return step_tensors

    # --- checkpointing ---------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Tensors only (safe for ``torch.load(weights_only=True)``): physics, counters, returns, generator."""
        if self.state is None:
            raise RuntimeError(f"{self.env_id}: call reset() before state_dict()")
        return {
            "state": self.state.clone(),
            "elapsed": self.elapsed.clone(),
            "episode_return": self.episode_return.clone(),
            "generator": self.generator.get_state(),
            **({} if self.block_generators is None else {"block_generators": [g.get_state() for g in self.block_generators]}),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        shape = (self.num_envs, self.state_dim)
        if tuple(state["state"].shape) != shape:
            raise ValueError(f"{self.env_id}: state_dict holds state of shape {tuple(state['state'].shape)}, expected {shape}")
        self.state = state["state"].to(self.device, self.dtype).clone()
        self.elapsed = state["elapsed"].to(self.device, torch.int64).clone()
        self.episode_return = state["episode_return"].to(self.device, self.dtype).clone()
        self.generator.set_state(state["generator"].cpu())
        blocks = state.get("block_generators")
        self.block_generators = None if blocks is None else [
            torch.Generator(device=self.device).set_state(b.cpu()) for b in blocks]  # set_state returns the generator

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.env_id}, num_envs={self.num_envs}, device={self.device}, dtype={self.dtype})"
