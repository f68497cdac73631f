r"""DeepSea (Osband et al. 2019, "Behaviour Suite for Reinforcement Learning", bsuite's ``deep_sea``): an exploration
task whose difficulty grows with its size N, as torch tensors (notebook 09).

An N × N grid; the agent starts at the top-left cell (row 0, column 0) and every step takes it one row down, and one
column right or left (clamped at the edges). The episode terminates after N steps, at the bottom. Which of the two
actions means "right" is drawn at random once per cell (``mapping_seed``), so no fixed action is always right.
Moving right costs :math:`0.01/N`; taking "right" from the bottom-right corner's column pays +1 (bsuite's
deterministic version):

.. math:: r_t = \mathbb 1[\text{right}_t]\,\big(\mathbb 1[c_t = N-1] - 0.01/N\big).

The treasure is reached only by going right at *every* one of the N steps, so the optimal return is
:math:`1 - 0.01 = 0.99`, going left always returns 0, and a uniformly random policy finds the treasure with
probability :math:`2^{-N}`: every step right costs something and pays nothing until the last, so a learner that does
not explore on purpose learns to go left. An episode *succeeds* when its return is positive.

Observations are bsuite's: the one-hot (row, column) of an N × N grid, flattened to :math:`N^2` numbers (all zero
after the last step). Ids ``DeepSea{N}-v0`` for :math:`2 \le N \le` :data:`MAX_SIZE` (:func:`deep_sea_size`).
"""
from __future__ import annotations

import re

import numpy as np
import torch
from gymnasium import spaces
from torch import Tensor

from .classic_base import TorchClassicEnv

MAX_SIZE = 64
MOVE_COST = 0.01
_ID = re.compile(r"^DeepSea(\d+)-v0$")


def deep_sea_id(size: int) -> str:
    """The env id of the DeepSea of size ``size``: ``DeepSea{size}-v0``."""
    return f"DeepSea{size}-v0"


def deep_sea_size(env_id: str) -> int | None:
    """The size N of a ``DeepSea{N}-v0`` id, ``None`` for any other id; an N outside [2, MAX_SIZE] is an error."""
    m = _ID.match(env_id)
    if m is None:
        return None
    size = int(m.group(1))
    if not 2 <= size <= MAX_SIZE:
        raise ValueError(f"{env_id!r}: DeepSea sizes run from 2 to {MAX_SIZE}, got {size}")
    return size


def action_mapping(size: int, mapping_seed: int = 0) -> Tensor:
    """(N, N) int64: the action that moves right in each cell, 0 or 1 with probability 1/2 each (bsuite draws it the
    same way), fixed by ``mapping_seed``."""
    rng = np.random.default_rng(mapping_seed)
    return torch.as_tensor(rng.integers(0, 2, size=(size, size)), dtype=torch.int64)


class DeepSea(TorchClassicEnv):
    """N copies of one DeepSea of size ``size`` (module docstring); ``state`` is (row, column) as floats."""

    state_dim = 2

    def __init__(self, size: int, num_envs: int, device: torch.device | str = "cpu", mapping_seed: int = 0, **kwargs) -> None:
        if isinstance(size, bool) or not isinstance(size, int) or not 2 <= size <= MAX_SIZE:
            raise ValueError(f"DeepSea: size must be an int in [2, {MAX_SIZE}], got {size!r}")
        self.size = size
        self.env_id = deep_sea_id(size)
        self.max_episode_steps = size + 1  # the episode terminates at step N; it is never truncated
        self.single_observation_space = spaces.Box(0.0, 1.0, shape=(size * size,), dtype=np.float32)
        self.single_action_space = spaces.Discrete(2)
        self.mapping_seed = int(mapping_seed)
        super().__init__(num_envs, device, **kwargs)
        self.right_action = action_mapping(size, mapping_seed).to(self.device)

    def _initial_state(self, n: int) -> Tensor:
        return torch.zeros(n, 2, device=self.device, dtype=self.dtype)

    def _physics(self, state: Tensor, actions: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        row, col = state.long().unbind(1)
        right = actions == self.right_action[row, col]
        pay = (col == self.size - 1).to(state.dtype) - MOVE_COST / self.size
        reward = torch.where(right, pay, torch.zeros_like(pay))
        col = torch.where(right, (col + 1).clamp(max=self.size - 1), (col - 1).clamp(min=0))
        row = row + 1
        return torch.stack((row, col), 1).to(state.dtype), reward, row == self.size

    def _observe(self, state: Tensor) -> Tensor:
        row, col = state.long().unbind(1)
        inside = row < self.size
        cell = torch.where(inside, row * self.size + col, 0)
        return torch.nn.functional.one_hot(cell, self.size * self.size).to(self.dtype) * inside.unsqueeze(1).to(self.dtype)

    def cell_index(self, obs: Tensor) -> Tensor:
        """The cell (row · N + column) an observation shows; N² for the all-zero observation after the last step."""
        return torch.where(obs.sum(1) > 0, obs.argmax(1), self.size * self.size)
