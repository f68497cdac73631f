r"""Help for hard exploration: potential-based reward shaping and a count-based bonus (notebook 09).

Both are wrappers around any :class:`~ppo_lite.envs.base.VecEnv` (torch-native or gymnasium backend) that change
only the *reward the learner sees*. ``info["episode_return"]`` is passed through from the wrapped env, so the
trainer's history keeps logging the **true** task return, and runs with and without help compare on one scale.

**Potential-based shaping** (Ng, Harada and Russell 1999). With a potential :math:`\Phi: \mathcal S \to \mathbb R`,

.. math:: r'_t = r_t + F(s_t, s'_{t+1}),\qquad F(s, s') = \gamma\,\Phi(s')\,(1 - \mathrm{term}) - \Phi(s),

with :math:`\Phi = 0` after termination (the absorbing state). Along any episode the shaping terms telescope,
:math:`\sum_t \gamma^t F_t = \gamma^T\Phi(s_T) - \Phi(s_0)` (the first term 0 when the episode terminated), so
:math:`Q'^{*}(s, a) = Q^{*}(s, a) - \Phi(s)`: every action's value in a state moves by the same amount, the argmax
is unchanged, **the optimal policy is kept**. Only :math:`\Phi` of the current state shifts values, never of the
action, which is why an arbitrary bonus :math:`F(s, a)` does not have this guarantee. At a time-limit truncation
the episode did not end in the MDP, so the term uses :math:`\Phi` of the true last observation
(``info["final_obs"]``), like the value bootstrap. The :math:`\gamma` must be the learner's discount.

For MountainCar, :func:`mountain_car_energy` is the car's mechanical energy per unit mass: the dynamics
:math:`v \leftarrow v + (a-1)\,0.001 - 0.0025\cos 3p` have potential energy :math:`U(p) = \tfrac{0.0025}{3}\sin 3p`,
and the goal needs energy that the car can only gain by rocking. Rewarding its increase tells the agent which way
to push without telling it the answer.

**Count-based bonus** (Strehl and Littman 2008; Bellemare et al. 2016 for pseudo-counts). Discretize the next
observation into a cell :math:`c(s')` of a grid with ``bins`` cells per dimension over the observation box, count
visits :math:`n(c)` (including this one), and add

.. math:: r'_t = r_t + \frac{\beta}{\sqrt{n(c(s'_{t+1}))}},

which decays as a cell is visited: novel states pay, familiar ones stop paying. Unlike shaping, the bonus changes
the optimal policy while it is large; it vanishes as counts grow. ``num_groups`` keeps one count table per group
of consecutive envs, so the K agents of :mod:`ppo_lite.batched` (agent k owns envs ``[kN, (k+1)N)``) do not share
novelty.
"""
from __future__ import annotations

from typing import Any, Callable

import torch
from torch import Tensor

from .base import VecEnv

__all__ = [
    "shaping_reward", "count_bonus", "discretize", "mountain_car_energy", "PotentialShaping", "CountBonus",
    "shape_tabular_rewards",
]

MOUNTAIN_CAR_GRAVITY = 0.0025


# -- pure functions -----------------------------------------------------------------------------------------------
def shaping_reward(phi: Tensor, phi_next: Tensor, terminated: Tensor, gamma: float) -> Tensor:
    r""":math:`F = \gamma\,\Phi(s')\,(1 - \mathrm{term}) - \Phi(s)` elementwise (module docstring)."""
    if not 0.0 <= gamma <= 1.0:
        raise ValueError(f"gamma must lie in [0, 1], got {gamma}")
    return gamma * torch.where(terminated, torch.zeros_like(phi_next), phi_next) - phi


def count_bonus(counts: Tensor, beta: float) -> Tensor:
    r""":math:`\beta / \sqrt{n}` for visit counts :math:`n \ge 1` (counts below 1 are treated as 1)."""
    if not beta >= 0:
        raise ValueError(f"beta must be >= 0, got {beta}")
    return beta * torch.rsqrt(counts.to(torch.float32).clamp_min(1.0))


def discretize(obs: Tensor, low: Tensor, high: Tensor, bins: int) -> Tensor:
    r"""Cell index of each row of ``obs`` (n, d) in a grid of ``bins`` cells per dimension over ``[low, high]``:
    :math:`c = \sum_j b_j\,\mathrm{bins}^j` with :math:`b_j = \min(\lfloor \mathrm{bins}\,(o_j - l_j)/(h_j - l_j)
    \rfloor, \mathrm{bins} - 1)`, clamped at 0 (values outside the box land in the edge cells)."""
    if bins < 1:
        raise ValueError(f"bins must be a positive int, got {bins}")
    frac = (obs - low) / (high - low)
    idx = (frac * bins).floor().clamp(0, bins - 1).to(torch.int64)
    strides = bins ** torch.arange(obs.shape[1], device=obs.device)
    return (idx * strides).sum(1)


