"""Checkpoints: the whole training state, written atomically and loaded with ``weights_only=True``.

A checkpoint holds the config, network weights, optimizer state, normalizer statistics, KL-controller state,
RNG states, the environments' state and current observation, counters and the history so far: resuming from
it continues the exact run (on CPU, the same history as an uninterrupted run with the same seed).

Atomic write: ``torch.save`` to a temporary file in the same directory, ``fsync``, then ``os.replace`` onto the
target. A crash mid-write leaves the previous checkpoint intact; a reader never sees half a file.
``weights_only=True`` refuses to unpickle arbitrary objects, so loading a checkpoint cannot run code.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch

FORMAT_VERSION = 1


def save_checkpoint(state: dict[str, Any], path: str | os.PathLike) -> Path:
    """Write ``state`` (tensors, numbers, strings, lists, dicts) to ``path`` atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {"format_version": FORMAT_VERSION, **state}
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes the file 0600: give it the user's usual permissions
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def check_writable(path: str | os.PathLike) -> None:
    """Refuse, in one line, a checkpoint path that cannot be written: by writing (and removing) a probe file beside
    it, since permission bits do not tell (root, read-only mounts, /sys and /proc)."""
    folder = Path(path).resolve().parent
    if Path(path).is_dir():
        raise ValueError(f"cannot write checkpoints to {str(path)!r}: it is a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=f".{Path(path).name}.", suffix=".probe", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise ValueError(f"cannot write checkpoints to {str(path)!r}: {exc.strerror or exc}") from None


def _umask() -> int:
    mask = os.umask(0)  # reading the umask means setting it: set it straight back
    os.umask(mask)
    return mask


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Load a checkpoint with ``weights_only=True``; a clear ``ValueError`` for missing, truncated or foreign files."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {str(path)!r} does not exist")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated zip, not a torch file, unsafe pickle, ...
        raise ValueError(f"checkpoint {str(path)!r} is unreadable (truncated or not a ppo_lite checkpoint): {exc}") from exc
    if not isinstance(state, dict) or state.get("format_version") != FORMAT_VERSION or "config" not in state:
        raise ValueError(f"checkpoint {str(path)!r} is not a ppo_lite checkpoint (format {FORMAT_VERSION})")
    return state
