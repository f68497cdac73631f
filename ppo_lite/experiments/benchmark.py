r"""PPO on tasks people know, beside published numbers (notebook 06): ``python -m ppo_lite.experiments benchmark``.

For each task of :data:`TASKS` (CartPole-v1, Acrobot-v1, MountainCar-v0, Pendulum-v1, LunarLander-v3, Hopper-v5) at
the budget the published numbers used, train each variant of :data:`VARIANTS` on the task's seeds (5; 3 for MuJoCo)
and score every agent by its **deterministic evaluation return** (10 episodes on held-out env seeds,
:func:`ppo_lite.experiments.sweep.score_agents`), with learning curves:

- ``ppo``: PPO (clip) with the library's documented defaults, ``PPOConfig.for_env(env_id)``, nothing tuned here;
- ``pg``: the same config with the ``pg`` objective and one epoch per rollout: an A2C-like baseline without a trust
  region, at the same budget (what "the state of the art for on-policy" is measured against);
- ``ppo_generic`` (MountainCar-v0 only): PPO with the classic-control family's generic settings (CartPole's,
  ``PPOConfig.for_env(env_id, tuned=False)``), which were MountainCar's defaults until this benchmark showed they do
  not reach the published score; the task's default is now rl-baselines3-zoo's tuned settings
  (:data:`ppo_lite.config.ENV_DEFAULTS`), and this row keeps the evidence for the change.

:data:`PUBLISHED` holds the numbers they are compared with, each with its source, algorithm, budget and what its ±
means: rl-baselines3-zoo's ``benchmark.md`` (one trained agent per row, ± over its evaluation episodes; the zoo
says "not a quantitative benchmark as it corresponds to only one run") and CleanRL's reports (seed means). Per task
:func:`compare` gives the difference PPO − PG with a Welch interval and Holm-adjusted p-values over the tasks, and
whether PPO's interval reaches the zoo's published PPO mean.

Each (task, variant) is one cell of ``figures/benchmark.cells.jsonl``, written as it finishes; a rerun skips the
cells already there, so the benchmark may span sessions. ``figures/benchmark.json`` (with provenance, the cells'
commits, and which cells are still missing) is rebuilt from the log at the end of every invocation, and
``python -m ppo_lite.experiments benchmark`` then draws ``figures/benchmark.png``.
"""
from __future__ import annotations

import argparse
import math
import time
from dataclasses import asdict, dataclass
from typing import Any


from ..config import PPOConfig
from .stats import holm, t_interval, welch_interval
from .sweep import score_agents
from . import add_sweep_arguments, compute_missing, open_cell_log, provenance_of_cells, refuse_unknown, regeneration_command, write_results

COMMAND = "python -m ppo_lite.experiments benchmark"
EVAL_EPISODES = 10
RECORDED = ("approx_kl", "clip_frac", "explained_variance", "entropy")

TASKS: dict[str, dict[str, int]] = {
    "CartPole-v1": dict(total_steps=100_000, seeds=5),
    "Pendulum-v1": dict(total_steps=100_000, seeds=5),
    "Acrobot-v1": dict(total_steps=1_000_000, seeds=5),
    "MountainCar-v0": dict(total_steps=1_000_000, seeds=5),
    "LunarLander-v3": dict(total_steps=1_000_000, seeds=5),
    "Hopper-v5": dict(total_steps=1_000_000, seeds=3),
}
"""Budgets: rl-baselines3-zoo's PPO ``n_timesteps`` for each task (``benchmark.md``); seeds: 5, 3 for MuJoCo."""

VARIANTS: dict[str, str] = {
    "ppo": "PPO (clip), the library's defaults for the task",
    "pg": "policy gradient, one epoch (A2C-like, no trust region), same config and budget",
    "ppo_generic": "PPO with the family's generic settings (CartPole's), without the task's tuned defaults",
}
GENERIC_TASKS: tuple[str, ...] = ("MountainCar-v0",)
"""Tasks whose tuned default replaced the family's generic settings after this benchmark; ``ppo_generic`` runs them."""


