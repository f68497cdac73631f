r"""Exploration that scales (notebook 09): ``python -m ppo_lite.experiments deep_sea``.

DeepSea of size N (:mod:`ppo_lite.envs.deep_sea`, bsuite's exploration task) pays +1 only to a policy that moves
right at every one of its N steps, costs 0.01/N per right move, and is found by uniform random actions with
probability :math:`2^{-N}`. For each size in :data:`SIZES`, each variant trains on :data:`SEEDS` with the library's
defaults for the task (``PPOConfig.for_env``) for :data:`EPISODES` episodes per agent (:math:`N \cdot` EPISODES env
steps), and is scored on the **true** reward:

- ``ppo``: plain PPO;
- ``count_bonus``: PPO with :math:`\beta/\sqrt{n(s')}` added per step, counting visits to the grid's cells
  (:class:`ppo_lite.envs.exploration.CountBonus`, one table per agent), β chosen from :data:`BETA_GRID` on the tuning
  seeds at size :data:`TUNING_SIZE` (the best mean of the scores below, then fixed for every size);
- ``shaping``: potential-based shaping with the column as the potential, :math:`\Phi(s) = c(s)`
  (:class:`ppo_lite.envs.exploration.PotentialShaping`): the fix that uses what we know of the task (go right); it keeps
  the optimal policy (Ng et al. 1999).

Scores per agent: ``solved`` (its deterministic policy reaches the treasure after training), the share of training
episodes that reached it, and the first episode that did. Per (variant, N): solved seeds with a Clopper-Pearson
interval. Each (variant, N) and each tuning cell is one line of ``figures/deep_sea.cells.jsonl``, written as it
finishes; ``figures/deep_sea.json`` is rebuilt from the log, and the entry point draws ``figures/deep_sea.png``.
"""
from __future__ import annotations

import argparse
import time
from typing import Any, Callable, Sequence

import torch
from scipy import stats as _scipy_stats
from torch import Tensor

from ..batched import BatchedConfig, BatchedTrainer
from ..config import PPOConfig
from ..envs.base import VecEnv
from ..envs.deep_sea import deep_sea_id
from ..evaluation import evaluate_agents
from ..envs.exploration import CountBonus, PotentialShaping
from . import (STORED_STREAMS, CellBudget, add_sweep_arguments, compute_cell, open_cell_log, provenance_of_cells, refuse_unknown,
                regeneration_command, write_results)

COMMAND = "python -m ppo_lite.experiments deep_sea"
SIZES = (4, 6, 8, 10, 12, 14, 16, 20)
EPISODES = 2_000
SEEDS = tuple(range(5))
TUNING_SEEDS = (100, 101)
TUNING_SIZE = 10
BETA_GRID = (0.01, 0.03, 0.1, 0.3)
VARIANTS = ("ppo", "count_bonus", "shaping")
DEEP_SEA_NAMES = {"ppo": "PPO", "count_bonus": "PPO + count bonus", "shaping": "PPO + column shaping"}
SUCCESS = 0.5
"""An episode whose return exceeds this found the treasure (the best return without it is 0)."""


