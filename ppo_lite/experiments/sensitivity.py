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

Metrics of a grid (:func:`grid_metrics`):

- ``near_best`` (:func:`near_best_by_tost`, issue 29 point 4): the share of cells *shown* as good as the best, by
  Welch's TOST at ±:data:`MARGIN` (0.1 of the task's range from a random policy to solved, in normalized score;
  α = :data:`ALPHA`) against the best cell; the share *shown* worse than the best by more than the margin; and the
  rest, undecided. The best cell is chosen on :data:`SELECTION_SHARE` of each cell's seeds and every cell compared
  on the others (``near_best``), so the winner's optimism does not count against the grid; the same on all seeds
  (``near_best_same_seeds``) is kept beside it. (The old metric, intervals that overlap the best one's, counted a
  noisy cell as near: non-significance, which grows with the noise.)
- the expected best score after k settings drawn at random (Dodge et al. 2019, :func:`ppo_lite.experiments.stats.
  expected_max_score`), k = 1 … n, with a bootstrap interval from resampling the seeds of every cell: the score of a
  random setting (k = 1) against the best (k = n) is how much tuning buys.

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

# -- declared before the readings (issue 29 point 4), as in ppo_lite.experiments.verdicts ----------------------------
MARGIN = 0.1
"""δ in normalized score (0 a random policy, 1 solved): a cell is "as good as the best" when TOST puts the
difference inside ±δ; ``verdicts.MARGIN_FRACTION`` on this scale."""
ALPHA = 0.05
SELECTION_SHARE = 0.4
"""The share of each cell's seeds (the first ones, at least one) that choose the best cell; the rest (at least two)
compare every cell with it. At 5 seeds: choose on seeds 0-1, compare on 2-4."""
FLAT_SHARE, PEAKED_SHARE = 0.5, 0.25
"""A grid is *flat* when more than half of its cells are shown near the best; *peaked* when fewer than a quarter can
be (near + undecided < 0.25): most settings are shown worse by more than δ. Otherwise its shape is undecided."""


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
    # in seed order within each row (score_agents keeps it): near_best_by_tost splits the seeds by position
    return out


def split_seeds(n_seeds: int, share: float = SELECTION_SHARE) -> tuple[list[int], list[int]] | None:
    """(selection, comparison) seed indices: the first ``round(share · n)`` (at least 1) choose, the rest (at least
    2) compare; None when there are too few seeds to split."""
    k = max(1, round(share * n_seeds))
    return (list(range(k)), list(range(k, n_seeds))) if n_seeds - k >= 2 else None


def near_best_by_tost(scores: dict[tuple[float, float], list[float]], select: Sequence[int] | None = None,
                      compare_on: Sequence[int] | None = None, margin: float = MARGIN,
                      alpha: float = ALPHA) -> dict[str, Any]:
    r"""Which cells of a grid are as good as its best, decided cell by cell at margin δ.

    The best cell :math:`b` maximizes the mean over the ``select`` seeds (ties: the first in sorted order). On the
    ``compare_on`` seeds each other cell c gets :func:`ppo_lite.experiments.stats.compare` (Welch) of
    :math:`\bar s_c - \bar s_b`: *near* if TOST puts it inside (−δ, δ) at α; *far* if it is shown below −δ (the
    one-sided (1 − α) upper bound under −δ); else *undecided*. The best cell counts as near. Both seed lists default
    to every seed (the best chosen and judged on the same seeds: optimistic for the best, so the shares lean low)."""
    cells = sorted(scores)
    data = {c: np.asarray(scores[c], dtype=np.float64) for c in cells}
    n = min(v.size for v in data.values())
    select = list(range(n)) if select is None else list(select)
    compare_on = list(range(n)) if compare_on is None else list(compare_on)
    best = max(cells, key=lambda c: data[c][select].mean())
    labels = {}
    for c in cells:
        if c == best:
            labels[c] = "near"
            continue
        cmp = stats.compare(data[c][compare_on], data[best][compare_on], margin, alpha)
        labels[c] = "near" if cmp.equivalent else "far" if cmp.inferior else "undecided"
    share = {k: sum(v == k for v in labels.values()) / len(cells) for k in ("near", "far", "undecided")}
    return {"best": list(best), "selection_seeds": select, "comparison_seeds": compare_on, **share,
            "labels": {f"{x:g},{y:g}": v for (x, y), v in labels.items()}, "margin": margin, "alpha": alpha}


