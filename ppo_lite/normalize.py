r"""Running statistics for observation normalization and reward scaling (notebook 07 ablates both).

:class:`RunningMeanStd` merges batches with the parallel-variance formula (Chan et al. 1979): for a batch with
mean :math:`\mu_b`, variance :math:`\sigma_b^2` and count :math:`n_b`, with :math:`\delta = \mu_b - \mu`,
:math:`n' = n + n_b`,

.. math:: \mu' = \mu + \delta\, n_b/n', \qquad
          M' = \sigma^2 n + \sigma_b^2 n_b + \delta^2\, n\, n_b / n', \qquad \sigma'^2 = M'/n'.

- Observation normalization: :math:`\tilde o = \mathrm{clip}((o - \mu)/\sqrt{\sigma^2 + 10^{-8}}, -10, 10)`.
- Reward scaling: :math:`\tilde r_t = \mathrm{clip}(r_t / \sqrt{\mathrm{Var}[R] + 10^{-8}}, -10, 10)` where
  :math:`R_t = \gamma R_{t-1} (1 - d_{t-1}) + r_t` is the running *discounted return* of each env. The mean is not
  subtracted (subtracting it would change the sign of rewards; baselines #538, CleanRL #23).

:class:`PerAgentObsNormalizer` and :class:`PerAgentRewardScaler` keep one statistic per agent for K agents trained
side by side (:mod:`ppo_lite.batched`), with the same formulas, on flat ``(..., K·N, ·)`` env tensors whose agent k
owns envs ``[kN, (k+1)N)``.

The trainer freezes the statistics during a rollout and updates them once per rollout, so every stored
observation of one batch is normalized with the same statistics (the update sees exactly what the rollout saw).
"""
from __future__ import annotations

import torch
from torch import Tensor

from .comm import LocalComm, global_mean_std, global_moments

__all__ = ["RunningMeanStd", "ObsNormalizer", "RewardScaler", "PerAgentObsNormalizer", "PerAgentRewardScaler", "agent_major",
           "normalize_advantages"]


class RunningMeanStd:
    def __init__(self, shape: tuple[int, ...] = (), device: torch.device | str = "cpu") -> None:
        self.mean = torch.zeros(shape, dtype=torch.float64, device=device)
        self.var = torch.ones(shape, dtype=torch.float64, device=device)
        self.count = torch.zeros((), dtype=torch.float64, device=device)

    def update(self, x: Tensor, comm: LocalComm | None = None) -> None:
        """Merge a batch ``x`` of shape (B, *shape), pooled over all processes of ``comm``."""
        x = x.detach().to(self.mean.dtype).reshape(-1, *self.mean.shape)
        mean, var, count = global_moments(x, comm or LocalComm())
        self.update_from_moments(mean, var, count)

    def update_from_moments(self, batch_mean: Tensor, batch_var: Tensor, batch_count: int | Tensor) -> None:
        batch_count = torch.as_tensor(batch_count, dtype=self.mean.dtype, device=self.mean.device)
        total = self.count + batch_count
        delta = batch_mean - self.mean
        new_mean = self.mean + delta * batch_count / total
        m2 = self.var * self.count + batch_var * batch_count + delta.pow(2) * self.count * batch_count / total
        self.mean, self.var, self.count = new_mean, m2 / total, total

    def state_dict(self) -> dict[str, Tensor]:
        return {"mean": self.mean.cpu(), "var": self.var.cpu(), "count": self.count.cpu()}

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        if state["mean"].shape != self.mean.shape:
            raise ValueError(f"normalizer shape mismatch: checkpoint {tuple(state['mean'].shape)}, expected {tuple(self.mean.shape)}")
        device = self.mean.device
        self.mean, self.var, self.count = (state[k].to(device) for k in ("mean", "var", "count"))


class ObsNormalizer:
    """:math:`\\mathrm{clip}((o-\\mu)/\\sqrt{\\sigma^2+\\epsilon}, -c, c)`; identity when ``enabled`` is False."""

    def __init__(self, obs_dim: int, enabled: bool, clip: float = 10.0, eps: float = 1e-8, device: torch.device | str = "cpu") -> None:
        self.enabled, self.clip, self.eps = enabled, clip, eps
        self.rms = RunningMeanStd((obs_dim,), device=device)
        self._refresh()

    def _refresh(self) -> None:
        # Cache float32 mean and 1/std: normalization runs once per env step.
        self._mean = self.rms.mean.float()
        self._inv_std = torch.rsqrt(self.rms.var + self.eps).float()

    def update(self, obs: Tensor, comm: LocalComm | None = None) -> None:
        if self.enabled:
            self.rms.update(obs, comm)
            self._refresh()

    def __call__(self, obs: Tensor) -> Tensor:
        if not self.enabled:
            return obs
        return torch.clamp((obs - self._mean) * self._inv_std, -self.clip, self.clip)

    def state_dict(self) -> dict:
        return self.rms.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.rms.load_state_dict(state)
        self._refresh()


