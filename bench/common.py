"""Shared helpers for the benchmark scripts: machine description and writing result tables."""
from __future__ import annotations

import platform
import time
from pathlib import Path

import torch

from ppo_lite.experiments import cpu_name as cpu_model  # noqa: F401  (one CPU-name reader for the library and bench/)

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> str:
    cpu = cpu_model()
    gpu = f", GPU {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ""
    return f"{cpu} ({torch.get_num_threads()} torch thread(s), {__import__('os').cpu_count()} cores){gpu}; torch {torch.__version__}; python {platform.python_version()}"


def markdown_table(header: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def write_result(name: str, title: str, body: str, command: str) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.md"
    path.write_text(f"# {title}\n\n- command: `{command}`\n- date: {time.strftime('%Y-%m-%d %H:%M')}\n- machine: {machine()}\n\n{body}\n")
    return path
