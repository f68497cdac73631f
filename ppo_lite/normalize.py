r"""Running statistics for observation normalization and reward scaling (notebook 07 ablates both).

:class:`RunningMeanStd` merges batches with the parallel-variance formula (Chan et al. 1979): for a batch with
mean :math:`\mu_b`, variance :math:`\sigma_b^2` and count :math:`n_b`, with :math:`\delta = \mu_b - \mu`,
:math:`n' = n + n_b`,

.. math:: \mu' = \mu + \delta\, n_b/n', \qquad
          M' = \sigma^2 n + \sigma_b^2 n_b + \delta^2\, n\, n_b / n', \qquad \sigma'^2 = M'/n'.

- Observation normalization: :math:`\tilde o = \mathrm{clip}((o - \mu)/\sqrt{\sigma^2 + 10^{-8}}, -10, 10)`.
- Reward scaling: :math:`\tilde r_t = r_t / \sqrt{\mathrm{Var}[R] + 10^{-8}}` where
  :math:`R_t = \gamma R_{t-1} (1 - d_{t-1}) + r_t` is the running *discounted return* of each env. The mean is not
  subtracted (subtracting it would change the sign of rewards; baselines #538, CleanRL #23).

The trainer freezes the statistics during a rollout and updates them once per rollout, so every stored
observation of one batch is normalized with the same statistics (the update sees exactly what the rollout saw).
"""
from __future__ import annotations

import torch
from torch import Tensor

from .comm import LocalComm, global_moments

__all__ = ["RunningMeanStd", "ObsNormalizer", "RewardScaler"]


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

    def __init__(self, obs_dim: int, enabled: bool, clip: float = 10.0, eps: float = 1e-8, device="cpu") -> None:
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
    """Divide rewards by the running std of each env's discounted return; identity when disabled."""

    def __init__(self, num_envs: int, gamma: float, enabled: bool, clip: float = 10.0, eps: float = 1e-8, device="cpu") -> None:
        self.enabled, self.gamma, self.clip, self.eps = enabled, gamma, clip, eps
        self.rms = RunningMeanStd((), device=device)
        self.returns = torch.zeros(num_envs, device=device)
        self._inv_std = torch.ones((), device=device)

    def track(self, reward: Tensor, done: Tensor) -> Tensor:
        """Advance :math:`R \\leftarrow \\gamma R + r` (reset after ``done``) and return R (for the statistics)."""
        self.returns = self.returns * self.gamma + reward
        tracked = self.returns
        self.returns = torch.where(done, torch.zeros_like(self.returns), self.returns)
        return tracked

    def update(self, returns: Tensor, comm: LocalComm | None = None) -> None:
        if self.enabled:
            self.rms.update(returns.reshape(-1), comm)
            self._inv_std = torch.rsqrt(self.rms.var + self.eps).float()

    def __call__(self, reward: Tensor) -> Tensor:
        if not self.enabled:
            return reward
        return torch.clamp(reward * self._inv_std, -self.clip, self.clip)

    def state_dict(self) -> dict:
        return {"rms": self.rms.state_dict(), "returns": self.returns.cpu()}

    def load_state_dict(self, state: dict) -> None:
        self.rms.load_state_dict(state["rms"])
        self.returns = state["returns"].to(self.returns.device)
        self._inv_std = torch.rsqrt(self.rms.var + self.eps).float()