class RewardScaler:
    """Divide rewards by the running std of each env's discounted return, clipped to ±``clip``; identity when disabled.

    ``discounted_return`` holds each env's running :math:`R_t` (not to be confused with the value targets, which
    :mod:`ppo_lite.rollout` calls ``returns``).
    """

    def __init__(self, num_envs: int, gamma: float | Tensor, enabled: bool, clip: float = 10.0, eps: float = 1e-8, device: torch.device | str = "cpu") -> None:
        self.enabled, self.gamma, self.clip, self.eps = enabled, gamma, clip, eps
        self.rms = RunningMeanStd((), device=device)
        self.discounted_return = torch.zeros(num_envs, device=device)
        self._inv_std = torch.ones((), device=device)

    def track(self, reward: Tensor, done: Tensor) -> Tensor:
        """Advance :math:`R \\leftarrow \\gamma R + r` (reset after ``done``) and return R (for the statistics)."""
        self.discounted_return = self.discounted_return * self.gamma + reward
        tracked = self.discounted_return
        self.discounted_return = torch.where(done, torch.zeros_like(tracked), tracked)
        return tracked

    def update(self, tracked: Tensor, comm: LocalComm | None = None) -> None:
        """Merge a rollout's tracked discounted returns (what :meth:`track` returned) into the statistics."""
        if self.enabled:
            self.rms.update(tracked.reshape(-1), comm)
            self._inv_std = torch.rsqrt(self.rms.var + self.eps).float()

    def __call__(self, reward: Tensor) -> Tensor:
        if not self.enabled:
            return reward
        return torch.clamp(reward * self._inv_std, -self.clip, self.clip)

    def state_dict(self) -> dict:
        return {"rms": self.rms.state_dict(), "returns": self.discounted_return.cpu()}  # key kept for old checkpoints

    def load_state_dict(self, state: dict) -> None:
        self.rms.load_state_dict(state["rms"])
        self.discounted_return = state["returns"].to(self.discounted_return.device)
        self._inv_std = torch.rsqrt(self.rms.var + self.eps).float()


# -- K agents side by side (ppo_lite.batched) ----------------------------------------------------------------
def agent_major(x: Tensor, num_agents: int) -> Tensor:
    """(T, K·N, ...) -> (K, T·N, ...): agent k's transitions in the single-agent trainer's (t, n) order."""
    T, KN = x.shape[:2]
    n = KN // num_agents
    return x.reshape(T, num_agents, n, *x.shape[2:]).transpose(0, 1).reshape(num_agents, T * n, *x.shape[2:])


class PerAgentObsNormalizer(ObsNormalizer):
    """:class:`ObsNormalizer` with one running mean/variance per agent, for flat ``(..., K·N, obs_dim)`` observations."""

    def __init__(self, num_agents: int, obs_dim: int, enabled: bool, device: torch.device | str = "cpu") -> None:
        super().__init__(obs_dim, enabled, device=device)
        self.num_agents = num_agents
        self.rms = RunningMeanStd((num_agents, 1, obs_dim), device=device)  # the 1 broadcasts over an agent's envs
        self._refresh()

    def update(self, obs: Tensor, comm: LocalComm | None = None) -> None:
        if comm is not None and comm.world_size > 1:
            raise ValueError("PerAgentObsNormalizer pools over one process only")
        if self.enabled:
            K, D = self.num_agents, obs.shape[-1]
            per_agent = obs.reshape(-1, K, obs.shape[-2] // K, D).transpose(1, 2)  # (T, N, K, D): a sample axis first
            self.rms.update(per_agent.reshape(-1, K, 1, D))  # the moments of RunningMeanStd.update, per agent
            self._refresh()

    def __call__(self, obs: Tensor) -> Tensor:
        if not self.enabled:
            return obs
        per_agent = obs.reshape(*obs.shape[:-2], self.num_agents, -1, obs.shape[-1])
        return super().__call__(per_agent).reshape(obs.shape)


class PerAgentRewardScaler(RewardScaler):
    """:class:`RewardScaler` with one return statistic and one γ per agent, for flat ``(K·N,)`` rewards."""

    def __init__(self, num_agents: int, envs_per_agent: int, gamma: Tensor, enabled: bool, device: torch.device | str = "cpu") -> None:
        super().__init__(num_agents * envs_per_agent, 1.0, enabled, device=device)
        self.num_agents, self.envs_per_agent = num_agents, envs_per_agent
        self.gamma = gamma.to(device).repeat_interleave(envs_per_agent)  # track(): R <- γ_k R + r, elementwise
        self.rms = RunningMeanStd((num_agents,), device=device)
        self._inv_std = torch.ones(num_agents * envs_per_agent, device=device)

    def update(self, tracked: Tensor, comm: LocalComm | None = None) -> None:
        if comm is not None and comm.world_size > 1:
            raise ValueError("PerAgentRewardScaler pools over one process only")
        if self.enabled:
            self.rms.update(agent_major(tracked, self.num_agents).T)  # (T·N, K): the moments per agent
            self._inv_std = torch.rsqrt(self.rms.var + self.eps).float().repeat_interleave(self.envs_per_agent)

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self._inv_std = self._inv_std.repeat_interleave(self.envs_per_agent)


def normalize_advantages(adv: Tensor, comm: LocalComm | None = None, dim: int | None = None) -> Tensor:
    r""":math:`(\hat A - \mathrm{mean}) / (\mathrm{std} + 10^{-8})` over the minibatch (of all processes).

    ``dim=1`` on ``(K, B)`` advantages: each agent's own statistics (:mod:`ppo_lite.batched`, one process).
    Subtracting the mean flips the sign of some advantages: below-average actions are pushed down even when
    their return was positive, which is the baseline's job (SB3 #485); notebook 02 measures it.
    """
    if comm is not None and comm.world_size > 1:
        if dim is not None:
            raise ValueError(f"normalize_advantages: dim={dim} (per-agent statistics) is for one process, not {comm.world_size}")
        mean, std = global_mean_std(adv, comm)
    elif dim is None:
        mean, std = adv.mean(), adv.std()
    else:
        mean, std = adv.mean(dim, keepdim=True), adv.std(dim, keepdim=True)
    return (adv - mean) / (std + 1e-8)
