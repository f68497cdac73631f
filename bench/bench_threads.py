"""``train()`` from Python at one torch thread (the library's default, ``PPOConfig.num_threads=1``) against torch's
own thread count (``num_threads=None``: one per core), side by side.

    python bench/bench_threads.py                      # CartPole-v1, 5,120 env steps, seeds 0-4
    python bench/bench_threads.py --env Pendulum-v1 --steps 20480

Each seed trains twice in this process, once per setting, alternating which goes first (the second run of a pair
finds warm caches); the table gives each run's wall seconds and the ratio per seed. Before the setting existed a
Python user trained at torch's default and a CLI user at one thread (``--threads 1``), and the two got different
speeds (and, since the summation order changes with the thread count, different numbers). Writes
``bench/results/threads.md``.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import markdown_table, publish  # noqa: E402

from ppo_lite import PPOConfig, train  # noqa: E402


def seconds(config: PPOConfig) -> float:
    t0 = time.perf_counter()
    train(config, progress=False)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="CartPole-v1")
    parser.add_argument("--steps", type=int, default=5120)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    args = parser.parse_args()
    default_threads = torch.get_num_threads()  # torch's own count in this process (one per core)
    seconds(PPOConfig.for_env(args.env, total_steps=args.steps, device="cpu"))  # the first trainer pays one-time setup
    rows, ratios = [], []
    for i, seed in enumerate(args.seeds):
        base = PPOConfig.for_env(args.env, total_steps=args.steps, device="cpu", seed=seed)
        order = [1, None] if i % 2 == 0 else [None, 1]
        t = {n: seconds(base.replace(num_threads=n)) for n in order}
        ratios.append(t[None] / t[1])
        rows.append([seed, f"{t[1]:.2f}", f"{t[None]:.2f}", f"{ratios[-1]:.2f}x", "1 thread" if order[0] == 1 else "default"])
        print(" | ".join(map(str, rows[-1])), flush=True)
    assert torch.get_num_threads() == default_threads, "train() did not restore the thread count"
    body = markdown_table(["seed", "num_threads=1 (s)", f"num_threads=None: {default_threads} threads (s)",
                           "default / one thread", "ran first"], rows)
    body += (f"\n\n{args.env}, {args.steps:,} env steps per run, the library's defaults otherwise. Median ratio "
             f"{statistics.median(ratios):.2f}x (range {min(ratios):.2f}-{max(ratios):.2f}x) over {len(ratios)} seeds: "
             "how much slower training is at torch's own thread count than at the library's default of one thread.")
    publish("threads", f"train() at one thread vs torch's default ({args.env})", body)


if __name__ == "__main__":
    main()
