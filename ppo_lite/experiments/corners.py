r"""The ablation's corners, fairly tuned and big enough to decide (issue 29, parts 2 and 3):
``python -m ppo_lite.experiments corners``.

The verdicts of notebook 07 read 18 corners of the ablation: tasks CartPole-v1, Acrobot-v1, Pendulum-v1 (100k env
steps each, :data:`ppo_lite.experiments.ablation.TASKS`) × objectives ``clip``, ``kl_dual``, ``surrogate`` × detail
sets ``all on`` (the task's tuned defaults) and ``all off`` (the ablation's own definition,
:func:`ppo_lite.experiments.ablation.config_for` with :data:`~ppo_lite.experiments.ablation.SWITCHES`). The
ablation tuned them on 2 seeds over a 3-point learning-rate grid (33 of 60 corners chose an edge) and reported 10
seeds. This study re-runs them:

- **Stage 1, fair tuning** (:func:`tune_corner`), on :data:`TUNING_SEEDS` (5 seeds no earlier run used), every
  corner on its own, coordinate-wise (one axis at a time, each at the best values of the axes before it; no second
  pass): the learning rate on a half-decade log grid (:data:`LR_START`, 1e-4 … 1e-2, 5 points), extended by a
  half-decade past any edge that wins, until the best is interior or a hard bound of :data:`LR_LADDER` (1e-5,
  1e-1) is reached (:func:`extend_line`); then ``update_epochs`` at the chosen rate (:data:`EPOCH_LADDER`, the
  default and its two neighbours, extended the same way); then, for ``kl_dual`` only, ``kl_target`` δ at the chosen
  rate and epochs (:data:`KL_LADDER`). A setting's score is its mean evaluation return over the tuning seeds (a
  diverged run counts as a random policy), ties broken by the mean area under the learning curve. Every grid cell's
  per-seed scores, every edge hit and bound hit are kept. Not tuned: ``kl_dual``'s dual step size ``kl_dual_lr``,
  ``clip_eps`` and the rest (the task's defaults).
- **Regret of the choice** (:func:`reestimate_cells`): the 3 best settings of each corner's tuning, trained again on
  :data:`REESTIMATE_SEEDS` (5 more fresh seeds); the regret is the best re-estimate minus the chosen setting's.
- **Stage 2, the reported runs** (:func:`final_cells`): at each corner's chosen setting, :data:`FINAL_SEEDS` (30
  seeds never used for tuning or by any earlier run), in batches of :data:`FINAL_BATCH`; per seed the evaluation
  return (10 deterministic episodes on held-out seeds), the thinned training curve and ``success``
  (:data:`SUCCESS_SCORE`). CartPole also at 40k env steps (``CartPole-v1@40k``, tuned afresh at that budget),
  because at 100k every CartPole arm sits at the ceiling of 500.

Declared before any data (:data:`DECLARATION`): the margins of every "no effect" / "nothing lost" reading and of
non-inferiority (0.1 of each task's range from a random policy, :data:`RANDOM_RETURNS`, to the solved score), the
primary endpoints (success counts with an exact test; a trimmed-mean TOST beside them; the interaction
(clip − kl_dual | all off) − (clip − kl_dual | all on)). The verdicts and their tests are computed by a later
session from ``figures/corners.json``; :func:`analyze` here shows progress (cells done, per-corner means, success
counts).

Cells (:class:`~ppo_lite.experiments.CellLog`, ``figures/corners.cells.jsonl``) are small: one tuning setting of
one corner (5 agents in one batch), one re-estimate group, or 10 of a corner's final seeds. Each is appended the
moment it finishes; run again, the study skips the cells already there, and ``--max-cells N`` stops after N new
cells (``--max-cells 0``: rebuild ``figures/corners.json`` from the log, no training). Order: per task (Pendulum,
Acrobot, CartPole, CartPole at 40k), per corner (clip and kl_dual first: the interaction needs them), stage 1, then
that corner's stage 2; each task's re-estimates after its corners.

Batching: a tuning cell trains its 5 seeds as one :class:`~ppo_lite.batched.BatchedTrainer`. The learning rates of a
line could share a batch (``lr`` is a per-agent field) but are cells of their own: measured on the 2-core CPU, 25
agents in one batch cost 1.13 / 2.11 s per agent per 20k/10k steps (Pendulum / CartPole) against 1.37 / 1.62 s
at 5, so small cells cost nothing and a stopped run loses little. ``update_epochs`` and ``kl_target`` are shared
by a batch (not per-agent fields), so those lines are one cell per value anyway.
"""
from __future__ import annotations

import argparse
import dataclasses
import functools
import math
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from . import (NEUTRAL_NEW_FIELDS, STORED_STREAMS, CellBudget, CellLog, add_sweep_arguments, compute_cell, open_cell_log,
               provenance_of_cells, refuse_unknown, regeneration_command, same_protocol, write_results)
from . import ablation, stats
from ..config import SOLVED_THRESHOLDS, PPOConfig
from .sweep import EVAL_SEED, score_agents

COMMAND = "python -m ppo_lite.experiments corners"


@dataclass(frozen=True)
class Task:
    """A task at a budget: ``label`` names it in keys and results (``CartPole-v1@40k``)."""

    label: str
    env_id: str
    steps: int


TASKS: tuple[Task, ...] = (
    Task("Pendulum-v1", "Pendulum-v1", ablation.TASKS["Pendulum-v1"]),
    Task("Acrobot-v1", "Acrobot-v1", ablation.TASKS["Acrobot-v1"]),
    Task("CartPole-v1", "CartPole-v1", ablation.TASKS["CartPole-v1"]),
    Task("CartPole-v1@40k", "CartPole-v1", 40_000),
)
"""In the order they run (the most decisive first: Pendulum and Acrobot have the spread; CartPole at 100k sits at
the ceiling, so it is also run at 40k env steps)."""
TASK_BY_LABEL = {t.label: t for t in TASKS}
OBJECTIVES = ablation.OBJECTIVES
SETTINGS = (ablation.ALL_ON, ablation.ALL_OFF)
CORNER_ORDER: tuple[tuple[str, str], ...] = (
    ("clip", ablation.ALL_OFF), ("kl_dual", ablation.ALL_OFF), ("clip", ablation.ALL_ON), ("kl_dual", ablation.ALL_ON),
    ("surrogate", ablation.ALL_OFF), ("surrogate", ablation.ALL_ON),
)
"""(objective, detail set) of each task, in the order they run: the four arms of the interaction first."""

