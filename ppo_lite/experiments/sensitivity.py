r"""How hard is PPO to tune? (notebook 09): ``python -m ppo_lite.experiments sensitivity``.

The seed note: *"hyper-parameters can be difficult to tune"*. "Hard" needs two things a heat map alone does not
give: a metric that tells a flat grid from a peaked one, with its uncertainty, and something to be hard *relative
to*. So (issue 14's design, after Dodge et al. 2019 and Andrychowicz et al. 2021):

- tasks (:data:`TASKS`): CartPole-v1 and Pendulum-v1, 100k env steps per run, grids around each task's tuned defaults;
- grids (:data:`GRIDS`): PPO (clip) over learning rate × GAE λ and learning rate × clip ε, and the same
  learning rate × λ grid for a baseline without a trust region: the ``pg`` objective with one epoch (each sample
  used once, as A2C does; the task's minibatches kept). Every value is a per-agent field of :mod:`ppo_lite.batched`,
  so each row of a grid (one learning rate, every value of the other axis, every seed) trains as one batch;
- bracketing (:func:`extend`): a grid whose best cell sits on an edge is extended on that side from its axis's
  reserve values, and the new row or column trained, until the best cell is inside or the reserve is spent (the
  results say which);
- scores (:mod:`ppo_lite.experiments.sweep`): evaluation return after training (10 deterministic episodes on held-out seeds),
  :data:`SEEDS` seeds per cell, normalized so that 0 is a random policy and 1 the solved threshold.

Metrics of a grid (:func:`grid_metrics`), each with a bootstrap interval from resampling the seeds of every cell:

- ``near_best``: the fraction of cells whose 95% t-interval overlaps the best cell's (a flat grid: most; a peaked
  one: few);
- the expected best score after k settings drawn at random (Dodge et al. 2019, :func:`ppo_lite.experiments.stats.
  expected_max_score`), k = 1 … n: the score of a random setting (k = 1) against the best (k = n) is how much tuning
  buys.

Also the SB3 #25 story (:func:`pendulum_story`): Pendulum-v1 with SB3's generic PPO defaults against the tuned
classic-control defaults, same budget, 10 seeds.

Each finished row is appended to ``figures/sensitivity.cells.jsonl`` and skipped when run again (``--fresh`` starts
over); ``figures/sensitivity.json`` is then written from every logged row, with provenance.
"""
from __future__ import annotations

import argparse
import math
import time
from typing import Any, Sequence

import numpy as np

from . import stats
from ..config import PPOConfig
from ..evaluation import random_policy_returns
from .sweep import normalized_score, score_agents
from . import (CellBudget, config_record, add_sweep_arguments, compute_cell, open_cell_log, provenance_of_cells, refuse_unknown,
                regeneration_command, write_results)

COMMAND = "python -m ppo_lite.experiments sensitivity"
TASKS: dict[str, int] = {"CartPole-v1": 100_000, "Pendulum-v1": 100_000}
SEEDS = tuple(range(5))
EPISODES = 10
LR_VALUES = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2]
LR_RESERVE = ([3e-5, 1e-5], [3e-2, 1e-1])
"""Values a learning-rate axis is extended with when its best cell is on the low / high edge, nearest first."""
GRIDS: dict[str, dict[str, Any]] = {
    "ppo_lr_lambda": {"algorithm": "ppo", "x": "lr", "xs": LR_VALUES, "x_reserve": LR_RESERVE,
                      "y": "gae_lambda", "ys": [0.8, 0.9, 0.95, 0.99], "y_reserve": ([0.6, 0.4], [1.0])},
    "pg_lr_lambda": {"algorithm": "pg", "x": "lr", "xs": LR_VALUES, "x_reserve": LR_RESERVE,
                     "y": "gae_lambda", "ys": [0.8, 0.9, 0.95, 0.99], "y_reserve": ([0.6, 0.4], [1.0])},
    "ppo_lr_clip": {"algorithm": "ppo", "x": "lr", "xs": LR_VALUES, "x_reserve": LR_RESERVE,
                    "y": "clip_eps", "ys": [0.05, 0.1, 0.2, 0.3], "y_reserve": ([0.02], [0.5, 0.8])},
}
"""Each grid: the algorithm, its two per-agent axes, their starting values and their reserves (low side, high side)."""
ALGORITHMS = {"ppo": "PPO (clip, the task's defaults)", "pg": "policy gradient, one epoch (A2C-like, no trust region)"}
SB3_DEFAULTS_PENDULUM = dict(
    num_envs=1, num_steps=2048, update_epochs=10, num_minibatches=32, lr=3e-4, gamma=0.99, gae_lambda=0.95,
    anneal_lr=False, scale_reward=False,
)
"""SB3's generic PPO defaults (n_steps 2048, batch 64, 10 epochs, lr 3e-4, γ 0.99, λ 0.95) on Pendulum-v1."""