@dataclass(frozen=True)
class Published:
    """One published score: ``mean`` (± ``spread``, whose meaning ``spread_is`` says) after ``budget`` env steps."""

    source: str
    algorithm: str
    env: str
    mean: float
    spread: float | None
    spread_is: str
    budget: int
    where: str


_ZOO = "rl-baselines3-zoo benchmark.md (DLR-RM/rl-baselines3-zoo, commit 0088472b)"
_ZOO_SPREAD = "std over evaluation episodes of one trained agent"
_CLEANRL = "CleanRL benchmark reports (docs.cleanrl.dev, ppo.py / ppo_continuous_action.py; ../shared/reference/peers.md)"
PUBLISHED: dict[str, list[Published]] = {
    "CartPole-v1": [
        Published(_ZOO, "PPO", "CartPole-v1", 500.0, 0.0, _ZOO_SPREAD, 100_000, "ppo row"),
        Published(_ZOO, "A2C", "CartPole-v1", 500.0, 0.0, _ZOO_SPREAD, 500_000, "a2c row"),
        Published(_CLEANRL, "PPO", "CartPole-v1", 490.0, 6.0, "std over seeds", 500_000, "ppo.py"),
    ],
    "Pendulum-v1": [
        Published(_ZOO, "PPO", "Pendulum-v1", -172.225, 104.159, _ZOO_SPREAD, 100_000, "ppo row (gSDE)"),
        Published(_ZOO, "A2C", "Pendulum-v1", -162.965, 103.210, _ZOO_SPREAD, 1_000_000, "a2c row"),
    ],
    "Acrobot-v1": [
        Published(_ZOO, "PPO", "Acrobot-v1", -73.506, 18.201, _ZOO_SPREAD, 1_000_000, "ppo row"),
        Published(_ZOO, "A2C", "Acrobot-v1", -83.353, 17.213, _ZOO_SPREAD, 500_000, "a2c row"),
        Published(_CLEANRL, "PPO", "Acrobot-v1", -86.0, None, "seed mean", 500_000, "ppo.py"),
    ],
    "MountainCar-v0": [
        Published(_ZOO, "PPO", "MountainCar-v0", -110.423, 19.473, _ZOO_SPREAD, 1_000_000, "ppo row (tuned settings)"),
        Published(_ZOO, "A2C", "MountainCar-v0", -111.263, 24.087, _ZOO_SPREAD, 1_000_000, "a2c row"),
        Published(_CLEANRL, "PPO", "MountainCar-v0", -200.0, None, "seed mean", 500_000, "ppo.py (fails)"),
    ],
    "LunarLander-v3": [
        Published(_ZOO, "PPO", "LunarLander-v2", 242.119, 31.823, _ZOO_SPREAD, 1_000_000, "ppo row (v2; v3 fixes bugs)"),
        Published(_ZOO, "A2C", "LunarLander-v2", 155.751, 80.419, _ZOO_SPREAD, 200_000, "a2c row (v2)"),
    ],
    "Hopper-v5": [
        Published(_ZOO, "PPO", "Hopper-v3", 2410.435, 10.026, _ZOO_SPREAD, 1_000_000, "ppo row (v3)"),
        Published(_ZOO, "A2C", "Hopper-v3", 733.454, 376.574, _ZOO_SPREAD, 1_000_000, "a2c row (v3)"),
        Published(_CLEANRL, "PPO", "Hopper-v4", 2383.0, None, "seed mean", 1_000_000, "ppo_continuous_action.py"),
    ],
}


def variants_of(env_id: str) -> list[str]:
    """The variants run on ``env_id``: ``ppo`` and ``pg`` everywhere, ``ppo_generic`` on :data:`GENERIC_TASKS`."""
    return ["ppo", "pg"] + (["ppo_generic"] if env_id in GENERIC_TASKS else [])


def variant_config(env_id: str, variant: str, total_steps: int | None = None) -> PPOConfig:
    """The config of one (task, variant) cell (module docstring), validated."""
    if env_id not in TASKS:
        raise ValueError(f"the benchmark has no task {env_id!r}; use one of {tuple(TASKS)}")
    if variant not in variants_of(env_id):
        raise ValueError(f"variant {variant!r} is not run on {env_id}; its variants: {variants_of(env_id)}")
    overrides: dict[str, Any] = {"total_steps": total_steps or TASKS[env_id]["total_steps"]}
    if variant == "pg":
        overrides.update(objective="pg", update_epochs=1)
    return PPOConfig.for_env(env_id, tuned=variant != "ppo_generic", objective=overrides.pop("objective", "clip"),
                             **overrides).validate()