# -- seeds ------------------------------------------------------------------------------------------------
TUNING_SEEDS = tuple(range(7000, 7005))
REESTIMATE_SEEDS = tuple(range(7500, 7505))
FINAL_SEEDS = tuple(range(8000, 8030))
FINAL_BATCH = 10
"""Seeds no earlier run used (every experiment and cell log before this one trained on 0..999: the ablation on
0..9 and 100, 101; ``tests/test_corners.py`` checks the logs and the experiments' seed constants), and disjoint
from each other: choosing on some seeds and reporting others avoids the winner's curse."""
EVAL_EPISODES = 10

# -- grids --------------------------------------------------------------------------------------------------


def half_decades(lo: int, hi: int) -> tuple[float, ...]:
    """:math:`10^{k/2}` for k = lo … hi, to 3 significant digits (1e-4, 3.16e-4, 1e-3, …)."""
    return tuple(float(f"{10 ** (k / 2):.3g}") for k in range(lo, hi + 1))


LR_LADDER = half_decades(-10, -2)
"""Every learning rate the search may reach, 1e-5 … 1e-1 in half-decades: its ends are the hard bounds."""
LR_START = half_decades(-8, -4)
"""The starting grid, 1e-4 … 1e-2 (5 points, the family default 1e-3 in the middle)."""
EPOCH_LADDER = (1, 2, 5, 10, 20, 40, 80)
"""``update_epochs`` values the search may reach; it starts at the task's default and its two neighbours
(CartPole and Acrobot: 10, 20, 40; Pendulum: 5, 10, 20)."""
KL_LADDER = half_decades(-7, -1)
"""``kl_target`` δ of ``kl_dual``, 3.16e-4 … 0.316; it starts at 3.16e-3, 1e-2 (the default), 3.16e-2."""
REESTIMATE_TOP = 3
"""How many of a corner's best tuning settings are trained again on :data:`REESTIMATE_SEEDS`."""

# -- declared before any data ---------------------------------------------------------------------------------
RANDOM_RETURNS: dict[str, float] = {"CartPole-v1": 21.71, "Acrobot-v1": -497.0, "Pendulum-v1": -1226.57}
"""Mean return of the uniform random policy, ``ppo_lite.evaluation.random_policy_returns(env_id, 100)`` (its fixed
seed 2,000,000), written down before any run of this study (tested against the function)."""
SUCCESS_SCORE: dict[str, float] = {t.label: float(SOLVED_THRESHOLDS[t.env_id]) for t in TASKS}
"""A run succeeds when its evaluation return reaches the task's solved threshold (:data:`ppo_lite.config.
SOLVED_THRESHOLDS`: CartPole 475, also at 40k; Acrobot −100; Pendulum −200); a diverged run fails."""
MARGIN_FRACTION = 0.1
MARGINS: dict[str, float] = {t.label: round(MARGIN_FRACTION * (SOLVED_THRESHOLDS[t.env_id] - RANDOM_RETURNS[t.env_id]), 2)
                             for t in TASKS}
"""δ per task, in return units: 0.1 × (solved − random). CartPole 45.33, Acrobot 39.7, Pendulum 102.66."""
ALPHA = 0.05
TRIM = 0.2
DECLARATION: dict[str, Any] = {
    "written": "before any cell of this study was computed (issue 29); the analysis must use these, not others",
    "margins": {
        "equivalence": "every 'no effect' / 'nothing lost' / 'costs nothing' reading is an equivalence test (TOST): "
                       "equivalent at level alpha when the (1 - 2 alpha) interval of the difference lies inside "
                       "(-delta, +delta)",
        "non_inferiority": "'as good as' / 'reaches' readings: the one-sided (1 - alpha) lower bound of A - B "
                           "stays above -delta",
        "delta": MARGINS, "delta_rule": f"{MARGIN_FRACTION} x (solved score - random policy's return), per task",
        "random_returns": RANDOM_RETURNS, "success_score": SUCCESS_SCORE,
    },
    "alpha": ALPHA,
    "primary_endpoints": [
        {"name": "success counts", "unit": "runs of FINAL_SEEDS reaching SUCCESS_SCORE (a diverged run fails)",
         "test": "two-sided Fisher exact test on the 2x2 table of successes, per comparison and task"},
        {"name": "trimmed mean", "unit": f"evaluation return, {TRIM:.0%} trimmed from each tail (a diverged run "
                                         "scores as the random policy)",
         "test": "Yuen's trimmed-mean test (scipy.stats.ttest_ind(trim=0.2)) for a difference; two one-sided "
                 "Yuen tests against +-delta for equivalence (TOST), one against -delta for non-inferiority"},
        {"name": "interaction", "unit": "(clip - kl_dual | all off) - (clip - kl_dual | all on), trimmed means, "
                                        "per task",
         "test": "estimate with the four arms' Yuen (winsorized) standard errors and Welch-Satterthwaite degrees "
                 "of freedom; different from 0 by its 95% interval, equivalent to 0 when its 90% interval lies "
                 "inside (-delta, +delta), otherwise undecided"},
    ],
    "secondary": ["means with Welch intervals (beside the trimmed means)", "IQM of normalized scores with stratified "
                  "bootstrap intervals and performance profiles (rliable)", "failure counts per arm",
                  "tuning: edge hits, bound hits, regret of the choice on REESTIMATE_SEEDS"],
    "multiplicity": "Holm over the tasks of one claim (4 task budgets), per endpoint",
    "labels": "holds / does not hold / undecided: 'undecided' wherever neither the difference nor the equivalence "
              "(or non-inferiority) test decides",
}

# -- configs and cells ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Setting:
    """One point of a corner's search: learning rate, epochs, and ``kl_target`` (used by ``kl_dual`` only)."""

    lr: float
    update_epochs: int
    kl_target: float

    def label(self, objective: str) -> str:
        text = f"lr={self.lr:.3g} epochs={self.update_epochs}"
        return text + (f" kl_target={self.kl_target:.3g}" if objective == "kl_dual" else "")


