"""Shared helpers for the benchmark scripts: machine description and writing result tables."""
from __future__ import annotations

import os
import platform
import sys
import time
from pathlib import Path

import torch

from ppo_lite.experiments import cpu_name as cpu_model  # noqa: F401  (one CPU-name reader for the library and bench/)
from ppo_lite.experiments import git_commit

# Where result tables go; PPO_LITE_BENCH_RESULTS redirects them (gpu_checks.sh's quick CPU check uses it, so a
# smoke run does not overwrite the committed tables).
RESULTS = Path(os.environ.get("PPO_LITE_BENCH_RESULTS", Path(__file__).resolve().parent / "results"))


def machine() -> str:
    cpu = cpu_model()
    gpu = f", GPU {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ""
    return f"{cpu} ({torch.get_num_threads()} torch thread(s), {os.cpu_count()} cores){gpu}; torch {torch.__version__}; python {platform.python_version()}"


def markdown_table(header: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def write_result(name: str, title: str, body: str, command: str) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.md"
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())  # timings from a busy machine are inflated
    path.write_text(f"# {title}\n\n- command: `{command}`\n- git commit: {git_commit()}\n- date: {time.strftime('%Y-%m-%d %H:%M')}\n"
                    f"- machine: {machine()}; load average at the end {load}\n\n{body}\n")
    return path


def publish(name: str, title: str, body: str) -> Path:
    """Print ``body`` and write it to ``RESULTS/<name>.md`` with the command that made it (this script, its arguments)."""
    print(body)
    command = " ".join(["python", f"bench/{Path(sys.argv[0]).name}", *sys.argv[1:]])
    path = write_result(name, title, body, command)
    print(f"wrote {path}")
    return path
