"""Wall time of K CartPole-v1 PPO agents: one batched computation (ppo_lite.batched) against K runs of ppo_lite.train.

    python bench/bench_batched.py                 # CPU, K = 1, 8, 64, 256, 2,560 env steps per agent
    python bench/bench_batched.py --device cuda   # when a GPU is there

Both sides use PPOConfig.for_env("CartPole-v1") (8 envs x 32 steps, 20 epochs, one minibatch) with the same step
budget per agent and torch at one thread. Sequential: K runs of ``ppo_lite.train`` with seeds 0..K-1, every one
timed (half just before the batched run, half just after, so a drift in load biases both sides alike). With
``--seq-runs M`` only M of them are timed and the total is extrapolated linearly (K x their mean), which the table
marks with *; the per-run range shows the timing noise. The batched side runs twice each way, per-agent random
streams (the default) and one shared stream (the stored studies' protocol), in the order per-agent, shared, shared,
per-agent, so the table shows what reproducing every agent alone costs. Prints a markdown table and writes it,
with the machine, to bench/results/batched_<device>.md.
"""
from __future__ import annotations

import argparse
import datetime
import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from common import git_commit, machine, markdown_table  # noqa: E402

from ppo_lite import PPOConfig, train
from ppo_lite.batched import BatchedConfig, train_batched


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--ks", type=int, nargs="+", default=[1, 8, 64, 256])
    parser.add_argument("--steps", type=int, default=2_560, help="env steps per agent (a multiple of 256 = one rollout)")
    parser.add_argument("--seq-runs", type=int, default=None, help="time only this many sequential runs and extrapolate (default: all)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda asked for, but torch sees no CUDA GPU")
    torch.set_num_threads(1)
    base = PPOConfig.for_env("CartPole-v1", device=args.device, total_steps=args.steps)
    base.validate()

    # Warm-up (imports, allocator, first-call costs) outside the timings.
    train(base.replace(total_steps=base.batch_size), progress=False)
    train_batched(BatchedConfig(base.replace(total_steps=base.batch_size), seeds=[0, 1]), progress=False)

    rows = []
    for K in args.ks:
        cfg = BatchedConfig(base, seeds=list(range(K)))
        runs = K if args.seq_runs is None else min(K, args.seq_runs)
        # Half the sequential runs just before the batched run and half just after, so that a drift in the
        # machine's load during this K biases both sides alike.
        seq_times = [timed(lambda k=k: train(cfg.agent_config(k), progress=False)) for k in range((runs + 1) // 2)]
        shared = BatchedConfig(base, seeds=list(range(K)), streams="shared")
        per_agent_s = [timed(lambda: train_batched(cfg, progress=False))]
        shared_s = [timed(lambda: train_batched(shared, progress=False)) for _ in range(2)]
        per_agent_s.append(timed(lambda: train_batched(cfg, progress=False)))
        batched_s, shared_mean = sum(per_agent_s) / 2, sum(shared_s) / 2
        seq_times += [timed(lambda k=k: train(cfg.agent_config(k), progress=False)) for k in range((runs + 1) // 2, runs)]
        sequential_s = K * sum(seq_times) / runs
        rows.append((K, batched_s, sequential_s, runs < K, K * args.steps / batched_s, min(seq_times), max(seq_times), shared_mean))
        print(f"K={K}: batched {batched_s:.1f} s (shared stream {shared_mean:.1f} s), sequential {sequential_s:.1f} s ({runs} timed)", flush=True)
        write_table(args, base, rows)


def write_table(args: argparse.Namespace, base: PPOConfig, rows: list[tuple]) -> None:
    """Write the rows so far (after every K, so that a run cut short still leaves its results)."""
    lines = [
        f"# K CartPole-v1 PPO agents: batched vs sequential ({args.device})",
        "",
        f"- git commit: {git_commit()}",
        f"- date: {datetime.datetime.now().isoformat(timespec='minutes')}",
        f"- machine: {machine()}; load average at the end {', '.join(f'{x:.1f}' for x in os.getloadavg())} "
        "(a shared machine: timings are noisy)",
        f"- config: PPOConfig.for_env('CartPole-v1') (8 envs x 32 steps, 20 epochs, 1 minibatch, 64-64 tanh), "
        f"{args.steps:,} env steps per agent ({args.steps // base.batch_size} updates)",
        "- sequential = K runs of ppo_lite.train, " + ("every one timed" if args.seq_runs is None else
                                                        f"rows marked * timed {args.seq_runs} runs and extrapolated linearly"),
        "- command: `python bench/bench_batched.py " + " ".join(
            f"--{k.replace('_', '-')} {' '.join(map(str, v)) if isinstance(v, list) else v}"
            for k, v in vars(args).items() if v is not None) + "`",
        "",
    ]
    table_rows = [[K, f"{b:.2f}", f"{sh:.2f}", f"{b / sh - 1:+.0%}", f"{s:.1f}{'*' if extrapolated else ''}", f"{lo:.1f}-{hi:.1f}",
                   f"{s / b:.2f}x", f"{sps:,.0f}"]
                  for K, b, s, extrapolated, sps, lo, hi, sh in rows]
    header = ["K", "batched s (per-agent streams, mean of 2)", "batched s (shared stream, mean of 2)", "per-agent cost",
              "sequential s", "one sequential run s (min-max)", "speedup (per-agent)", "aggregate env steps/s (batched)"]
    lines.append(markdown_table(header, table_rows))
    table = "\n".join(lines) + "\n"
    out = args.out or Path(__file__).parent / "results" / f"batched_{args.device}.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(table)
    if len(rows) == len(args.ks):
        print(table)
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
