r"""Data-parallel PPO over K processes with ``torch.distributed`` (``torchrun``): :class:`DistComm` and the wiring.

Each of the K processes (ranks) steps its own ``num_envs`` environments, seeded ``seed + 1_000_003 * rank``, and
all K take the same gradient steps, so the job behaves like one process with :math:`K \cdot` ``num_envs``
environments (notebook 06 reads the trainer; :mod:`ppo_lite.comm` lists where the ranks must agree):

- every optimizer step averages the gradients, :math:`g = \frac1K \sum_k g_k`, in *one* all-reduce of a flat
  bucket holding every gradient. With equal per-rank minibatches, :math:`\frac1K\sum_k \nabla \frac1m\sum_{i \in
  B_k} \ell_i = \nabla \frac{1}{Km}\sum_{i \in \cup_k B_k}\ell_i`, the gradient of the pooled minibatch;
- statistics (advantage mean/std, normalizer moments, approximate KL, explained variance) are pooled from the
  all-reduced sums :math:`n, \sum x, \sum x^2`, so they equal the single-process ones;
- rank 0's initial weights are broadcast; the finiteness flags are all-reduced with ``min`` (all stop together).

``torchrun --nproc_per_node=K -m ppo_lite train ...`` reaches :func:`train_from_env`: it reads torchrun's
environment (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``), refuses bad input on
every rank before any collective (:func:`validate_distributed`), starts the process group (NCCL with one GPU per
rank, ``cuda:LOCAL_RANK``; gloo on CPU) with a timeout so that no rank waits forever for a dead peer, trains,
and tears the group down. ``total_steps`` counts the env steps of all ranks together.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Callable, Iterable

import torch
import torch.distributed as dist
from torch import Tensor, nn

from .checkpoint import load_checkpoint
from .comm import LocalComm
from .config import PPOConfig
from .history import History
from .trainer import Trainer

__all__ = [
    "DistComm", "DistTrainer", "init_from_env", "destroy", "validate_distributed", "train", "train_from_env",
    "launched_by_torchrun", "is_main_process", "rank_device", "pick_backend", "per_rank_config",
]

TIMEOUT_ENV = "PPO_LITE_DIST_TIMEOUT_S"
"""Environment variable: seconds a collective may wait for the other ranks before it fails."""
BACKEND_ENV = "PPO_LITE_DIST_BACKEND"
"""Environment variable: ``auto`` (default), ``gloo`` or ``nccl``."""
DEFAULT_TIMEOUT_S = 180.0
BACKENDS = ("auto", "gloo", "nccl")
_TORCHRUN_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


# -- the launch environment ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class LaunchEnv:
    """What torchrun tells each process: its global rank, the number of ranks, its rank on this machine."""

    rank: int
    world_size: int
    local_rank: int
    master_addr: str
    master_port: int


def launched_by_torchrun() -> bool:
    """True when this process was started by ``torchrun`` (it sets ``RANK`` and ``WORLD_SIZE``)."""
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def is_main_process() -> bool:
    """Rank 0, or a process not started by torchrun."""
    return os.environ.get("RANK", "0").strip() == "0"


def read_launch_env() -> LaunchEnv:
    """Read torchrun's variables, with an error naming the missing or malformed one."""
    missing = [name for name in _TORCHRUN_VARS if name not in os.environ]
    if missing:
        raise ValueError(f"torchrun's environment variables {missing} are not set; start the job with torchrun")
    values: dict[str, int] = {}
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_PORT"):
        try:
            values[name] = int(os.environ[name])
        except ValueError:
            raise ValueError(f"{name}={os.environ[name]!r} is not an integer") from None
    env = LaunchEnv(values["RANK"], values["WORLD_SIZE"], values["LOCAL_RANK"], os.environ["MASTER_ADDR"], values["MASTER_PORT"])
    if env.world_size < 1 or not 0 <= env.rank < env.world_size or env.local_rank < 0:
        raise ValueError(f"RANK={env.rank}, LOCAL_RANK={env.local_rank}, WORLD_SIZE={env.world_size}: need 0 <= RANK < WORLD_SIZE")
    return env


def timeout_from_env() -> float:
    """``PPO_LITE_DIST_TIMEOUT_S`` (seconds, > 0) or :data:`DEFAULT_TIMEOUT_S`."""
    text = os.environ.get(TIMEOUT_ENV, str(DEFAULT_TIMEOUT_S))
    try:
        seconds = float(text)
    except ValueError:
        seconds = float("nan")
    if not seconds > 0:
        raise ValueError(f"{TIMEOUT_ENV}={text!r} is not allowed: give the collective timeout in seconds, > 0")
    return seconds


