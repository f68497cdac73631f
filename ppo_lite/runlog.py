"""Follow a run: TensorBoard event files and a CSV of the per-update figures (``train(..., log_dir=DIR)``, ``--log-dir``).

After every update the trainer hands its :class:`~ppo_lite.history.History` to :meth:`RunLog.write`, which logs the
update's figures against the env steps so far: in TensorBoard under the stable tags of :data:`TAGS`
(``tensorboard --logdir DIR``), and as one row of ``DIR/progress.csv`` (columns :data:`COLUMNS`) for people without
TensorBoard. A resumed run appends to both. Under ``torchrun`` only rank 0 writes.
"""
from __future__ import annotations

import csv
import math
import os
from pathlib import Path

from .history import History

__all__ = ["RunLog", "TAGS", "COLUMNS"]

TAGS: dict[str, str] = {
    "episode_return_mean": "rollout/episode_return",
    "episode_length_mean": "rollout/episode_length",
    "policy_loss": "loss/policy",
    "value_loss": "loss/value",
    "grad_norm": "loss/grad_norm",
    "entropy": "policy/entropy",
    "approx_kl": "policy/approx_kl",
    "clip_frac": "policy/clip_fraction",
    "kl_coef": "policy/kl_coef",
    "explained_variance": "value/explained_variance",
    "lr": "train/learning_rate",
    "epochs": "train/epochs",
    "sps": "time/env_steps_per_second",
}
"""History figure -> TensorBoard tag. ``kl_coef`` is β or η (KL objectives only; NaN, so not logged, otherwise)."""

COLUMNS = ("update", "env_steps", *TAGS, "episodes", "time")
"""The columns of ``progress.csv``, one row per update."""


class RunLog:
    """Writes each update of a run to TensorBoard (``torch.utils.tensorboard``) and to ``progress.csv``."""

    def __init__(self, log_dir: str | Path, resumed_at: tuple[int, int] | None = None) -> None:
        """``resumed_at``: ``(update, env_steps)`` of the checkpoint a resumed run starts from. Rows and events the
        log holds past it (a run that died after its last checkpoint) are dropped, so that the log never holds an
        update twice: ``progress.csv`` is rewritten without them, TensorBoard purges them (``purge_step``)."""
        self.log_dir = Path(log_dir)
        try:
            self.log_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ValueError(f"cannot write run logs to {str(log_dir)!r}: {exc}") from None
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as exc:  # torch's writer needs the tensorboard package
            raise ValueError(f"log_dir needs the tensorboard package ({exc}); pip install tensorboard") from None
        self.csv_path = self.log_dir / "progress.csv"
        if resumed_at is not None:
            self._trim_csv(resumed_at[0])
        self.writer = SummaryWriter(str(self.log_dir), flush_secs=10,
                                    purge_step=None if resumed_at is None else resumed_at[1] + 1)
        new_file = not self.csv_path.exists() or self.csv_path.stat().st_size == 0
        self._csv_file = open(self.csv_path, "a", newline="")
        self._csv = csv.writer(self._csv_file)
        if new_file:
            self._csv.writerow(COLUMNS)
            self._csv_file.flush()

    def _trim_csv(self, update: int) -> None:
        """Drop the rows of updates after ``update`` from ``progress.csv`` (written atomically)."""
        if not self.csv_path.exists():
            return
        with open(self.csv_path, newline="") as f:
            rows = list(csv.reader(f))
        if not rows or "update" not in rows[0]:
            return
        col = rows[0].index("update")
        kept = [rows[0]] + [r for r in rows[1:] if r and r[col] and int(float(r[col])) <= update]
        if len(kept) == len(rows):
            return
        tmp = self.csv_path.with_suffix(".csv.tmp")
        with open(tmp, "w", newline="") as f:
            csv.writer(f).writerows(kept)
        os.replace(tmp, self.csv_path)

    def write(self, history: History) -> None:
        """Log the last update of ``history`` (at its ``env_steps``)."""
        row = {key: values[-1] for key, values in history.updates.items() if values}
        step = int(row["env_steps"])
        for key, tag in TAGS.items():
            value = row.get(key)
            if value is not None and math.isfinite(value):
                self.writer.add_scalar(tag, value, global_step=step)
        self._csv.writerow([_cell(row.get(name)) for name in COLUMNS])
        self._csv_file.flush()

    def close(self) -> None:
        self.writer.close()
        self._csv_file.close()


def _cell(value: float | None) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    return str(int(value)) if float(value).is_integer() and abs(value) < 2**53 else repr(float(value))
