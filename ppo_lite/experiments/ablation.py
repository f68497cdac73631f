r"""Hacks vs objective (notebook 07): ``python -m ppo_lite.experiments ablation``.

The seed note's claim: *"performance boost comes from hacks, not from objective"*. Engstrom et al. (2020),
"Implementation Matters in Deep Policy Gradients", found on MuJoCo that PPO without its code-level optimizations
loses its edge over TRPO: the edge came from the details, not from the clipped objective. The comparison that
decides the claim is therefore **clip against a KL trust region** (here PPO v1's ``kl_dual``), with the details
on and with them off; the bare importance-weighted ``surrogate`` (no trust region at all) says whether a trust region
of either kind matters.

Design (the review of issue 14, after Engstrom et al. 2020 and Andrychowicz et al. 2021):

- tasks (:data:`TASKS`): CartPole-v1, Acrobot-v1, Pendulum-v1, each at a budget at which the tuned defaults reach
  or approach the task's threshold (100k env steps);
- detail sets (:func:`settings`): ``all on`` is the task's tuned family defaults (:meth:`PPOConfig.for_env`);
  ``no <d>`` turns off one detail ``d`` that the defaults use (leave one out); ``all off`` turns off every
  code-level detail of :data:`SWITCHES` (advantage normalization, value clipping, observation normalization,
  reward scaling, orthogonal init, lr annealing, gradient clipping, entropy bonus) but keeps the epochs and
  minibatches: without several gradient steps per batch every objective is the same policy gradient;
- objectives (:data:`OBJECTIVES`): ``clip`` (PPO v2), ``kl_dual`` (PPO v1), ``surrogate`` (no trust region);
- tuning (:func:`run_cell`): every (objective, detail set) corner picks its learning rate from :data:`LR_GRID` on
  :data:`TUNING_SEEDS`, same budget for every corner, by the mean evaluation return (ties broken by the area under
  the curve), then trains :data:`FINAL_SEEDS` fresh seeds at that rate;
- scores (:mod:`ppo_lite.experiments.sweep`): deterministic evaluation return over 10 episodes on seeds no agent trained on, and
  the area under the learning curve. A run that diverges counts as a random policy.

Statistics (:func:`analyze`, :mod:`ppo_lite.experiments.stats`): per cell a Student-t interval; each difference (clip − kl_dual
and clip − surrogate at every detail set; all on − no d and all on − all off per objective) with Welch's interval,
Holm-adjusted p-values over its family of calls, and a Bonferroni interval (level 1 − 0.05/m) that holds for the
whole family at once; across tasks the interquartile mean of normalized scores with a stratified-bootstrap
interval, and the probability of improvement (Agarwal et al. 2021). :func:`verdict` reads the claim off the calls.

Each finished cell is appended to ``figures/ablation.cells.jsonl`` (:class:`~ppo_lite.experiments.CellLog`): run
again, the sweep skips the cells already there (``--fresh`` starts over), so it can span sessions. Then
``figures/ablation.json`` is written from every logged cell, with provenance; the entry point draws
``figures/ablation.png`` from it.
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
from . import add_sweep_arguments, compute_missing, open_cell_log, provenance_of_cells, refuse_unknown, regeneration_command, write_results

COMMAND = "python -m ppo_lite.experiments ablation"
TASKS: dict[str, int] = {"CartPole-v1": 100_000, "Acrobot-v1": 100_000, "Pendulum-v1": 100_000}
"""Task and env-step budget of every run."""
SWITCHES: dict[str, dict[str, Any]] = {
    "norm_adv": {"norm_adv": False}, "clip_value": {"clip_value": False}, "norm_obs": {"norm_obs": False},
    "scale_reward": {"scale_reward": False}, "ortho_init": {"ortho_init": False}, "anneal_lr": {"anneal_lr": False},
    "grad_clip": {"max_grad_norm": None}, "ent_bonus": {"ent_coef": 0.0},
}
"""The code-level details, each with the PPOConfig overrides that turn it off."""
DETAILS = tuple(SWITCHES)
DETAIL_LABELS = {
    "norm_adv": "advantage normalization", "clip_value": "value clipping", "norm_obs": "observation normalization",
    "scale_reward": "reward scaling", "ortho_init": "orthogonal init", "anneal_lr": "lr annealing",
    "grad_clip": "gradient clipping", "ent_bonus": "entropy bonus",
}
OBJECTIVES = ("clip", "kl_dual", "surrogate")
ALL_ON, ALL_OFF = "all on", "all off"
LR_GRID = (3e-4, 1e-3, 3e-3)
"""Learning rates each corner chooses from (the family default 1e-3, a third of it, three times it)."""
TUNING_SEEDS = (100, 101)
FINAL_SEEDS = tuple(range(10))
EVAL_EPISODES = 10
ALPHA = 0.05


def detail_is_on(config: PPOConfig, detail: str) -> bool:
    """Whether ``config`` uses ``detail`` (one of :data:`DETAILS`)."""
    if detail == "grad_clip":
        return config.max_grad_norm is not None
    if detail == "ent_bonus":
        return config.ent_coef > 0
    if detail not in SWITCHES:
        raise ValueError(f"unknown detail {detail!r}; use one of {DETAILS}")
    return bool(getattr(config, detail))


def details_on(env_id: str) -> list[str]:
    """The details that ``env_id``'s tuned defaults use: the ones leave-one-out can take away."""
    if env_id not in TASKS:
        raise ValueError(f"ablation has no task {env_id!r}; use one of {tuple(TASKS)}")
    defaults = PPOConfig.for_env(env_id)
    return [d for d in DETAILS if detail_is_on(defaults, d)]