def grid_shape(near: dict[str, Any]) -> str:
    """``"flat"``, ``"peaked"`` or ``"undecided"`` from :func:`near_best_by_tost`'s shares (:data:`FLAT_SHARE`,
    :data:`PEAKED_SHARE`)."""
    if near["near"] > FLAT_SHARE:
        return "flat"
    if near["near"] + near["undecided"] < PEAKED_SHARE:
        return "peaked"
    return "undecided"


def _expected_max_curve(means: np.ndarray) -> np.ndarray:
    """Rows of cell means -> rows of E[max of k random cells], k = 1..n (Dodge et al. 2019)."""
    v = np.sort(means, axis=1)
    n = v.shape[1]
    i = np.arange(1, n + 1)
    return np.stack([(((i / n) ** k - ((i - 1) / n) ** k) * v).sum(axis=1) for k in range(1, n + 1)], axis=1)


def grid_metrics(scores: dict[tuple[float, float], list[float]], n_boot: int = 2000, seed: int = 0) -> dict[str, Any]:
    """Cell means with t-intervals, the best cell, the near-best shares (:func:`near_best_by_tost`: best chosen on
    separate seeds where there are enough, and on the same seeds) and the expected-max curve with a 95% bootstrap
    interval (the seeds of every cell resampled with replacement)."""
    cells = sorted(scores)
    data = np.array([scores[c] for c in cells], dtype=np.float64)  # (cells, seeds)
    n_cells, n_seeds = data.shape
    t = stats.student_t_quantile(0.975, n_seeds - 1)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n_seeds, (n_boot, n_cells, n_seeds))
    boot = np.take_along_axis(data[None].repeat(n_boot, 0), idx, 2)  # (B, cells, seeds)
    means = np.concatenate([data.mean(1)[None], boot.mean(2)])
    half = data.std(1, ddof=1) * t / math.sqrt(n_seeds)
    curve = _expected_max_curve(means)
    c_lo, c_hi = np.quantile(curve[1:], [0.025, 0.975], axis=0)
    best = int(means[0].argmax())
    split = split_seeds(n_seeds)
    return {
        "cells": [list(c) for c in cells], "mean": means[0].tolist(),
        "ci": [[m - h, m + h] for m, h in zip(means[0].tolist(), half.tolist())],
        "best": list(cells[best]), "best_mean": float(means[0, best]),
        "near_best": None if split is None else near_best_by_tost(scores, *split),
        "near_best_same_seeds": near_best_by_tost(scores),
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


def story_comparison(story: dict[str, Any], random_return: float, margin_fraction: float = MARGIN) -> stats.Comparison:
    """SB3's generic defaults − the tuned defaults on Pendulum-v1 (:func:`pendulum_story`), evaluation return per seed
    (a diverged run scores as the random policy), Welch at δ = ``margin_fraction`` × (solved − random)."""
    from ..config import SOLVED_THRESHOLDS

    def returns(label: str) -> list[float]:
        return [random_return if r["diverged"] else r["eval_return"] for r in story[label]["runs"]]

    delta = margin_fraction * (SOLVED_THRESHOLDS["Pendulum-v1"] - random_return)
    return stats.compare(returns("sb3_defaults"), returns("tuned"), delta, ALPHA)


def verdict(metrics: dict[str, dict[str, dict[str, Any]]], story: dict[str, Any] | None = None,
            random_returns: dict[str, float] | None = None) -> dict[str, Any]:
    r""""Hard to tune", read off the grids of every task (``metrics[env][grid]``) and the SB3 #25 story.

    Per task, the shape of PPO's lr × λ grid around the tuned defaults (:func:`grid_shape` of ``near_best``: the
    best chosen on separate seeds): *peaked* (fewer than a quarter of the cells can be near the best) is hard to tune
    there, *flat* (more than half shown near) is not; beside it the one-epoch policy gradient's grid, and PPO is
    *easier than the baseline* where PPO's shown-near share exceeds the most the baseline's could be (its near +
    undecided). The story (``story``, with ``random_returns["Pendulum-v1"]``): generic defaults shown worse than the
    tuned ones by more than δ (:func:`story_comparison`) means finding the basin is hard.

    The claim *can be* difficult: *holds* if PPO's grid is peaked on every task; *holds with a qualification* if it
    is peaked on some task, or the generic defaults are shown to fail (hard to find the basin, whatever its shape);
    *does not hold* if the grid is flat on every task and the generic defaults are not shown to fail; otherwise
    *undecided*. Non-significance decides nothing: an undecided cell counts neither way.
    """
    per_task = {}
    for env, grids in metrics.items():
        ppo, pg = grids.get("ppo_lr_lambda"), grids.get("pg_lr_lambda")
        if ppo is None:
            continue
        near = ppo["near_best"] or ppo["near_best_same_seeds"]
        row: dict[str, Any] = {"ppo_near": near["near"], "ppo_far": near["far"], "ppo_undecided": near["undecided"],
                               "ppo_shape": grid_shape(near), "held_out": ppo["near_best"] is not None,
                               "ppo_gap": ppo["expected_max"][-1] - ppo["expected_max"][0],
                               "ppo_random_setting": ppo["expected_max"][0], "ppo_best": ppo["best_mean"]}
        if pg is not None:
            pg_near = pg["near_best"] or pg["near_best_same_seeds"]
            row.update(pg_near=pg_near["near"], pg_far=pg_near["far"], pg_undecided=pg_near["undecided"],
                       pg_shape=grid_shape(pg_near), pg_gap=pg["expected_max"][-1] - pg["expected_max"][0],
                       pg_random_setting=pg["expected_max"][0], pg_best=pg["best_mean"])
            row["ppo_easier_than_pg"] = near["near"] > pg_near["near"] + pg_near["undecided"]
        per_task[env] = row
    out: dict[str, Any] = {"per_task": per_task, "margin": MARGIN, "alpha": ALPHA, "story": None}
    basin_hard = basin_easy = False
    if story is not None and random_returns is not None and "Pendulum-v1" in random_returns:
        c = story_comparison(story, random_returns["Pendulum-v1"])
        basin_hard, basin_easy = c.inferior, c.non_inferior
        lo, hi = c.interval()
        out["story"] = {"difference": c.estimate, "ci": [lo, hi], "p_difference": c.p_difference, "margin": c.margin,
                        "upper_bound": c.upper_bound, "shown_worse_by_more_than_margin": c.inferior,
                        "shown_not_worse": c.non_inferior}
    shapes = [r["ppo_shape"] for r in per_task.values()]
    if shapes and all(s == "peaked" for s in shapes):
        status = "holds"
    elif "peaked" in shapes or basin_hard:
        status = "holds with a qualification"
    elif shapes and all(s == "flat" for s in shapes) and (story is None or basin_easy):
        status = "does not hold"
    else:
        status = "undecided"
    out["status"] = status
    return out


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
        "random_returns": random_returns, "results": results,
        "verdict": verdict(results, None if story is None else story["story"], random_returns),
        "story": None if story is None else story["story"], **provenance_of_cells(cells),
        "compute_seconds": round(sum(c["seconds"] for c in cells), 1),
        "complete": all(g in results.get(e, {}) for e in TASKS for g in GRIDS) and story is not None,
    }
    command = regeneration_command(COMMAND, argv)
    path = write_results(ns.name, out, time.perf_counter() - t0, command, outdir=ns.outdir)
    print("verdict:", out["verdict"])
    print(f"wrote {path} ({out['compute_seconds']:.0f} s of compute in its cells)")
    return 0
