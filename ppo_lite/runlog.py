"""Follow a run: TensorBoard event files and a CSV of the per-update figures (``train(..., log_dir=DIR)``, ``--log-dir``).

After every update the trainer hands its :class:`~ppo_lite.history.History` to :meth:`RunLog.write`, which logs the
update's figures against the env steps so far: in TensorBoard under the stable tags of :data:`TAGS`
(``tensorboard --logdir DIR``), and as one row of ``DIR/progress.csv`` (columns :data:`COLUMNS`) for people without
TensorBoard. A resumed run appends to both. Under ``torchrun`` only rank 0 writes.
"""
from __future__ import annotations

import csv
import math
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

    def __init__(self, log_dir: str | Path) -> None:
        self.log_dir = Path(log_dir)
        try:
            self.log_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ValueError(f"cannot write run logs to {str(log_dir)!r}: {exc}") from None
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as exc:  # torch's writer needs the tensorboard package
            raise ValueError(f"log_dir needs the tensorboard package ({exc}); pip install tensorboard") from None
        self.writer = SummaryWriter(str(self.log_dir), flush_secs=10)
        self.csv_path = self.log_dir / "progress.csv"
        new_file = not self.csv_path.exists() or self.csv_path.stat().st_size == 0
        self._csv_file = open(self.csv_path, "a", newline="")
        self._csv = csv.writer(self._csv_file)
        if new_file:
            self._csv.writerow(COLUMNS)
            self._csv_file.flush()

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
