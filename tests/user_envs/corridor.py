"""A user's own gymnasium env, outside ppo_lite, for the custom-env tests (tests/test_user_path.py).

``Corridor``: start at cell 0 of a corridor of ``length`` cells; action 1 steps right, 0 steps left (walls hold);
reaching the last cell ends the episode with reward 1, every other step costs 0.01; at most ``4 * length`` steps.
The best return is 1 - 0.01 * (length - 2) (length - 1 steps, the last rewarded), the only way to get more than 0.
Importing this module also registers it as ``Corridor-v0`` (gymnasium's ``module:Id`` way).
"""
from __future__ import annotations

import gymnasium as gym
import numpy as np


class Corridor(gym.Env):
    def __init__(self, length: int = 5, nan_after: int | None = None) -> None:
        self.length, self.nan_after = length, nan_after
        self.observation_space = gym.spaces.Box(0.0, 1.0, (length,), np.float32)
        self.action_space = gym.spaces.Discrete(2)
        self.steps = 0

    def _obs(self) -> np.ndarray:
        obs = np.zeros(self.length, np.float32)
        obs[self.pos] = 1.0
        if self.nan_after is not None and self.steps >= self.nan_after:  # a broken env, for the error-message test
            obs[0] = np.nan
        return obs

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.pos, self.steps = 0, 0
        return self._obs(), {}

    def step(self, action):
        self.pos = min(max(self.pos + (1 if int(action) == 1 else -1), 0), self.length - 1)
        self.steps += 1
        done = self.pos == self.length - 1
        return self._obs(), 1.0 if done else -0.01, done, self.steps >= 4 * self.length, {}


def best_return(length: int) -> float:
    return 1.0 - 0.01 * (length - 2)


def make_corridor(length: int = 5) -> Corridor:
    """A zero-argument (or keyword) factory, the other way a user hands over an env."""
    return Corridor(length)


gym.register("Corridor-v0", entry_point=Corridor)
