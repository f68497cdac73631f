r"""The peers a user would pick instead of PPO, on the benchmark's tasks and protocol: ``python bench/peers.py``.

Stable-Baselines3's **A2C** and sb3-contrib's **TRPO**, each with rl-baselines3-zoo's tuned hyperparameters
(:data:`ZOO`, read from the zoo's own ``hyperparams/a2c.yml`` and ``hyperparams/trpo.yml``, :data:`ZOO_SOURCE`), on
CartPole-v1 and Pendulum-v1 at the budget ``figures/benchmark.json`` gives PPO there (100,000 env steps,
:data:`ppo_lite.experiments.benchmark.TASKS`), seeds 0-9 (:data:`SEEDS`). The benchmark's other tasks (Acrobot-v1,
MountainCar-v0, LunarLander-v3, Hopper-v5) run 1,000,000 steps: forty such SB3 runs are days of this project's 2-core
CPU, so they are not run here.

What is kept from the zoo and what is not:

- kept: every model hyperparameter of the zoo's entry, its ``n_envs``, ``policy`` and ``policy_kwargs``, and its
  ``normalize`` (``VecNormalize`` with the algorithm's γ, as the zoo's ``ExperimentManager`` builds it); a
  learning-rate string ``lin_<x>`` is SB3's linear schedule from x to 0 over the run
  (``LinearSchedule(x, 0, 1)``, what the zoo's ``SimpleLinearSchedule`` computes: ``progress_remaining * x``);
- changed: the budget. Each run trains 100,000 env steps (the benchmark's PPO budget), not the zoo's
  ``n_timesteps`` (recorded beside it: A2C's entries use 500,000 and 1,000,000); a linear schedule therefore
  anneals to 0 over 100,000 steps.

Each run is scored as :func:`ppo_lite.experiments.sweep.score_agents` scores the benchmark's PPO agents:

- ``eval_return``: the mean return of :data:`EVAL_EPISODES` (10) **deterministic** episodes (``predict(...,
  deterministic=True)``: the argmax / the Gaussian mean) after training, in the very envs and loop ``score_agents``
  uses: ``ppo_lite.envs.make_env(env_id, 10)`` (the torch-native copies of gymnasium's CartPole-v1 and Pendulum-v1,
  which reproduce its dynamics step by step, ``tests/test_envs.py``), reset once with seed
  :data:`ppo_lite.experiments.sweep.EVAL_SEED` (a seed no training run uses), each env running one complete
  episode, capped by the task's time limit (500 and 200 steps), Box actions clipped to the action space
  (:func:`ppo_lite.evaluation.one_episode_each`). Where the zoo normalizes observations, the policy sees them through
  the run's ``VecNormalize`` statistics frozen at the end of training (``training=False, norm_reward=False``);
- ``final_train``: the mean return of the last :data:`TRAIN_WINDOW` (20) training episodes at the budget (the
  stochastic policy, raw rewards from SB3's ``Monitor``, as CleanRL reports and as the benchmark's ``final_train``),
  with a thinned learning curve of that running mean and ``steps_to_threshold``: the first env step at which it
  reaches the task's solved threshold (:data:`ppo_lite.config.SOLVED_THRESHOLDS`), None if never;
- ``seconds``: wall time of training and evaluation, at one torch thread; SB3's and sb3-contrib's versions.

One cell is (algorithm, task, seed): one training run, appended to ``figures/peers.cells.jsonl`` the moment it
finishes; a rerun skips the cells already there (a stopped run loses at most the cell in progress). Cells run
seed-major (every (algorithm, task) at seed 0, then at seed 1, ...), so a run stopped half-way leaves every pair
with about as many seeds. ``figures/peers.json`` is rebuilt from the log at the end of every invocation
(``--max-cells 0``: train nothing, only rebuild). ``ppo_lite.experiments.peers`` compares its per-seed evaluation
returns with the benchmark's PPO.

Needs ``pip install -r bench/requirements.txt`` (stable-baselines3, sb3-contrib); bad ``--algos`` / ``--tasks`` /
``--seeds`` are refused before SB3 is imported.
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the ppo_lite of this checkout

from ppo_lite.config import SOLVED_THRESHOLDS  # noqa: E402
from ppo_lite.experiments import (  # noqa: E402
    CellBudget, add_sweep_arguments, compute_cell, open_cell_log, provenance_of_cells, refuse_unknown,
    regeneration_command, write_results,
)
from ppo_lite.experiments.benchmark import TASKS as BENCHMARK_TASKS  # noqa: E402
from ppo_lite.experiments.stats import t_interval  # noqa: E402
from ppo_lite.experiments.sweep import EVAL_SEED, thin_curve  # noqa: E402

COMMAND = "python bench/peers.py"
EVAL_EPISODES = 10
TRAIN_WINDOW = 20
CURVE_POINTS = 40
SEEDS: tuple[int, ...] = tuple(range(10))
TASKS: dict[str, int] = {e: BENCHMARK_TASKS[e]["total_steps"] for e in ("CartPole-v1", "Pendulum-v1")}
"""The tasks run here and their budget: the benchmark's PPO budget for each (100,000 env steps)."""
ALGOS: dict[str, str] = {
    "a2c": "Stable-Baselines3 A2C, rl-baselines3-zoo's hyperparameters",
    "trpo": "sb3-contrib TRPO, rl-baselines3-zoo's hyperparameters",
}