def pick_backend(device: str, backend: str = "auto") -> str:
    """``auto``: NCCL when the ranks train on CUDA (``device`` ``auto`` with a GPU, ``cuda``, ``cuda:K``), else gloo."""
    if backend not in BACKENDS:
        raise ValueError(f"backend={backend!r} is not allowed: use one of {BACKENDS}")
    if backend != "auto":
        return backend
    on_gpu = device != "cpu" and torch.cuda.is_available()
    return "nccl" if on_gpu and dist.is_nccl_available() else "gloo"


def rank_device(device: str, local_rank: int) -> str:
    """The device of the rank with this ``local_rank``: ``auto``/``cuda`` -> ``cuda:LOCAL_RANK`` when CUDA exists."""
    if device == "auto":
        return f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu"
    if device == "cuda":
        return f"cuda:{local_rank}"
    return device


# -- the communicator ---------------------------------------------------------------------------------------
class DistComm(LocalComm):
    """:class:`~ppo_lite.comm.LocalComm`'s hooks over an initialized ``torch.distributed`` process group."""

    def __init__(self, local_rank: int = 0) -> None:
        if not dist.is_initialized():
            raise RuntimeError("DistComm needs an initialized process group: call init_from_env() first")
        self.rank = dist.get_rank()
        self.world_size = dist.get_world_size()
        self.local_rank = local_rank
        self.backend = dist.get_backend()
        # NCCL moves CUDA tensors only; gloo moves CPU tensors.
        self.device = torch.device(f"cuda:{local_rank}" if self.backend == "nccl" else "cpu")

    def _reduced(self, tensor: Tensor, op: dist.ReduceOp) -> Tensor:
        out = tensor.detach().to(self.device, copy=True)  # the caller's tensor is left as it was
        dist.all_reduce(out, op=op)
        return out.to(tensor.device)

    def all_reduce_sum(self, tensor: Tensor) -> Tensor:
        """:math:`\\sum_k x_k` over the ranks (a new tensor)."""
        return self._reduced(tensor, dist.ReduceOp.SUM)

    def all_reduce_min(self, tensor: Tensor) -> Tensor:
        """:math:`\\min_k x_k` over the ranks (a new tensor)."""
        return self._reduced(tensor, dist.ReduceOp.MIN)

    def sync_gradients(self, params: Iterable[nn.Parameter]) -> None:
        r"""Replace each gradient by its mean over the ranks, :math:`g \leftarrow \frac1K\sum_k g_k`.

        One all-reduce of a flat bucket instead of one per parameter: each collective costs a latency of tens of
        µs, so the 6 tensors of a 64-64 actor-critic head cost one latency instead of 12 (actor and critic).
        Parameters without a gradient are skipped; every rank runs the same graph, so they are the same ones.
        """
        grads = [p.grad for p in params if p.grad is not None]
        if not grads:
            return
        bucket = torch.cat([g.reshape(-1) for g in grads]).to(self.device)
        dist.all_reduce(bucket, op=dist.ReduceOp.SUM)
        bucket.div_(self.world_size)
        _unflatten_into(bucket, grads)

    def broadcast_module(self, module: nn.Module) -> None:
        """Copy rank 0's parameters and buffers into every rank's ``module`` (once, at start: one bucket per dtype)."""
        tensors = [t.data for t in list(module.parameters()) + list(module.buffers())]
        for dtype in sorted({t.dtype for t in tensors}, key=str):
            group = [t for t in tensors if t.dtype == dtype]
            bucket = torch.cat([t.reshape(-1) for t in group]).to(self.device)
            dist.broadcast(bucket, src=0)
            _unflatten_into(bucket, group)

    def gather_floats(self, values: list[float]) -> list[float]:
        """Every rank's ``values``, concatenated in rank order (exact: float64 tensors padded to the longest)."""
        counts = self._all_gather(torch.tensor([len(values)], dtype=torch.int64, device=self.device))
        longest = int(max(c.item() for c in counts))
        if longest == 0:
            return []
        padded = torch.zeros(longest, dtype=torch.float64, device=self.device)
        padded[: len(values)] = torch.tensor(values, dtype=torch.float64)
        gathered = self._all_gather(padded)
        return [v for rows, n in zip(gathered, counts) for v in rows[: int(n.item())].tolist()]

    def gather_objects(self, obj: Any) -> list[Any]:
        """Every rank's picklable ``obj``, in rank order (for checkpoint state and config checks; not per step)."""
        out: list[Any] = [None] * self.world_size
        dist.all_gather_object(out, obj)
        return out

    def _all_gather(self, tensor: Tensor) -> list[Tensor]:
        out = [torch.empty_like(tensor) for _ in range(self.world_size)]
        dist.all_gather(out, tensor)
        return out