MOUNTAIN_CAR_MAX_ENERGY = 0.5 * 0.07**2 + MOUNTAIN_CAR_GRAVITY / 3.0
"""Largest energy the car can have (top speed 0.07 at the highest point): the zero of :func:`mountain_car_energy`."""


def mountain_car_energy(obs: Tensor, scale: float = 1000.0) -> Tensor:
    r"""Mechanical energy of MountainCar's car below its maximum,
    :math:`\Phi(p, v) = \mathrm{scale}\,(\tfrac12 v^2 + \tfrac{0.0025}{3}\sin 3p - E_{max}) \le 0`: kinetic plus
    potential energy of its dynamics (module docstring). The offset changes no shaped return's argmax (any constant
    potential shift adds the same :math:`(\gamma-1)c` to every step and :math:`-c` at termination), but with
    :math:`\Phi \le 0` reaching the flag, where :math:`\Phi` drops to 0, is a reward rather than a loss of potential."""
    position, velocity = obs[:, 0], obs[:, 1]
    return scale * (0.5 * velocity**2 + MOUNTAIN_CAR_GRAVITY / 3.0 * torch.sin(3.0 * position) - MOUNTAIN_CAR_MAX_ENERGY)


def shape_tabular_rewards(P: Tensor, R: Tensor, phi: Tensor, gamma: float, terminal: Tensor) -> Tensor:
    r"""Expected shaped reward of a tabular MDP, :math:`R'(s,a) = R(s,a) + \gamma\sum_{s'}P(s'|s,a)\Phi(s')
    [s' \text{ not terminal}] - \Phi(s)` (``P`` (S, A, S), ``R`` (S, A), ``phi`` (S,), ``terminal`` (S,) bool)."""
    live_phi = torch.where(terminal, torch.zeros_like(phi), phi)
    return R + gamma * torch.einsum("sat,t->sa", P, live_phi) - phi[:, None]


# -- wrappers -----------------------------------------------------------------------------------------------------
class _RewardWrapper(VecEnv):
    """Pass everything through to ``env`` except the reward, which :meth:`_reward` rewrites."""

    def __init__(self, env: VecEnv) -> None:
        if not isinstance(env, VecEnv):
            raise TypeError(f"{type(self).__name__} wraps a ppo_lite VecEnv, got {type(env).__name__}")
        self.env = env
        self.env_id, self.num_envs, self.device = env.env_id, env.num_envs, env.device
        self.single_observation_space = env.single_observation_space
        self.single_action_space = env.single_action_space

    def reset(self, seed: int | None = None) -> Tensor:
        return self._started(self.env.reset(seed=seed))

    def reset_blocks(self, seeds: list[int]) -> Tensor:
        return self._started(self.env.reset_blocks(seeds))

    def _started(self, obs: Tensor) -> Tensor:
        """Called with every reset's first observations; returns them."""
        return obs

    def step(self, actions: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor, dict[str, Tensor]]:
        obs, reward, terminated, truncated, info = self.env.step(actions)
        return obs, self._reward(reward, terminated, truncated, info, obs), terminated, truncated, info

    def _reward(self, reward: Tensor, terminated: Tensor, truncated: Tensor, info: dict[str, Tensor], obs: Tensor) -> Tensor:
        raise NotImplementedError

    def close(self) -> None:
        self.env.close()

    def __getattr__(self, name: str) -> Any:  # e.g. a torch env's `state` or `generator`
        if name == "env":
            raise AttributeError(name)
        return getattr(self.env, name)


