r"""What an update reports: the figures the trainers read back, their checks, and the progress bar (notebook 06).

After each update both trainers (:class:`ppo_lite.trainer.Trainer`, one agent, and
:class:`ppo_lite.batched.BatchedTrainer`, K agents) compute their figures on the device and bring them to the host
in **one** transfer, with the rollout's episode ends (:func:`read_back`); :func:`check_finite` then stops training
at the first non-finite observation, reward, loss or parameter, naming the update and the figure.

The critic's figure, the explained variance (notebook 10 reads it),

.. math:: \mathrm{EV} = 1 - \frac{\mathrm{Var}[\hat R - V]}{\mathrm{Var}[\hat R]}

is 1 for a perfect critic, 0 for one no better than a constant, negative for one worse than a constant.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor

from .comm import LocalComm, global_mean_std

__all__ = ["explained_variance", "global_mean", "read_back", "check_finite", "progress_bar"]


def explained_variance(values: Tensor, returns: Tensor, comm: LocalComm | None = None, dim: int | None = None) -> Tensor:
    r""":math:`1 - \mathrm{Var}[\hat R - V] / \mathrm{Var}[\hat R]` (1 = perfect, 0 = no better than a constant).

    Unbiased variances, pooled over all processes; ``dim=1`` on ``(K, B)`` tensors gives one figure per agent.
    """
    comm = comm or LocalComm()
    _, std_ret = global_mean_std(returns, comm, dim)
    _, std_err = global_mean_std(returns - values, comm, dim)
    return 1.0 - std_err.pow(2) / std_ret.pow(2).clamp_min(1e-12)


def global_mean(x: Tensor, comm: LocalComm | None) -> Tensor:
    """Mean of ``x`` over all its elements on all processes."""
    if comm is None or comm.world_size == 1:
        return x.mean()
    sums = comm.all_reduce_sum(torch.stack([x.detach().sum().double(), torch.tensor(float(x.numel()), dtype=torch.float64, device=x.device)]))
    return (sums[0] / sums[1]).to(x.dtype)


def read_back(figures: dict[str, Tensor], dones: Tensor, episode_return: Tensor, episode_length: Tensor,
              num_agents: int = 1) -> tuple[dict[str, list[float]], Tensor, Tensor, Tensor]:
    """The one device-to-host transfer of an update: every figure (a scalar, or ``(K,)`` one per agent) and the
    rollout's ``(T, K·N)`` episode ends, returns and lengths, concatenated into one tensor and copied once.

    Returns the figures as host lists of K floats, and the three episode tensors as ``(K, T, N)`` host tensors
    (agent k owns envs ``[kN, (k+1)N)``). One agent is K = 1."""
    K = num_agents
    names = list(figures)
    T, KN = dones.shape
    host = torch.cat([
        torch.stack([torch.as_tensor(figures[n]).float().to(dones.device).reshape(K) for n in names]).reshape(-1),
        dones.float().reshape(-1), episode_return.float().reshape(-1), episode_length.float().reshape(-1),
    ]).cpu()
    F = len(names)
    per_agent = host[:F * K].reshape(F, K)
    ends = (host[F * K + i * T * KN:F * K + (i + 1) * T * KN].reshape(T, K, KN // K).transpose(0, 1) for i in range(3))
    done, ret, length = ends
    return {n: per_agent[i].tolist() for i, n in enumerate(names)}, done, ret, length


def check_finite(where: str, figures: dict[str, float]) -> None:
    """Stop training at the first non-finite observation, reward, loss or parameter, naming where and which.

    ``figures`` are host floats: ``finite_obs``, ``finite_rewards``, ``finite_params`` flags (1.0 = all finite) and
    the losses; ``where`` names the update (and, for K agents, the agent) in the message.
    """
    for name, what in (("finite_obs", "the environment returned non-finite observations (NaN or inf)"),
                       ("finite_rewards", "the environment returned non-finite rewards (NaN or inf)"),
                       ("finite_params", "a network parameter became non-finite")):
        if figures.get(name, 1.0) != 1.0:
            raise FloatingPointError(f"{where}: {what}; training stopped (the last checkpoint, if any, is from the previous update)")
    for name in ("policy_loss", "value_loss", "entropy", "approx_kl", "grad_norm"):
        if name in figures and not math.isfinite(figures[name]):
            raise FloatingPointError(
                f"{where}: {name} is {figures[name]}; training stopped (the last checkpoint, if any, "
                "is from the previous update). Lower the learning rate or check the rewards and observations."
            )


def progress_bar(enabled: bool, total: int, initial: int, desc: str):
    """A ``tqdm.auto`` bar counting updates (``None`` when disabled); imported only when drawn."""
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc=desc, unit="update", leave=False)
