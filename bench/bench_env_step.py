"""Env steps per second against the number of envs N: ppo_lite's torch backend vs gymnasium's SyncVectorEnv.

    python bench/bench_env_step.py                      # CartPole-v1, cuda if available else cpu
    python bench/bench_env_step.py --env Acrobot-v1 --device cpu [--compile]

Both sides run in the same process, one after the other for each N, with ``torch.set_num_threads(1)``; actions are
random, drawn on the env's device for ours (``torch.randint`` / ``torch.rand``) and with numpy for gymnasium, as a
training loop would feed each. The number reported is the median over ``--repeats`` timings of N * steps / seconds.
Prints a markdown table and writes it, with the machine, to ``bench/results/env_step_<env>_<device>.md``.
"""
from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from ppo_lite.envs.classic import TORCH_ENVS  # noqa: E402
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, cpu_model, git_commit  # noqa: E402  (bench/common.py)

SIZES = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536)
TARGET_STEPS = 1_000_000  # env steps per timing on our side (fewer steps at large N), ...
GYM_TARGET_STEPS = 20_000  # ... and on gymnasium's, whose steps cost ~100x more


def clock(device: torch.device) -> float:
    """Seconds: on CPU this process's CPU time, so other jobs on a shared machine do not count against either
    side (both are single-threaded, so on an idle machine it equals wall time); on CUDA wall time after a sync."""
    if device.type == "cuda":
        torch.cuda.synchronize()
        return time.perf_counter()
    return time.process_time()


def time_torch(env_id: str, n: int, device: torch.device, compile: bool, repeats: int) -> float:
    env = TORCH_ENVS[env_id](num_envs=n, device=device, compile=compile)
    env.reset(seed=0)
    g = torch.Generator(device=device).manual_seed(0)
    if env.is_discrete:
        def actions():
            return torch.randint(0, env.act_dim, (n,), generator=g, device=device)
    else:
        low = torch.as_tensor(env.single_action_space.low, device=device)
        high = torch.as_tensor(env.single_action_space.high, device=device)

        def actions():
            return low + (high - low) * torch.rand(n, env.act_dim, generator=g, device=device)

    steps = max(20, min(1000, TARGET_STEPS // n))
    for _ in range(10):  # warm-up (and compilation, with --compile)
        env.step(actions())
    rates = []
    for _ in range(repeats):
        start = clock(device)
        for _ in range(steps):
            env.step(actions())
        rates.append(n * steps / (clock(device) - start))
    return statistics.median(rates)


def time_gymnasium(env_id: str, n: int, repeats: int) -> float:
    envs = gym.make_vec(env_id, num_envs=n, vectorization_mode="sync")
    envs.reset(seed=0)
    rng = np.random.default_rng(0)
    space = envs.single_action_space
    if isinstance(space, gym.spaces.Discrete):
        def actions():
            return rng.integers(0, space.n, size=n)
    else:
        def actions():
            return rng.uniform(space.low, space.high, size=(n, *space.shape)).astype(np.float32)

    steps = max(5, min(1000, GYM_TARGET_STEPS // n))
    for _ in range(3):
        envs.step(actions())
    rates = []
    for _ in range(repeats):
        start = clock(torch.device("cpu"))
        for _ in range(steps):
            envs.step(actions())
        rates.append(n * steps / (clock(torch.device("cpu")) - start))
    envs.close()
    return statistics.median(rates)


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="CartPole-v1", choices=sorted(TORCH_ENVS))
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--compile", action="store_true", help="torch.compile our step (EnvClass(compile=True))")
    parser.add_argument("--gym-max-n", type=int, default=4096, help="skip SyncVectorEnv above this N (too slow)")
    parser.add_argument("--repeats", type=int, default=3, help="timings per cell; the median is reported")
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    device = torch.device(args.device)

    rows = []
    for n in args.sizes:
        ours = time_torch(args.env, n, device, args.compile, args.repeats)
        theirs = time_gymnasium(args.env, n, args.repeats) if n <= args.gym_max_n else None
        cells = [f"{n}", f"{ours:,.0f}"]
        cells += [f"{theirs:,.0f}", f"{ours / theirs:.1f}x"] if theirs else ["skipped (too slow)", "-"]
        rows.append("| " + " | ".join(cells) + " |")
        print(rows[-1], flush=True)

    backend = f"torch ({'compiled' if args.compile else 'eager'}, {device})"
    table = "\n".join([
        f"| N | {backend} steps/s | gymnasium SyncVectorEnv steps/s | speedup |",
        "|---|---|---|---|",
        *rows,
    ])
    load = os.getloadavg() if hasattr(os, "getloadavg") else ("?",) * 3
    header = "\n".join([
        f"# Env steps/s: {args.env} on {device}",
        "",
        f"- date: {datetime.datetime.now().isoformat(timespec='seconds')}",
        f"- command: `{' '.join(['python bench/bench_env_step.py', *(argv if argv is not None else sys.argv[1:])])}`",
        f"- git commit: {git_commit()}",
        f"- CPU: {cpu_model()} ({os.cpu_count()} cores visible); torch threads: {torch.get_num_threads()}",
        f"- GPU: {torch.cuda.get_device_name(device) if device.type == 'cuda' else 'none used'}",
        f"- torch {torch.__version__}, gymnasium {gym.__version__}, numpy {np.__version__}, "
        f"Python {platform.python_version()}",
        f"- load average at the end (1/5/15 min): {' / '.join(f'{x:.1f}' for x in load)} "
        "(a shared machine: absolute rates vary, the speedup column compares both sides in the same run)",
        f"- time: {'wall clock' if device.type == 'cuda' else 'CPU time of the process (time.process_time)'}; "
        f"each cell: median of {args.repeats} timings; random actions; SyncVectorEnv skipped above N={args.gym_max_n}",
        "",
    ])
    report = header + "\n" + table + "\n"
    print("\n" + table)
    suffix = "_compiled" if args.compile else ""  # a compiled run keeps the eager table
    out = RESULTS / f"env_step_{args.env}_{device.type}{suffix}.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report)
    print(f"\nwritten to {out}")
    return report


if __name__ == "__main__":
    main()