def settings(env_id: str) -> list[str]:
    """``["all on", "no <d>" for each detail the defaults use, "all off"]``."""
    return [ALL_ON] + [f"no {d}" for d in details_on(env_id)] + [ALL_OFF]


def config_for(env_id: str, objective: str, setting: str, seed: int = 0, total_steps: int | None = None,
               **overrides: Any) -> PPOConfig:
    """The PPOConfig of one (task, objective, detail set): the tuned defaults with the details ``setting`` turns off."""
    if objective not in OBJECTIVES:
        raise ValueError(f"unknown objective {objective!r}; the ablation uses {OBJECTIVES}")
    if env_id not in TASKS:
        raise ValueError(f"ablation has no task {env_id!r}; use one of {tuple(TASKS)}")
    if setting == ALL_ON:
        off: Sequence[str] = ()
    elif setting == ALL_OFF:
        off = DETAILS
    elif setting.startswith("no ") and setting[3:] in details_on(env_id):
        off = (setting[3:],)
    else:
        raise ValueError(f"unknown setting {setting!r} for {env_id}; use one of {settings(env_id)}")
    values: dict[str, Any] = {"total_steps": TASKS[env_id] if total_steps is None else total_steps, "device": "cpu"}
    for d in off:
        values.update(SWITCHES[d])
    values.update(overrides)
    return PPOConfig.for_env(env_id, objective=objective, seed=seed, **values).validate()


# -- one cell ----------------------------------------------------------------------------------------------
def _tuning_score(runs: Sequence[dict[str, Any]], random_return: float) -> tuple[float, float]:
    """Mean evaluation return over the tuning seeds (a diverged run counts as a random policy), then mean AUC."""
    evals = [random_return if r["diverged"] else r["eval_return"] for r in runs]
    aucs = [random_return if r["diverged"] or r["auc"] is None else r["auc"] for r in runs]
    return round(sum(evals) / len(evals), 1), sum(aucs) / len(aucs)