def corners(tasks: Sequence[str] = tuple(TASK_BY_LABEL), objectives: Sequence[str] = OBJECTIVES) -> list[tuple[str, str, str]]:
    """(task label, objective, detail set) of every corner, in the order they run."""
    return [(t, o, s) for t in TASK_BY_LABEL if t in tasks for o, s in CORNER_ORDER if o in objectives]


def base_config(task: str, objective: str, setting: str) -> PPOConfig:
    """The corner's config before tuning: the ablation's (tuned defaults, or every detail of its SWITCHES off) at
    the task's budget."""
    t = TASK_BY_LABEL[task]
    return ablation.config_for(t.env_id, objective, setting, total_steps=t.steps)


def default_setting(task: str, objective: str, setting: str) -> Setting:
    cfg = base_config(task, objective, setting)
    return Setting(float(cfg.lr), int(cfg.update_epochs), float(cfg.kl_target))


def start_values(ladder: Sequence[float], default: float) -> list[float]:
    """The default and its two neighbours on ``ladder`` (the starting line of epochs and δ)."""
    i = list(ladder).index(default)
    return list(ladder[max(0, i - 1): i + 2])


@dataclass(frozen=True)
class CellSpec:
    """One cell: a batch of agents of one corner, sharing epochs and δ, each with its seed and learning rate."""

    task: str
    objective: str
    setting: str
    stage: str  # "tune", "reestimate" or "final"
    seeds: tuple[int, ...]
    lrs: tuple[float, ...]
    update_epochs: int
    kl_target: float
    streams: str = STORED_STREAMS  # the batch's random streams (ppo_lite.batched.STREAMS); every logged cell: shared

    @property
    def corner(self) -> str:
        return f"{self.task} | {self.objective} | {self.setting}"

    @property
    def key(self) -> str:
        if self.stage == "tune":
            return f"{self.corner} | tune | {Setting(self.lrs[0], self.update_epochs, self.kl_target).label(self.objective)}"
        if self.stage == "final":
            return f"{self.corner} | final | seeds {self.seeds[0]}-{self.seeds[-1]}"
        tail = f"epochs={self.update_epochs}" + (f" kl_target={self.kl_target:.3g}" if self.objective == "kl_dual" else "")
        return f"{self.corner} | reestimate | {tail}"

    @property
    def curve_points(self) -> int:
        return 40 if self.stage == "final" else 2

    def config(self) -> PPOConfig:
        return base_config(self.task, self.objective, self.setting).replace(
            lr=self.lrs[0], update_epochs=self.update_epochs, kl_target=self.kl_target).validate()

    def protocol(self) -> dict[str, Any]:
        """Everything that fixes the cell's result: a logged cell is reused only if its protocol is this one."""
        return _protocol(self)

    def cost_units(self) -> float:
        """Relative cost: agents × env steps / 100k × (0.4 + 0.6 × epochs / the task's default epochs)."""
        t = TASK_BY_LABEL[self.task]
        default_epochs = PPOConfig.for_env(t.env_id).update_epochs
        return len(self.seeds) * t.steps / 1e5 * (0.4 + 0.6 * self.update_epochs / default_epochs)


@functools.lru_cache(maxsize=4096)
def _protocol(spec: CellSpec) -> dict[str, Any]:
    """:meth:`CellSpec.protocol`, computed once per cell (a walk through the study asks for it again and again)."""
    cfg = spec.config().to_dict()
    cfg.pop("extra", None)
    return {"config": cfg, "stage": spec.stage, "seeds": list(spec.seeds), "lrs": list(spec.lrs),
            "episodes": EVAL_EPISODES, "eval_seed": EVAL_SEED, "curve_points": spec.curve_points, "streams": spec.streams}


def tune_spec(task: str, objective: str, setting: str, point: Setting) -> CellSpec:
    return CellSpec(task, objective, setting, "tune", TUNING_SEEDS, (point.lr,) * len(TUNING_SEEDS),
                    point.update_epochs, point.kl_target)


def train_cell(spec: CellSpec) -> dict[str, Any]:
    """Train and score one cell's agents as one batch (:func:`ppo_lite.experiments.sweep.score_agents`)."""
    t0 = time.perf_counter()
    runs = score_agents(spec.config(), list(spec.seeds), {"lr": list(spec.lrs)}, episodes=EVAL_EPISODES,
                        curve_points=spec.curve_points, streams=spec.streams)
    if spec.stage != "final":
        for r in runs:
            for k in ("curve", "curve_steps"):
                r.pop(k, None)
    return {"runs": runs, "seconds": round(time.perf_counter() - t0, 1)}


def cell_record(spec: CellSpec, trained: dict[str, Any]) -> dict[str, Any]:
    """What the log stores of a cell: its coordinates, then the trained runs (``success`` added per run)."""
    threshold = SUCCESS_SCORE[spec.task]
    runs = [{**r, "success": (not r["diverged"]) and r["eval_return"] is not None and r["eval_return"] >= threshold}
            for r in trained["runs"]]
    return {"task": spec.task, "env_id": TASK_BY_LABEL[spec.task].env_id, "steps": TASK_BY_LABEL[spec.task].steps,
            "objective": spec.objective, "setting": spec.setting, "stage": spec.stage,
            "update_epochs": spec.update_epochs, "kl_target": spec.kl_target, "runs": runs,
            "seconds": trained["seconds"]}


# -- the search -------------------------------------------------------------------------------------------


def run_scores(runs: Sequence[dict[str, Any]], env_id: str) -> tuple[list[float], list[float]]:
    """Per-run evaluation returns and AUCs, a diverged run scored as the random policy."""
    rnd = RANDOM_RETURNS[env_id]
    evals = [rnd if r["diverged"] or r["eval_return"] is None else float(r["eval_return"]) for r in runs]
    aucs = [rnd if r["diverged"] or r.get("auc") is None else float(r["auc"]) for r in runs]
    return evals, aucs


