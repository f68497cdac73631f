r"""Where the time of a PPO update goes (notebook 08, ``bench/``): phase timers and an ATen op counter.

:class:`~ppo_lite.trainer.Trainer` exposes one hook: its ``timer`` attribute. When it holds a :class:`PhaseTimer`,
each update times its ``rollout`` (:func:`~ppo_lite.rollout.collect_rollout`), ``gae``
(:func:`~ppo_lite.rollout.compute_advantages`) and ``update`` (:func:`~ppo_lite.trainer.update`) phases;
:func:`profiled` also wraps this trainer's ``env.step`` and ``agent.sample`` to split the rollout. Nothing else
of the trainer changes, and with ``timer = None`` (the default) the hook costs one ``nullcontext`` per phase.
``ppo_lite.experiments.scaling.profile_updates`` turns these timings into the shares of an update.

On CUDA the work is queued asynchronously, so every clock read is preceded by :func:`sync`: the phases then
measure the device's work, not the launches.
"""
from __future__ import annotations

import contextlib
import time
from collections import defaultdict
from typing import TYPE_CHECKING, Any, Callable, Iterator

import torch

if TYPE_CHECKING:  # annotations only
    from .trainer import Trainer

__all__ = ["sync", "PhaseTimer", "profiled", "count_ops"]


def sync(device: torch.device) -> None:
    """Wait for the device's queued work: CUDA runs asynchronously, so a clock read before this measures launches."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class PhaseTimer:
    """Accumulates wall seconds per named phase; every clock read is preceded by :func:`sync`."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        sync(self.device)
        t0 = time.perf_counter()
        try:
            yield
        finally:
            sync(self.device)
            self.seconds[name] += time.perf_counter() - t0
            self.calls[name] += 1

    def wrap(self, name: str, fn: Callable) -> Callable:
        def timed(*args: Any, **kwargs: Any) -> Any:
            with self.phase(name):
                return fn(*args, **kwargs)
        return timed


@contextlib.contextmanager
def profiled(trainer: "Trainer", timer: PhaseTimer) -> Iterator[None]:
    """Time ``trainer``'s updates with ``timer`` while the block runs.

    Sets the trainer's ``timer`` hook (``rollout``, ``gae``, ``update``) and wraps this trainer's ``env.step`` and
    ``agent.sample`` (instance attributes, this trainer only; restored on exit).
    """
    trainer.timer = timer
    trainer.env.step = timer.wrap("env_step", trainer.env.step)
    trainer.agent.sample = timer.wrap("policy_forward", trainer.agent.sample)
    try:
        yield
    finally:
        trainer.timer = None
        del trainer.env.step, trainer.agent.sample


def count_ops(fn: Callable[[], Any]) -> int:
    """Number of ATen ops ``fn`` dispatches (each one a kernel launch on a GPU, eagerly)."""
    from torch.utils._python_dispatch import TorchDispatchMode  # stable in practice, private by name

    class Counter(TorchDispatchMode):
        n = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            Counter.n += 1
            return func(*args, **(kwargs or {}))

    with Counter():
        fn()
    return Counter.n