def base_config(env_id: str, algorithm: str, total_steps: int | None = None) -> PPOConfig:
    """The config a grid varies: the task's tuned defaults (``ppo``), or the same with the ``pg`` objective and one
    epoch (``pg``)."""
    if env_id not in TASKS:
        raise ValueError(f"sensitivity has no task {env_id!r}; use one of {tuple(TASKS)}")
    if algorithm not in ALGORITHMS:
        raise ValueError(f"unknown algorithm {algorithm!r}; use one of {tuple(ALGORITHMS)}")
    overrides: dict[str, Any] = {"objective": "clip"} if algorithm == "ppo" else {"objective": "pg", "update_epochs": 1}
    steps = TASKS[env_id] if total_steps is None else total_steps
    return PPOConfig.for_env(env_id, total_steps=steps, device="cpu", **overrides).validate()


def run_row(env_id: str, grid: str, x: float, ys: Sequence[float], seeds: Sequence[int] = SEEDS,
            total_steps: int | None = None, episodes: int = EPISODES) -> dict[str, Any]:
    """One row of a grid: x fixed, every y and every seed as one batch. Returns the runs, one per (y, seed)."""
    g = GRIDS[grid]
    base = base_config(env_id, g["algorithm"], total_steps)
    agents = [(y, s) for y in ys for s in seeds]
    t0 = time.perf_counter()
    runs = score_agents(base, [s for _, s in agents], {g["x"]: [x] * len(agents), g["y"]: [y for y, _ in agents]},
                        episodes=episodes, curve_points=20)
    return {"env_id": env_id, "grid": grid, "x": x, "ys": list(ys), "runs": runs, "seconds": round(time.perf_counter() - t0, 1)}


# -- metrics -----------------------------------------------------------------------------------------------
def cell_scores(rows: Sequence[dict[str, Any]], random_return: float, env_id: str) -> dict[tuple[float, float], list[float]]:
    """Normalized evaluation scores of every (x, y) cell of a grid's logged rows (a diverged run: a random policy, 0)."""
    g = GRIDS[rows[0]["grid"]]
    out: dict[tuple[float, float], list[float]] = {}
    for row in rows:
        for r in row["runs"]:
            score = random_return if r["diverged"] else r["eval_return"]
            out.setdefault((row["x"], r[g["y"]]), []).append(normalized_score(score, env_id, random_return))
    return out


def _overlap_fraction(means: np.ndarray, halves: np.ndarray) -> np.ndarray:
    """Per resample (rows), the fraction of cells whose interval [m − h, m + h] overlaps the best cell's."""
    best = means.argmax(axis=1)
    b_lo = np.take_along_axis(means - halves, best[:, None], 1)
    return ((means + halves) >= b_lo).mean(axis=1)


def _expected_max_curve(means: np.ndarray) -> np.ndarray:
    """Rows of cell means -> rows of E[max of k random cells], k = 1..n (Dodge et al. 2019)."""
    v = np.sort(means, axis=1)
    n = v.shape[1]
    i = np.arange(1, n + 1)
    return np.stack([(((i / n) ** k - ((i - 1) / n) ** k) * v).sum(axis=1) for k in range(1, n + 1)], axis=1)