def summarize(scores: Sequence[float], aucs: Sequence[float]) -> dict[str, Any]:
    n = len(scores)
    mean = float(np.mean(scores))
    se = float(np.std(scores, ddof=1) / math.sqrt(n)) if n > 1 else float("nan")
    return {"scores": [round(s, 3) for s in scores], "mean": round(mean, 3), "se": round(se, 3),
            "auc": round(float(np.mean(aucs)), 3)}


def rank_key(summary: dict[str, Any]) -> tuple[float, float]:
    """How settings are ranked: mean evaluation return (to 0.1), then mean AUC."""
    return round(summary["mean"], 1), summary["auc"]


def on_edge(values: Sequence[float], best: float) -> str | None:
    vs = sorted(values)
    if len(vs) < 2:
        return None
    return "low" if best == vs[0] else "high" if best == vs[-1] else None


def extend_line(ladder: Sequence[float], values: Sequence[float], best: float) -> tuple[str | None, float | None]:
    """Where the best of ``values`` sits and the value to add: (``"low"``/``"high"``, the ladder's next value on
    that side), (side, None) when the ladder ends there (a hard bound), (None, None) when the best is interior."""
    side = on_edge(values, best)
    if side is None:
        return None, None
    ordered = sorted(ladder)
    i = ordered.index(min(values) if side == "low" else max(values))
    j = i - 1 if side == "low" else i + 1
    return side, (ordered[j] if 0 <= j < len(ordered) else None)


Getter = Callable[[CellSpec], "dict[str, Any] | None"]


def search_line(axis: str, ladder: Sequence[float], start: Sequence[float], point_of: Callable[[float], Setting],
                get: Getter, task: str, objective: str, setting: str) -> dict[str, Any] | None:
    """Score every value of a line (one cell each, :func:`get`), extend it past a winning edge until the best is
    interior or a bound is hit; None while a cell of it is missing."""
    values = sorted(start)
    env_id = TASK_BY_LABEL[task].env_id
    edge_hits: list[dict[str, Any]] = []
    while True:
        summaries: dict[float, dict[str, Any]] = {}
        missing = False
        for v in values:
            cell = get(tune_spec(task, objective, setting, point_of(v)))
            if cell is None:
                missing = True
                continue
            summaries[v] = summarize(*run_scores(cell["runs"], env_id))
        if missing:
            return None
        best = max(values, key=lambda v: rank_key(summaries[v]))
        side, new = extend_line(ladder, values, best)
        if side is not None:
            edge_hits.append({"side": side, "value": best, "extended_to": new})
        if new is None:
            break
        values = sorted(values + [new])
    ranked = sorted(values, key=lambda v: rank_key(summaries[v]), reverse=True)
    gap = se_gap = None
    if len(ranked) > 1:
        a, b = summaries[ranked[0]], summaries[ranked[1]]
        gap = round(a["mean"] - b["mean"], 3)
        se_gap = round(math.sqrt(a["se"] ** 2 + b["se"] ** 2), 3)
    return {"axis": axis, "values": values, "summaries": {f"{v:g}": summaries[v] for v in values}, "best": best,
            "second": ranked[1] if len(ranked) > 1 else None, "gap_to_second": gap, "se_of_gap": se_gap,
            "edge_hits": edge_hits, "bound_hit": side if side is not None else None}


def tune_corner(task: str, objective: str, setting: str, get: Getter) -> dict[str, Any] | None:
    """Stage 1 of one corner (module docstring): the lr line, then epochs, then (kl_dual) δ. None until done."""
    d = default_setting(task, objective, setting)
    lines = []
    lr_line = search_line("lr", LR_LADDER, LR_START, lambda v: Setting(v, d.update_epochs, d.kl_target), get,
                          task, objective, setting)
    if lr_line is None:
        return None
    lines.append(lr_line)
    lr = lr_line["best"]
    ep_line = search_line("update_epochs", EPOCH_LADDER, start_values(EPOCH_LADDER, d.update_epochs),
                          lambda v: Setting(lr, int(v), d.kl_target), get, task, objective, setting)
    if ep_line is None:
        return None
    lines.append(ep_line)
    epochs = int(ep_line["best"])
    kl = d.kl_target
    if objective == "kl_dual":
        kl_line = search_line("kl_target", KL_LADDER, start_values(KL_LADDER, d.kl_target),
                              lambda v: Setting(lr, epochs, v), get, task, objective, setting)
        if kl_line is None:
            return None
        lines.append(kl_line)
        kl = kl_line["best"]
    chosen = Setting(lr, epochs, kl)
    # every distinct setting the search scored, with its summary (for the re-estimate's top settings)
    scored: dict[Setting, dict[str, Any]] = {}
    for line in lines:
        for v in line["values"]:
            p = {"lr": Setting(v, d.update_epochs, d.kl_target), "update_epochs": Setting(lr, int(v), d.kl_target),
                 "kl_target": Setting(lr, epochs, v)}[line["axis"]]
            scored[p] = line["summaries"][f"{v:g}"]
    return {"default": d.__dict__, "chosen": chosen.__dict__, "lines": lines, "scored": scored,
            "edge_hits": sum(len(line["edge_hits"]) for line in lines),
            "bound_hits": [f"{line['axis']}: {line['bound_hit']}" for line in lines if line["bound_hit"]],
            "cells": len(scored)}  # one cell per distinct setting (a line's start is the last line's best)


def top_settings(tuning: dict[str, Any], k: int = REESTIMATE_TOP) -> list[Setting]:
    """The chosen setting and the next best ones by the tuning ranking, ``k`` in all."""
    chosen = Setting(**tuning["chosen"])
    ranked = sorted(tuning["scored"], key=lambda p: rank_key(tuning["scored"][p]), reverse=True)
    return [chosen] + [p for p in ranked if p != chosen][: k - 1]