def run_cell(env_id: str, objective: str, setting: str, random_return: float, total_steps: int | None = None,
             lr_grid: Sequence[float] = LR_GRID, tuning_seeds: Sequence[int] = TUNING_SEEDS,
             final_seeds: Sequence[int] = FINAL_SEEDS, episodes: int = EVAL_EPISODES) -> dict[str, Any]:
    """Tune the learning rate of one corner on ``tuning_seeds`` (every rate and seed as one batch), then train
    ``final_seeds`` at the chosen rate (one batch). Returns the tuning runs, the chosen rate and the final runs."""
    base = config_for(env_id, objective, setting, total_steps=total_steps)
    t0 = time.perf_counter()
    tune_seeds = [s for _ in lr_grid for s in tuning_seeds]
    tune_lrs = [lr for lr in lr_grid for _ in tuning_seeds]
    tuning = score_agents(base, tune_seeds, {"lr": tune_lrs}, episodes=episodes, curve_points=2)
    scores = {lr: _tuning_score([r for r in tuning if r["lr"] == lr], random_return) for lr in lr_grid}
    lr = max(lr_grid, key=lambda v: scores[v])
    final = score_agents(base.replace(lr=lr), list(final_seeds), episodes=episodes)
    for r in tuning:
        for k in ("curve", "curve_steps", "eval_returns"):
            r.pop(k, None)
    return {"env_id": env_id, "objective": objective, "setting": setting, "lr": lr,
            "tuning": tuning, "tuning_scores": {str(v): list(scores[v]) for v in lr_grid},
            "runs": final, "seconds": round(time.perf_counter() - t0, 1)}


def cell_key(env_id: str, objective: str, setting: str) -> str:
    return f"{env_id} | {objective} | {setting}"


def cell_protocol(env_id: str, objective: str, setting: str, total_steps: int | None, lr_grid: Sequence[float],
                  tuning_seeds: Sequence[int], final_seeds: Sequence[int], episodes: int) -> dict[str, Any]:
    """Everything that fixes a cell's result: a logged cell is reused only if its protocol is this one."""
    cfg = config_for(env_id, objective, setting, total_steps=total_steps).to_dict()
    cfg.pop("extra", None)
    return {"config": cfg, "lr_grid": list(lr_grid), "tuning_seeds": list(tuning_seeds),
            "final_seeds": list(final_seeds), "episodes": episodes}


def jobs(envs: Sequence[str], objectives: Sequence[str]) -> list[tuple[str, str, str]]:
    """Cells in the order they run: ``all on`` and ``all off`` everywhere first (the comparison the claim turns on),
    then the leave-one-out cells, so a sweep cut short still answers the main question."""
    first = [(e, o, s) for e in envs for s in (ALL_ON, ALL_OFF) for o in objectives]
    rest = [(e, o, s) for e in envs for s in settings(e) if s not in (ALL_ON, ALL_OFF) for o in objectives]
    return first + rest


# -- statistics ---------------------------------------------------------------------------------------------
def final_scores(cell: dict[str, Any], metric: str, random_return: float) -> list[float]:
    """Per-seed scores of a cell's final runs; a diverged run scores as a random policy."""
    return [random_return if r["diverged"] or r[metric] is None else float(r[metric]) for r in cell["runs"]]


def _difference(family: str, env_id: str, label: str, a: list[float], b: list[float]) -> dict[str, Any]:
    d, lo, hi, p = stats.welch_interval(a, b)
    return {"family": family, "env_id": env_id, "label": label, "diff": d, "ci": [lo, hi], "p": p}


def _adjust(rows: list[dict[str, Any]]) -> None:
    """Holm-adjusted p-values and Bonferroni-simultaneous intervals over one family of calls (in place)."""
    if not rows:
        return
    adjusted = stats.holm([r["p"] for r in rows])
    level = 1 - ALPHA / len(rows)
    for r, p_adj in zip(rows, adjusted):
        r["p_holm"] = p_adj
        r["significant"] = p_adj <= ALPHA
        r["direction"] = 0 if p_adj > ALPHA else (1 if r["diff"] > 0 else -1)
        a, b = r.pop("_a"), r.pop("_b")
        _, lo, hi, _ = stats.welch_interval(a, b, level=level)
        r["ci_adjusted"] = [lo, hi]
        r["ci_adjusted_level"] = level


