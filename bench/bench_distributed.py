"""Data-parallel PPO on this CPU: env steps/s and time to CartPole-v1's 475 against the number of ranks.

    python bench/bench_distributed.py [--seeds 0 1 2 3 4] [--ranks 1 2]

Each run trains CartPole-v1 with the single-process defaults (8 envs in all: 8 for one rank, 4 per rank for two,
the same global batch) until the mean of the last 20 episodes reaches 475 (at most 150k env steps), one torch
thread per rank. ``1 rank`` is the plain process (no torch.distributed); K > 1 is a torchrun job over gloo. The
two-rank job also times one all-reduce of a gradient bucket and one gradient step for the network sizes below,
which the cost model in the results file uses. Writes ``bench/results/distributed_cpu.md``.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import cpu_model, git_commit  # noqa: E402  (bench/common.py)

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results" / "distributed_cpu.md"
ENVS_IN_ALL = 8
# (name, obs_dim, act_dim, discrete, hidden): the nets whose all-reduce the cost model prices.
NETS = [
    ("CartPole 64-64", 4, 2, True, (64, 64)),
    ("Pendulum 64-64", 3, 1, False, (64, 64)),
    ("HalfCheetah-size 256-256", 17, 6, False, (256, 256)),
]


def count_params(obs_dim: int, act_dim: int, discrete: bool, hidden: tuple[int, ...]) -> int:
    from ppo_lite.policies import ActorCritic

    return sum(p.numel() for p in ActorCritic(obs_dim, act_dim, discrete, hidden).parameters())


# -- the ranks' program ---------------------------------------------------------------------------------------
def rank_main(seed: int, out: str) -> None:
    """One training run (every rank), then, with K > 1, the all-reduce and gradient-step timings."""
    from ppo_lite import PPOConfig, distributed, train

    torch.set_num_threads(1)
    k = int(os.environ.get("WORLD_SIZE", "1"))
    cfg = PPOConfig.for_env("CartPole-v1", device="cpu", seed=seed, num_envs=ENVS_IN_ALL // k)
    solved = lambda update, history: history.steps_to_threshold(475) is not None  # noqa: E731
    t0 = time.perf_counter()
    if k == 1:
        history, comm = train(cfg, progress=False, callback=solved), None
    else:
        comm = distributed.init_from_env("cpu")
        history = distributed.train(cfg, comm, progress=False, callback=solved)
    seconds = time.perf_counter() - t0
    result = {
        "ranks": k, "seed": seed, "seconds": seconds, "env_steps": history["env_steps"][-1],
        "solved_at": history.steps_to_threshold(475),
        "sps": history["env_steps"][-1] / seconds,
    }
    if comm is not None:
        result["timings"] = time_collectives(comm)
        distributed.destroy()
    if os.environ.get("RANK", "0") == "0":
        Path(out).write_text(json.dumps(result))


def time_collectives(comm, repeats: int = 200) -> dict[str, dict[str, float]]:
    """Median µs of one gradient all-reduce (``sync_gradients``) and of one gradient step, per net."""
    from ppo_lite.policies import ActorCritic

    timings = {}
    for name, obs_dim, act_dim, discrete, hidden in NETS:
        torch.manual_seed(0)
        agent = ActorCritic(obs_dim, act_dim, discrete, hidden)
        obs = torch.randn(128, obs_dim)
        actions = torch.randint(0, act_dim, (128,)) if discrete else torch.randn(128, act_dim)

        def step() -> None:
            logp, entropy, value = agent.evaluate(obs, actions)
            (logp.mean() + value.pow(2).mean() - 0.01 * entropy.mean()).backward()

        step()
        reduce_us, step_us = [], []
        for _ in range(repeats):
            t = time.perf_counter()
            comm.sync_gradients(agent.parameters())
            reduce_us.append(1e6 * (time.perf_counter() - t))
            t = time.perf_counter()
            agent.zero_grad()
            step()
            step_us.append(1e6 * (time.perf_counter() - t))
        timings[name] = {"allreduce_us": statistics.median(reduce_us), "grad_step_us": statistics.median(step_us)}
    return timings


# -- the driver -----------------------------------------------------------------------------------------------
def run(k: int, seed: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        me = [str(Path(__file__).resolve()), "--rank-main", str(seed), str(out)]
        if k == 1:
            cmd = [sys.executable, *me]
        else:
            cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={k}", *me]
        env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
        subprocess.run(cmd, cwd=REPO, env=env, check=True, stdout=subprocess.DEVNULL)
        return json.loads(out.read_text())


def cost_model(timings: dict[str, dict[str, float]] | None) -> str:
    r"""Bytes all-reduced per optimizer step against compute, on this CPU and on paper for GPUs."""
    lines = [
        "## What one optimizer step sends",
        "",
        "One all-reduce of the whole gradient (float32) per optimizer step, plus one of 3 float64 numbers for the",
        "pooled advantage mean/std. A ring all-reduce over K ranks moves 2(K-1)/K times the bucket per rank and takes",
        "2(K-1) latency-bound hops (NCCL's tree: about 2 log2 K).",
        "",
        "| network | parameters | bytes per step | 8 GPUs, NVLink ~300 GB/s: bandwidth term | 2 machines, 25 Gb/s Ethernet: bandwidth term | measured here: gloo all-reduce, 2 ranks | measured here: gradient step, 128 samples |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, obs_dim, act_dim, discrete, hidden in NETS:
        n = count_params(obs_dim, act_dim, discrete, hidden)
        size = 4 * n
        nvlink_us = 2 * 7 / 8 * size / 300e9 * 1e6
        ether_us = 2 * 1 / 2 * size / (25e9 / 8) * 1e6
        t = (timings or {}).get(name)
        measured = (f"{t['allreduce_us']:.0f} µs", f"{t['grad_step_us']:.0f} µs") if t else ("n/a", "n/a")
        lines.append(f"| {name} | {n:,} | {size / 1024:.1f} KiB | {nvlink_us:.2f} µs | {ether_us:.0f} µs | {measured[0]} | {measured[1]} |")
    lines += [
        "",
        "Reading it:",
        "",
        "- **Bandwidth is not the cost; latency is.** Even the 256-256 net (~0.56 MiB) needs about 3 µs of NVLink",
        "  bandwidth. A small all-reduce costs its latency: ~10-30 µs inside one NVLink machine (NCCL), ~50-100 µs",
        "  per step between machines over TCP at 25 Gb/s, and 2(K-1) such hops for a ring.",
        "- **A gradient step of these nets is also latency-bound on a GPU**: a 64-64 actor-critic forward+backward+Adam",
        "  is ~30 kernels, ~0.3-0.5 ms whatever the minibatch, and it does not get shorter when K ranks split the",
        "  minibatch. So K GPUs buy K times the environments (and samples per update), not a faster update: each",
        "  optimizer step costs one GPU step plus ~2 all-reduce latencies (gradients, advantage moments), and each",
        "  update adds ~10 small collectives (KL, explained variance, finiteness, normalizers, episode logging).",
        "- **8 GPUs in one machine** (NVLink): 2 collectives x ~20 µs against ~400 µs of step, ~10% overhead: it pays",
        "  when one GPU's envs are the bottleneck, i.e. the rollout (num_envs*num_steps per rank) is large enough that",
        "  stepping envs and the minibatch compute dominate (thousands of torch-native envs per GPU). With the",
        "  classic-control defaults (8 envs, 256-sample batches) one GPU is idle most of the time and K GPUs only add",
        "  collectives.",
        "- **Several machines** (25 Gb/s Ethernet): the 64-64 bucket (36 KiB) costs ~12 µs of bandwidth but the TCP",
        "  ring costs 2(K-1) x ~50 µs: ~0.7 ms at K=8 ranks on 2+ machines, 2 per step, i.e. more than the step itself.",
        "  It stops paying for these small nets unless each rank's rollout is large (the env stepping time per update",
        "  must dwarf updates x minibatches x epochs x ~1.5 ms). The 256-256 net adds ~180 µs of bandwidth per step,",
        "  still small next to its latency; what helps is fewer, larger steps (more samples per minibatch, fewer",
        "  minibatches), not more ranks.",
        "- **On this CPU** (2 cores shared with other work), 2 gloo ranks on loopback: an all-reduce waits until the",
        "  other rank is scheduled, so with more runnable processes than cores its time is scheduling, not bytes, and",
        "  two ranks are slower than one process. Data parallelism pays only with a free core (or GPU) per rank.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()

    rows, timings = [], None
    for seed in args.seeds:
        for k in args.ranks:  # interleaved, so a change in the machine's load hits every K alike
            r = run(k, seed)
            rows.append(r)
            timings = r.get("timings", timings)
            print(f"ranks={k} seed={seed}: {r['sps']:.0f} env steps/s, solved at {r['solved_at']} env steps in {r['seconds']:.1f} s", flush=True)

    table = [
        "| ranks | envs per rank | seeds | env steps/s (median) | env steps to 475 (median) | seconds to 475 (median) |",
        "| ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for k in args.ranks:
        mine = [r for r in rows if r["ranks"] == k]
        steps = [r["solved_at"] for r in mine if r["solved_at"] is not None]
        secs = [r["seconds"] for r in mine if r["solved_at"] is not None]
        table.append(
            f"| {k} | {ENVS_IN_ALL // k} | {len(mine)} ({len(steps)} solved) | {statistics.median(r['sps'] for r in mine):,.0f} | "
            + (f"{statistics.median(steps):,.0f} | {statistics.median(secs):.1f} |" if steps else "not reached | - |")
        )
    load = os.getloadavg()
    header = [
        "# Data-parallel PPO on CPU: ranks against env steps/s and time to CartPole-v1's 475",
        "",
        f"Machine: {cpu_model()}, {os.cpu_count()} cores (shared; load average {load[0]:.1f} at the end), torch "
        f"{torch.__version__}, 1 thread per rank, gloo over loopback. Date: {datetime.date.today().isoformat()}.",
        f"Git commit: {git_commit()}.",
        f"Command: `python bench/bench_distributed.py --seeds {' '.join(map(str, args.seeds))} --ranks {' '.join(map(str, args.ranks))}`.",
        "CartPole-v1 defaults (8 envs in all, 32 steps, 20 epochs, one minibatch), stop at the mean of the last 20",
        "episodes >= 475 (at most 150k env steps). `1` is a plain process; K > 1 a torchrun job.",
        "",
    ]
    per_run = ["", "Runs:", "", "| ranks | seed | env steps/s | solved at | seconds |", "| ---: | ---: | ---: | ---: | ---: |"]
    per_run += [f"| {r['ranks']} | {r['seed']} | {r['sps']:,.0f} | {r['solved_at']} | {r['seconds']:.1f} |" for r in rows]
    text = "\n".join(header + table + per_run) + "\n\n" + cost_model(timings) + "\n"
    print("\n" + text)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text)
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--rank-main":
        rank_main(int(sys.argv[2]), sys.argv[3])
    else:
        main()