ZOO_SOURCE: dict[str, str] = {
    "repo": "DLR-RM/rl-baselines3-zoo",
    "commit": "22e3ff2450fd92033f7f032915e1f64894a09584",
    "files_last_changed": "eec15dc22e1ec7167064aae0c1218eefccaf0ff4",
    "note": "read at the repository's newest snapshot (2026-04-23); both files last changed in eec15dc (2026-04-01)",
}
"""Where :data:`ZOO` was read: the zoo's repository, the commit read, the commit that last changed the two files."""

ZOO: dict[tuple[str, str], dict[str, Any]] = {
    # hyperparams/a2c.yml, "CartPole-v1:" (untuned entry: no "# Tuned" comment above it)
    ("a2c", "CartPole-v1"): dict(file="hyperparams/a2c.yml", n_envs=8, n_timesteps=500_000, normalize=False,
                                 policy="MlpPolicy", hyperparams=dict(ent_coef=0.0)),
    # hyperparams/a2c.yml, "# Tuned" "Pendulum-v1:"
    ("a2c", "Pendulum-v1"): dict(file="hyperparams/a2c.yml", n_envs=8, n_timesteps=1_000_000, normalize=True,
                                 policy="MlpPolicy",
                                 hyperparams=dict(ent_coef=0.0, max_grad_norm=0.5, n_steps=8, gae_lambda=0.9,
                                                  vf_coef=0.4, gamma=0.9, use_rms_prop=True,
                                                  normalize_advantage=False, learning_rate="lin_7e-4", use_sde=True,
                                                  policy_kwargs=dict(log_std_init=-2, ortho_init=False))),
    # hyperparams/trpo.yml, "CartPole-v1:"
    ("trpo", "CartPole-v1"): dict(file="hyperparams/trpo.yml", n_envs=2, n_timesteps=100_000, normalize=False,
                                  policy="MlpPolicy",
                                  hyperparams=dict(n_steps=512, batch_size=512, cg_damping=1e-3, gae_lambda=0.98,
                                                   gamma=0.99, learning_rate=1e-3, n_critic_updates=20)),
    # hyperparams/trpo.yml, "# Tuned" "Pendulum-v1:"
    ("trpo", "Pendulum-v1"): dict(file="hyperparams/trpo.yml", n_envs=2, n_timesteps=100_000, normalize=False,
                                  policy="MlpPolicy",
                                  hyperparams=dict(n_steps=1024, gamma=0.9, n_critic_updates=15, use_sde=True,
                                                   sde_sample_freq=4)),
}
"""rl-baselines3-zoo's entry for each (algorithm, task), as written in its file (:data:`ZOO_SOURCE`): ``n_envs``,
the zoo's ``n_timesteps`` (not used: every run trains :data:`TASKS`' budget), ``normalize``, ``policy``, and the
model's keyword arguments (``learning_rate`` strings ``lin_<x>`` are made linear schedules by :func:`model_kwargs`)."""


