"""Ctrl-C and SIGTERM end a training run cleanly: at the next update boundary, with a checkpoint.

While :meth:`Trainer.run <ppo_lite.trainer.Trainer.run>` trains, the first SIGINT (Ctrl-C, Jupyter's interrupt) or
SIGTERM (a scheduler's stop) only asks to stop: the update in progress finishes, the checkpoint is written when a
save path was given, and :class:`TrainingInterrupted` is raised (a ``KeyboardInterrupt``, so code that already
catches Ctrl-C keeps working). A second signal abandons the update in progress at once (a plain
``KeyboardInterrupt``); the last checkpoint written stays as it was. Handlers are installed only in the main thread
(Python delivers signals there) and the previous ones are restored when the run returns.

Under ``torchrun`` only SIGINT is deferred: torchrun ends a job whose rank failed by sending SIGTERM to the others,
which may be blocked in a collective with the failed rank and could never reach an update boundary.
"""
from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path
from typing import Any

__all__ = ["TrainingInterrupted", "StopOnSignal"]


class TrainingInterrupted(KeyboardInterrupt):
    """Training stopped at an update boundary after a signal. ``history`` holds the run so far; ``checkpoint`` is the
    path written at the stop (``None`` when no save path was given)."""

    def __init__(self, signal_name: str, update: int, num_updates: int, env_steps: int,
                 checkpoint: Path | None, history: Any) -> None:
        self.signal_name, self.update, self.num_updates, self.env_steps = signal_name, update, num_updates, env_steps
        self.checkpoint, self.history = checkpoint, history
        saved = (f"checkpoint written to {str(checkpoint)!r} (continue with resume_from / --resume)" if checkpoint
                 else "no checkpoint written (no save path was given)")
        super().__init__(f"{signal_name}: training stopped after update {update}/{num_updates} "
                         f"({env_steps:,} env steps); {saved}")


class StopOnSignal:
    """Context manager: the first SIGINT/SIGTERM sets :attr:`signal_name`; a second raises ``KeyboardInterrupt``."""

    SIGNALS = ("SIGINT", "SIGTERM")

    def __init__(self, announce: bool = True, signals: tuple[str, ...] = SIGNALS) -> None:
        self.signal_name: str | None = None
        self.announce = announce
        self.signals = signals
        self._previous: dict[int, Any] = {}

    def _handler(self, signum: int, frame: Any) -> None:
        if self.signal_name is not None:
            raise KeyboardInterrupt(f"second {signal.Signals(signum).name}: the update in progress is abandoned")
        self.signal_name = signal.Signals(signum).name
        if self.announce:
            print(f"\n{self.signal_name} received: stopping after this update "
                  "(send it again to stop at once, without a new checkpoint)", file=sys.stderr, flush=True)

    def __enter__(self) -> "StopOnSignal":
        if threading.current_thread() is threading.main_thread():
            for name in self.signals:
                sig = getattr(signal, name)
                self._previous[sig] = signal.signal(sig, self._handler)
        return self

    def __exit__(self, *exc: Any) -> None:
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)
        self._previous.clear()