def analyze(cells: Sequence[dict[str, Any]], random_returns: dict[str, float], metric: str = "eval_return") -> dict[str, Any]:
    """Every statistic of the notebook from the logged cells (module docstring): ``summary`` (one row per cell),
    ``objective`` and ``details`` (the two families of differences, adjusted), ``iqm`` and ``improvement``
    (across tasks, normalized scores), and the :func:`verdict`."""
    by = {(c["env_id"], c["objective"], c["setting"]): c for c in cells}
    envs = [e for e in TASKS if any(k[0] == e for k in by)]
    summary = []
    for (e, o, s), c in by.items():
        x = final_scores(c, metric, random_returns[e])
        m, lo, hi = stats.t_interval(x)
        summary.append({"env_id": e, "objective": o, "setting": s, "lr": c["lr"], "mean": m, "ci": [lo, hi],
                        "seeds": len(x), "diverged": sum(r["diverged"] for r in c["runs"])})
    families: dict[str, list[dict[str, Any]]] = {"objective": [], "details": []}

    def add(family: str, e: str, label: str, ka: tuple[str, str, str], kb: tuple[str, str, str]) -> None:
        if ka in by and kb in by:
            a, b = final_scores(by[ka], metric, random_returns[e]), final_scores(by[kb], metric, random_returns[e])
            row = _difference(family, e, label, a, b)
            row["_a"], row["_b"] = a, b
            families[family].append(row)

    for e in envs:
        for s in settings(e):
            add("objective", e, f"{s}: clip − kl_dual", (e, "clip", s), (e, "kl_dual", s))
            add("objective", e, f"{s}: clip − surrogate", (e, "clip", s), (e, "surrogate", s))
        for o in OBJECTIVES:
            add("details", e, f"{o}: all on − all off", (e, o, ALL_ON), (e, o, ALL_OFF))
            for s in settings(e)[1:-1]:
                add("details", e, f"{o}: all on − {s}", (e, o, ALL_ON), (e, o, s))
    for rows in families.values():
        _adjust(rows)

    # Across tasks: IQM of normalized scores per (objective, detail set) the tasks share, and P(clip > other).
    shared = [s for s in settings(envs[0]) if all(s in settings(e) for e in envs)] if envs else []
    iqm_rows, improvement = [], []
    for s in shared:
        for o in OBJECTIVES:
            if all((e, o, s) in by for e in envs):
                scores = {e: [normalized_score(v, e, random_returns[e]) for v in final_scores(by[(e, o, s)], metric, random_returns[e])]
                          for e in envs}
                est, lo, hi = stats.stratified_bootstrap_interval(scores)
                iqm_rows.append({"objective": o, "setting": s, "iqm": est, "ci": [lo, hi], "tasks": envs})
        for other in ("kl_dual", "surrogate"):
            if all((e, o, s) in by for e in envs for o in ("clip", other)):
                x = {e: final_scores(by[(e, "clip", s)], metric, random_returns[e]) for e in envs}
                y = {e: final_scores(by[(e, other, s)], metric, random_returns[e]) for e in envs}
                est, lo, hi = stats.probability_of_improvement(x, y)
                improvement.append({"setting": s, "label": f"P(clip > {other})", "p": est, "ci": [lo, hi], "tasks": envs})
    out = {"metric": metric, "summary": summary, "objective": families["objective"], "details": families["details"],
           "iqm": iqm_rows, "improvement": improvement}
    out["verdict"] = verdict(out, envs)
    return out