def grid_metrics(scores: dict[tuple[float, float], list[float]], n_boot: int = 2000, seed: int = 0) -> dict[str, Any]:
    """Cell means with t-intervals, the best cell, ``near_best`` and the expected-max curve, each with a 95%
    bootstrap interval (the seeds of every cell resampled with replacement)."""
    cells = sorted(scores)
    data = np.array([scores[c] for c in cells], dtype=np.float64)  # (cells, seeds)
    n_cells, n_seeds = data.shape
    t = stats.student_t_quantile(0.975, n_seeds - 1)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n_seeds, (n_boot, n_cells, n_seeds))
    boot = np.take_along_axis(data[None].repeat(n_boot, 0), idx, 2)  # (B, cells, seeds)
    means = np.concatenate([data.mean(1)[None], boot.mean(2)])
    halves = np.concatenate([data.std(1, ddof=1)[None], boot.std(2, ddof=1)]) * t / math.sqrt(n_seeds)
    near = _overlap_fraction(means, halves)
    curve = _expected_max_curve(means)
    lo, hi = np.quantile(near[1:], [0.025, 0.975])
    c_lo, c_hi = np.quantile(curve[1:], [0.025, 0.975], axis=0)
    best = int(means[0].argmax())
    return {
        "cells": [list(c) for c in cells], "mean": means[0].tolist(),
        "ci": [[m - h, m + h] for m, h in zip(means[0].tolist(), halves[0].tolist())],
        "best": list(cells[best]), "best_mean": float(means[0, best]),
        "near_best": float(near[0]), "near_best_ci": [float(lo), float(hi)],
        "expected_max": curve[0].tolist(), "expected_max_ci": [c_lo.tolist(), c_hi.tolist()],
    }


def on_edge(values: Sequence[float], best: float) -> str | None:
    """``"low"`` / ``"high"`` if ``best`` is the smallest / largest of ``values`` (and there are several), else None."""
    vs = sorted(values)
    if len(vs) < 2:
        return None
    return "low" if best == vs[0] else "high" if best == vs[-1] else None


def extend(grid: str, xs: list[float], ys: list[float], best: tuple[float, float]) -> tuple[list[float], list[float], bool]:
    """If the best cell is on an edge of an axis with reserve values left on that side, add the next one. Returns
    the new axes and whether anything was added (:data:`GRIDS` gives the reserves)."""
    g = GRIDS[grid]
    for axis, values, reserve, b in (("x", xs, g["x_reserve"], best[0]), ("y", ys, g["y_reserve"], best[1])):
        side = on_edge(values, b)
        if side is None:
            continue
        pool = [v for v in reserve[0 if side == "low" else 1] if v not in values]
        if pool:
            new = sorted(values + [pool[0]])
            return (new, ys, True) if axis == "x" else (xs, new, True)
    return xs, ys, False


def pendulum_story(seeds: Sequence[int], total_steps: int, episodes: int = EPISODES) -> dict[str, Any]:
    """Evaluation returns of Pendulum-v1 with SB3's generic defaults vs the tuned classic-control defaults (SB3 #25)."""
    out: dict[str, Any] = {}
    for label, overrides in (("sb3_defaults", SB3_DEFAULTS_PENDULUM), ("tuned", {})):
        cfg = PPOConfig.for_env("Pendulum-v1", total_steps=total_steps, device="cpu", **overrides).validate()
        runs = score_agents(cfg, list(seeds), episodes=episodes, curve_points=20)
        out[label] = {"runs": runs, "config": config_record(cfg)}
    return out