def base_config(size: int, episodes: int = EPISODES) -> PPOConfig:
    """The library's defaults for DeepSea of size ``size``, for ``episodes`` episodes per agent (whole rollouts)."""
    cfg = PPOConfig.for_env(deep_sea_id(size))
    steps = max(cfg.batch_size, (episodes * size) // cfg.batch_size * cfg.batch_size)
    return cfg.replace(total_steps=steps).validate()


def column_potential(size: int) -> Callable[[Tensor], Tensor]:
    r""":math:`\Phi(s) = c(s)`, the column of a one-hot DeepSea observation (0 for the all-zero last one)."""
    def phi(obs: Tensor) -> Tensor:
        cell = obs.argmax(1)
        return torch.where(obs.sum(1) > 0, cell % size, 0).to(torch.float32)
    return phi


def wrapper(variant: str, size: int, gamma: float, num_groups: int, beta: float | None) -> Callable[[VecEnv], VecEnv] | None:
    """The env wrapper of one variant (``None`` for plain PPO)."""
    if variant == "ppo":
        return None
    if variant == "shaping":
        return lambda env: PotentialShaping(env, column_potential(size), gamma)
    if variant == "count_bonus":
        if beta is None:
            raise ValueError("count_bonus needs beta")
        return lambda env: CountBonus(env, beta=beta, num_groups=num_groups, cells=(env.cell_index, size * size + 1))
    raise ValueError(f"unknown variant {variant!r}; use one of {VARIANTS}")


def train_cell(variant: str, size: int, seeds: Sequence[int], episodes: int = EPISODES, beta: float | None = None) -> dict[str, Any]:
    """Train one variant at one size on every seed as one batch; per agent: solved, training success share, first
    success (episode index)."""
    base = base_config(size, episodes)
    t0 = time.perf_counter()
    trainer = BatchedTrainer(BatchedConfig(base=base, seeds=list(seeds), streams=STORED_STREAMS), env_wrapper=wrapper(variant, size, base.gamma, len(seeds), beta))
    try:
        histories = trainer.run(progress=False)
        eval_returns = evaluate_agents(trainer, episodes=1)  # the env is deterministic: one episode says it all
    finally:
        trainer.env.close()
    runs = []
    for seed, h, ev in zip(seeds, histories, eval_returns):
        hits = [r > SUCCESS for r in h.episodes["return"]]
        runs.append({"seed": int(seed), "solved": ev[0] > SUCCESS, "eval_return": round(ev[0], 4),
                     "train_success": round(sum(hits) / max(1, len(hits)), 4), "episodes": len(hits),
                     "first_success": hits.index(True) if any(hits) else None})
    return {"variant": variant, "size": size, "beta": beta, "runs": runs, "seconds": round(time.perf_counter() - t0, 1)}


def score(cell: dict[str, Any]) -> float:
    """A cell's tuning score: mean over seeds of solved (1/0) plus the training success share (ties broken by it)."""
    return sum(r["solved"] + r["train_success"] for r in cell["runs"]) / len(cell["runs"])


def clopper_pearson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Exact binomial interval for k successes in n trials."""
    a = (1 - level) / 2
    lo = 0.0 if k == 0 else float(_scipy_stats.beta.ppf(a, k, n - k + 1))
    hi = 1.0 if k == n else float(_scipy_stats.beta.ppf(1 - a, k + 1, n - k))
    return lo, hi


def summarize(cells: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (variant, size): seeds solved with a Clopper-Pearson interval, mean training success share."""
    rows = []
    for c in cells:
        k, n = sum(r["solved"] for r in c["runs"]), len(c["runs"])
        lo, hi = clopper_pearson(k, n)
        rows.append({"variant": c["variant"], "size": c["size"], "beta": c["beta"], "solved": k, "seeds": n,
                     "solved_ci": [round(lo, 3), round(hi, 3)],
                     "train_success": round(sum(r["train_success"] for r in c["runs"]) / n, 4)})
    return rows


def largest_solved(rows: list[dict[str, Any]], variant: str, share: float = 0.5) -> int | None:
    """The largest size at which at least ``share`` of the variant's seeds solved, every smaller size too."""
    best = None
    for r in sorted((r for r in rows if r["variant"] == variant), key=lambda r: r["size"]):
        if r["solved"] / r["seeds"] < share:
            break
        best = r["size"]
    return best


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), help=f"among {VARIANTS}")
    parser.add_argument("--episodes", type=int, default=EPISODES, help="training episodes per agent")
    parser.add_argument("--seeds", type=int, default=len(SEEDS), help="seeds 0..N-1")
    parser.add_argument("--beta-grid", type=float, nargs="+", default=list(BETA_GRID))
    parser.add_argument("--tuning-size", type=int, default=TUNING_SIZE)
    parser.add_argument("--max-cells", type=int, default=None, help="stop after computing this many cells")
    add_sweep_arguments(parser, "deep_sea")
    ns = parser.parse_args(argv)
    refuse_unknown("variant", ns.variants, VARIANTS)
    for size in [*ns.sizes, ns.tuning_size]:
        if not 2 <= size <= 64:
            raise SystemExit(f"sizes must lie in [2, 64], got {size}")
    if ns.seeds < 2 or ns.episodes < 1 or not ns.beta_grid or min(ns.beta_grid) <= 0:
        raise SystemExit(f"need --seeds >= 2, --episodes >= 1 and positive --beta-grid; got {ns.seeds}, {ns.episodes}, {ns.beta_grid}")
    log = open_cell_log(ns)
    seeds = list(range(ns.seeds))
    t0, budget = time.perf_counter(), CellBudget(ns.max_cells)

    def line(key: str, out: dict[str, Any]) -> str:
        return f"{key}: solved {sum(r['solved'] for r in out['runs'])}/{len(out['runs'])} ({out['seconds']:.0f} s)"

    def cell(key: str, protocol: dict[str, Any], compute: Callable[[], dict[str, Any]]) -> dict[str, Any] | None:
        return compute_cell(log, key, protocol, compute, budget, line)

    def protocol(variant: str, size: int, beta: float | None, s: list[int]) -> dict[str, Any]:
        return {"config": base_config(size, ns.episodes).to_dict(), "variant": variant, "beta": beta, "seeds": s}

    tuning = []
    if "count_bonus" in ns.variants:
        for beta in ns.beta_grid:
            c = cell(f"tune/beta={beta:g}", protocol("count_bonus", ns.tuning_size, beta, list(TUNING_SEEDS)),
                     lambda beta=beta: train_cell("count_bonus", ns.tuning_size, TUNING_SEEDS, ns.episodes, beta))
            if c is not None:
                tuning.append(c)
    beta = max(tuning, key=score)["beta"] if len(tuning) == len(ns.beta_grid) else None
    cells = []
    for size in ns.sizes:
        for variant in ns.variants:
            if variant == "count_bonus" and beta is None:
                continue  # its β is not chosen yet
            b = beta if variant == "count_bonus" else None
            c = cell(f"{variant}/N={size}", protocol(variant, size, b, seeds),
                     lambda variant=variant, size=size, b=b: train_cell(variant, size, seeds, ns.episodes, b))
            if c is not None:
                cells.append(c)
    rows = summarize(cells)
    expected = len(ns.sizes) * len(ns.variants) + (len(ns.beta_grid) if "count_bonus" in ns.variants else 0)
    data = {
        "sizes": ns.sizes, "variants": ns.variants, "episodes": ns.episodes, "seeds": seeds, "tuning_seeds": list(TUNING_SEEDS),
        "tuning_size": ns.tuning_size, "beta_grid": ns.beta_grid, "beta": beta,
        "tuning": [{"beta": c["beta"], "score": round(score(c), 4), "runs": c["runs"]} for c in tuning],
        "complete": len(cells) + len(tuning) == expected, "cells_done": len(cells) + len(tuning), "cells_expected": expected,
        "compute_seconds": round(sum(c["seconds"] for c in cells + tuning), 1), **provenance_of_cells(cells + tuning),
        "summary": rows, "largest_solved": {v: largest_solved(rows, v) for v in ns.variants},
        "cells": [{k: v for k, v in c.items() if k != "protocol"} for c in cells],
    }
    path = write_results(ns.name, data, time.perf_counter() - t0, regeneration_command(COMMAND, argv), outdir=ns.outdir)
    for r in rows:
        print(f"{r['variant']:12s} N={r['size']:3d}: solved {r['solved']}/{r['seeds']} {r['solved_ci']}, training success {r['train_success']:.3f}")
    print(f"wrote {path}: {data['cells_done']}/{expected} cells; largest N solved by half the seeds: {data['largest_solved']}")
    return 0
