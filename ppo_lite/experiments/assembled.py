r"""PPO assembled (notebook 06): ``python -m ppo_lite.experiments assembled``.

Trains PPO v2 (``clip``) and PPO v1 (``kl_adaptive``: the paper's adaptive β; ``kl_dual``: dual descent on η)
with the same seeds (:data:`SEEDS`, ten) on discrete (CartPole-v1, Acrobot-v1) and continuous (Pendulum-v1) tasks,
each at its family defaults and a budget at which the defaults converge (:data:`TASKS`: CartPole reaches 500 and
Pendulum about −200 well inside 100k steps, ``bench/results/train_Pendulum-v1.md``), and records per update what a
practitioner watches: smoothed return, approximate KL (:math:`k_3` on the whole batch after the update), clip
fraction, explained variance, entropy, and β or η. Every agent is scored by a deterministic evaluation return (10
episodes on held-out env seeds, :func:`ppo_lite.experiments.sweep.score_agents`).

The seeds of one (task, objective) train as one batched computation: one cell of ``figures/assembled.cells.jsonl``,
written as it finishes; a rerun skips the cells already there. ``figures/assembled.json`` (with provenance) is
rebuilt from the log, and ``python -m ppo_lite.experiments assembled`` then draws ``figures/assembled.png``.

LunarLanderContinuous-v3 (Box2D, in requirements.txt) can be added with ``--envs``, at 1M steps: it is not in the
default run, which must fit a session of the 2-core CPU; the benchmark against published numbers (issue 15) takes
LunarLander.
"""
from __future__ import annotations

import argparse
import time
from typing import Any, Sequence


from ..config import PPOConfig
from .sweep import score_agents
from . import add_sweep_arguments, config_record, compute_missing, open_cell_log, provenance_of_cells, refuse_unknown, regeneration_command, write_results

OBJECTIVES = ("clip", "kl_adaptive", "kl_dual")
TASKS: dict[str, dict[str, Any]] = {
    "CartPole-v1": dict(total_steps=100_000),
    "Acrobot-v1": dict(total_steps=100_000),
    "Pendulum-v1": dict(total_steps=100_000),
    # The "continuous" family default (1 env x 2048, 32 minibatches) takes 320 gradient steps per rollout:
    # 8 envs x 256 and 4 minibatches of 512 keep the rollout size and cost 8x fewer steps on this CPU.
    "LunarLanderContinuous-v3": dict(total_steps=1_000_000, num_envs=8, num_steps=256, num_minibatches=4, backend="gymnasium"),
}
DEFAULT_TASKS = ("CartPole-v1", "Acrobot-v1", "Pendulum-v1")
SEEDS = tuple(range(10))
EVAL_EPISODES = 10
RECORDED = ("approx_kl", "clip_frac", "explained_variance", "entropy", "kl_coef")
COMMAND = "python -m ppo_lite.experiments assembled"


def task_config(env_id: str, objective: str, seed: int = 0, total_steps: int | None = None, **overrides: Any) -> PPOConfig:
    """The family defaults of ``env_id`` (``PPOConfig.for_env``), this experiment's budget, then ``overrides``."""
    if env_id not in TASKS:
        raise ValueError(f"assembled has no settings for env_id={env_id!r}; use one of {tuple(TASKS)}")
    if objective not in OBJECTIVES:
        raise ValueError(f"unknown objective {objective!r}; assembled compares {OBJECTIVES}")
    values = dict(TASKS[env_id])
    if total_steps is not None:
        values["total_steps"] = total_steps
    values.update(overrides)
    return PPOConfig.for_env(env_id, objective=objective, seed=seed, **values).validate()


def run_cell(env_id: str, objective: str, seeds: Sequence[int] = SEEDS, total_steps: int | None = None,
             episodes: int = EVAL_EPISODES) -> dict[str, Any]:
    """All seeds of one (task, objective), batched: one record per seed (evaluation return, per-update figures,
    steps to the threshold) and the cell's wall time."""
    cfg = task_config(env_id, objective, total_steps=total_steps)
    t0 = time.perf_counter()
    records = score_agents(cfg, list(seeds), episodes=episodes, series=RECORDED)
    for r in records:
        r.update(env_id=env_id, objective=objective, final_return=r["final_train"])
    return {"runs": records, "seconds": round(time.perf_counter() - t0, 1)}