def check_seeds(seeds: list[int]) -> None:
    """Refuse seeds that are not distinct non-negative ints below the evaluation seed."""
    bad = [s for s in seeds if not 0 <= s < EVAL_SEED]
    if bad or len(set(seeds)) != len(seeds) or not seeds:
        raise SystemExit(f"--seeds must be distinct ints in [0, {EVAL_SEED}) (the evaluation envs' seed), got {seeds}")


def cell_key(algo: str, env_id: str, seed: int) -> str:
    return f"{algo}/{env_id}/{seed}"


def cell_protocol(algo: str, env_id: str, seed: int, total_steps: int) -> dict[str, Any]:
    """Everything that determines one cell's result (the zoo's entry, the budget, the seed, the evaluation)."""
    zoo = ZOO[(algo, env_id)]
    return {"algo": algo, "env_id": env_id, "seed": seed, "total_steps": total_steps, "zoo": zoo,
            "zoo_commit": ZOO_SOURCE["commit"], "torch_threads": 1,
            "evaluation": {"episodes": EVAL_EPISODES, "eval_seed": EVAL_SEED, "deterministic": True,
                           "envs": "ppo_lite.envs.make_env(env_id, episodes), one_episode_each"},
            "train_window": TRAIN_WINDOW}


def model_kwargs(hyperparams: dict[str, Any]) -> dict[str, Any]:
    """The zoo's hyperparameters as SB3 takes them: ``lin_<x>`` becomes ``LinearSchedule(x, 0, 1)`` (x at the start,
    0 at the end of the run: ``progress_remaining * x``, the zoo's ``SimpleLinearSchedule``)."""
    from stable_baselines3.common.utils import LinearSchedule

    out = dict(hyperparams)
    for key in ("learning_rate", "clip_range"):
        value = out.get(key)
        if isinstance(value, str):
            kind, _, start = value.partition("_")
            if kind != "lin":
                raise ValueError(f"unknown schedule {value!r} for {key}; the zoo's strings here are lin_<x>")
            out[key] = LinearSchedule(float(start), 0.0, 1.0)
    if "policy_kwargs" in out:
        out["policy_kwargs"] = dict(out["policy_kwargs"])
    return out


def versions() -> dict[str, str]:
    import sb3_contrib
    import stable_baselines3

    return {"stable_baselines3": stable_baselines3.__version__, "sb3_contrib": sb3_contrib.__version__}


def run_cell(algo: str, env_id: str, seed: int, total_steps: int) -> dict[str, Any]:
    """Train one (algorithm, task, seed) with the zoo's settings for ``total_steps`` env steps and score it (module
    docstring)."""
    import numpy as np
    import torch
    from sb3_contrib import TRPO
    from stable_baselines3 import A2C
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import VecNormalize

    from ppo_lite.envs import make_env
    from ppo_lite.evaluation import one_episode_each

    torch.set_num_threads(1)
    zoo = ZOO[(algo, env_id)]
    kwargs = model_kwargs(zoo["hyperparams"])

    class Episodes(BaseCallback):
        """Every finished training episode's raw return (Monitor's) and the env steps taken when it ended."""

        def __init__(self) -> None:
            super().__init__()
            self.returns: list[float] = []
            self.steps: list[int] = []

        def _on_step(self) -> bool:
            for info in self.locals["infos"]:
                if "episode" in info:
                    self.returns.append(float(info["episode"]["r"]))
                    self.steps.append(int(self.num_timesteps))
            return True

    t0 = time.perf_counter()
    venv = make_vec_env(env_id, n_envs=zoo["n_envs"], seed=seed)
    if zoo["normalize"]:  # the zoo's ExperimentManager: VecNormalize with the algorithm's discount
        venv = VecNormalize(venv, gamma=kwargs.get("gamma", 0.99))
    cls = {"a2c": A2C, "trpo": TRPO}[algo]
    model = cls(zoo["policy"], venv, seed=seed, device="cpu", verbose=0, **kwargs)
    episodes = Episodes()
    model.learn(total_timesteps=total_steps, callback=episodes, progress_bar=False)
    train_seconds = time.perf_counter() - t0

    norm = venv if zoo["normalize"] else None
    if norm is not None:
        norm.training, norm.norm_reward = False, False  # frozen statistics, raw rewards

    def act(obs: torch.Tensor) -> torch.Tensor:
        x = obs.cpu().numpy().astype(np.float32)
        if norm is not None:
            x = norm.normalize_obs(x)
        action, _ = model.predict(x, deterministic=True)
        return torch.as_tensor(action)

    env = make_env(env_id, EVAL_EPISODES, "cpu", "auto")
    try:
        returns = one_episode_each(env, act, EVAL_SEED).tolist()
    finally:
        env.close()
        venv.close()
    running = [float(np.mean(episodes.returns[max(0, i + 1 - TRAIN_WINDOW): i + 1])) for i in range(len(episodes.returns))]
    threshold = SOLVED_THRESHOLDS.get(env_id, math.inf)
    reached = next((s for s, r, i in zip(episodes.steps, running, range(len(running)))
                    if i + 1 >= TRAIN_WINDOW and r >= threshold), None)
    curve_steps, curve = thin_curve(episodes.steps, running, CURVE_POINTS)
    run = {
        "algo": algo, "env_id": env_id, "seed": seed, "diverged": False,
        "eval_return": round(sum(returns) / len(returns), 3), "eval_returns": [round(r, 2) for r in returns],
        "final_train": round(float(np.mean(episodes.returns[-TRAIN_WINDOW:])), 3) if episodes.returns else None,
        "train_episodes": len(episodes.returns), "env_steps": int(model.num_timesteps),
        "steps_to_threshold": reached, "curve_steps": curve_steps, "curve": curve,
        "train_seconds": round(train_seconds, 1),
    }
    return {"runs": [run], "seconds": round(time.perf_counter() - t0, 1), "versions": versions()}