class PotentialShaping(_RewardWrapper):
    r"""Adds :math:`F = \gamma\Phi(s')(1-\mathrm{term}) - \Phi(s)` to each reward (module docstring).

    ``potential`` maps raw observations (n, obs_dim) to (n,). ``gamma`` must be the learner's discount.
    """

    def __init__(self, env: VecEnv, potential: Callable[[Tensor], Tensor], gamma: float) -> None:
        super().__init__(env)
        if not 0.0 <= gamma <= 1.0:
            raise ValueError(f"gamma must lie in [0, 1], got {gamma}")
        self.potential, self.gamma = potential, float(gamma)
        self._phi: Tensor | None = None  # Φ of the current observation of every env

    def _started(self, obs: Tensor) -> Tensor:
        self._phi = self.potential(obs)
        return obs

    def _reward(self, reward, terminated, truncated, info, obs):
        if self._phi is None:
            raise RuntimeError(f"{self.env_id}: call reset() before step()")
        phi_next = self.potential(info["final_obs"])  # the true next state, also at a time-limit truncation
        shaped = reward + shaping_reward(self._phi, phi_next, terminated, self.gamma).to(reward.dtype)
        self._phi = self.potential(obs)  # where an episode ended, obs is the next episode's first observation
        return shaped

    def state_dict(self) -> dict[str, Any]:
        return {"env": self.env.state_dict(), "phi": None if self._phi is None else self._phi.clone()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.env.load_state_dict(state["env"])
        self._phi = state["phi"]


class CountBonus(_RewardWrapper):
    r"""Adds :math:`\beta/\sqrt{n(c(s'))}` to each reward, counting visits to the cells of a ``bins``-per-dimension
    grid over the observation box (module docstring); one count table per group of ``num_envs // num_groups`` envs.

    ``low`` / ``high`` default to the observation space's bounds, which must then be finite. ``cells = (cell_of,
    num_cells)`` replaces the grid with the env's own cells: ``cell_of`` maps observations (n, obs_dim) to indices in
    ``[0, num_cells)`` (for DeepSea's one-hot grid, :meth:`ppo_lite.envs.deep_sea.DeepSea.cell_index` and N² + 1).
    """

    def __init__(
        self, env: VecEnv, beta: float = 0.1, bins: int = 16, num_groups: int = 1,
        low: Tensor | None = None, high: Tensor | None = None,
        cells: tuple[Callable[[Tensor], Tensor], int] | None = None,
    ) -> None:
        super().__init__(env)
        if not beta >= 0:
            raise ValueError(f"beta must be >= 0, got {beta}")
        if cells is not None:  # the env names its own cells (a one-hot grid such as DeepSea's: DeepSea.cell_index)
            self.cell_of, num_cells = cells
            self._setup_counts(beta, num_groups, num_cells, bins=0)
            return
        if isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
            raise ValueError(f"bins must be a positive int, got {bins!r}")
        space = env.single_observation_space
        self.low = torch.as_tensor(space.low if low is None else low, dtype=torch.float32, device=env.device)
        self.high = torch.as_tensor(space.high if high is None else high, dtype=torch.float32, device=env.device)
        if not (torch.isfinite(self.low).all() and torch.isfinite(self.high).all()) or not (self.high > self.low).all():
            raise ValueError(f"{env.env_id}: CountBonus needs finite low < high for every dimension; got low={self.low.tolist()}, "
                             f"high={self.high.tolist()} (pass low= and high= for unbounded observations)")
        self.cell_of = lambda o: discretize(o, self.low, self.high, self.bins)
        self._setup_counts(beta, num_groups, bins ** env.obs_dim, bins)

    def _setup_counts(self, beta: float, num_groups: int, num_cells: int, bins: int) -> None:
        if isinstance(num_groups, bool) or not isinstance(num_groups, int) or num_groups < 1 or self.env.num_envs % num_groups:
            raise ValueError(f"num_groups must be a positive int dividing num_envs={self.env.num_envs}, got {num_groups!r}")
        self.beta, self.bins, self.num_groups = float(beta), bins, num_groups
        self.counts = torch.zeros(num_groups * num_cells, dtype=torch.int64, device=self.env.device)
        # Flat index of (group, cell): group g's table is counts[g * num_cells : (g+1) * num_cells].
        self._offset = (torch.arange(self.env.num_envs, device=self.env.device) // (self.env.num_envs // num_groups)) * num_cells
        self.num_cells = num_cells

    def _reward(self, reward, terminated, truncated, info, obs):
        where = self._offset + self.cell_of(info["final_obs"])
        self.counts.index_add_(0, where, torch.ones_like(where))  # visits of this step count (several envs may share a cell)
        return reward + count_bonus(self.counts[where], self.beta).to(reward.dtype)

    def group_counts(self) -> Tensor:
        """(num_groups, cells) visit counts."""
        return self.counts.view(self.num_groups, self.num_cells)

    def state_dict(self) -> dict[str, Any]:
        return {"env": self.env.state_dict(), "counts": self.counts.clone()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.env.load_state_dict(state["env"])
        self.counts = state["counts"].to(self.device).clone()
