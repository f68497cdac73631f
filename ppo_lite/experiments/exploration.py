r"""PPO on a hard-exploration task, with and without help (notebook 09): ``python -m ppo_lite.experiments exploration``.

MountainCar-v0 pays −1 per step until the car reaches the flag (p ≥ 0.5), and a random policy almost never gets
there in 200 steps, so every episode of a fresh agent returns −200 and every advantage is noise. Variants, each
trained with the classic-control family's generic settings (CartPole's: ``PPOConfig.for_env(env_id, tuned=False)``;
MountainCar's own default, rl-baselines3-zoo's tuned settings, is the benchmark's) for the same small budget and seeds:

- ``none``: the plain reward;
- ``shaping``: potential-based shaping with the car's mechanical energy as :math:`\Phi`
  (:class:`ppo_lite.envs.exploration.PotentialShaping`, :func:`~ppo_lite.envs.exploration.mountain_car_energy`);
- ``count_bonus``: :math:`\beta/\sqrt{n}` on a grid over (position, velocity)
  (:class:`ppo_lite.envs.exploration.CountBonus`).

Each variant's seeds (:data:`DEFAULT_SEEDS`) train as one batched computation (:mod:`ppo_lite.batched`); the
wrapper goes around the batch's vector env, with one count table per agent. Scores are on the **true** return (the
wrappers pass the env's own episode return through). Each variant is one cell of ``figures/exploration.cells.jsonl``,
written as it finishes (a stopped run resumes; ``--fresh`` starts over); ``figures/exploration.json`` is built from
the log, and ``python -m ppo_lite.experiments exploration`` then draws ``figures/exploration.png``.
"""
from __future__ import annotations

import argparse
import time
from typing import Any, Callable, Sequence

import torch

from ..batched import BatchedConfig, BatchedTrainer
from ..config import PPOConfig
from ..envs.base import VecEnv
from ..envs.exploration import CountBonus, PotentialShaping, mountain_car_energy
from . import STORED_STREAMS

COMMAND = "python -m ppo_lite.experiments exploration"
VARIANTS = ("none", "shaping", "count_bonus")
ENV_ID = "MountainCar-v0"
DEFAULT_STEPS = 40_960  # 160 updates of the default rollout (8 envs x 32 steps)
DEFAULT_SEEDS = 10
"""Seeds per variant: the verdict counts seeds that reach the flag (an exact interval over seeds, not episodes)."""
SHAPING_SCALE = 1e4
"""Φ = 10⁴ × (energy − max energy) ∈ [−41, 0]: pushing along the velocity gains ≈ 10·|v| per step."""
BONUS_BETA, BONUS_BINS = 1.0, 20
GOAL_LENGTH = 200
"""An episode shorter than MountainCar's 200-step limit terminated, i.e. reached the flag."""


def wrapper(variant: str, gamma: float, num_groups: int) -> Callable[[VecEnv], VecEnv] | None:
    """The env wrapper of one variant (``None`` for the plain reward)."""
    if variant == "none":
        return None
    if variant == "shaping":
        return lambda env: PotentialShaping(env, lambda obs: mountain_car_energy(obs, SHAPING_SCALE), gamma)
    if variant == "count_bonus":
        return lambda env: CountBonus(env, beta=BONUS_BETA, bins=BONUS_BINS, num_groups=num_groups)
    raise ValueError(f"unknown variant {variant!r}; use one of {VARIANTS}")