def describe(key: str, cell: dict[str, Any]) -> str:
    r = cell["runs"][0]
    return f"{key}: eval {r['eval_return']:.1f}, final train {_fmt(r['final_train'])} ({cell['seconds']:.0f} s)"


def summarize(cells: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (algorithm, task): evaluation return over the seeds done (mean, 95% Student-t interval, per
    seed with its seeds), mean final training return, seeds whose training return reached the threshold, seconds
    per run, the library versions the runs used."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for c in cells:
        groups.setdefault((c["protocol"]["algo"], c["protocol"]["env_id"]), []).append(c)
    rows = []
    for (algo, env_id), group in sorted(groups.items(), key=lambda kv: (list(TASKS).index(kv[0][1])
                                                                        if kv[0][1] in TASKS else 99, kv[0][0])):
        group = sorted(group, key=lambda c: c["protocol"]["seed"])
        runs = [c["runs"][0] for c in group]
        evals = [r["eval_return"] for r in runs]
        mean, lo, hi = t_interval(evals) if len(evals) >= 2 else (evals[0], float("nan"), float("nan"))
        trains = [r["final_train"] for r in runs if r["final_train"] is not None]
        rows.append({
            "algo": algo, "env_id": env_id, "budget": group[0]["protocol"]["total_steps"],
            "zoo_n_timesteps": group[0]["protocol"]["zoo"]["n_timesteps"],
            "seeds": len(runs), "seed_list": [r["seed"] for r in runs],
            "eval_return": mean, "ci": [lo, hi], "per_seed": evals,
            "final_train": sum(trains) / len(trains) if trains else float("nan"),
            "final_train_per_seed": [r["final_train"] for r in runs],
            "reached_threshold": sum(r["steps_to_threshold"] is not None for r in runs),
            "seconds_per_run": round(sum(c["seconds"] for c in group) / len(group), 1),
            "versions": sorted({f"stable-baselines3 {c['versions']['stable_baselines3']}, sb3-contrib "
                                f"{c['versions']['sb3_contrib']}" for c in group}),
        })
    return rows


def _fmt(v: float) -> str:
    return "—" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.1f}"


def format_table(rows: list[dict[str, Any]]) -> str:
    lines = ["| task | algorithm | budget (zoo's) | eval return, mean [95% CI] (seeds) | final training return | s/run |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['env_id']} | {r['algo']} | {r['budget']:,} ({r['zoo_n_timesteps']:,}) | "
                     f"{_fmt(r['eval_return'])} [{_fmt(r['ci'][0])}, {_fmt(r['ci'][1])}] ({r['seeds']}) | "
                     f"{_fmt(r['final_train'])} | {r['seconds_per_run']:.0f} |")
    return "\n".join(lines)