def verdict(analysis: dict[str, Any], envs: Sequence[str]) -> dict[str, Any]:
    r"""The claim read off the adjusted calls (Holm, α = 0.05), per task:

    - ``details_help``: tasks where clip's all on − all off is significantly positive (the details matter);
    - ``clip_vs_kl``: tasks where clip − kl_dual differs significantly, with all details on / all off;
    - ``trust_region``: tasks where clip − surrogate is significantly positive at some detail set.

    "Hacks, not objective" *holds* if the details help on most tasks while clip and kl_dual are indistinguishable with
    the details on (the objective adds nothing over another trust region once the details are there); it *does not
    hold* if the details help on no task or clip − kl_dual is significant with the details on on most tasks;
    otherwise it holds with a qualification.
    """
    def tasks_where(family: str, label: str, sign: int | None) -> list[str]:
        return [r["env_id"] for r in analysis[family] if r["label"] == label and r["significant"]
                and (sign is None or r["direction"] == sign)]

    details_help = tasks_where("details", "clip: all on − all off", 1)
    kl_on = tasks_where("objective", f"{ALL_ON}: clip − kl_dual", None)
    kl_off = tasks_where("objective", f"{ALL_OFF}: clip − kl_dual", None)
    trust = sorted({r["env_id"] for r in analysis["objective"] if r["label"].endswith("clip − surrogate")
                    and r["significant"] and r["direction"] == 1}, key=list(envs).index)
    n = len(envs)
    if n and len(details_help) > n / 2 and not kl_on:
        status = "holds"
    elif not details_help or len(kl_on) > n / 2:
        status = "does not hold"
    else:
        status = "holds with a qualification"
    return {"status": status, "tasks": list(envs), "details_help": details_help, "clip_vs_kl_all_on": kl_on,
            "clip_vs_kl_all_off": kl_off, "trust_region_helps": trust}


def format_table(analysis: dict[str, Any]) -> str:
    """Markdown: every difference with its raw and adjusted intervals and its Holm call."""
    lines = ["| family | env | difference | Welch 95% CI | adjusted CI | Holm p | call |", "|---|---|---|---|---|---|---|"]
    for family in ("objective", "details"):
        for r in analysis[family]:
            call = {1: "> 0", -1: "< 0", 0: "n.s."}[r["direction"]]
            lines.append(f"| {family} | {r['env_id']} | {r['label']} = {r['diff']:+.1f} | [{r['ci'][0]:+.1f}, {r['ci'][1]:+.1f}] | "
                         f"[{r['ci_adjusted'][0]:+.1f}, {r['ci_adjusted'][1]:+.1f}] | {r['p_holm']:.3f} | {call} |")
    return "\n".join(lines)


