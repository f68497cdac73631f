r"""PPO assembled (notebook 06): ``python -m ppo_lite.experiments assembled``.

Trains PPO v2 (``clip``) and PPO v1 (``kl_adaptive``: the paper's adaptive β; ``kl_dual``: dual descent on η)
with the same seeds on discrete (CartPole-v1, Acrobot-v1) and continuous (Pendulum-v1, LunarLanderContinuous-v3)
tasks, and records per update what a practitioner watches: smoothed return, approximate KL
(:math:`k_3` on the whole batch after the update), clip fraction, explained variance, entropy, and β or η.

Seeds of one (task, objective) train as one batched computation (:func:`ppo_lite.batched.train_batched`).
Writes ``figures/assembled.json`` (with provenance), from which ``python -m ppo_lite.experiments assembled`` then
draws ``figures/assembled.png``.

LunarLanderContinuous needs gymnasium's Box2D extra (box2d and pygame, both in requirements.txt).
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import torch

from ..config import SOLVED_THRESHOLDS, PPOConfig
from ..history import History
from . import write_results

OBJECTIVES = ("clip", "kl_adaptive", "kl_dual")
TASKS: dict[str, dict[str, Any]] = {
    "CartPole-v1": dict(total_steps=30_720),
    "Acrobot-v1": dict(total_steps=24_576),
    "Pendulum-v1": dict(total_steps=40_960),
    # The "continuous" family default (1 env x 2048, 32 minibatches) takes 320 gradient steps per rollout:
    # 8 envs x 256 and 4 minibatches of 512 keep the rollout size and cost 8x fewer steps on this CPU.
    "LunarLanderContinuous-v3": dict(total_steps=20_480, num_envs=8, num_steps=256, num_minibatches=4, backend="gymnasium"),
}
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


def record(env_id: str, objective: str, seed: int, history: History, seconds: float) -> dict[str, Any]:
    """One run's per-update figures (rounded), final return and steps to the task's threshold."""
    def r(v: float) -> float | None:
        return None if v != v else round(v, 5)

    updates = {k: [r(v) for v in history[k]] for k in RECORDED}
    updates["env_steps"] = [int(s) for s in history["env_steps"]]
    updates["return"] = [r(v) for v in history.smoothed_returns()]
    return {"env_id": env_id, "objective": objective, "seed": seed, "updates": updates,
            "final_return": r(history.mean_return(20)), "steps_to_threshold": history.steps_to_threshold(SOLVED_THRESHOLDS[env_id]),
            "seconds": round(seconds, 2)}


def run_cell(env_id: str, objective: str, seeds: Sequence[int], total_steps: int | None = None) -> list[dict[str, Any]]:
    """All seeds of one (task, objective), batched; one record per seed."""
    from ..batched import BatchedConfig, train_batched

    cfg = task_config(env_id, objective, seed=seeds[0], total_steps=total_steps)
    t0 = time.perf_counter()
    if len(seeds) > 1:
        histories = train_batched(BatchedConfig(base=cfg, seeds=list(seeds)), progress=False)
    else:
        from ..trainer import train

        histories = [train(cfg, progress=False)]
    seconds = (time.perf_counter() - t0) / len(seeds)
    return [record(env_id, objective, s, h, seconds) for s, h in zip(seeds, histories)]


def summarize(runs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (task, objective): mean/min final return over seeds, seeds solved, mean max KL."""
    from ..stats import t_interval

    rows = []
    keys: list[tuple[str, str]] = []
    for r in runs:
        if (r["env_id"], r["objective"]) not in keys:
            keys.append((r["env_id"], r["objective"]))
    for env_id, objective in keys:
        g = [r for r in runs if (r["env_id"], r["objective"]) == (env_id, objective)]
        finals = [r["final_return"] for r in g if r["final_return"] is not None]
        mean, lo, hi = t_interval(finals) if len(finals) >= 2 else (finals[0], finals[0], finals[0])
        kls = [max(v for v in r["updates"]["approx_kl"] if v is not None) for r in g]
        rows.append({"env_id": env_id, "objective": objective, "seeds": len(g), "final_return": round(mean, 1),
                     "final_return_ci": [round(lo, 1), round(hi, 1)], "final_return_min": round(min(finals), 1),
                     "solved": sum(r["steps_to_threshold"] is not None for r in g),
                     "max_approx_kl": round(sum(kls) / len(kls), 4), "seconds_per_run": round(sum(r["seconds"] for r in g) / len(g), 1)})
    return rows


def format_table(rows: Sequence[dict[str, Any]]) -> str:
    lines = ["| env | objective | final return, mean [95% CI] | min | reached threshold | max approx KL | s per run |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        c = r["final_return_ci"]
        lines.append(f"| {r['env_id']} | {r['objective']} | {r['final_return']:.1f} [{c[0]:.1f}, {c[1]:.1f}] | "
                     f"{r['final_return_min']:.1f} | {r['solved']}/{r['seeds']} | {r['max_approx_kl']:.4f} | {r['seconds_per_run']:.1f} |")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.splitlines()[0])
    parser.add_argument("--envs", nargs="+", default=list(TASKS), help=f"among {tuple(TASKS)}")
    parser.add_argument("--objectives", nargs="+", default=list(OBJECTIVES), help=f"among {OBJECTIVES}")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--steps", type=int, default=None, help="env steps per run (default: per task, TASKS)")
    parser.add_argument("--log", default=None, help="append each finished cell to this JSON-lines file; resume from it")
    parser.add_argument("--name", default="assembled", help="output name under figures/")
    parser.add_argument("--outdir", default=None, help="write here instead of figures/ (tests)")
    parser.add_argument("--no-progress", action="store_true")
    ns = parser.parse_args(argv)
    for e in ns.envs:
        for o in ns.objectives:
            task_config(e, o)  # refuse bad input before any training
    if ns.seeds < 1:
        raise SystemExit(f"--seeds must be >= 1, got {ns.seeds}")
    torch.set_num_threads(1)
    log = Path(ns.log) if ns.log else None
    runs: list[dict[str, Any]] = []
    if log is not None and log.exists():
        runs = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    have = {(r["env_id"], r["objective"]) for r in runs}
    from tqdm.auto import tqdm

    jobs = [(e, o) for e in ns.envs for o in ns.objectives]
    t0 = time.perf_counter()
    for env_id, objective in tqdm(jobs, desc="assembled", unit="cell", disable=ns.no_progress):
        if (env_id, objective) in have:
            continue
        cell = run_cell(env_id, objective, list(range(ns.seeds)), ns.steps)
        print(f"{env_id} {objective}: final " + ", ".join(f"{r['final_return']}" for r in cell), flush=True)
        if log is not None:
            with log.open("a") as fh:
                for r in cell:
                    fh.write(json.dumps(r) + "\n")
        runs += cell
    seconds = time.perf_counter() - t0 + sum(r["seconds"] for r in runs if (r["env_id"], r["objective"]) in have)
    rows = summarize(runs)
    steps = {e: ns.steps or TASKS[e]["total_steps"] for e in ns.envs}
    data = {"envs": ns.envs, "objectives": ns.objectives, "seeds": ns.seeds, "steps": steps,
            "configs": {e: {k: v for k, v in task_config(e, "clip").to_dict().items() if k != "extra"} for e in ns.envs},
            "summary": rows, "runs": runs}
    command = f"{COMMAND} {' '.join(argv)}".strip()
    path = write_results(ns.name, data, seconds, command, outdir=ns.outdir)
    print(format_table(rows))
    print(f"wrote {path} in {seconds:.0f} s")
    return 0
