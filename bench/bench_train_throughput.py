"""Full PPO training throughput (rollout + GAE + update) against the number of envs N, torch-native envs.

    python bench/bench_train_throughput.py                          # CPU: N = 8 .. 1,024
    python bench/bench_train_throughput.py --device cuda --sizes 256 4096 65536 262144

Each N trains CartPole-v1 with the torch backend on ``--device`` for ``--updates`` timed updates (after two
untimed warm-up updates, and one untimed run before the first N: a process's first trainer pays one-time setup)
with a large-batch configuration: ``--steps`` steps per env, ``--epochs`` epochs of ``--minibatches`` minibatches
(one update takes epochs × minibatches gradient steps whatever N is). The phases come from
``ppo_lite.experiments.scaling.profile_updates`` (the trainer's own functions, timed in place, with a CUDA sync
before every clock read). Reported: env steps/s of the whole loop (N × steps / seconds per update) and where the
time goes. This measures speed, not learning: the learning rate and the rest are CartPole's defaults.
Writes ``bench/results/train_throughput_<device>.md``.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import markdown_table, publish  # noqa: E402

from ppo_lite import PPOConfig  # noqa: E402
from ppo_lite.experiments.scaling import profile_updates  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--sizes", type=int, nargs="+", default=[8, 64, 256, 1024])
    parser.add_argument("--steps", type=int, default=16, help="steps per env per rollout (T)")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--minibatches", type=int, default=4)
    parser.add_argument("--updates", type=int, default=3, help="timed updates per N (after two warm-up updates)")
    args = parser.parse_args()
    torch.set_num_threads(1)

    def config(n: int) -> PPOConfig:
        return PPOConfig.for_env("CartPole-v1", num_envs=n, num_steps=args.steps, update_epochs=args.epochs,
                                 num_minibatches=args.minibatches, backend="torch", device=args.device,
                                 total_steps=n * args.steps * (args.updates + 2))

    profile_updates(config(args.sizes[0]), updates=1, warmup=1)  # the process's first trainer pays one-time setup
    rows = []
    for n in args.sizes:
        phases = profile_updates(config(n), updates=args.updates, warmup=2)
        total = phases["total"]
        share = {k: 100 * phases[k] / total for k in ("env_step", "policy_forward", "rollout_other", "gae", "update", "bookkeeping")}
        rows.append([f"{n:,}", f"{n * args.steps:,}", f"{1e3 * total:,.1f}", f"{n * args.steps / total:,.0f}",
                     *(f"{share[k]:.0f}%" for k in ("env_step", "policy_forward", "rollout_other", "update", "bookkeeping"))])
        print(" | ".join(rows[-1]), flush=True)
    header = ["N envs", "samples per update", "ms per update", "env steps/s (whole loop)", "env step", "policy",
              "rollout other", "update", "bookkeeping"]
    body = markdown_table(header, rows)
    body += (f"\n\nPer update: {args.steps} steps per env, {args.epochs} epochs x {args.minibatches} minibatches "
             f"= {args.epochs * args.minibatches} gradient steps; 64-64 tanh actor and critic; device {args.device}.")
    publish(f"train_throughput_{torch.device(args.device).type}", "PPO training throughput against N (CartPole-v1, torch envs)", body)


if __name__ == "__main__":
    main()