def verdict(metrics: dict[str, dict[str, dict[str, Any]]]) -> dict[str, Any]:
    r""""Hard to tune", read off the grids of every task (``metrics[env][grid]``):

    - PPO is *hard to tune* on a task if fewer than a quarter of its lr × λ cells are near the best (``near_best``
      < 0.25: most settings are clearly worse than the best one), *easy* if more than half are;
    - *relative to the baseline*: the gap between the best setting and a random one, E[max_n] − E[max_1], of PPO
      against the one-epoch policy gradient's on the same grid (in normalized score).

    The claim *holds* if PPO is hard to tune on every task and not easier than the baseline; *does not hold* if it
    is easy on every task or easier than the baseline on every task; otherwise it holds with a qualification.
    """
    per_task = {}
    for env, grids in metrics.items():
        ppo, pg = grids.get("ppo_lr_lambda"), grids.get("pg_lr_lambda")
        if ppo is None:
            continue
        row: dict[str, Any] = {"ppo_near_best": ppo["near_best"], "ppo_gap": ppo["expected_max"][-1] - ppo["expected_max"][0],
                               "ppo_random_setting": ppo["expected_max"][0], "ppo_best": ppo["best_mean"]}
        row["ppo_hard"] = ppo["near_best"] < 0.25
        row["ppo_easy"] = ppo["near_best"] > 0.5
        if pg is not None:
            row.update(pg_near_best=pg["near_best"], pg_gap=pg["expected_max"][-1] - pg["expected_max"][0],
                       pg_random_setting=pg["expected_max"][0], pg_best=pg["best_mean"])
            row["ppo_easier_than_pg"] = row["ppo_random_setting"] > row["pg_random_setting"] and row["ppo_gap"] < row["pg_gap"]
        per_task[env] = row
    rows = list(per_task.values())
    if rows and all(r["ppo_hard"] for r in rows) and not any(r.get("ppo_easier_than_pg", False) for r in rows):
        status = "holds"
    elif rows and (all(r["ppo_easy"] for r in rows) or all(r.get("ppo_easier_than_pg", False) for r in rows)):
        status = "does not hold"
    else:
        status = "holds with a qualification"
    return {"status": status, "per_task": per_task}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.split("\n")[0])
    parser.add_argument("--envs", nargs="+", default=list(TASKS), help=f"among {tuple(TASKS)}")
    parser.add_argument("--grids", nargs="+", default=list(GRIDS), help=f"among {tuple(GRIDS)}")
    parser.add_argument("--steps", type=int, default=None, help="env steps per run (default: per task, TASKS)")
    parser.add_argument("--seeds", type=int, default=len(SEEDS), help="seeds per cell")
    parser.add_argument("--episodes", type=int, default=EPISODES)
    parser.add_argument("--max-rows", type=int, default=None, help="compute at most this many rows (0: only rewrite the file)")
    parser.add_argument("--story-seeds", type=int, default=10, help="seeds of the SB3-defaults Pendulum story (0: skip)")
    add_sweep_arguments(parser, "sensitivity")
    ns = parser.parse_args(argv)
    refuse_unknown("task", ns.envs, TASKS)
    refuse_unknown("grid", ns.grids, GRIDS)
    if ns.seeds < 2:
        raise SystemExit(f"--seeds must be >= 2 (intervals need two values), got {ns.seeds}")
    log = open_cell_log(ns)
    seeds = list(range(ns.seeds))
    random_returns = {e: float(np.mean(random_policy_returns(e, 100))) for e in TASKS}
    t0 = time.perf_counter()
    from tqdm.auto import tqdm

    def protocol(env_id: str, grid: str, x: float, ys: Sequence[float]) -> dict[str, Any]:
        cfg = base_config(env_id, GRIDS[grid]["algorithm"], ns.steps).to_dict()
        cfg.pop("extra", None)
        return {"config": cfg, "x_name": GRIDS[grid]["x"], "x": x, "y_name": GRIDS[grid]["y"], "ys": list(ys),
                "seeds": seeds, "episodes": ns.episodes}

    def key(env_id: str, grid: str, x: float, ys: Sequence[float]) -> str:
        return f"{env_id} | {grid} | {GRIDS[grid]['x']}={x:g} | {GRIDS[grid]['y']}={','.join(f'{y:g}' for y in ys)}"

    def rows_of(env_id: str, grid: str, xs: Sequence[float], ys: Sequence[float], compute: bool) -> list[dict[str, Any]]:
        """Every (x, y) cell of the grid, as logged rows: a row per x over the ys it lacks (computed if asked)."""
        rows = []
        have = {(c["x"], y) for c in log.cells().values() if c.get("grid") == grid and c.get("env_id") == env_id
                and log.done(c["key"], protocol(env_id, grid, c["x"], c["ys"])) is not None for y in c["ys"]}
        for x in xs:
            missing = [y for y in ys if (x, y) not in have]
            if missing and compute:
                compute_cell(log, key(env_id, grid, x, missing), protocol(env_id, grid, x, missing),
                             lambda: run_row(env_id, grid, x, missing, seeds, ns.steps, ns.episodes), budget,
                             lambda k, row: f"{env_id} {grid} {GRIDS[grid]['x']}={x:g} {GRIDS[grid]['y']}={missing}: {row['seconds']:.0f} s")
        for c in log.cells().values():
            if c.get("grid") == grid and c.get("env_id") == env_id and c["x"] in xs \
                    and log.done(c["key"], protocol(env_id, grid, c["x"], c["ys"])) is not None:
                rows.append({**c, "runs": [r for r in c["runs"] if r[GRIDS[grid]["y"]] in ys]})
        return rows

    results: dict[str, dict[str, Any]] = {}
    budget = CellBudget(ns.max_rows)  # rows trained by this invocation (--max-rows)
    # Grid-major: the PPO and baseline lr x λ grids of every task (what the verdict compares) before the rest.
    jobs = [(e, g) for g in ns.grids for e in ns.envs]
    for env_id, grid in tqdm(jobs, desc="sensitivity", unit="grid", disable=ns.no_progress):
        xs, ys = list(GRIDS[grid]["xs"]), list(GRIDS[grid]["ys"])
        while True:  # train what is missing, then extend the grid while its best cell is on an edge
            rows = rows_of(env_id, grid, xs, ys, compute=True)
            scores = cell_scores(rows, random_returns[env_id], env_id) if rows else {}
            if len(scores) < len(xs) * len(ys):  # stopped by --max-rows: extend nothing on a partial grid
                break
            m = grid_metrics(scores)
            xs, ys, grew = extend(grid, xs, ys, tuple(m["best"]))
            if not grew:
                break
    story = None
    if ns.story_seeds:
        story_key = "Pendulum-v1 | sb3 story"
        story_protocol = {"seeds": list(range(ns.story_seeds)), "steps": ns.steps or TASKS["Pendulum-v1"], "episodes": ns.episodes,
                          "sb3": SB3_DEFAULTS_PENDULUM}
        def compute_story() -> dict[str, Any]:
            t = time.perf_counter()
            data = pendulum_story(list(range(ns.story_seeds)), story_protocol["steps"], ns.episodes)
            return {"story": data, "seconds": round(time.perf_counter() - t, 1)}

        story = compute_cell(log, story_key, story_protocol, compute_story, budget, lambda k, c: None)

    # The results file: every grid of the current protocol in the log, extended as far as its data say.
    used: list[dict[str, Any]] = []
    for env_id in TASKS:
        try:
            base_config(env_id, "ppo", ns.steps)
        except ValueError:  # --steps below this task's rollout: it has no row of this protocol
            continue
        for grid in GRIDS:
            xs, ys = list(GRIDS[grid]["xs"]), list(GRIDS[grid]["ys"])
            last = None  # the largest complete grid along the extension path
            while True:
                rows = rows_of(env_id, grid, xs, ys, compute=False)
                scores = cell_scores(rows, random_returns[env_id], env_id) if rows else {}
                if len(scores) < len(xs) * len(ys):
                    break
                m = grid_metrics(scores)
                last = (xs, ys, rows, scores, m)
                xs, ys, grew = extend(grid, xs, ys, tuple(m["best"]))
                if not grew:
                    break
            if last is not None:
                xs, ys, rows, scores, m = last
                results.setdefault(env_id, {})[grid] = {
                    **m, "x": GRIDS[grid]["x"], "xs": xs, "y": GRIDS[grid]["y"], "ys": ys,
                    "algorithm": GRIDS[grid]["algorithm"],
                    "bracketed": {"x": on_edge(xs, m["best"][0]) is None, "y": on_edge(ys, m["best"][1]) is None},
                    "runs": {f"{x:g},{y:g}": scores[(x, y)] for x, y in scores},
                    "seconds": round(sum(r["seconds"] for r in rows), 1),
                }
                used += rows
    cells = used + ([story] if story is not None else [])
    out = {
        "tasks": TASKS, "grids": GRIDS, "algorithms": ALGORITHMS, "seeds": seeds, "episodes": ns.episodes,
        "random_returns": random_returns, "results": results, "verdict": verdict(results),
        "story": None if story is None else story["story"], **provenance_of_cells(cells),
        "compute_seconds": round(sum(c["seconds"] for c in cells), 1),
        "complete": all(g in results.get(e, {}) for e in TASKS for g in GRIDS) and story is not None,
    }
    command = regeneration_command(COMMAND, argv)
    path = write_results(ns.name, out, time.perf_counter() - t0, command, outdir=ns.outdir)
    print("verdict:", out["verdict"])
    print(f"wrote {path} ({out['compute_seconds']:.0f} s of compute in its cells)")
    return 0