def cell_protocol(env_id: str, variant: str, total_steps: int | None, seeds: list[int], episodes: int) -> dict[str, Any]:
    return {"config": variant_config(env_id, variant, total_steps).to_dict(), "seeds": seeds, "episodes": episodes}


def run_cell(env_id: str, variant: str, seeds: list[int], total_steps: int | None = None,
             episodes: int = EVAL_EPISODES) -> dict[str, Any]:
    """Train one (task, variant) on every seed as one batched computation and score each agent."""
    t0 = time.perf_counter()
    runs = score_agents(variant_config(env_id, variant, total_steps), seeds, episodes=episodes, series=RECORDED)
    for r in runs:
        r.update(env_id=env_id, variant=variant)
    return {"runs": runs, "seconds": round(time.perf_counter() - t0, 1)}


def summarize(cells: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (task, variant): evaluation return over seeds (mean, 95% t-interval, per seed), final training
    return, seeds whose training return reached the threshold, the zoo's published PPO mean beside it."""
    rows = []
    for cell in cells:
        runs = [r for r in cell["runs"] if not r["diverged"]]
        env_id, variant = cell["runs"][0]["env_id"], cell["runs"][0]["variant"]
        evals = [r["eval_return"] for r in runs]
        mean, lo, hi = t_interval(evals) if len(evals) >= 2 else (float("nan"),) * 3
        zoo_ppo = next((p.mean for p in PUBLISHED[env_id] if p.source == _ZOO and p.algorithm == "PPO"), None)
        rows.append({
            "env_id": env_id, "variant": variant, "budget": cell["protocol"]["config"]["total_steps"],
            "seeds": len(runs), "diverged": len(cell["runs"]) - len(runs),
            "eval_return": mean, "ci": [lo, hi], "per_seed": evals,
            "final_train": sum(r["final_train"] for r in runs) / len(runs) if runs else float("nan"),
            "reached_threshold": sum(r["steps_to_threshold"] is not None for r in runs),
            "zoo_ppo": zoo_ppo, "reaches_zoo_ppo": bool(zoo_ppo is not None and hi >= zoo_ppo),
            "seconds": cell["seconds"],
        })
    return rows


def compare(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per task with both: PPO − PG in evaluation return, Welch 95% interval, p-value, Holm-adjusted over the tasks."""
    by = {(r["env_id"], r["variant"]): r for r in rows}
    out = []
    for env_id in TASKS:
        ppo, pg = by.get((env_id, "ppo")), by.get((env_id, "pg"))
        if ppo is None or pg is None or min(len(ppo["per_seed"]), len(pg["per_seed"])) < 2:
            continue
        diff, lo, hi, p = welch_interval(ppo["per_seed"], pg["per_seed"])
        out.append({"env_id": env_id, "diff": diff, "ci": [lo, hi], "p": p})
    for row, p_adj in zip(out, holm([r["p"] for r in out]) if out else []):
        row["p_holm"] = p_adj
        row["ppo_better"] = row["diff"] > 0 and p_adj < 0.05
        row["pg_better"] = row["diff"] < 0 and p_adj < 0.05
    return out


def _fmt(v: float | None, digits: int = 1) -> str:
    return "—" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{digits}f}"


def format_table(rows: list[dict[str, Any]]) -> str:
    """Markdown: each (task, variant) beside the published numbers for the task."""
    lines = ["| task | budget | variant | eval return, mean [95% CI] (seeds) | training reached threshold | published |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        pub = "; ".join(f"{p.algorithm} {p.mean:g}" + (f" ± {p.spread:g}" if p.spread is not None else "")
                        + f" ({p.budget // 1000}k, {'zoo' if p.source == _ZOO else 'CleanRL'})" for p in PUBLISHED[r["env_id"]])
        lines.append(f"| {r['env_id']} | {r['budget']:,} | {r['variant']} | {_fmt(r['eval_return'])} "
                     f"[{_fmt(r['ci'][0])}, {_fmt(r['ci'][1])}] ({r['seeds']}) | {r['reached_threshold']}/{r['seeds']} | {pub} |")
    return "\n".join(lines)


def jobs(envs: list[str], variants: list[str]) -> list[tuple[str, str]]:
    """The cells, cheapest tasks first (the order of :data:`TASKS`)."""
    return [(e, v) for e in TASKS if e in envs for v in variants_of(e) if v in variants]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.splitlines()[0])
    parser.add_argument("--envs", nargs="+", default=list(TASKS), help=f"among {tuple(TASKS)}")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), help=f"among {tuple(VARIANTS)}")
    parser.add_argument("--steps", type=int, default=None, help="env steps per run (default: per task, TASKS; tests)")
    parser.add_argument("--seeds", type=int, default=None, help="seeds 0..N-1 (default: per task, TASKS)")
    parser.add_argument("--episodes", type=int, default=EVAL_EPISODES, help="evaluation episodes per run")
    parser.add_argument("--max-cells", type=int, default=None, help="stop after computing this many cells")
    add_sweep_arguments(parser, "benchmark")
    ns = parser.parse_args(argv)
    refuse_unknown("task", ns.envs, TASKS)
    refuse_unknown("variant", ns.variants, VARIANTS)
    if ns.seeds is not None and ns.seeds < 2:
        raise SystemExit(f"--seeds must be >= 2 (intervals need two values), got {ns.seeds}")

    def seeds_of(env_id: str) -> list[int]:
        return list(range(ns.seeds or TASKS[env_id]["seeds"]))

    protocols: dict[tuple[str, str], dict[str, Any]] = {}
    for e, v in jobs(list(TASKS), list(VARIANTS)):  # every cell's config, refused before any training if bad
        try:
            protocols[(e, v)] = cell_protocol(e, v, ns.steps, seeds_of(e), ns.episodes)
        except ValueError as exc:
            if e in ns.envs and v in ns.variants:
                raise SystemExit(f"error: {exc}") from None
            # --steps below another task's rollout: that task has no cell of this protocol
    log = open_cell_log(ns)
    t0 = time.perf_counter()
    compute_missing(log, [(f"{e}/{v}", protocols[(e, v)], lambda e=e, v=v: run_cell(e, v, seeds_of(e), ns.steps, ns.episodes))
                          for e, v in jobs(ns.envs, ns.variants)], ns.max_cells, "benchmark", not ns.no_progress)

    cells = [c for (e, v), p in protocols.items() if (c := log.done(f"{e}/{v}", p)) is not None]
    rows = summarize(cells)
    missing = [f"{e}/{v}" for (e, v), p in protocols.items() if log.done(f"{e}/{v}", p) is None]
    data = {
        "tasks": TASKS, "variants": VARIANTS, "generic_tasks": GENERIC_TASKS, "episodes": ns.episodes,
        "published": {e: [asdict(p) for p in ps] for e, ps in PUBLISHED.items()},
        "complete": not missing, "cells_done": len(cells), "cells_expected": len(protocols), "missing": missing,
        "compute_seconds": round(sum(c["seconds"] for c in cells), 1), **provenance_of_cells(cells),
        "summary": rows, "ppo_vs_pg": compare(rows),
        # Per run: scores, thinned curve, steps to threshold; the per-update figures stay in the cell log (the file
        # notebooks load is ~20x smaller without them).
        "cells": [{k: v for k, v in c.items() if k not in ("protocol", "runs")} | {"config": c["protocol"]["config"]}
                  | {"runs": [{k: v for k, v in r.items() if k != "updates"} for r in c["runs"]]} for c in cells],
    }
    path = write_results(ns.name, data, time.perf_counter() - t0, regeneration_command(COMMAND, argv), outdir=ns.outdir)
    if rows:
        print(format_table(rows))
    print(f"wrote {path}: {len(cells)}/{len(protocols)} cells ({data['compute_seconds']:.0f} s of compute in them)"
          + (f"; missing: {', '.join(missing)}" if missing else ""))
    return 0