def summarize(runs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (task, objective), over its seeds: evaluation return (mean, 95% t-interval, min), final
    training return, seeds whose training return reached the threshold, mean of each seed's largest KL."""
    from .stats import t_interval

    rows = []
    keys: list[tuple[str, str]] = []
    for r in runs:
        if (r["env_id"], r["objective"]) not in keys:
            keys.append((r["env_id"], r["objective"]))
    for env_id, objective in keys:
        everyone = [r for r in runs if (r["env_id"], r["objective"]) == (env_id, objective)]
        g = [r for r in everyone if not r["diverged"]]
        evals = [r["eval_return"] for r in g]
        mean, lo, hi = t_interval(evals) if len(evals) >= 2 else (evals[0], float("nan"), float("nan"))
        kls = [max(v for v in r["updates"]["approx_kl"] if v is not None) for r in g]
        rows.append({"env_id": env_id, "objective": objective, "seeds": len(g), "diverged": len(everyone) - len(g),
                     "eval_return": round(mean, 1), "eval_return_ci": [round(lo, 1), round(hi, 1)],
                     "eval_return_min": round(min(evals), 1),
                     "final_return": round(sum(r["final_return"] for r in g) / len(g), 1),
                     "solved": sum(r["steps_to_threshold"] is not None for r in g),
                     "max_approx_kl": round(sum(kls) / len(kls), 4)})
    return rows


def format_table(rows: Sequence[dict[str, Any]]) -> str:
    lines = ["| env | objective | eval return, mean [95% CI] | min | final train return | training reached threshold | max approx KL |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        c = r["eval_return_ci"]
        lines.append(f"| {r['env_id']} | {r['objective']} | {r['eval_return']:.1f} [{c[0]:.1f}, {c[1]:.1f}] | "
                     f"{r['eval_return_min']:.1f} | {r['final_return']:.1f} | {r['solved']}/{r['seeds']} | {r['max_approx_kl']:.4f} |")
    return "\n".join(lines)


def cell_protocol(env_id: str, objective: str, total_steps: int | None, seeds: list[int], episodes: int) -> dict[str, Any]:
    """Everything that fixes a cell's result."""
    return {"config": task_config(env_id, objective, total_steps=total_steps).to_dict(), "seeds": seeds, "episodes": episodes}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.splitlines()[0])
    parser.add_argument("--envs", nargs="+", default=list(DEFAULT_TASKS), help=f"among {tuple(TASKS)}")
    parser.add_argument("--objectives", nargs="+", default=list(OBJECTIVES), help=f"among {OBJECTIVES}")
    parser.add_argument("--seeds", type=int, default=len(SEEDS), help="seeds 0..N-1, the same for every objective")
    parser.add_argument("--steps", type=int, default=None, help="env steps per run (default: per task, TASKS)")
    parser.add_argument("--episodes", type=int, default=EVAL_EPISODES, help="evaluation episodes per run")
    parser.add_argument("--max-cells", type=int, default=None, help="stop after computing this many cells")
    add_sweep_arguments(parser, "assembled")
    ns = parser.parse_args(argv)
    refuse_unknown("task", ns.envs, TASKS)
    refuse_unknown("objective", ns.objectives, OBJECTIVES)
    if ns.seeds < 2:
        raise SystemExit(f"--seeds must be >= 2 (intervals need two values), got {ns.seeds}")
    seeds = list(range(ns.seeds))
    try:  # refuse bad input (a budget below one rollout, ...) before any training
        protocols = {(e, o): cell_protocol(e, o, ns.steps, seeds, ns.episodes) for e in ns.envs for o in ns.objectives}
    except ValueError as exc:
        raise SystemExit(f"error: {exc}") from None
    log = open_cell_log(ns)
    t0 = time.perf_counter()
    compute_missing(log, [(f"{e}/{o}", p, lambda e=e, o=o: run_cell(e, o, seeds, ns.steps, ns.episodes))
                          for (e, o), p in protocols.items()], ns.max_cells, "assembled", not ns.no_progress)

    cells = [c for (e, o), p in protocols.items() if (c := log.done(f"{e}/{o}", p)) is not None]
    runs = [r for c in cells for r in c["runs"]]
    steps = {e: ns.steps or TASKS[e]["total_steps"] for e in ns.envs}
    data = {"envs": ns.envs, "objectives": ns.objectives, "seeds": ns.seeds, "episodes": ns.episodes, "steps": steps,
            "configs": {e: config_record(task_config(e, "clip")) for e in ns.envs},
            "complete": len(cells) == len(protocols), "cells_done": len(cells), "cells_expected": len(protocols),
            "compute_seconds": round(sum(c["seconds"] for c in cells), 1), **provenance_of_cells(cells),
            "summary": summarize(runs) if runs else [], "runs": runs}
    path = write_results(ns.name, data, time.perf_counter() - t0, regeneration_command(COMMAND, argv), outdir=ns.outdir)
    if runs:
        print(format_table(data["summary"]))
    print(f"wrote {path}: {len(cells)}/{len(protocols)} cells ({data['compute_seconds']:.0f} s of compute in them)")
    return 0