def reestimate_cells(task: str, objective: str, setting: str, tuning: dict[str, Any]) -> list[CellSpec]:
    """The re-estimate of the top settings on :data:`REESTIMATE_SEEDS`: one cell per (epochs, δ), lr per agent."""
    groups: dict[tuple[int, float], list[float]] = {}
    for p in top_settings(tuning):
        groups.setdefault((p.update_epochs, p.kl_target), []).append(p.lr)
    out = []
    for (epochs, kl), lrs in groups.items():
        lrs = sorted(lrs)
        out.append(CellSpec(task, objective, setting, "reestimate", tuple(s for _ in lrs for s in REESTIMATE_SEEDS),
                            tuple(lr for lr in lrs for _ in REESTIMATE_SEEDS), epochs, kl))
    return out


def final_cells(task: str, objective: str, setting: str, chosen: Setting) -> list[CellSpec]:
    seeds = list(FINAL_SEEDS)
    return [CellSpec(task, objective, setting, "final", tuple(seeds[i:i + FINAL_BATCH]),
                     (chosen.lr,) * len(seeds[i:i + FINAL_BATCH]), chosen.update_epochs, chosen.kl_target)
            for i in range(0, len(seeds), FINAL_BATCH)]


def regret(task: str, objective: str, tuning: dict[str, Any], cells: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Best minus chosen under the re-estimate (mean evaluation return on REESTIMATE_SEEDS)."""
    env_id = TASK_BY_LABEL[task].env_id
    chosen = Setting(**tuning["chosen"])
    rows = []
    for p in top_settings(tuning):
        runs = [r for c in cells if c["update_epochs"] == p.update_epochs and c["kl_target"] == p.kl_target
                for r in c["runs"] if r["lr"] == p.lr]
        s = summarize(*run_scores(runs, env_id))
        rows.append({"setting": p.__dict__, "label": p.label(objective), "tuning_mean": tuning["scored"][p]["mean"],
                     "reestimate_mean": s["mean"], "reestimate_se": s["se"], "reestimate_scores": s["scores"]})
    best = max(r["reestimate_mean"] for r in rows)
    mine = rows[0]["reestimate_mean"]
    return {"rows": rows, "chosen_reestimate": mine, "best_reestimate": best, "regret": round(best - mine, 3),
            "chosen_is_best": mine >= best}


def walk(get: Getter, tasks: Sequence[str] = tuple(TASK_BY_LABEL), objectives: Sequence[str] = OBJECTIVES) -> dict[str, Any]:
    """Go through the whole study in its order, asking ``get`` for each cell (which computes it, returns it from
    the log, or returns None when it is missing and may not be computed). Returns every corner as far as the cells
    allow: its tuning, its chosen setting, its final runs and its regret."""
    out: dict[str, Any] = {}
    for task in TASK_BY_LABEL:
        if task not in tasks:
            continue
        mine = [c for c in corners([task], objectives)]
        for _, o, s in mine:
            key = f"{task} | {o} | {s}"
            tuning = tune_corner(task, o, s, get)
            entry: dict[str, Any] = {"task": task, "env_id": TASK_BY_LABEL[task].env_id, "steps": TASK_BY_LABEL[task].steps,
                                     "objective": o, "setting": s, "tuning": tuning, "final_cells": [], "regret": None}
            if tuning is not None:
                for spec in final_cells(task, o, s, Setting(**tuning["chosen"])):
                    cell = get(spec)
                    if cell is not None:
                        entry["final_cells"].append(cell)
            out[key] = entry
        for _, o, s in mine:
            entry = out[f"{task} | {o} | {s}"]
            if entry["tuning"] is None:
                continue
            specs = reestimate_cells(task, o, s, entry["tuning"])
            cells = [get(spec) for spec in specs]
            if all(c is not None for c in cells):
                entry["regret"] = regret(task, o, entry["tuning"], cells)
    return out


# -- planning and cost ----------------------------------------------------------------------------------------


def synthetic_runs(spec: CellSpec, peak: Setting | None = None, noise: float = 0.0) -> dict[str, Any]:
    """Made-up runs for planning and tests: the evaluation return falls with the log-distance of each agent's
    setting from ``peak`` (default: the corner's default setting, an interior optimum)."""
    task = TASK_BY_LABEL[spec.task]
    peak = peak or default_setting(spec.task, spec.objective, spec.setting)
    lo, hi = RANDOM_RETURNS[task.env_id], SOLVED_THRESHOLDS[task.env_id]
    runs = []
    for k, (seed, lr) in enumerate(zip(spec.seeds, spec.lrs)):
        dist = abs(math.log10(lr / peak.lr)) + abs(math.log10(spec.update_epochs / peak.update_epochs)) \
            + abs(math.log10(spec.kl_target / peak.kl_target))
        jitter = noise * math.sin(seed * 12.9898 + k)  # deterministic
        value = hi - (hi - lo) * min(1.0, 0.3 * dist) + jitter
        runs.append({"seed": seed, "lr": lr, "diverged": False, "eval_return": round(value, 3), "auc": round(value, 3),
                     "final_train": round(value, 3), "eval_returns": [round(value, 2)] * EVAL_EPISODES,
                     **({"curve_steps": [0, task.steps], "curve": [lo, round(value, 2)]} if spec.stage == "final" else {})})
    return {"runs": runs, "seconds": 0.0}


def plan(log: CellLog, tasks: Sequence[str], objectives: Sequence[str]) -> tuple[list[CellSpec], list[CellSpec]]:
    """(done, to do) cells of the study as far as it can be foreseen: the cells missing from the log are imagined
    (:func:`synthetic_runs`, an interior optimum at the defaults), so the count is a lower bound (extensions past
    an edge add cells)."""
    done: list[CellSpec] = []
    todo: list[CellSpec] = []
    seen: set[str] = set()

    def imagine(spec: CellSpec) -> dict[str, Any]:
        if spec.key not in seen:
            seen.add(spec.key)
            cell = log.done(spec.key, spec.protocol())
            (done if cell is not None else todo).append(spec)
        else:
            cell = log.done(spec.key, spec.protocol())
        return cell if cell is not None else cell_record(spec, synthetic_runs(spec))

    walk(imagine, tasks, objectives)
    return done, todo


PRIOR_SECONDS_PER_UNIT = {"Pendulum-v1": 6.0, "CartPole-v1": 18.0, "Acrobot-v1": 25.0}
"""Seconds per cost unit (one agent, 100k env steps, default epochs) before any cell is measured: Pendulum and
CartPole measured on the 2-core CPU (clip, all on), Acrobot a guess."""


def seconds_per_unit(log: CellLog) -> dict[str, float]:
    """Per env, seconds per :meth:`CellSpec.cost_units` measured on the logged cells of this study (the prior,
    scaled by what the measured envs show, where an env has none yet)."""
    sums: dict[str, list[float]] = {}
    for c in log.cells().values():
        if "runs" not in c or "stage" not in c or c.get("seconds", 0) <= 0:
            continue
        try:
            spec = spec_of(c)
        except ValueError:
            continue
        s = sums.setdefault(c["env_id"], [0.0, 0.0])
        s[0] += c["seconds"]
        s[1] += spec.cost_units()
    measured = {e: s[0] / s[1] for e, s in sums.items() if s[1] > 0}
    scale = float(np.mean([measured[e] / PRIOR_SECONDS_PER_UNIT[e] for e in measured])) if measured else 1.0
    return {e: measured.get(e, PRIOR_SECONDS_PER_UNIT[e] * scale) for e in PRIOR_SECONDS_PER_UNIT}


def estimate_seconds(specs: Sequence[CellSpec], rates: dict[str, float]) -> float:
    return sum(s.cost_units() * rates[TASK_BY_LABEL[s.task].env_id] for s in specs)


# -- progress -------------------------------------------------------------------------------------------------


def final_summary(entry: dict[str, Any]) -> dict[str, Any] | None:
    """Mean, 95% t-interval, 20%-trimmed mean and success count of a corner's final runs logged so far."""
    from scipy import stats as st

    runs = [r for c in entry["final_cells"] for r in c["runs"]]
    if not runs:
        return None
    evals, _ = run_scores(runs, entry["env_id"])
    n = len(evals)
    mean = float(np.mean(evals))
    half = float(st.t.ppf(0.975, n - 1) * np.std(evals, ddof=1) / math.sqrt(n)) if n > 1 else float("nan")
    return {"seeds": n, "mean": round(mean, 3), "ci": [round(mean - half, 3), round(mean + half, 3)],
            "trimmed_mean": round(float(st.trim_mean(evals, TRIM)), 3), "successes": sum(bool(r["success"]) for r in runs),
            "diverged": sum(bool(r["diverged"]) for r in runs), "min": round(min(evals), 3)}


def analyze(study: dict[str, Any]) -> dict[str, Any]:
    """Progress, not verdicts: per corner the cells done, the chosen setting, edge and bound hits, the regret and
    the final runs' mean, trimmed mean and success count (:func:`final_summary`)."""
    rows = []
    for key, e in study.items():
        t = e["tuning"]
        rows.append({
            "corner": key, "task": e["task"], "objective": e["objective"], "setting": e["setting"],
            "tuned": t is not None, "chosen": None if t is None else t["chosen"],
            "tuning_cells": None if t is None else t["cells"], "edge_hits": None if t is None else t["edge_hits"],
            "bound_hits": None if t is None else t["bound_hits"],
            "regret": None if e["regret"] is None else e["regret"]["regret"],
            "final_cells": len(e["final_cells"]), "final": final_summary(e),
        })
    return {"corners": rows, "corners_tuned": sum(r["tuned"] for r in rows),
            "corners_final_complete": sum(r["final_cells"] == math.ceil(len(FINAL_SEEDS) / FINAL_BATCH) for r in rows)}


# -- re-running a stored cell (issue 29 point 8) ---------------------------------------------------------------
def spec_of(cell: dict[str, Any]) -> CellSpec:
    """The :class:`CellSpec` a logged cell was computed from (its coordinates and its protocol's seeds and rates)."""
    try:
        return CellSpec(cell["task"], cell["objective"], cell["setting"], cell["stage"], tuple(cell["protocol"]["seeds"]),
                        tuple(cell["protocol"]["lrs"]), cell["update_epochs"], cell["kl_target"],
                        cell["protocol"].get("streams", NEUTRAL_NEW_FIELDS["streams"]))
    except (KeyError, TypeError) as exc:
        raise ValueError(f"cell {cell.get('key')!r} is not a cell of this study (missing {exc})") from None


def rerun_cell(cell: dict[str, Any], seed: int | None = None) -> dict[str, Any]:
    """Train a logged cell again and compare every run (or the run of ``seed``) with its record.

    The cell must have today's protocol (the config, seeds, rates and evaluation it was computed with, as the study
    compares them: :func:`ppo_lite.experiments.same_protocol`). A cell computed with per-agent streams
    (:mod:`ppo_lite.batched`) trains ``seed`` alone: each agent draws what it would draw in any batch. A cell of the
    shared stream (every cell logged so far: :data:`~ppo_lite.experiments.STORED_STREAMS`) draws one stream from its
    whole seed list, so one seed's run reproduces only beside its batch-mates, and the whole cell is retrained.
    Returns ``batch`` (the seeds trained), per run the recorded and the new evaluation return, the largest
    difference over its evaluation episodes, and ``identical`` (every logged number of the run equal)."""
    spec = spec_of(cell)
    if not same_protocol(cell.get("protocol", {}), spec.protocol()):
        raise ValueError(f"cell {cell.get('key')!r} was computed under another protocol than today's code gives it; "
                         "it cannot be compared (rerun the study with --fresh to recompute it)")
    if seed is not None and seed not in spec.seeds:
        raise ValueError(f"seed {seed} is not in cell {cell.get('key')!r}; its seeds are {list(spec.seeds)}")
    if seed is not None and spec.streams == "per_agent":
        k = spec.seeds.index(seed)
        trained = dataclasses.replace(spec, seeds=(seed,), lrs=(spec.lrs[k],))
        fresh = cell_record(trained, train_cell(trained))
        fresh["runs"] = [fresh["runs"][0] if s == seed else None for s in spec.seeds]
    else:
        trained = spec
        fresh = cell_record(spec, train_cell(spec))
    rows = []
    for old, new in zip(cell["runs"], fresh["runs"]):
        if seed is not None and old["seed"] != seed:
            continue
        diff = max((abs(a - b) for a, b in zip(old["eval_returns"], new["eval_returns"])), default=0.0)
        same = {k: old.get(k) == new.get(k) for k in ("eval_return", "eval_returns", "auc", "final_train", "diverged")}
        rows.append({"seed": old["seed"], "recorded": old["eval_return"], "now": new["eval_return"],
                     "max_episode_difference": diff, "identical": all(same.values())})
    return {"key": cell.get("key"), "machine": cell.get("machine"), "git_commit": cell.get("git_commit"),
            "batch": list(trained.seeds), "runs": rows, "identical": all(r["identical"] for r in rows),
            "seconds": fresh["seconds"]}


# -- the declared readings (DECLARATION), from the results file ------------------------------------------------
def len_final_seeds() -> int:
    """How many fresh seeds each corner reports (:data:`FINAL_SEEDS`)."""
    return len(FINAL_SEEDS)


def final_arms(corners_file: dict[str, Any]) -> dict[tuple[str, str, str], dict[str, Any]]:
    """Per (task label, objective, detail set) with all of :data:`FINAL_SEEDS` logged: the per-seed evaluation
    returns (a diverged run as the random policy, :func:`run_scores`) and the success count. ``corners_file``: the
    ``corners`` map of ``figures/corners.json`` (or :func:`walk`'s result)."""
    out = {}
    for e in corners_file.values():
        runs = [r for c in e["final_cells"] for r in c["runs"]]
        if len(runs) < len(FINAL_SEEDS):
            continue
        evals, _ = run_scores(runs, e["env_id"])
        out[e["task"], e["objective"], e["setting"]] = {
            "scores": evals, "successes": sum(bool(r["success"]) for r in runs), "n": len(runs)}
    return out


def readings(corners_file: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The primary endpoints of :data:`DECLARATION`, per task label whose four clip / kl_dual corners are complete:

    - ``interaction``: (clip − kl_dual | all off) − (clip − kl_dual | all on) on 20%-trimmed means
      (:func:`ppo_lite.experiments.stats.compare_interaction`, ``trim`` = :data:`TRIM`);
    - ``boost``: clip all on − all off, Yuen (:func:`~ppo_lite.experiments.stats.compare`, trimmed); ``cost``: its
      negative, clip all off − all on, read for "nothing lost";
    - ``success``: clip's success counts all on and all off, Fisher's exact test, two-sided;

    each at the task's δ (:data:`MARGINS`) and α = :data:`ALPHA`, every test's p-values Holm-adjusted over the
    informative tasks (:func:`~ppo_lite.experiments.stats.holm_across`; ``success``: ``p_holm``). A task whose four
    arms keep no spread after trimming (``at_ceiling``: CartPole at 100k, every trimmed mean 500) cannot tell the arms
    apart on the trimmed endpoint; it is reported and left out of the family (the 40k budget stands in for it)."""
    from scipy.stats import trim_mean

    arms = final_arms(corners_file)
    on, off = ablation.ALL_ON, ablation.ALL_OFF
    out: dict[str, dict[str, Any]] = {}
    for t in TASKS:
        keys = {(o, s): (t.label, o, s) for o in ("clip", "kl_dual") for s in (on, off)}
        if not all(k in arms for k in keys.values()):
            continue
        x = {k: arms[v]["scores"] for k, v in keys.items()}
        d = MARGINS[t.label]
        inter = stats.compare_interaction(x["clip", off], x["kl_dual", off], x["clip", on], x["kl_dual", on], d, ALPHA, TRIM)
        a_on, a_off = arms[t.label, "clip", on], arms[t.label, "clip", off]
        _, p = stats.success_counts_test(a_on["successes"], a_on["n"], a_off["successes"], a_off["n"])
        out[t.label] = {
            "margin": d, "interaction": inter,
            "boost": stats.compare(x["clip", on], x["clip", off], d, ALPHA, TRIM),
            "cost": stats.compare(x["clip", off], x["clip", on], d, ALPHA, TRIM),
            "success": {"clip_all_on": a_on["successes"], "clip_all_off": a_off["successes"], "n": a_on["n"], "p": p},
            "trimmed_means": {f"{o} | {s}": float(trim_mean(v, TRIM)) for (o, s), v in x.items()},
            "at_ceiling": inter.se == 0.0,
        }
    family = [k for k, r in out.items() if not r["at_ceiling"]]
    for name in ("interaction", "boost", "cost"):
        for k, c in zip(family, stats.holm_across([out[k][name] for k in family])):
            out[k][name] = c
    for k, p in zip(family, stats.holm([out[k]["success"]["p"] for k in family])):
        out[k]["success"]["p_holm"] = p
    return out


def format_progress(analysis: dict[str, Any]) -> str:
    """Markdown: one row per corner (:func:`analyze`)."""
    lines = ["| corner | chosen | edge hits | bound | regret | final seeds | mean [95% CI] | trimmed | successes |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in analysis["corners"]:
        chosen = "-" if r["chosen"] is None else Setting(**r["chosen"]).label(r["objective"])
        f = r["final"]
        edge = "-" if r["edge_hits"] is None else str(r["edge_hits"])
        bound = ", ".join(r["bound_hits"]) if r["bound_hits"] else "-"
        reg = "-" if r["regret"] is None else f"{r['regret']:.1f}"
        if f is None:
            fin, trimmed, succ, seeds = "-", "-", "-", 0
        else:
            fin = f"{f['mean']:.1f} [{f['ci'][0]:.1f}, {f['ci'][1]:.1f}]"
            trimmed, succ, seeds = f"{f['trimmed_mean']:.1f}", f"{f['successes']}/{f['seeds']}", f["seeds"]
        lines.append(f"| {r['corner']} | {chosen} | {edge} | {bound} | {reg} | {seeds} | {fin} | {trimmed} | {succ} |")
    lines.append(f"{analysis['corners_tuned']} of {len(analysis['corners'])} corners tuned, "
                 f"{analysis['corners_final_complete']} with all final seeds")
    return "\n".join(lines)


def _jsonable(entry: dict[str, Any]) -> dict[str, Any]:
    """A corner for the results file: the tuning without its Setting-keyed map, the cells without protocols."""
    out = dict(entry)
    if entry["tuning"] is not None:
        t = dict(entry["tuning"])
        t["scored"] = [{"setting": p.__dict__, **s} for p, s in t["scored"].items()]
        out["tuning"] = t
    out["final_cells"] = [{k: v for k, v in c.items() if k != "protocol"} for c in entry["final_cells"]]
    return out


def _rerun(log: CellLog, key: str, seed: int | None) -> int:
    """``--rerun KEY``: print the comparison of :func:`rerun_cell`; exit 0 if every compared run is identical, 1
    otherwise (another CPU's rounding can change a trajectory: the record names its machine)."""
    cells = log.cells()
    if key not in cells:
        near = [k for k in cells if key.lower() in k.lower()][:5]
        raise SystemExit(f"no cell {key!r} in {log.path}" + (f"; did you mean one of {near}?" if near else ""))
    out = rerun_cell(cells[key], seed)
    print(f"{out['key']}: batch of seeds {out['batch'][0]}-{out['batch'][-1]} retrained in {out['seconds']:.0f} s "
          f"(recorded on {out['machine']} at {out['git_commit']})")
    for r in out["runs"]:
        print(f"  seed {r['seed']}: recorded {r['recorded']}, now {r['now']}, largest episode difference "
              f"{r['max_episode_difference']:g}: {'identical' if r['identical'] else 'DIFFERS'}")
    return 0 if out["identical"] else 1


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=list(TASK_BY_LABEL), help=f"among {tuple(TASK_BY_LABEL)}")
    parser.add_argument("--objectives", nargs="+", default=list(OBJECTIVES), help=f"among {OBJECTIVES}")
    parser.add_argument("--max-cells", type=int, default=None,
                        help="stop after computing this many cells (0: rebuild the results file from the log)")
    parser.add_argument("--rerun", metavar="KEY", default=None,
                        help="train one logged cell again and compare it with its record (trains nothing else)")
    parser.add_argument("--seed", type=int, default=None, help="with --rerun: report this seed's run only")
    add_sweep_arguments(parser, "corners")
    ns = parser.parse_args(argv)
    refuse_unknown("task", ns.tasks, TASK_BY_LABEL)
    refuse_unknown("objective", ns.objectives, OBJECTIVES)
    if ns.seed is not None and ns.rerun is None:
        raise SystemExit("--seed needs --rerun KEY")
    log = open_cell_log(ns)
    if ns.rerun is not None:
        return _rerun(log, ns.rerun, ns.seed)
    t0 = time.perf_counter()

    done, todo = plan(log, ns.tasks, ns.objectives)
    rates = seconds_per_unit(log)
    measured = any("stage" in c for c in log.cells().values())
    print(f"corners: {len(done) + len(todo)} cells foreseen ({len(done)} done, {len(todo)} to do; an edge that wins "
          f"adds cells), about {estimate_seconds(todo, rates) / 3600:.1f} h of compute to go "
          f"({'measured on the logged cells' if measured else 'prior estimate; measuring the first cell'})", flush=True)
    budget = CellBudget(ns.max_cells)
    state = {"first": not measured}

    def describe(key: str, cell: dict[str, Any]) -> str:
        evals, _ = run_scores(cell["runs"], cell["env_id"])
        line = f"{key}: eval {np.mean(evals):.1f} over {len(evals)} runs ({cell['seconds']:.0f} s)"
        if state["first"]:
            state["first"] = False
            _, rest = plan(log, ns.tasks, ns.objectives)
            line += (f"\n  after one measured cell: {len(rest)} cells to do, about "
                     f"{estimate_seconds(rest, seconds_per_unit(log)) / 3600:.1f} h of compute")
        return line

    def get(spec: CellSpec) -> dict[str, Any] | None:
        return compute_cell(log, spec.key, spec.protocol(), lambda: cell_record(spec, train_cell(spec)), budget, describe)

    walk(get, ns.tasks, ns.objectives)

    # The results file: every corner as far as the log (of the current protocols) carries it.
    used: dict[str, dict[str, Any]] = {}

    def logged(spec: CellSpec) -> dict[str, Any] | None:
        cell = log.done(spec.key, spec.protocol())
        if cell is not None:
            used[spec.key] = cell
        return cell

    study = walk(logged)
    cells = list(used.values())  # the cells the results rest on (a cell of an older protocol is not among them)
    analysis = analyze(study)
    _, remaining = plan(log, list(TASK_BY_LABEL), list(OBJECTIVES))
    data = {
        "declaration": DECLARATION,
        "design": {
            "tasks": [t.__dict__ for t in TASKS], "objectives": list(OBJECTIVES), "settings": list(SETTINGS),
            "corner_order": [list(c) for c in CORNER_ORDER], "switches": ablation.SWITCHES,
            "tuning_seeds": list(TUNING_SEEDS), "reestimate_seeds": list(REESTIMATE_SEEDS),
            "final_seeds": list(FINAL_SEEDS), "final_batch": FINAL_BATCH, "episodes": EVAL_EPISODES,
            "eval_seed": EVAL_SEED, "lr_ladder": list(LR_LADDER), "lr_start": list(LR_START),
            "epoch_ladder": list(EPOCH_LADDER), "kl_ladder": list(KL_LADDER), "reestimate_top": REESTIMATE_TOP,
            "search": "coordinate-wise, one pass: lr (at default epochs and kl_target), then update_epochs (at the "
                      "chosen lr), then kl_target for kl_dual (at the chosen lr and epochs); each line extended by "
                      "one ladder step past a winning edge until the best is interior or the ladder ends",
        },
        "complete": not remaining, "cells_done": len(cells), "cells_to_do_at_least": len(remaining),
        **provenance_of_cells(cells), "compute_seconds": round(sum(c["seconds"] for c in cells), 1),
        "progress": analysis,
        "corners": {k: _jsonable(e) for k, e in study.items()},
    }
    command = regeneration_command(COMMAND, argv)
    path = write_results(ns.name, data, time.perf_counter() - t0, command, outdir=ns.outdir)
    print(format_progress(analysis))
    print(f"wrote {path}: {len(cells)} cells ({data['compute_seconds']:.0f} s of compute in them), "
          f"at least {len(remaining)} to do")
    return 0