def _round_floats(x: Any, digits: int = 4) -> Any:
    if isinstance(x, float):
        return x if not math.isfinite(x) else round(x, digits)
    if isinstance(x, dict):
        return {k: _round_floats(v, digits) for k, v in x.items()}
    if isinstance(x, list):
        return [_round_floats(v, digits) for v in x]
    return x


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.splitlines()[0])
    parser.add_argument("--envs", nargs="+", default=list(TASKS), help=f"among {tuple(TASKS)}")
    parser.add_argument("--objectives", nargs="+", default=list(OBJECTIVES), help=f"among {OBJECTIVES}")
    parser.add_argument("--steps", type=int, default=None, help="env steps per run (default: per task, TASKS)")
    parser.add_argument("--lr-grid", type=float, nargs="+", default=list(LR_GRID))
    parser.add_argument("--tuning-seeds", type=int, nargs="+", default=list(TUNING_SEEDS))
    parser.add_argument("--seeds", type=int, default=len(FINAL_SEEDS), help="fresh seeds per corner (0..N-1)")
    parser.add_argument("--episodes", type=int, default=EVAL_EPISODES, help="evaluation episodes per run")
    parser.add_argument("--max-cells", type=int, default=None, help="stop after computing this many cells")
    add_sweep_arguments(parser, "ablation")
    ns = parser.parse_args(argv)
    # Refuse bad input before any training.
    refuse_unknown("task", ns.envs, TASKS)
    refuse_unknown("objective", ns.objectives, OBJECTIVES)
    if ns.seeds < 2:
        raise SystemExit(f"--seeds must be >= 2 (intervals need two values), got {ns.seeds}")
    if any(s in range(ns.seeds) for s in ns.tuning_seeds):
        raise SystemExit(f"--tuning-seeds {ns.tuning_seeds} overlap the fresh seeds 0..{ns.seeds - 1}: tune on other seeds")
    if not ns.lr_grid or any(not lr > 0 for lr in ns.lr_grid):
        raise SystemExit(f"--lr-grid must be positive learning rates, got {ns.lr_grid}")
    log = open_cell_log(ns)
    random_returns = {e: float(np.mean(random_policy_returns(e, 100))) for e in TASKS}
    final_seeds = list(range(ns.seeds))
    t0 = time.perf_counter()

    def compute(e: str, o: str, s: str) -> dict[str, Any]:
        return run_cell(e, o, s, random_returns[e], ns.steps, ns.lr_grid, ns.tuning_seeds, final_seeds, ns.episodes)

    def line(key: str, cell: dict[str, Any]) -> str:
        e, _, _ = cell_parts[key]
        evals = final_scores(cell, "eval_return", random_returns[e])
        return f"{key}: lr {cell['lr']:g}, eval {np.mean(evals):.1f} ± {np.std(evals, ddof=1):.1f} ({cell['seconds']:.0f} s)"

    todo = jobs(ns.envs, ns.objectives)
    cell_parts = {cell_key(e, o, s): (e, o, s) for e, o, s in todo}
    compute_missing(
        log, [(cell_key(e, o, s), cell_protocol(e, o, s, ns.steps, ns.lr_grid, ns.tuning_seeds, final_seeds, ns.episodes),
               lambda e=e, o=o, s=s: compute(e, o, s)) for e, o, s in todo],
        ns.max_cells, "ablation", not ns.no_progress, describe=line)

    # The results file holds every logged cell of the current protocol, whichever process or session computed it.
    cells = []
    for e, o, s in jobs(list(TASKS), list(OBJECTIVES)):
        try:
            protocol = cell_protocol(e, o, s, ns.steps, ns.lr_grid, ns.tuning_seeds, final_seeds, ns.episodes)
        except ValueError:  # --steps below another task's rollout: that task has no cell of this protocol
            continue
        c = log.done(cell_key(e, o, s), protocol)
        if c is not None:
            cells.append(c)
    expected = len(jobs(list(TASKS), list(OBJECTIVES)))
    data = {
        "tasks": TASKS, "objectives": list(OBJECTIVES), "settings": {e: settings(e) for e in TASKS},
        "details_on": {e: details_on(e) for e in TASKS}, "switches": SWITCHES, "lr_grid": ns.lr_grid,
        "tuning_seeds": ns.tuning_seeds, "final_seeds": final_seeds, "episodes": ns.episodes,
        "random_returns": random_returns, "complete": len(cells) == expected, "cells_done": len(cells),
        "cells_expected": expected, **provenance_of_cells(cells),
        "compute_seconds": round(sum(c["seconds"] for c in cells), 1),
        "analysis": {m: _round_floats(analyze(cells, random_returns, m)) for m in ("eval_return", "auc")} if cells else {},
        "cells": [{k: v for k, v in c.items() if k != "protocol"} for c in cells],
    }
    command = regeneration_command(COMMAND, argv)
    path = write_results(ns.name, data, time.perf_counter() - t0, command, outdir=ns.outdir)
    if cells:
        print(format_table(data["analysis"]["eval_return"]))
        print("verdict:", data["analysis"]["eval_return"]["verdict"])
    print(f"wrote {path}: {len(cells)}/{expected} cells ({data['compute_seconds']:.0f} s of compute in them)")
    return 0