def _unflatten_into(bucket: Tensor, tensors: list[Tensor]) -> None:
    offset = 0
    for t in tensors:
        t.copy_(bucket[offset:offset + t.numel()].view_as(t))
        offset += t.numel()


def init_from_env(device: str = "auto", backend: str | None = None, timeout_s: float | None = None) -> DistComm:
    """Start this rank's process group from torchrun's variables and return its :class:`DistComm`.

    ``backend``: ``None`` reads ``PPO_LITE_DIST_BACKEND`` (default ``auto``: NCCL when the ranks train on CUDA,
    gloo otherwise). ``timeout_s``: ``None`` reads ``PPO_LITE_DIST_TIMEOUT_S`` (default 180 s); a collective that
    waits longer for a peer raises instead of hanging.
    """
    env = read_launch_env()
    backend = pick_backend(device, os.environ.get(BACKEND_ENV, "auto") if backend is None else backend)
    _check_backend(backend, rank_device(device, env.local_rank))
    timeout = timeout_from_env() if timeout_s is None else float(timeout_s)
    if not timeout > 0:
        raise ValueError(f"timeout_s={timeout_s!r} is not allowed: give seconds, > 0")
    if backend == "nccl":
        torch.cuda.set_device(env.local_rank)
    dist.init_process_group(backend, init_method="env://", rank=env.rank, world_size=env.world_size, timeout=timedelta(seconds=timeout))
    return DistComm(env.local_rank)


def destroy(after_error: bool = False) -> None:
    """Tear the process group down (no-op when none is running).

    After an error under NCCL the group is left to process exit: destroying it waits for collectives that peers
    which have died will never finish. gloo's teardown is local and always safe.
    """
    if not dist.is_available() or not dist.is_initialized():
        return
    if after_error and dist.get_backend() == "nccl":
        return
    dist.destroy_process_group()


# -- validation ---------------------------------------------------------------------------------------------
def _check_backend(backend: str, device: str) -> None:
    if backend not in ("gloo", "nccl"):
        raise ValueError(f"backend={backend!r} is not allowed: use 'gloo' (CPU) or 'nccl' (one CUDA GPU per rank)")
    if backend == "nccl" and (not device.startswith("cuda") or not torch.cuda.is_available() or not dist.is_nccl_available()):
        raise ValueError(
            f"backend='nccl' cannot run on device={device!r}"
            + ("" if torch.cuda.is_available() else " (torch sees no CUDA GPU)")
            + ": NCCL moves CUDA tensors between GPUs; use backend 'gloo' (or 'auto') on CPU"
        )


def validate_distributed(config: PPOConfig, world_size: int, backend: str = "gloo", resume_from: str | Path | None = None) -> None:
    """Refuse a config that cannot run on ``world_size`` ranks, naming the values; call on every rank, before work.

    ``config.num_envs`` is per rank: one global rollout holds ``world_size * num_envs * num_steps`` transitions,
    each rank's ``num_envs * num_steps`` splits into ``num_minibatches``, and ``total_steps`` counts all ranks.
    """
    if not isinstance(world_size, int) or isinstance(world_size, bool) or world_size < 1:
        raise ValueError(f"world_size={world_size!r} is not allowed: must be a positive integer")
    _check_backend(backend, str(config.device))
    if all(isinstance(v, int) and v > 0 for v in (config.num_envs, config.num_steps, config.num_minibatches)):
        if config.batch_size % config.num_minibatches != 0:
            raise ValueError(
                f"each of the {world_size} ranks collects num_envs*num_steps = {config.num_envs}*{config.num_steps} = "
                f"{config.batch_size} transitions per rollout, which does not split into num_minibatches="
                f"{config.num_minibatches} equal minibatches; choose num_minibatches among the divisors of {config.batch_size}"
            )
        rollout = world_size * config.batch_size
        if isinstance(config.total_steps, int) and config.total_steps < rollout:
            raise ValueError(
                f"total_steps={config.total_steps} is smaller than one rollout of all {world_size} ranks "
                f"(world_size*num_envs*num_steps = {world_size}*{config.num_envs}*{config.num_steps} = {rollout}); "
                "total_steps counts the env steps of all ranks: raise it or shrink the rollout"
            )
    config.validate()
    if resume_from is not None:
        saved = load_checkpoint(resume_from)["config"].get("extra", {}).get("world_size", 1)
        if saved != world_size:
            raise ValueError(
                f"checkpoint {str(resume_from)!r} was made with world_size={saved} ranks, but this job has "
                f"world_size={world_size}: each rank's environments and sampling stream are in the checkpoint, so "
                f"resume it with {saved} ranks (torchrun --nproc_per_node={saved})"
            )


