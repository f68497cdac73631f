"""How the trainer talks to other processes: a single-process :class:`LocalComm` (no-ops) by default.

The trainer calls these hooks at the few places where K processes (``torchrun``, see
:mod:`ppo_lite.distributed`) must agree so that they behave like one process with K times the environments:

- ``all_reduce_sum``: advantage-normalization moments, observation/return-normalizer moments, the approximate
  KL (early stopping and the β/η controllers), explained variance, finiteness flags;
- ``sync_gradients``: every optimizer step averages the gradients, so the parameters stay identical;
- ``broadcast_module``: rank 0's initial weights everywhere;
- ``gather_floats``: episode returns and lengths for logging, in rank order.

A single process needs none of it, and :class:`LocalComm` costs nothing.
"""
from __future__ import annotations

from typing import Iterable

import torch
from torch import Tensor, nn


class LocalComm:
    """One process: every collective is the identity."""

    rank = 0
    world_size = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def all_reduce_sum(self, tensor: Tensor) -> Tensor:
        return tensor

    def all_reduce_min(self, tensor: Tensor) -> Tensor:
        return tensor

    def sync_gradients(self, params: Iterable[nn.Parameter]) -> None:
        pass

    def broadcast_module(self, module: nn.Module) -> None:
        pass

    def gather_floats(self, values: list[float]) -> list[float]:
        return list(values)


def global_mean_std(x: Tensor, comm: LocalComm, dim: int | None = None) -> tuple[Tensor, Tensor]:
    r"""Mean and (unbiased) std of ``x`` pooled over all processes, from the sums :math:`n, \sum x, \sum x^2`:
    over every element (``dim=None``: scalars), or along ``dim`` (one mean and std per remaining index)."""
    x64 = x.detach().double()
    if dim is None:
        x64, dim = x64.reshape(-1), 0
    total = x64.sum(dim)
    count = torch.full_like(total, float(x64.shape[dim]))
    sums = comm.all_reduce_sum(torch.stack([count, total, x64.pow(2).sum(dim)]))
    n, s, ss = sums[0], sums[1], sums[2]
    mean = s / n
    var = (ss - n * mean * mean).clamp_min(0.0) / (n - 1).clamp_min(1.0)
    return mean.to(x.dtype), var.sqrt().to(x.dtype)


def global_moments(x: Tensor, comm: LocalComm) -> tuple[Tensor, Tensor, Tensor]:
    """Per-feature mean, population variance and count of ``x`` ``(B, *shape)`` pooled over all processes (float64)."""
    x64 = x.detach().double()
    n = torch.tensor(float(x64.shape[0]), dtype=torch.float64, device=x.device)
    flat = torch.cat([n.reshape(1), x64.sum(0).reshape(-1), x64.pow(2).sum(0).reshape(-1)])
    flat = comm.all_reduce_sum(flat)
    d = x64[0].numel()
    n, s, ss = flat[0], flat[1:1 + d].reshape(x64.shape[1:]), flat[1 + d:].reshape(x64.shape[1:])
    mean = s / n
    var = (ss / n - mean * mean).clamp_min(0.0)
    return mean, var, n