def train_variant(variant: str, base: PPOConfig, seeds: Sequence[int]) -> list[dict[str, Any]]:
    """Train one variant for every seed (as one batch); per seed the learning curve and goal statistics."""
    trainer = BatchedTrainer(BatchedConfig(base=base, seeds=list(seeds), streams=STORED_STREAMS), env_wrapper=wrapper(variant, base.gamma, len(seeds)))
    try:
        histories = trainer.run(progress=False)
    finally:
        trainer.env.close()
    out = []
    for h in histories:
        lengths, returns = h.episodes["length"], h.episodes["return"]
        reached = [s for s, n in zip(h.episodes["env_steps"], lengths) if n < GOAL_LENGTH]
        out.append({
            "env_steps": h["env_steps"], "return": _running_mean(returns, h.episodes["env_steps"], h["env_steps"]),
            "final_return": h.mean_return(), "episodes": len(lengths),
            "goal_fraction": len(reached) / max(len(lengths), 1), "first_goal_step": reached[0] if reached else None,
            "max_return": max(returns) if returns else None,
        })
    return out


def run_cell(variant: str, base: PPOConfig, seeds: Sequence[int]) -> dict[str, Any]:
    """One cell of the log: a variant's runs (:func:`train_variant`) and the seconds they took."""
    t = time.perf_counter()
    runs = train_variant(variant, base, seeds)
    return {"runs": runs, "seconds": round(time.perf_counter() - t, 1)}


def describe_cell(key: str, cell: dict[str, Any]) -> str:
    """The line printed when a variant's cell is done: how many seeds reached the flag."""
    reached = sum(r["goal_fraction"] > 0 for r in cell["runs"])
    return f"{key}: {reached} of {len(cell['runs'])} seeds reach the flag ({cell['seconds']:.0f} s)"


def _running_mean(returns: list[float], ends: list[float], at: list[float], last: int = 20) -> list[float | None]:
    """Mean of the last ``last`` episode returns completed by each step in ``at`` (None before the first)."""
    out, i = [], 0
    for step in at:
        while i < len(ends) and ends[i] <= step:
            i += 1
        window = returns[max(0, i - last):i]
        out.append(sum(window) / len(window) if window else None)
    return out


def main(argv: list[str]) -> int:
    from . import add_sweep_arguments, compute_missing, config_record, open_cell_log, provenance_of_cells, regeneration_command, write_results

    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS, help="env steps per agent")
    parser.add_argument("--seeds", type=int, default=DEFAULT_SEEDS, help="seeds 0..N-1 per variant")
    parser.add_argument("--variants", nargs="*", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--device", default="auto")
    parser.add_argument("--max-cells", type=int, default=None, help="stop after computing this many cells")
    add_sweep_arguments(parser, "exploration")
    args = parser.parse_args(argv)
    if args.seeds < 1 or args.steps < 256:
        raise SystemExit(f"--seeds must be >= 1 and --steps >= 256, got {args.seeds}, {args.steps}")
    log = open_cell_log(args)
    t0 = time.perf_counter()
    seeds = list(range(args.seeds))
    base = PPOConfig.for_env(ENV_ID, tuned=False, total_steps=args.steps, device=args.device)
    wrappers = {"shaping_scale": SHAPING_SCALE, "bonus_beta": BONUS_BETA, "bonus_bins": BONUS_BINS}
    protocols = {v: {"variant": v, "config": config_record(base), "seeds": seeds, **wrappers} for v in args.variants}
    compute_missing(log, [(v, protocols[v], lambda v=v: run_cell(v, base, seeds)) for v in args.variants],
                    args.max_cells, "exploration variants", not args.no_progress, describe=describe_cell)
    cells = {v: c for v in args.variants if (c := log.done(v, protocols[v])) is not None}
    data: dict[str, Any] = {
        "env_id": ENV_ID, "steps": args.steps, "seeds": seeds, "base": config_record(base), **wrappers,
        "variants": {v: c["runs"] for v, c in cells.items()}, "seconds": {v: c["seconds"] for v, c in cells.items()},
        "complete": len(cells) == len(protocols), "cells_done": len(cells), "cells_expected": len(protocols),
        **provenance_of_cells(list(cells.values())),
    }
    path = write_results(args.name, data, time.perf_counter() - t0, regeneration_command(COMMAND, argv), outdir=args.outdir)
    print(f"wrote {path}: {len(cells)}/{len(protocols)} cells ({time.perf_counter() - t0:.0f} s)")
    return 0