def _check_same_config(config: PPOConfig, comm: DistComm) -> None:
    """Refuse ranks started with different settings (e.g. two machines given different options)."""
    mine = {k: v for k, v in config.to_dict().items() if k != "device"}  # the device differs by rank on purpose
    for rank, other in enumerate(comm.gather_objects(mine)):
        for key in mine:
            if other.get(key) != mine.get(key):
                raise ValueError(
                    f"the ranks were started with different settings: rank {rank} has {key}={other.get(key)!r}, "
                    f"rank {comm.rank} has {key}={mine.get(key)!r}; give every rank the same options"
                )


def per_rank_config(config: PPOConfig, world_size: int) -> PPOConfig:
    """The config each rank's :class:`~ppo_lite.trainer.Trainer` runs: ``total_steps`` divided among the ranks.

    The trainer counts ``num_updates = total_steps // (num_envs*num_steps)`` with its own rollout; dividing
    ``total_steps`` by K gives ``total_steps // (K*num_envs*num_steps)`` updates, so the job takes the
    ``total_steps`` env steps asked for in all. ``extra`` records ``world_size`` for the checkpoint check.
    """
    extra = {**config.extra, "world_size": world_size, "total_steps_all_ranks": config.total_steps}
    return config.replace(total_steps=config.total_steps // world_size, extra=extra)


# -- the trainer --------------------------------------------------------------------------------------------
class DistTrainer(Trainer):
    """A :class:`~ppo_lite.trainer.Trainer` whose checkpoints hold every rank's environments and sampling stream.

    Rank 0 writes the checkpoint, but each rank steps its own envs with its own generator, so their state is
    gathered to every rank after each update (only when a checkpoint will be written) and stored as
    ``rank_states``; on resume each rank takes its own. A user callback's "stop" is agreed by all ranks.
    """

    def __init__(self, config: PPOConfig, resume_from: str | Path | None = None, comm: DistComm | LocalComm | None = None) -> None:
        comm = comm or LocalComm()
        self._rank_states: list[dict[str, Any]] | None = None
        self._gather_for_save = False
        super().__init__(per_rank_config(config, comm.world_size), resume_from=resume_from, comm=comm)

    def run(self, save_path=None, save_every: int = 0, stop_after: int | None = None, progress: bool = True,
            callback: Callable[[int, History], bool | None] | None = None, log_dir: str | Path | None = None) -> History:
        self._gather_for_save = save_path is not None
        if self._gather_for_save:
            self._gather_rank_states()
        history = super().run(save_path, save_every, stop_after, progress, _agreed(callback, self.comm), log_dir)
        if self._gather_for_save:
            # A barrier: no rank returns before rank 0 has written the checkpoint (a resume may follow at once).
            self.comm.all_reduce_min(torch.ones(1))
        return history

    def run_update(self) -> None:
        super().run_update()
        self._pool_loss_figures()
        if self._gather_for_save:
            self._gather_rank_states()

    def _pool_loss_figures(self) -> None:
        """Log the losses of all ranks, not rank 0's alone: :func:`~ppo_lite.trainer.update` returns this rank's
        minibatch means, and with equal minibatches the mean of the K means is the mean of the pooled minibatch."""
        if self.comm.world_size == 1:
            return
        logged = self.history.updates
        local = torch.tensor([logged[key][-1] for key in _LOCAL_FIGURES], dtype=torch.float64)
        pooled = (self.comm.all_reduce_sum(local) / self.comm.world_size).tolist()
        for key, value in zip(_LOCAL_FIGURES, pooled):
            logged[key][-1] = value

    def _gather_rank_states(self) -> None:
        own = {
            "env": self.env.state_dict() if self.env.snapshot_unsupported() is None else None,
            "generator": self.generator.get_state(), "obs": self.obs.cpu(),
            "reward_returns": self.reward_scaler.discounted_return.cpu(), "update": self.counters.update,
        }
        self._rank_states = self.comm.gather_objects(own) if isinstance(self.comm, DistComm) else [own]

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        if self._rank_states is None or self._rank_states[0]["update"] != self.counters.update:
            raise RuntimeError("a DistTrainer checkpoint is written through run(save_path=...), which gathers every rank's state")
        state["rank_states"] = self._rank_states
        return state

    def _load(self, ckpt: dict[str, Any]) -> None:
        saved = ckpt["config"].get("extra", {}).get("world_size", 1)
        if saved != self.comm.world_size:
            raise ValueError(f"checkpoint made with world_size={saved}, this job has world_size={self.comm.world_size}")
        super()._load(ckpt)
        if "rank_states" in ckpt:
            mine = ckpt["rank_states"][self.comm.rank]
            self.generator.set_state(mine["generator"])
            if mine["env"] is not None:  # else the envs restarted from a reset (Trainer._load says so)
                self.env.load_state_dict(mine["env"])
                self.obs = mine["obs"].to(self.device)
            self.reward_scaler.discounted_return = mine["reward_returns"].to(self.device)


_LOCAL_FIGURES = ("policy_loss", "value_loss", "entropy", "clip_frac")
"""Per-update figures each rank computes from its own minibatches (the others are pooled or identical)."""


def _agreed(callback: Callable[[int, History], bool | None] | None, comm: LocalComm) -> Callable[[int, History], bool] | None:
    """Stop every rank when the callback of any rank says stop (ranks that disagree would wait on each other)."""
    if callback is None or comm.world_size == 1:
        return callback

    def agreed(update: int, history: History) -> bool:
        go_on = torch.tensor([0.0 if callback(update, history) else 1.0])
        return comm.all_reduce_min(go_on).item() == 0.0

    return agreed


def train(config: PPOConfig, comm: DistComm, *, resume_from: str | Path | None = None, **run_kwargs: Any) -> History:
    """:func:`ppo_lite.train` on every rank of ``comm``'s group; every rank returns the same history.

    ``config.num_envs`` envs per rank; ``config.total_steps`` env steps over all ranks; ``device`` ``auto`` or
    ``cuda`` becomes ``cuda:LOCAL_RANK``. Bad input is refused on every rank before training. ``run_kwargs``:
    those of :meth:`Trainer.run` (``save_path``, ``save_every``, ``stop_after``, ``progress``, ``callback``,
    ``log_dir``: rank 0 writes it).
    """
    config = config.replace(device=rank_device(str(config.device), getattr(comm, "local_rank", 0)))
    validate_distributed(config, comm.world_size, getattr(comm, "backend", "gloo"), resume_from)
    if isinstance(comm, DistComm):
        _check_same_config(config, comm)
    trainer = DistTrainer(config, resume_from=resume_from, comm=comm)
    try:
        return trainer.run(**run_kwargs)
    finally:
        trainer.env.close()


_NAMED_ERRORS = (ValueError, FileNotFoundError, FloatingPointError)


def train_from_env(config: PPOConfig, **train_kwargs: Any) -> History:
    """The ``torchrun ... -m ppo_lite train`` path: validate, start the group, :func:`train`, tear it down.

    An error on this rank is raised with the rank named (``rank 1 of 2: ...``); the process then exits non-zero
    and torchrun stops the other ranks. A rank whose peer died without exiting fails at the collective timeout.
    """
    env = read_launch_env()
    backend = pick_backend(str(config.device), os.environ.get(BACKEND_ENV, "auto"))
    try:
        device = rank_device(str(config.device), env.local_rank)
        validate_distributed(config.replace(device=device), env.world_size, backend, train_kwargs.get("resume_from"))
        comm = init_from_env(str(config.device), backend)
        history = train(config, comm, **train_kwargs)
    except _NAMED_ERRORS as exc:
        destroy(after_error=True)
        raise type(exc)(f"rank {env.rank} of {env.world_size}: {exc}") from exc
    except BaseException:
        print(f"ppo_lite: rank {env.rank} of {env.world_size} failed", file=sys.stderr, flush=True)
        destroy(after_error=True)
        raise
    destroy()
    return history
