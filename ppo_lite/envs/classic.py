"""Gymnasium's five classic-control envs as batched torch tensors (any device): the same dynamics, rewards,
terminations, time limits and reset distributions, N envs per step with no Python loop.

Each class transcribes ``gymnasium/envs/classic_control/<file>.py`` (gymnasium 1.x) operation by operation, so
with ``dtype=torch.float64`` it reproduces gymnasium's float64 arithmetic up to libm rounding; ``tests/test_envs.py``
checks every env against gymnasium's own, step by step. The vector machinery (time limit, SAME_STEP autoreset,
episode statistics, generator, checkpointing) lives in :mod:`ppo_lite.envs.classic_base`.

``TORCH_ENVS`` maps env id -> class; ``make_env(env_id, n, device, backend="torch")`` builds from it.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from gymnasium import spaces
from torch import Tensor

from .classic_base import TorchClassicEnv


def _bool_reward(terminated: Tensor, if_terminated: float, otherwise: float, like: Tensor) -> Tensor:
    """``if_terminated`` where terminated else ``otherwise``, in ``like``'s dtype."""
    return torch.where(terminated, if_terminated, otherwise).to(like.dtype)


class CartPole(TorchClassicEnv):
    r"""CartPole-v1 (gymnasium ``classic_control/cartpole.py``): push a cart left/right to balance a pole.

    State :math:`(x, \dot x, \theta, \dot\theta)`; action 0 pushes with :math:`F=-10`, 1 with :math:`F=+10`.
    With :math:`m_p=0.1,\ m=m_c+m_p=1.1,\ l=0.5,\ g=9.8,\ \tau=0.02`:

    .. math::
        t = \frac{F + m_p l \dot\theta^2 \sin\theta}{m},\quad
        \ddot\theta = \frac{g\sin\theta - \cos\theta\, t}{l\,(4/3 - m_p\cos^2\theta / m)},\quad
        \ddot x = t - \frac{m_p l\, \ddot\theta \cos\theta}{m}

    then explicit Euler: :math:`x \mathrel{+}= \tau\dot x,\ \dot x \mathrel{+}= \tau\ddot x,\ \theta \mathrel{+}=
    \tau\dot\theta,\ \dot\theta \mathrel{+}= \tau\ddot\theta`. Terminates when :math:`|x|>2.4` or
    :math:`|\theta|>12°`; reward +1 every step (``sutton_barto_reward``: 0, and -1 on termination);
    truncated after 500 steps; reset uniform in :math:`(-0.05, 0.05)^4`.
    """

    env_id = "CartPole-v1"
    max_episode_steps = 500
    state_dim = 4
    gravity = 9.8
    masscart = 1.0
    masspole = 0.1
    total_mass = masspole + masscart
    length = 0.5  # half the pole's length
    polemass_length = masspole * length
    force_mag = 10.0
    tau = 0.02
    theta_threshold_radians = 12 * 2 * math.pi / 360
    x_threshold = 2.4

    def __init__(self, num_envs: int, device: torch.device | str = "cpu", sutton_barto_reward: bool = False, **kwargs) -> None:
        high = np.array([self.x_threshold * 2, np.inf, self.theta_threshold_radians * 2, np.inf], dtype=np.float32)
        self.single_observation_space = spaces.Box(-high, high, dtype=np.float32)
        self.single_action_space = spaces.Discrete(2)
        self.sutton_barto_reward = bool(sutton_barto_reward)
        super().__init__(num_envs, device, **kwargs)

    def _initial_state(self, n: int) -> Tensor:
        return self._uniform(n, -0.05, 0.05, 4)

    def _physics(self, state: Tensor, actions: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        x, x_dot, theta, theta_dot = state.unbind(1)
        force = torch.where(actions == 1, self.force_mag, -self.force_mag).to(state.dtype)
        costheta, sintheta = torch.cos(theta), torch.sin(theta)
        temp = (force + self.polemass_length * theta_dot**2 * sintheta) / self.total_mass
        thetaacc = (self.gravity * sintheta - costheta * temp) / (
            self.length * (4.0 / 3.0 - self.masspole * costheta**2 / self.total_mass)
        )
        xacc = temp - self.polemass_length * thetaacc * costheta / self.total_mass
        x = x + self.tau * x_dot
        x_dot = x_dot + self.tau * xacc
        theta = theta + self.tau * theta_dot
        theta_dot = theta_dot + self.tau * thetaacc
        # |x| > c is exactly `x < -c or x > c` (abs is exact), in 3 fewer kernels
        terminated = (x.abs() > self.x_threshold) | (theta.abs() > self.theta_threshold_radians)
        if self.sutton_barto_reward:  # a Python flag fixed at construction, not a tensor value: no sync
            reward = _bool_reward(terminated, -1.0, 0.0, x)
        else:
            reward = torch.ones_like(x)
        return torch.stack((x, x_dot, theta, theta_dot), 1), reward, terminated

    def _observe(self, state: Tensor) -> Tensor:
        return state.to(torch.float32, copy=True)  # the observation is the state; a copy, so obs never aliases it


class Acrobot(TorchClassicEnv):
    r"""Acrobot-v1 (gymnasium ``classic_control/acrobot.py``): swing a two-link chain's tip above a line.

    State :math:`(\theta_1, \theta_2, \dot\theta_1, \dot\theta_2)`, torque :math:`a \in \{-1, 0, +1\}` on the
    joint between the links. With unit masses and lengths, :math:`l_{c1}=l_{c2}=0.5`, :math:`I_1=I_2=1`,
    :math:`g=9.8`, the "book" dynamics (Sutton & Barto; gymnasium's ``book_or_nips='book'``):

    .. math::
        d_1 &= m_1 l_{c1}^2 + m_2(l_1^2 + l_{c2}^2 + 2 l_1 l_{c2}\cos\theta_2) + I_1 + I_2,\quad
        d_2 = m_2(l_{c2}^2 + l_1 l_{c2}\cos\theta_2) + I_2 \\
        \phi_2 &= m_2 l_{c2} g \cos(\theta_1+\theta_2-\pi/2) \\
        \phi_1 &= -m_2 l_1 l_{c2}\dot\theta_2^2\sin\theta_2 - 2 m_2 l_1 l_{c2}\dot\theta_2\dot\theta_1\sin\theta_2
                 + (m_1 l_{c1} + m_2 l_1) g\cos(\theta_1-\pi/2) + \phi_2 \\
        \ddot\theta_2 &= \frac{a + \frac{d_2}{d_1}\phi_1 - m_2 l_1 l_{c2}\dot\theta_1^2\sin\theta_2 - \phi_2}
                             {m_2 l_{c2}^2 + I_2 - d_2^2/d_1},\quad
        \ddot\theta_1 = -\frac{d_2\ddot\theta_2 + \phi_1}{d_1}

    integrated by one classic RK4 step of :math:`dt=0.2`; then the angles are wrapped into :math:`[-\pi, \pi]`
    and the speeds clipped to :math:`|\dot\theta_1| \le 4\pi,\ |\dot\theta_2| \le 9\pi`. Observation
    :math:`(\cos\theta_1, \sin\theta_1, \cos\theta_2, \sin\theta_2, \dot\theta_1, \dot\theta_2)`. Terminates
    when :math:`-\cos\theta_1 - \cos(\theta_2+\theta_1) > 1`; reward -1 per step, 0 on the terminating one;
    truncated after 500 steps; reset uniform in :math:`(-0.1, 0.1)^4`, rounded to float32 as gymnasium does.
    """

    env_id = "Acrobot-v1"
    max_episode_steps = 500
    state_dim = 4
    dt = 0.2
    LINK_LENGTH_1 = 1.0
    LINK_MASS_1 = 1.0
    LINK_MASS_2 = 1.0
    LINK_COM_POS_1 = 0.5
    LINK_COM_POS_2 = 0.5
    LINK_MOI = 1.0
    MAX_VEL_1 = 4 * math.pi
    MAX_VEL_2 = 9 * math.pi

    def __init__(self, num_envs: int, device: torch.device | str = "cpu", **kwargs) -> None:
        high = np.array([1.0, 1.0, 1.0, 1.0, self.MAX_VEL_1, self.MAX_VEL_2], dtype=np.float32)
        self.single_observation_space = spaces.Box(low=-high, high=high, dtype=np.float32)
        self.single_action_space = spaces.Discrete(3)
        super().__init__(num_envs, device, **kwargs)

    def _initial_state(self, n: int) -> Tensor:
        return self._uniform(n, -0.1, 0.1, 4).to(torch.float32).to(self.dtype)

    def _dsdt(self, theta1: Tensor, theta2: Tensor, dtheta1: Tensor, dtheta2: Tensor, a: Tensor):
        m1, m2, l1 = self.LINK_MASS_1, self.LINK_MASS_2, self.LINK_LENGTH_1
        lc1, lc2, I1, I2, g, pi = self.LINK_COM_POS_1, self.LINK_COM_POS_2, self.LINK_MOI, self.LINK_MOI, 9.8, math.pi
        # cos/sin of theta2 computed once (gymnasium computes them 2 and 3 times): same values, fewer kernels
        cos2, sin2 = torch.cos(theta2), torch.sin(theta2)
        d1 = m1 * lc1**2 + m2 * (l1**2 + lc2**2 + 2 * l1 * lc2 * cos2) + I1 + I2
        d2 = m2 * (lc2**2 + l1 * lc2 * cos2) + I2
        phi2 = m2 * lc2 * g * torch.cos(theta1 + theta2 - pi / 2.0)
        phi1 = (
            -m2 * l1 * lc2 * dtheta2**2 * sin2
            - 2 * m2 * l1 * lc2 * dtheta2 * dtheta1 * sin2
            + (m1 * lc1 + m2 * l1) * g * torch.cos(theta1 - pi / 2)
            + phi2
        )
        ddtheta2 = (a + d2 / d1 * phi1 - m2 * l1 * lc2 * dtheta1**2 * sin2 - phi2) / (m2 * lc2**2 + I2 - d2**2 / d1)
        ddtheta1 = -(d2 * ddtheta2 + phi1) / d1
        return dtheta1, dtheta2, ddtheta1, ddtheta2

    def _physics(self, state: Tensor, actions: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        torque = (actions - 1).to(state.dtype)  # AVAIL_TORQUE = [-1, 0, +1]
        y0 = state.unbind(1)
        # RK4 on tuples of (N,) tensors rather than an (N, 4) stack: no stack/unbind per stage
        dt, dt2 = self.dt, self.dt / 2.0
        k1 = self._dsdt(*y0, torque)
        k2 = self._dsdt(*(y + dt2 * k for y, k in zip(y0, k1)), torque)
        k3 = self._dsdt(*(y + dt2 * k for y, k in zip(y0, k2)), torque)
        k4 = self._dsdt(*(y + dt * k for y, k in zip(y0, k3)), torque)
        t1, t2, w1, w2 = (y + dt / 6.0 * (a + 2 * b + 2 * c + d) for y, a, b, c, d in zip(y0, k1, k2, k3, k4))
        t1, t2 = _wrap(t1, -math.pi, math.pi), _wrap(t2, -math.pi, math.pi)
        w1 = w1.clamp(-self.MAX_VEL_1, self.MAX_VEL_1)
        w2 = w2.clamp(-self.MAX_VEL_2, self.MAX_VEL_2)
        terminated = -torch.cos(t1) - torch.cos(t2 + t1) > 1.0
        return torch.stack((t1, t2, w1, w2), 1), _bool_reward(terminated, 0.0, -1.0, t1), terminated

    def _observe(self, state: Tensor) -> Tensor:
        t1, t2, w1, w2 = state.unbind(1)
        return torch.stack((torch.cos(t1), torch.sin(t1), torch.cos(t2), torch.sin(t2), w1, w2), 1)


def _wrap(x: Tensor, m: float, M: float) -> Tensor:
    """gymnasium's ``wrap``: add/subtract whole periods ``M - m`` until ``m <= x <= M``.

    gymnasium loops one period at a time; here the number of periods ``k`` is computed at once, which gives the
    same result (``x - 1 * diff`` is exactly ``x - diff`` in the usual k = 1 case) without a data-dependent loop.
    """
    diff = M - m
    x = torch.where(x > M, x - diff * torch.ceil((x - M) / diff), x)
    return torch.where(x < m, x + diff * torch.ceil((m - x) / diff), x)


class _MountainCarBase(TorchClassicEnv):
    """Shared constants, spaces and reset of the two MountainCar envs."""

    state_dim = 2
    min_position = -1.2
    max_position = 0.6
    max_speed = 0.07

    def __init__(self, num_envs: int, device: torch.device | str, goal_velocity: float, **kwargs) -> None:
        low = np.array([self.min_position, -self.max_speed], dtype=np.float32)
        high = np.array([self.max_position, self.max_speed], dtype=np.float32)
        self.single_observation_space = spaces.Box(low, high, dtype=np.float32)
        self.goal_velocity = float(goal_velocity)
        super().__init__(num_envs, device, **kwargs)

    def _initial_state(self, n: int) -> Tensor:
        position = self._uniform(n, -0.6, -0.4, 1)
        return torch.cat((position, torch.zeros_like(position)), 1)

    def _move(self, position: Tensor, velocity: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Clip the speed, move, clip the position, stop at the left wall; ``(position, velocity, terminated)``."""
        velocity = velocity.clamp(-self.max_speed, self.max_speed)
        position = (position + velocity).clamp(self.min_position, self.max_position)
        # gymnasium: `position == min_position and velocity < 0` -> velocity 0 (after the clamp, <= is ==)
        velocity = torch.where((position <= self.min_position) & (velocity < 0), 0.0, velocity)
        terminated = (position >= self.goal_position) & (velocity >= self.goal_velocity)
        return position, velocity, terminated

    def _observe(self, state: Tensor) -> Tensor:
        return state.to(torch.float32, copy=True)  # the observation is the state; a copy, so obs never aliases it


class MountainCar(_MountainCarBase):
    r"""MountainCar-v0 (gymnasium ``classic_control/mountain_car.py``): drive an underpowered car up a hill.

    State :math:`(p, v)`; action :math:`a \in \{0, 1, 2\}` (push left, none, right):

    .. math::
        v \leftarrow \mathrm{clip}(v + (a-1)\,0.001 - 0.0025\cos 3p,\ \pm 0.07),\quad
        p \leftarrow \mathrm{clip}(p + v,\ [-1.2, 0.6])

    and :math:`v \leftarrow 0` if the car hits the left wall (:math:`p=-1.2,\ v<0`). Terminates when
    :math:`p \ge 0.5` and :math:`v \ge` ``goal_velocity`` (0); reward -1 per step; truncated after 200 steps;
    reset :math:`p \sim U(-0.6, -0.4),\ v = 0`.
    """

    env_id = "MountainCar-v0"
    max_episode_steps = 200
    goal_position = 0.5
    force = 0.001
    gravity = 0.0025

    def __init__(self, num_envs: int, device: torch.device | str = "cpu", goal_velocity: float = 0, **kwargs) -> None:
        self.single_action_space = spaces.Discrete(3)
        super().__init__(num_envs, device, goal_velocity, **kwargs)

    def _physics(self, state: Tensor, actions: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        position, velocity = state.unbind(1)
        velocity = velocity + ((actions - 1).to(state.dtype) * self.force + torch.cos(3 * position) * (-self.gravity))
        position, velocity, terminated = self._move(position, velocity)
        return torch.stack((position, velocity), 1), torch.full_like(position, -1.0), terminated


class MountainCarContinuous(_MountainCarBase):
    r"""MountainCarContinuous-v0 (gymnasium ``classic_control/continuous_mountain_car.py``).

    State :math:`(p, v)`; action :math:`a \in \mathbb{R}^1`, force :math:`f = \mathrm{clip}(a, \pm 1)`:

    .. math::
        v \leftarrow \mathrm{clip}(v + 0.0015 f - 0.0025\cos 3p,\ \pm 0.07),\quad
        p \leftarrow \mathrm{clip}(p + v,\ [-1.2, 0.6])

    with the same left-wall rule as MountainCar. Terminates when :math:`p \ge 0.45` and :math:`v \ge`
    ``goal_velocity`` (0). Reward :math:`-0.1 a^2`, plus 100 on the terminating step; note that, as in
    gymnasium, the cost uses the *unclipped* action. gymnasium stores the state as float32 after every step,
    so we round it to float32 too (a no-op with the default dtype). Truncated after 999 steps; reset as
    MountainCar.
    """

    env_id = "MountainCarContinuous-v0"
    max_episode_steps = 999
    goal_position = 0.45
    power = 0.0015

    def __init__(self, num_envs: int, device: torch.device | str = "cpu", goal_velocity: float = 0, **kwargs) -> None:
        self.single_action_space = spaces.Box(low=-1.0, high=1.0, shape=(1,), dtype=np.float32)
        super().__init__(num_envs, device, goal_velocity, **kwargs)

    def _physics(self, state: Tensor, actions: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        position, velocity = state.unbind(1)
        action = actions[:, 0]
        force = action.clamp(-1.0, 1.0)
        velocity = velocity + (force * self.power - 0.0025 * torch.cos(3 * position))
        position, velocity, terminated = self._move(position, velocity)
        reward = _bool_reward(terminated, 100.0, 0.0, position) - action**2 * 0.1
        next_state = torch.stack((position, velocity), 1).to(torch.float32).to(state.dtype)
        return next_state, reward, terminated


class Pendulum(TorchClassicEnv):
    r"""Pendulum-v1 (gymnasium ``classic_control/pendulum.py``): swing a pendulum up and hold it there.

    State :math:`(\theta, \dot\theta)`, :math:`\theta=0` upright; torque :math:`u = \mathrm{clip}(a, \pm 2)`.
    With :math:`g=10` (``g`` option), :math:`m=l=1`, :math:`dt=0.05`:

    .. math::
        \text{cost} = \mathrm{norm}(\theta)^2 + 0.1\dot\theta^2 + 0.001 u^2,\quad
        \dot\theta \leftarrow \mathrm{clip}\big(\dot\theta + (\tfrac{3g}{2l}\sin\theta + \tfrac{3}{ml^2}u)\,dt,\ \pm 8\big),
        \quad \theta \leftarrow \theta + \dot\theta\, dt

    where :math:`\mathrm{norm}(x) = ((x+\pi) \bmod 2\pi) - \pi` and the cost uses the state *before* the step.
    Reward :math:`-\text{cost}`; never terminates; truncated after 200 steps. Observation
    :math:`(\cos\theta, \sin\theta, \dot\theta)`; reset :math:`\theta \sim U(-\pi, \pi),\ \dot\theta \sim U(-1, 1)`.
    """

    env_id = "Pendulum-v1"
    max_episode_steps = 200
    state_dim = 2
    max_speed = 8
    max_torque = 2.0
    dt = 0.05
    m = 1.0
    l = 1.0  # noqa: E741 (gymnasium's name)

    def __init__(self, num_envs: int, device: torch.device | str = "cpu", g: float = 10.0, **kwargs) -> None:
        high = np.array([1.0, 1.0, self.max_speed], dtype=np.float32)
        self.single_observation_space = spaces.Box(low=-high, high=high, dtype=np.float32)
        self.single_action_space = spaces.Box(
            low=-self.max_torque, high=self.max_torque, shape=(1,), dtype=np.float32
        )
        self.g = float(g)
        super().__init__(num_envs, device, **kwargs)
        self._reset_high = torch.tensor([math.pi, 1.0], dtype=self.dtype, device=self.device)

    def _initial_state(self, n: int) -> Tensor:
        return self._uniform(n, -self._reset_high, self._reset_high, 2)

    def _physics(self, state: Tensor, actions: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        th, thdot = state.unbind(1)
        g, m, l, dt = self.g, self.m, self.l, self.dt  # noqa: E741
        u = actions[:, 0].clamp(-self.max_torque, self.max_torque)
        costs = angle_normalize(th) ** 2 + 0.1 * thdot**2 + 0.001 * (u**2)
        newthdot = thdot + (3 * g / (2 * l) * torch.sin(th) + 3.0 / (m * l**2) * u) * dt
        newthdot = newthdot.clamp(-self.max_speed, self.max_speed)
        newth = th + newthdot * dt
        terminated = torch.zeros_like(th, dtype=torch.bool)
        return torch.stack((newth, newthdot), 1), -costs, terminated

    def _observe(self, state: Tensor) -> Tensor:
        th, thdot = state.unbind(1)
        return torch.stack((torch.cos(th), torch.sin(th), thdot), 1)


def angle_normalize(x: Tensor) -> Tensor:
    r"""Angle into :math:`[-\pi, \pi)`: :math:`((x + \pi) \bmod 2\pi) - \pi` (floor modulo, as numpy's ``%``)."""
    return torch.remainder(x + math.pi, 2 * math.pi) - math.pi


TORCH_ENVS: dict[str, type[TorchClassicEnv]] = {
    cls.env_id: cls for cls in (CartPole, Acrobot, MountainCar, MountainCarContinuous, Pendulum)
}

__all__ = ["TORCH_ENVS", "CartPole", "Acrobot", "MountainCar", "MountainCarContinuous", "Pendulum", "angle_normalize"]