def jobs(algos: list[str], tasks: list[str], seeds: list[int]) -> list[tuple[str, str, int]]:
    """The cells, seed-major (each seed for every (algorithm, task) before the next seed), tasks in :data:`TASKS`'
    order."""
    return [(a, e, s) for s in seeds for e in TASKS if e in tasks for a in ALGOS if a in algos]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.splitlines()[0])
    parser.add_argument("--algos", nargs="+", default=list(ALGOS), help=f"among {tuple(ALGOS)}")
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), help=f"among {tuple(TASKS)}")
    parser.add_argument("--seeds", nargs="+", type=int, default=list(SEEDS), help="training seeds (default 0-9)")
    parser.add_argument("--steps", type=int, default=None, help="env steps per run (default: TASKS' budget; tests)")
    parser.add_argument("--max-cells", type=int, default=None, help="stop after computing this many cells (0: rebuild the JSON only)")
    add_sweep_arguments(parser, "peers")
    ns = parser.parse_args(argv)
    refuse_unknown("algorithm", ns.algos, ALGOS)
    refuse_unknown("task", ns.tasks, TASKS)
    check_seeds(ns.seeds)
    if ns.steps is not None and ns.steps < 1:
        raise SystemExit(f"--steps must be a positive number of env steps, got {ns.steps}")
    if ns.max_cells is not None and ns.max_cells < 0:
        raise SystemExit(f"--max-cells must be >= 0, got {ns.max_cells}")
    if ns.max_cells != 0:
        try:
            versions()
        except ImportError as exc:
            raise SystemExit(f"training needs stable-baselines3 and sb3-contrib ({exc}); pip install -r bench/requirements.txt"
                             " (or --max-cells 0 to rebuild the JSON from the log)") from None
    from tqdm.auto import tqdm

    def steps_of(env_id: str) -> int:
        return ns.steps or TASKS[env_id]

    log = open_cell_log(ns)
    t0 = time.perf_counter()
    todo = jobs(ns.algos, ns.tasks, ns.seeds)
    budget = CellBudget(ns.max_cells)
    for a, e, s in tqdm(todo, desc="peers", unit="cell", disable=ns.no_progress):
        if compute_cell(log, cell_key(a, e, s), cell_protocol(a, e, s, steps_of(e)),
                        lambda a=a, e=e, s=s: run_cell(a, e, s, steps_of(e)), budget, describe) is None:
            break

    # the file describes the whole study at this protocol (every algorithm, task and seed), whatever this
    # invocation was asked to compute
    expected = jobs(list(ALGOS), list(TASKS), sorted(set(SEEDS) | set(ns.seeds)))
    cells, missing = [], []
    for a, e, s in expected:
        c = log.done(cell_key(a, e, s), cell_protocol(a, e, s, steps_of(e)))
        (cells.append(c) if c is not None else missing.append(cell_key(a, e, s)))
    rows = summarize(cells)
    data = {
        "algos": ALGOS, "tasks": TASKS, "seeds": sorted(set(SEEDS) | set(ns.seeds)), "episodes": EVAL_EPISODES,
        "eval_seed": EVAL_SEED, "train_window": TRAIN_WINDOW,
        "zoo_source": ZOO_SOURCE, "zoo": {f"{a}/{e}": z for (a, e), z in ZOO.items()},
        "not_run": "Acrobot-v1, MountainCar-v0, LunarLander-v3, Hopper-v5 (1,000,000 env steps each: out of reach "
                   "of this 2-core CPU)",
        "complete": not missing, "cells_done": len(cells), "cells_expected": len(expected), "missing": missing,
        "compute_seconds": round(sum(c["seconds"] for c in cells), 1), **provenance_of_cells(cells),
        "summary": rows,
        "cells": [{k: v for k, v in c.items() if k != "protocol"} for c in cells],
    }
    path = write_results(ns.name, data, time.perf_counter() - t0, regeneration_command(COMMAND, argv), outdir=ns.outdir)
    if rows:
        print(format_table(rows))
    print(f"wrote {path}: {len(cells)}/{len(expected)} cells ({data['compute_seconds']:.0f} s of compute in them)"
          + (f"; {len(missing)} missing" if missing else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
