r"""Broken, or just short? (notebook 10, section 8): ``python -m ppo_lite.experiments stuck``.

After 10,240 env steps two Pendulum-v1 runs look alike: returns near a random policy's −1,230. One has the
classic-continuous defaults and is learning; the other has reward scaling off and is broken (its critic cannot reach
the value scale: explained variance near 0). Notebook 10 trains both live for 40,960 env steps on 5 seeds; this
experiment gives both a budget past the one the zoo reports for Pendulum (100k env steps: rl-baselines3-zoo's PPO
reaches about −172), on 10 seeds, and scores each run by its deterministic evaluation return (10 episodes on held-out
seeds, :func:`ppo_lite.experiments.sweep.score_agents`), with the explained variance and KL of every update.

Each arm's seeds train as one batched computation. Writes ``figures/stuck.json`` (about 3 minutes on one CPU core).
"""
from __future__ import annotations

import argparse
import time
from typing import Any

import torch

from ..config import PPOConfig
from .sweep import score_agents

COMMAND = "python -m ppo_lite.experiments stuck"
ENV_ID = "Pendulum-v1"
DEFAULT_STEPS = 102_400  # 50 updates of the classic-continuous rollout (16 envs x 128 steps)
ARMS: dict[str, dict[str, Any]] = {"defaults": {}, "reward scaling off": {"scale_reward": False}}
"""The two runs of notebook 10 section 8: the library's Pendulum defaults, and the same without reward scaling."""
SERIES = ("explained_variance", "approx_kl", "clip_frac")


def score_arms(arms: dict[str, dict[str, Any]], env_id: str, steps: int, seeds: list[int], device: str,
               series: tuple[str, ...], desc: str) -> dict[str, Any]:
    """Train every arm (the :class:`PPOConfig` fields it changes from ``env_id``'s defaults) on ``seeds``, each arm's
    seeds as one batched computation, and score each run (:func:`ppo_lite.experiments.sweep.score_agents`, with the
    per-update ``series``). Returns the results file's body: ``env_id``, ``steps``, ``seeds`` and per arm its runs,
    its config and its seconds."""
    from tqdm.auto import tqdm

    from . import config_record

    data: dict[str, Any] = {"env_id": env_id, "steps": steps, "seeds": seeds, "arms": {}, "configs": {}, "seconds": {}}
    for name in tqdm(list(arms), desc=desc):
        t = time.perf_counter()
        base = PPOConfig.for_env(env_id, total_steps=steps, device=device, **arms[name])
        data["configs"][name] = config_record(base)
        data["arms"][name] = score_agents(base, seeds, series=series)
        data["seconds"][name] = round(time.perf_counter() - t, 1)
    return data


def run_main(name: str, command: str, doc: str, arms: dict[str, dict[str, Any]], env_id: str, default_steps: int,
             series: tuple[str, ...], argv: list[str]) -> int:
    """The command line of an experiment that is a few arms trained to one budget (this one and
    :mod:`ppo_lite.experiments.log_std`): ``--steps``, ``--seeds``, ``--device``, ``--outdir``; writes
    ``NAME.json`` (:func:`score_arms`) with its command and commit."""
    from . import write_results

    parser = argparse.ArgumentParser(prog=command, description=doc.split("\n")[0])
    parser.add_argument("--steps", type=int, default=default_steps, help="env steps per agent")
    parser.add_argument("--seeds", type=int, default=10, help="seeds 0..N-1 per arm")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--outdir", default=None, help="write here instead of figures/ (tests)")
    args = parser.parse_args(argv)
    if args.seeds < 1 or args.steps < 2048:
        raise SystemExit(f"--seeds must be >= 1 and --steps >= 2048 (one rollout), got {args.seeds}, {args.steps}")
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    data = score_arms(arms, env_id, args.steps, list(range(args.seeds)), args.device, series, f"{name} arms")
    path = write_results(name, data, time.perf_counter() - t0, " ".join([command, *argv]), outdir=args.outdir)
    print(f"wrote {path} ({time.perf_counter() - t0:.0f} s)")
    return 0


def main(argv: list[str]) -> int:
    return run_main("stuck", COMMAND, __doc__, ARMS, ENV_ID, DEFAULT_STEPS, SERIES, argv)
