r"""The verdict table of the course (end of notebook 09): every statement of the seed note, where it is tested, the
statistic that decides it (with its interval) and the verdict, read from the committed results files.

``python -m ppo_lite.experiments verdicts`` prints the table as Markdown (it trains nothing and writes nothing).

:func:`verdict_table` builds one row per statement of :data:`STATEMENTS` from ``figures/*.json``, the results files
the experiments of this package write for it (``scaling_cuda.json`` from ``bench/gpu_checks.sh`` included); it
parses no Markdown. A verdict is one of :data:`VERDICTS`:

- *holds* / *does not hold*: the statistic decides it on the tasks measured;
- *holds with a qualification*: part of the statement holds, or it holds only on some tasks;
- *undecided*: the data cannot decide it (issue 29; Altman & Bland 1995, "absence of evidence is not evidence of
  absence"): no test rejects either way at the declared margin;
- *not testable here*: the project has no measurement that could decide it (the row says why).

The rows that read "no effect", "nothing lost", "reaches" or "it depends" are decided by :func:`decide` from a
:class:`ppo_lite.experiments.stats.Comparison`: an effect needs the difference test to reject, "no effect" needs
equivalence (TOST) within the margin, "not worse" needs non-inferiority; non-significance alone never decides. Their
margins (:data:`MARGIN_FRACTION`, :data:`SOTA_MARGIN_FRACTION`) and level (:data:`ALPHA`) are the ones issue 29
declared before these readings; across tasks :func:`combine` joins the per-task labels.

Where a results file is missing, in an older format, or says it is incomplete (``complete: false``), the row's
``evidence_complete`` is False, the verdict is computed on what is there and ``why`` starts with what is missing
("partial: N of M cells"). Intervals are those the experiments store (Welch / Student-t 95% intervals over seeds,
Bonferroni-simultaneous over a family of calls where the experiment adjusts, bootstrap intervals over seeds for the
sensitivity metrics) or, for the rows :func:`decide` reads, computed here from the per-seed scores in the files.
"""
from __future__ import annotations

import argparse
import ast
import inspect
import json
import math
from pathlib import Path
from typing import Any

from .. import objectives
from ..config import SOLVED_THRESHOLDS
from . import stats
from . import FIGURES, ablation, benchmark, clip_eps, corners, deep_sea, exploration, peers, scaling, sensitivity

VERDICTS = ("holds", "does not hold", "holds with a qualification", "not testable here", "undecided")
HOLDS, NOT_HOLD, QUALIFIED, UNTESTABLE, UNDECIDED = VERDICTS

# -- declared before reading the data, as issue 29 states them (not chosen from the results) --------------------
ALPHA = 0.05
"""Level of every test :func:`decide` reads, per task (one-sided tests at α, TOST at α with its 1 − 2α interval)."""
MARGIN_FRACTION = 0.1
"""δ of every "no effect" / "nothing lost" / "reaches the published score" reading: 0.1 × the task's range from a
random policy to the solved score (issue 29 point 1: "by TOST at 10%", "non-inferiority at 10%")."""
SOTA_MARGIN_FRACTION = 0.05
"""δ of the benchmark's PPO − one-epoch PG reading: 0.05 × the task's range (issue 29 point 1: "equivalent within
5%")."""
RANDOM_RETURNS: dict[str, float] = {
    "CartPole-v1": 21.71, "Acrobot-v1": -497.0, "Pendulum-v1": -1226.57,
    "MountainCar-v0": -200.0, "LunarLander-v3": -185.77, "Hopper-v5": 14.75,
}
"""The uniform random policy's mean return, ``ppo_lite.evaluation.random_policy_returns(env_id, 100)`` (its fixed
seed), for results files that record none (``figures/benchmark.json``); where a file records its own
(``figures/ablation.json``'s ``random_returns``), that one is used. The first three are the ablation's and
:data:`ppo_lite.experiments.corners.RANDOM_RETURNS`."""
SOLVED_SCORES: dict[str, float] = {**SOLVED_THRESHOLDS, "Hopper-v5": 3800.0}
"""The solved score of each task: :data:`ppo_lite.config.SOLVED_THRESHOLDS` (by which ``experiments/sweep.py``
normalizes), and for Hopper-v5, which has none there, gymnasium's ``reward_threshold`` (3800)."""

STATEMENTS: dict[str, str] = {
    "definition": "Proximal Policy Optimization (PPO) is a type of policy gradient method for reinforcement learning "
                  "which … It uses importance weighted objective with GAE.",
    "stability_efficiency": "aims to improve the stability and efficiency of the training process",
    "too_large_updates": "The core idea behind PPO is to prevent too large updates to the policy at each step, which "
                         "helps in avoiding destructively large policy updates that might cause performance collapse.",
    "sota": "Currently the SOTA for On-Policy",
    "easy": "Easy to implement",
    "impressive": "Very impressive results",
    "gpus": "“Throw tons of GPUs on the problem” and it works",
    "hacky_theory": "Very hacky theory, many hacks needed in addition",
    "hacks_not_objective": "Performance boost comes from hacks, not from objective",
    "hard_to_tune": "Hyper-parameters can be difficult to tune",
    "hard_exploration": "Does not work well for harder exploration problems",
    "ppo_v1": "PPO v1 formulates the policy update problem as a constrained optimization problem where the objective "
              "is to maximize the policy's expected return while keeping the KL divergence between the new and old "
              "policies below a threshold $\\epsilon$. … The problem uses a Lagrangian formulation involving a dual "
              "variable $\\eta$ … effectively performing dual descent.",
    "ppo_v2": "PPO v2 introduces a clipping mechanism in the objective function that limits the ratio of new policy "
              "probabilities to old policy probabilities … typically set around 0.1 to 0.2. … The clipping mechanism "
              "prevents the policy from moving too far from the old policy, acting as a trust region method",
}
"""The seed note's statements, in its words (wiki links shown as their text, highlights removed; " … " marks a cut)."""


# -- reading the results ---------------------------------------------------------------------------------------
def _load(path: Path) -> dict[str, Any] | None:
    """A results file's JSON, or None if it is missing or unreadable (a half-written file)."""
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def _experiment(path: Path, data: dict[str, Any] | None, command: str) -> str:
    """``figures/x.json (`the command that regenerates it`)``, read from the file's ``meta.command``."""
    name = f"{path.parent.name}/{path.name}"
    if data is None:
        return f"{name}: missing (`{command}`)"
    return f"{name} (`{data.get('meta', {}).get('command', command)}`)"


def _num(x: float, digits: int = 1, sign: bool = False) -> str:
    """A number with a typographic minus (and a + when ``sign``)."""
    s = f"{float(x) + 0.0:{'+' if sign else ''}.{digits}f}"
    return s.replace("-", "−")


def _ci(lo: float, hi: float, digits: int = 1, sign: bool = False) -> str:
    """``[lo, hi]`` as :func:`_num` writes them."""
    return f"[{_num(lo, digits, sign)}, {_num(hi, digits, sign)}]"


def _percent_ci(m: float, lo: float, hi: float) -> str:
    """A fraction's mean and t-interval over seeds in percent, the interval cut to [0, 100]."""
    return f"{_num(100 * m, 0)}% {_ci(100 * max(lo, 0.0), 100 * min(hi, 1.0), 0)}"


def _tasks(names: list[str]) -> str:
    """Task names for a sentence (``no task`` when there are none)."""
    return ", ".join(names) if names else "no task"


def _open(figures: Path, name: str, command: str, **empty: Any) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """A sweep's results file ``figures/<name>.json`` and the start of what its reader returns: ``experiment`` (the
    file and the command that regenerates it), ``complete`` False, the ``empty`` fields, and for a missing file the
    note saying so."""
    path = figures / f"{name}.json"
    data = _load(path)
    out: dict[str, Any] = {"experiment": _experiment(path, data, command), "complete": False, **empty}
    if data is None:
        out["note"] = f"evidence missing: figures/{name}.json is not there"
    return data, out


def _ablation(figures: Path) -> dict[str, Any]:
    """The ablation's evaluation-return analysis (None if missing or in the old format) and its completeness."""
    data, out = _open(figures, "ablation", ablation.COMMAND, analysis=None, scores=None, margins={})
    if data is None:
        return out
    analysis = (data.get("analysis") or {}).get("eval_return")
    if not analysis or "verdict" not in analysis:
        out["note"] = "evidence missing: figures/ablation.json is in the format before issue 14's redesign (no analysis)"
        out["experiment"] = f"figures/ablation.json: old format (`{ablation.COMMAND}`)"
    else:
        out.update(analysis=analysis, complete=bool(data.get("complete")))
        out["note"] = "" if out["complete"] else f"partial: {data.get('cells_done')} of {data.get('cells_expected')} cells"
        randoms = {**RANDOM_RETURNS, **data.get("random_returns", {})}
        if data.get("cells"):  # per-seed evaluation returns (a diverged run scores as the random policy)
            out["scores"] = {(c["env_id"], c["objective"], c["setting"]): ablation.final_scores(c, "eval_return", randoms[c["env_id"]])
                             for c in data["cells"]}
            out["margins"] = {e: margin(e, MARGIN_FRACTION, randoms[e]) for e in analysis["verdict"]["tasks"]}
    return out


def _corners(figures: Path) -> dict[str, Any]:
    """The corners study (issue 29 points 2-3): its declared readings per task (:func:`ppo_lite.experiments.corners.
    readings`; empty while no task has its four clip / kl_dual corners at every final seed) and its completeness."""
    data, out = _open(figures, "corners", corners.COMMAND, readings={})
    if data is None:
        return out
    if "corners" not in data or "declaration" not in data:
        out["note"] = "evidence missing: figures/corners.json has no corners or declaration"
        return out
    out.update(readings=corners.readings(data["corners"]), complete=bool(data.get("complete")))
    out["note"] = "" if out["complete"] else (f"partial: {data.get('cells_done')} cells done, at least "
                                              f"{data.get('cells_to_do_at_least')} to do")
    return out


def _sensitivity(figures: Path) -> dict[str, Any]:
    """The sensitivity sweep's results and verdict (None if missing or in the old format) and its completeness."""
    data, out = _open(figures, "sensitivity", sensitivity.COMMAND, data=None)
    if data is None:
        return out
    if "verdict" not in data or "results" not in data:
        out["note"] = "evidence missing: figures/sensitivity.json is in the format before issue 14's redesign (no verdict)"
        out["experiment"] = f"figures/sensitivity.json: old format (`{sensitivity.COMMAND}`)"
    else:
        out.update(data=data, complete=bool(data.get("complete")))
        done = sum(len(g) for g in data["results"].values())
        expected = len(data.get("tasks", {})) * len(data.get("grids", {}))
        out["note"] = "" if out["complete"] else f"partial: {done} of {expected} grids"
    return out


def _clip_sweep(figures: Path) -> dict[str, Any]:
    """The clip-range sweep: per task and label its runs (``by_env``; ``runs`` / ``summary`` / ``env``: the first
    task's), and whether the file can be trusted: a recorded commit, every cell done, seeds paired across settings."""
    data, out = _open(figures, "clip_eps", clip_eps.COMMAND, runs=None, by_env={}, envs=[])
    if data is None:
        return out
    out["envs"] = list(data.get("steps", {}))
    out["by_env"] = {e: {label: [r for r in data["runs"] if r["label"] == label and r["env_id"] == e and not r.get("diverged")]
                         for label in data["labels"]} for e in out["envs"]}
    out["summary_by_env"] = {e: {r["label"]: r for r in data["summary"] if r["env_id"] == e} for e in out["envs"]}
    out["env"] = out["envs"][0] if out["envs"] else None
    out["runs"] = out["by_env"].get(out["env"], {})
    out["summary"] = out["summary_by_env"].get(out["env"], {})
    paired = data.get("paired", {})
    out["complete"] = ("git_commit" in data.get("meta", {}) and bool(data.get("complete"))
                       and bool(paired) and all(paired.values()))
    out["note"] = "" if out["complete"] else ("figures/clip_eps.json records no git commit, is incomplete, or its seeds "
                                              "are not paired across settings; regenerate it with its command")
    return out


def _score(run: dict[str, Any]) -> float:
    """A run's score: its evaluation return where the sweep recorded one, else its final training return."""
    return run["eval_return"] if run.get("eval_return") is not None else run["final_return"]


def _outside_fraction(run: dict[str, Any]) -> float:
    """The fraction of a clip-sweep run's updates after which some ratio lies outside [1 − ε, 1 + ε]."""
    u = run["updates"]
    return sum(d > e for d, e in zip(u["ratio_max_dev"], u["clip_eps"])) / len(u["clip_eps"])


def _adjusted(rows: list[dict[str, Any]], env: str, label: str) -> str:
    """One difference of the ablation: ``env +d [lo, hi] (Holm p = …)``, with the Bonferroni-simultaneous interval."""
    for r in rows:
        if r["env_id"] == env and r["label"] == label:
            return f"{env} {_num(r['diff'], 1, True)} {_ci(*r['ci_adjusted'], 1, True)} (Holm p = {r['p_holm']:.2f})"
    return f"{env} not computed yet"


def _prefix(note: str, why: str) -> str:
    """``why`` after what is missing from the evidence, if anything."""
    return f"{note}; {why}" if note else why


def _row(notebook: str, experiment: str, statistic: str, verdict: str, why: str, complete: bool) -> dict[str, Any]:
    """One row of the table, less its statement (refuses a verdict outside :data:`VERDICTS`)."""
    if verdict not in VERDICTS:
        raise ValueError(f"verdict {verdict!r} is not one of {VERDICTS}")
    return {"notebook": notebook, "experiment": experiment, "statistic": statistic, "verdict": verdict, "why": why,
            "evidence_complete": complete}


# -- deciding from a comparison (issue 29) ----------------------------------------------------------------------
CLAIMS = ("no effect", "an effect", "not worse")


def decide(claim: str, c: stats.Comparison, direction: int = 0) -> str:
    r"""The label a :class:`~ppo_lite.experiments.stats.Comparison` (a difference d at margin δ, level α) gives a claim.

    - ``"no effect"`` (d = 0 within ±δ): *holds* if TOST rejects (the 1 − 2α interval inside (−δ, δ)), even where a
      difference smaller than δ is also significant; *does not hold* if the difference test rejects and TOST does not;
      else *undecided*.
    - ``"an effect"``, of sign ``direction`` (+1, −1; 0: either): *holds* if the difference test rejects with that
      sign; *holds with a qualification* if it rejects but the effect is also shown smaller than δ (real, below the
      margin); *does not hold* if the effect is shown smaller than δ in the claimed direction (``direction`` +1: the
      one-sided upper bound below +δ, which a significant effect of the other sign also gives; −1: the lower bound
      above −δ; 0: TOST), without a significant effect of the claimed sign; else *undecided*.
    - ``"not worse"`` (d ≥ −δ): *holds* if non-inferiority rejects (the one-sided lower bound above −δ), *does not
      hold* if d is shown below −δ (the one-sided upper bound below −δ), else *undecided*.

    Non-significance alone never gives *holds* or *does not hold*.
    """
    if claim not in CLAIMS:
        raise ValueError(f"claim must be one of {CLAIMS}, got {claim!r}")
    if direction not in (-1, 0, 1):
        raise ValueError(f"direction must be -1, 0 or +1, got {direction!r}")
    if claim == "no effect":
        return HOLDS if c.equivalent else NOT_HOLD if c.differs else UNDECIDED
    if claim == "not worse":
        return HOLDS if c.non_inferior else NOT_HOLD if c.inferior else UNDECIDED
    below_margin = {1: c.p_upper, -1: c.p_lower, 0: c.p_tost}[direction] <= c.alpha and c.margin > 0
    if c.differs and (direction == 0 or c.sign == direction):
        return QUALIFIED if below_margin else HOLDS
    return NOT_HOLD if below_margin else UNDECIDED


def combine(labels: dict[str, str]) -> str:
    """One label for a claim made of per-task labels (:func:`decide`'s): *undecided* if no task decides; *holds* if
    every task holds; *does not hold* if every task that decides goes against it (a general claim fails on a task
    that decides against it, whatever the undecided ones would say); *holds with a qualification* otherwise (it holds
    on some tasks, and the others are undecided or go against it, or hold only with a qualification)."""
    if not labels:
        raise ValueError("combine needs at least one task's label")
    decided = [v for v in labels.values() if v != UNDECIDED]
    if not decided:
        return UNDECIDED
    if all(v == HOLDS for v in labels.values()):
        return HOLDS
    if all(v == NOT_HOLD for v in decided):
        return NOT_HOLD
    return QUALIFIED


def _both(*labels: str) -> str:
    """A task's label for a claim that needs every one of several readings: *does not hold* if one does not,
    *undecided* if one is undecided, *holds* if all hold, else *holds with a qualification*."""
    if NOT_HOLD in labels:
        return NOT_HOLD
    if UNDECIDED in labels:
        return UNDECIDED
    return HOLDS if all(v == HOLDS for v in labels) else QUALIFIED


def margin(env_id: str, fraction: float, random_return: float | None = None) -> float:
    """δ in return units: ``fraction`` × (solved score − random policy's return), from :data:`SOLVED_SCORES` and
    ``random_return`` (default :data:`RANDOM_RETURNS`)."""
    if env_id not in SOLVED_SCORES or (random_return is None and env_id not in RANDOM_RETURNS):
        raise ValueError(f"no solved score or random return for {env_id!r}; known: {tuple(RANDOM_RETURNS)}")
    rand = RANDOM_RETURNS[env_id] if random_return is None else float(random_return)
    span = SOLVED_SCORES[env_id] - rand
    if not span > 0:
        raise ValueError(f"{env_id}: the solved score {SOLVED_SCORES[env_id]} is not above the random return {rand}")
    return fraction * span


def _pv(p: float) -> str:
    """A p-value for the table: three decimals, or two significant digits below 0.001 (0 for an exact estimate)."""
    if p == 0.0:
        return "0"
    return f"{p:.1e}".replace("-", "−") if p < 1e-3 else f"{p:.3f}"


def _g(x: float) -> str:
    """A published number as it is published (``:g``), with a typographic minus."""
    return f"{float(x):g}".replace("-", "−")


def _difference_text(c: stats.Comparison) -> str:
    """``+d [lo, hi] (95%, p = …)``: the difference test (two-sided, level 1 − α)."""
    lo, hi = c.interval()
    return f"{_num(c.estimate, 1, True)} {_ci(lo, hi, 1, True)} ({100 * (1 - c.alpha):.0f}%, difference p = {_pv(c.p_difference)})"


def _tost_text(c: stats.Comparison) -> str:
    """``TOST at ±δ: [lo, hi] 90%, p = …``."""
    lo, hi = c.tost_interval
    return f"TOST at ±{_num(c.margin)}: {_ci(lo, hi, 1, True)} {100 * (1 - 2 * c.alpha):.0f}%, p = {_pv(c.p_tost)}"


def _ni_text(c: stats.Comparison) -> str:
    """``non-inferiority at −δ: lower bound …, p = …``."""
    return (f"non-inferiority at −{_num(c.margin)}: one-sided {100 * (1 - c.alpha):.0f}% lower bound "
            f"{_num(c.lower_bound, 1, True)}, p = {_pv(c.p_lower)}")


def _by_label(labels: dict[str, str]) -> dict[str, list[str]]:
    """Tasks grouped by their label, in the order given."""
    out: dict[str, list[str]] = {}
    for task, label in labels.items():
        out.setdefault(label, []).append(task)
    return out


# -- one function per statement --------------------------------------------------------------------------------
def _definition(figures: Path) -> dict[str, Any]:
    """Exact checks in notebooks 02 and 03 (no results file): holds."""
    return _row("01, 02, 03", "exact checks in notebooks 02 and 03 (no results file)",
                "surrogate and policy-gradient losses have the same gradient at θ_old (error < 1e-12, notebook 03); "
                "GAE's recursion equals its explicit sum (< 1e-12, notebook 02)", HOLDS,
                "the trainer's loss is an importance-weighted surrogate whose gradient at θ_old is the policy gradient, "
                "on GAE advantages; notebooks 02-03 assert both exactly.", True)


def _best_ci(grid: dict[str, Any]) -> tuple[float, float]:
    """The t-interval of a sensitivity grid's best cell."""
    lo, hi = grid["ci"][grid["cells"].index(grid["best"])]
    return lo, hi


def _stability_efficiency(figures: Path) -> dict[str, Any]:
    """Stability: clip against the bare surrogate (no trust region) in the ablation; efficiency: PPO's best setting
    against one-epoch policy gradient's at the same budget (sensitivity). Holds if both win on every task measured,
    does not hold if neither wins on any."""
    abl, sens = _ablation(figures), _sensitivity(figures)
    parts, notes, scores = [], "; ".join(n for n in (abl["note"], sens["note"]) if n), []
    if abl["analysis"] is not None:
        a = abl["analysis"]
        tasks = a["verdict"]["tasks"]
        for level in (ablation.ALL_ON, ablation.ALL_OFF):
            parts.append(f"stability, eval return clip − surrogate (no trust region), {level}: "
                         + "; ".join(_adjusted(a["objective"], e, f"{level}: clip − surrogate") for e in tasks))
        scores.append(len(a["verdict"]["trust_region_helps"]) / len(tasks) if tasks else 0.0)
    if sens["data"] is not None:
        better, text = [], []
        for env, grids in sens["data"]["results"].items():
            if "ppo_lr_lambda" in grids and "pg_lr_lambda" in grids:
                ppo, pg = grids["ppo_lr_lambda"], grids["pg_lr_lambda"]
                text.append(f"{env} PPO {_num(ppo['best_mean'], 2)} {_ci(*_best_ci(ppo), 2)} vs "
                            f"PG {_num(pg['best_mean'], 2)} {_ci(*_best_ci(pg), 2)}")
                better.append(_best_ci(ppo)[0] > _best_ci(pg)[1])
        if better:
            parts.append("efficiency, best normalized eval score at the same budget, PPO vs one-epoch PG: "
                         + "; ".join(text))
            scores.append(sum(better) / len(better))
    experiment = f"{abl['experiment']}; {sens['experiment']}"
    if not scores:
        return _row("07, 09 §1", experiment, "none yet", UNTESTABLE,
                    _prefix(notes, "neither the ablation nor the sensitivity sweep has results to read."), False)
    verdict = HOLDS if all(s == 1.0 for s in scores) else NOT_HOLD if all(s == 0.0 for s in scores) else QUALIFIED
    why = {HOLDS: "a trust region beats none and PPO's best setting beats one-epoch policy gradient's on every task "
                  "measured",
           NOT_HOLD: "on no task measured does a trust region beat none or PPO beat one-epoch policy gradient",
           QUALIFIED: "a trust region or PPO's extra epochs win on some tasks measured, not on all"}[verdict]
    return _row("07, 09 §1", experiment, "; ".join(parts), verdict, _prefix(notes, why + "."),
                abl["complete"] and sens["complete"])


def _too_large_updates(figures: Path) -> dict[str, Any]:
    """The clip sweep, per task: ε = 0.2 against no clip in the largest per-update KL (Welch on log10) and in
    evaluation return (Welch). Holds if the KL is smaller on every task and the return higher on every task, both
    resolved; qualified if the KL is smaller everywhere and the return higher on only some tasks."""
    sweep = _clip_sweep(figures)
    envs = [e for e in sweep["envs"] if len(sweep["by_env"][e].get("0.2", [])) >= 2 and len(sweep["by_env"][e].get("none", [])) >= 2]
    if not envs:
        return _row("03, 05", sweep["experiment"], "none yet", UNTESTABLE,
                    _prefix(sweep["note"], "the sweep has no two seeds of ε = 0.2 and of no clip to compare."), False)
    parts, kl_smaller, return_higher = [], [], []
    for e in envs:
        runs = sweep["by_env"][e]
        log_kl = {k: [math.log10(max(r["updates"]["approx_kl"])) for r in runs[k]] for k in ("0.2", "none")}
        d, lo, hi, _ = stats.welch_interval(log_kl["0.2"], log_kl["none"])
        rd, rlo, rhi, _ = stats.welch_interval(*([_score(r) for r in runs[k]] for k in ("0.2", "none")))
        geo = {k: 10 ** (sum(v) / len(v)) for k, v in log_kl.items()}
        parts.append(f"{e}, {len(runs['0.2'])} vs {len(runs['none'])} seeds: largest per-update KL (geometric mean) "
                     f"{geo['0.2']:.3f} with ε = 0.2 vs {geo['none']:.2f} nats without clip, log10 ratio {_num(d, 2)} "
                     f"{_ci(lo, hi, 2)}; evaluation return ε = 0.2 − no clip {_num(rd, 1, True)} {_ci(rlo, rhi, 1, True)}")
        kl_smaller.append(hi < 0)
        if rlo > 0:
            return_higher.append(e)
    if not all(kl_smaller):
        verdict, why = NOT_HOLD, "the clip's largest update is not measurably smaller than without it on every task."
    elif len(return_higher) == len(envs):
        verdict, why = HOLDS, "the clip makes the largest update far smaller and the return measurably higher on every task."
    elif return_higher:
        verdict, why = QUALIFIED, (f"the clip makes the largest update far smaller on every task, and the unclipped "
                                   f"surrogate's larger updates cost measurable return on {_tasks(return_higher)} only "
                                   f"(of {len(envs)} tasks; Welch 95%).")
    else:
        verdict, why = QUALIFIED, ("the clip makes the largest update far smaller, but that it avoids a collapse is not "
                                   "resolved: the return intervals include 0 at this seed count.")
    return _row("03, 05", sweep["experiment"], "; ".join(parts), verdict, _prefix(sweep["note"], why), sweep["complete"])


def _benchmark(figures: Path) -> dict[str, Any]:
    """The benchmark against published numbers: its rows by (task, variant), PPO − PG calls, completeness."""
    data, out = _open(figures, "benchmark", benchmark.COMMAND, rows={}, calls=[])
    out["data"] = data
    if data is None:
        return out
    out["rows"] = {(r["env_id"], r["variant"]): r for r in data["summary"]}
    out["calls"] = data["ppo_vs_pg"]
    out["complete"] = bool(data.get("complete"))
    out["note"] = "" if out["complete"] else f"partial: {data['cells_done']} of {data['cells_expected']} benchmark cells"
    return out


def _sota(figures: Path) -> dict[str, Any]:
    """The benchmark: PPO against the one-epoch policy-gradient baseline (A2C-like) at the same budget, per task, beside
    rl-baselines3-zoo's published A2C. Per task the claim "PPO is better" (:func:`decide`, an effect of sign +1):
    the difference test is Welch's with Holm's adjustment over the tasks (the benchmark's own calls); it does not hold
    where PPO is shown less than δ = :data:`SOTA_MARGIN_FRACTION` of the task's range better (the one-sided bound,
    with TOST beside it). The statement names the whole on-policy field (A2C, TRPO, PPG, ...), of which only the
    A2C-like baseline is run: at most qualified."""
    b = _benchmark(figures)
    if not b["calls"]:
        return _row("06 §5", b["experiment"], "none yet", UNTESTABLE,
                    _prefix(b["note"], "no task has both PPO and the policy-gradient baseline yet."), False)
    parts, labels, comparisons = [], {}, {}
    for call in b["calls"]:
        e = call["env_id"]
        ppo, pg = b["rows"].get((e, "ppo")), b["rows"].get((e, "pg"))
        zoo_a2c = next((p for p in b["data"]["published"].get(e, []) if p["algorithm"] == "A2C"), None)
        zoo = f"; zoo A2C {_g(zoo_a2c['mean'])} at {zoo_a2c['budget'] // 1000}k" if zoo_a2c else ""
        if ppo is None or pg is None or e not in SOLVED_SCORES or e not in RANDOM_RETURNS:
            parts.append(f"{e}: PPO − PG {_num(call['diff'], 1, True)} {_ci(*call['ci'], 1, True)} (Holm p = "
                         f"{call['p_holm']:.3f}; no margin declared for this task){zoo}")
            labels[e] = (HOLDS if call["ppo_better"] else NOT_HOLD if call["pg_better"] else UNDECIDED)
            continue
        c = stats.compare(ppo["per_seed"], pg["per_seed"], margin(e, SOTA_MARGIN_FRACTION), ALPHA)
        c = stats.Comparison(c.test, c.estimate, c.se, c.df, c.margin, c.alpha, p_difference_override=call["p_holm"])
        comparisons[e] = c
        labels[e] = decide("an effect", c, +1)
        parts.append(f"{e}: PPO − PG {_num(c.estimate, 1, True)} {_ci(*c.interval(), 1, True)} (Welch 95%, Holm p = "
                     f"{_pv(call['p_holm'])}); {_tost_text(c)}{zoo}")
    groups = _by_label(labels)
    equivalent = [e for e in groups.get(NOT_HOLD, []) if e in comparisons and comparisons[e].equivalent]
    worse = [e for e in groups.get(NOT_HOLD, []) if comparisons.get(e) is not None and comparisons[e].sign == -1]
    overall = combine(labels)
    bits = []
    if groups.get(HOLDS) or groups.get(QUALIFIED):
        bits.append(f"PPO beats the A2C-like baseline at the same budget on {_tasks(groups.get(HOLDS, []) + groups.get(QUALIFIED, []))} "
                    "(Welch, Holm over the tasks)")
    if equivalent:
        bits.append(f"on {_tasks(equivalent)} the two are equivalent within ±{SOTA_MARGIN_FRACTION:.0%} of the task's "
                    f"range (TOST p = {', '.join(_pv(comparisons[e].p_tost) for e in equivalent)})")
    rest = [e for e in groups.get(NOT_HOLD, []) if e not in equivalent and e not in worse]
    if rest:
        bits.append(f"on {_tasks(rest)} PPO is shown less than {SOTA_MARGIN_FRACTION:.0%} of the range better (one-sided)")
    if worse:
        bits.append(f"the one-epoch baseline beats PPO on {_tasks(worse)}")
    if groups.get(UNDECIDED):
        bits.append(f"undecided on {_tasks(groups[UNDECIDED])} (neither the difference test nor the margin test rejects)")
    verdict = NOT_HOLD if worse else QUALIFIED if overall in (HOLDS, QUALIFIED) else overall
    statistic = (f"evaluation return, PPO (library defaults) − one-epoch PG, α = {ALPHA} per task, δ = "
                 f"{SOTA_MARGIN_FRACTION} × (solved − random): " + "; ".join(parts))
    peer_data, bench_data = peers.load(figures)
    experiment, complete, note = b["experiment"], b["complete"], b["note"]
    if peer_data is not None and bench_data is not None:
        res = peers.compare_with_peers(peer_data, bench_data, {e: margin(e, SOTA_MARGIN_FRACTION)
                                                               for e in peers.tasks_of(peer_data) if e in SOLVED_SCORES},
                                       decide, ALPHA)
        statistic += (". Against the peers a user would pick (Stable-Baselines3's A2C, sb3-contrib's TRPO, "
                      "rl-baselines3-zoo's tuned settings, the benchmark's budget and evaluation), Welch, labels per task at α "
                      "(the verdict reads them with every p-value Holm-adjusted over each peer's tasks): " + "; ".join(peers.describe(res)))
        experiment += f"; {res['experiment']}"
        complete = complete and res["complete"]
        note = "; ".join(n for n in (note, res["note"]) if n)
        worse_than = [f"{r['peer_name']} on {r['env_id']}" for r in res["comparisons"]
                      if r["labels_holm"]["not worse"] == NOT_HOLD]
        better = [f"{r['peer_name']} on {r['env_id']}" for r in res["comparisons"] if r["labels_holm"]["an effect"] == HOLDS]
        level = [f"{r['peer_name']} on {r['env_id']}" for r in res["comparisons"]
                 if r["labels_holm"]["not worse"] == HOLDS and r["labels_holm"]["an effect"] != HOLDS]
        open_ = [f"{r['peer_name']} on {r['env_id']}" for r in res["comparisons"] if r["labels_holm"]["not worse"] == UNDECIDED]
        peer_bits = []
        if better:
            peer_bits.append(f"PPO beats {', '.join(better)}")
        if level:
            peer_bits.append(f"is not worse than {', '.join(level)} by more than δ (non-inferiority), better undecided")
        if open_:
            peer_bits.append(f"against {', '.join(open_)} undecided")
        if worse_than:
            peer_bits.append(f"is shown worse than {', '.join(worse_than)}")
            verdict = NOT_HOLD
        bits.append("against the peers a user would pick, at the same budget: " + "; ".join(peer_bits))
        left = "PPG and the other on-policy methods, and the peers on the benchmark's 1M-step tasks, are not run here"
    else:
        left = "TRPO, PPG and the other on-policy methods the statement compares with are not run here"
    why = "; ".join(bits) + (f"; {left}" if verdict == QUALIFIED else "") + "."
    return _row("06 §5", experiment, statistic, verdict, _prefix(note, why), complete)


def _code_lines(fn: Any) -> int:
    """Lines of a function's body without its docstring."""
    node = ast.parse(inspect.getsource(fn).lstrip()).body[0]
    if not isinstance(node, ast.FunctionDef):
        raise ValueError(f"_code_lines counts the lines of a function, got {fn!r}")
    body = node.body[1:] if isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant) else node.body
    return (body[-1].end_lineno or body[-1].lineno) - body[0].lineno + 1


def _easy(figures: Path) -> dict[str, Any]:
    """The loss's length in code, against what switching the code-level details off costs clip (ablation): per task
    the claim "it costs nothing" is non-inferiority of clip all off against all on at δ = :data:`MARGIN_FRACTION` of
    the task's range (:func:`decide`, "not worse"; TOST beside it). Holds if it costs less than δ on every task;
    qualified if on some, or if a working trainer needs the details on some task (costs more than δ); undecided if no
    task decides."""
    statistic = (f"the clipped objective: {_code_lines(objectives.clipped_objective)} lines of code "
                 "(ppo_lite.objectives.clipped_objective)")
    cor = _corners(figures)
    if any(not r["at_ceiling"] for r in cor["readings"].values()):
        return _easy_corners(cor, statistic)
    abl = _ablation(figures)
    if abl["analysis"] is None or abl["scores"] is None:
        return _row("06, 07", abl["experiment"], statistic, QUALIFIED, _prefix(
            abl["note"], "the loss is short; whether the trainer's details are needed awaits the ablation's per-seed cells."), False)
    readings = _clip_readings(abl)
    labels = {e: decide("not worse", r["cost"]) for e, r in readings.items()}
    statistic += (f"; eval return, clip all off − all on, α = {ALPHA} per task, δ = {MARGIN_FRACTION} × (solved − random): "
                  + "; ".join(f"{e}: {_difference_text(r['cost'])}, {_ni_text(r['cost'])}; {_tost_text(r['cost'])}"
                              for e, r in readings.items()))
    if not labels:
        return _row("06, 07", abl["experiment"], statistic, UNDECIDED,
                    _prefix(abl["note"], "no task has both of clip's corners yet."), False)
    verdict, why = _easy_verdict(labels)
    return _row("06, 07", abl["experiment"], statistic, verdict, _prefix(abl["note"], why), abl["complete"])


def _easy_verdict(labels: dict[str, str], qualified_notes: dict[str, str] | None = None) -> tuple[str, str]:
    """The "easy" row's verdict and why from per-task labels (``qualified_notes``: why a task is qualified)."""
    groups = _by_label(labels)
    bits = []
    if groups.get(HOLDS):
        bits.append(f"switching the details off costs clip less than δ on {_tasks(groups[HOLDS])} (non-inferiority)")
    if groups.get(QUALIFIED):
        bits.append("on " + "; ".join(f"{t} its trimmed return loses less than δ but it succeeds less often: "
                                     f"{(qualified_notes or {}).get(t, '')}" for t in groups[QUALIFIED]))
    if groups.get(NOT_HOLD):
        by_count = [t for t in groups[NOT_HOLD] if t in (qualified_notes or {})]
        by_return = [t for t in groups[NOT_HOLD] if t not in by_count]
        if by_return:
            bits.append(f"a working trainer needs them on {_tasks(by_return)} (they cost more than δ)")
        if by_count:
            bits.append("a working trainer needs them on " + "; ".join(
                f"{t}, by its success count ({qualified_notes[t]})" for t in by_count))
    if groups.get(UNDECIDED):
        bits.append(f"undecided on {_tasks(groups[UNDECIDED])} (neither non-inferiority nor a cost beyond δ is shown)")
    overall = combine(labels)
    verdict = HOLDS if overall == HOLDS else UNDECIDED if overall == UNDECIDED else QUALIFIED
    return verdict, "the loss is a few lines; " + "; ".join(bits) + "."


def _impressive(figures: Path) -> dict[str, Any]:
    """The benchmark: does PPO with the library's defaults reach rl-baselines3-zoo's published PPO score on each task?
    Non-inferiority of the seed mean against the published number at δ = :data:`MARGIN_FRACTION` of the task's range
    (:func:`decide`, "not worse"), the number taken as a fixed target (:func:`ppo_lite.experiments.stats.compare_to_value`;
    the zoo's number is one agent's evaluation, one draw of its seed distribution: that reading is given beside).
    :func:`combine` across the tasks."""
    b = _benchmark(figures)
    rows = [r for (e, v), r in b["rows"].items() if v == "ppo"]
    if not rows:
        return _row("06 §5", b["experiment"], "none yet", UNTESTABLE, _prefix(b["note"], "no PPO cell yet."), False)
    parts, labels, draw_labels, generic_labels = [], {}, {}, {}
    for r in rows:
        e = r["env_id"]
        if e not in SOLVED_SCORES or e not in RANDOM_RETURNS or len(r.get("per_seed", [])) < 2:
            parts.append(f"{e}: {_num(r['eval_return'])} vs zoo PPO {_g(r['zoo_ppo'])} (no margin declared or fewer than 2 seeds)")
            labels[e] = UNDECIDED
            continue
        d = margin(e, MARGIN_FRACTION)
        c = stats.compare_to_value(r["per_seed"], r["zoo_ppo"], d, ALPHA)
        draw = stats.compare_to_value(r["per_seed"], r["zoo_ppo"], d, ALPHA, value_is_draw=True)
        labels[e], draw_labels[e] = decide("not worse", c), decide("not worse", draw)
        part = (f"{e} ({r['budget'] // 1000}k steps, {r['seeds']} seeds): {_num(r['eval_return'])} {_ci(*r['ci'])} vs zoo "
                f"PPO {_g(r['zoo_ppo'])}, difference {_num(c.estimate, 1, True)}, {_ni_text(c)}"
                + (" (every seed the same score: no spread)" if c.se == 0 else "")
                + f"; as one draw of the zoo's seed distribution: p = {_pv(draw.p_lower)}")
        generic = b["rows"].get((e, "ppo_generic"))
        if generic is not None and len(generic.get("per_seed", [])) >= 2:
            g = stats.compare_to_value(generic["per_seed"], r["zoo_ppo"], d, ALPHA)
            generic_labels[e] = decide("not worse", g)
            part += (f" (with the family's generic settings: {_num(generic['eval_return'])} {_ci(*generic['ci'])}, "
                     f"one-sided 95% upper bound {_num(g.upper_bound + r['zoo_ppo'])})")
        parts.append(part)
    groups = _by_label(labels)
    bits = []
    if groups.get(HOLDS):
        bits.append(f"with its defaults PPO reaches the published score within δ on {_tasks(groups[HOLDS])} "
                    "(non-inferiority)")
    if groups.get(NOT_HOLD):
        bits.append(f"it falls short by more than δ on {_tasks(groups[NOT_HOLD])}")
    if groups.get(UNDECIDED):
        bits.append(f"undecided on {_tasks(groups[UNDECIDED])} (neither reaching it nor falling short by δ is shown)")
    weaker = [e for e in groups.get(HOLDS, []) if draw_labels.get(e) != HOLDS]
    if weaker:
        bits.append(f"taking the zoo's number as one draw of its seed distribution instead of a fixed target, "
                    f"{_tasks(weaker)} would be undecided too")
    retuned = [e for e, g in generic_labels.items() if g == NOT_HOLD and labels.get(e) != NOT_HOLD]
    if retuned:
        bits.append(f"on {_tasks(retuned)} " + ("only since" if all(labels[e] == HOLDS for e in retuned) else "at best since")
                    + " its default became the zoo's tuned settings (the family's generic settings fall short by more "
                      "than δ)")
    return _row("06 §5", b["experiment"], f"evaluation return against rl-baselines3-zoo's PPO, α = {ALPHA} per task, δ = "
                f"{MARGIN_FRACTION} × (solved − random): " + "; ".join(parts), combine(labels),
                _prefix(b["note"], "; ".join(bits) + "."), b["complete"])


def _gpus(figures: Path) -> dict[str, Any]:
    """The scaling study: throughput against env count, time and samples to the target against N, the return at a
    fixed number of env steps, batched agents. Not testable while the study ran on a CPU only; on an accelerator it
    holds if the widest N reaches the target sooner in wall time than the narrowest. A sweep run on a GPU
    (``bench/gpu_checks.sh`` writes ``scaling_cuda.json``) is read in preference to the CPU's."""
    path = figures / "scaling_cuda.json"
    if not path.exists():
        path = figures / "scaling.json"
    data = _load(path)
    experiment = _experiment(path, data, scaling.COMMAND)
    if data is None or any(k not in data for k in ("throughput", "time_to_target", "batched")):
        return _row("08", experiment, "none yet", UNTESTABLE, "evidence missing: figures/scaling.json is not there or "
                    "lacks its time-to-target and batched parts.", False)
    tp, ttt, b = data["throughput"]["torch"], data["time_to_target"], data["batched"]
    rate = [n / s for n, s in zip(tp["envs"], tp["seconds_per_step"])]
    secs = [sorted(r["seconds"] for r in runs if r["seconds"] is not None) for runs in ttt["runs"]]
    median = [s[len(s) // 2] if s else None for s in secs]  # the upper median: conservative with an even count
    statistic = (f"device {data['device']}: env steps/s ×{rate[-1] / rate[0]:,.0f} from {tp['envs'][0]} to "
                 f"{tp['envs'][-1]:,} torch envs; wall seconds to return {data['target']:g} (median, reached/seeds): "
                 + ", ".join(f"N = {n}: {_num(m) if m is not None else '—'} ({len(s)}/{len(runs)})"
                             for n, m, s, runs in zip(ttt["envs"], median, secs, ttt["runs"]))
                 + f"; {b['agents'][-1]} agents batched ×{b['sequential'][-1] / b['batched'][-1]:.1f} faster than "
                 "one after another (both measured)")
    if "returns" in data:
        r = data["returns"]
        means = [sum(x["eval_return"] for x in runs if not x["diverged"]) / max(1, sum(not x["diverged"] for x in runs))
                 for runs in r["runs"]]
        statistic += (f"; evaluation return after {r['env_steps']:,} env steps: "
                      + ", ".join(f"N = {n}: {_num(m)}" for n, m in zip(r["envs"], means)))
    sooner = median[-1] is not None and (median[0] is None or median[-1] < median[0])
    effect = (f"more envs raise throughput ×{rate[-1] / rate[0]:,.0f} and "
              + ("reach the target sooner" if sooner else "do not reach the target sooner"))
    complete = bool(data.get("complete", True))
    if data["device"] == "cpu":
        return _row("08", experiment, statistic, UNTESTABLE, f"no GPU was measured on this project; on the CPU, {effect}.",
                    complete)
    return _row("08", experiment, statistic, HOLDS if sooner else QUALIFIED, f"on {data['device']}, {effect}.", complete)


def _needed(details: list[dict[str, Any]], env: str) -> str:
    """``env k of n (d1, d2)``: the leave-one-out details whose removal significantly hurts clip on ``env``."""
    rows = [r for r in details if r["env_id"] == env and r["label"].startswith(f"clip: {ablation.ALL_ON} − no ")]
    if not rows:
        return f"{env} not computed yet"
    hurt = [r["label"].split("− no ")[1] for r in rows if r["direction"] == 1]
    return f"{env} {len(hurt)} of {len(rows)}" + (f" ({', '.join(hurt)})" if hurt else "")


def _hacky_theory(figures: Path) -> dict[str, Any]:
    """Theory: the TRPO bound's vacuity (notebook 03) and the ratio leaving the clip's band (clip sweep); hacks: per
    task, the claim "the details help clip" (clip all on − all off, :func:`decide`, an effect of sign +1 at
    δ = :data:`MARGIN_FRACTION` of the range), with the leave-one-out details whose removal alone hurts (Holm). Holds
    if the details help on every task, else qualified (the theory part holds)."""
    abl, sweep = _ablation(figures), _clip_sweep(figures)
    parts = ["theory: the TRPO lower bound's constant (≈ 973 at γ = 0.9) makes the provable step ≲ 0.02 (notebook 03)"]
    for e in sweep["envs"]:
        runs = sweep["by_env"][e].get("0.2", [])
        if len(runs) >= 2:
            m, lo, hi = stats.t_interval([_outside_fraction(r) for r in runs])
            parts.append(f"{e}: the clip at ε = 0.2 leaves some ratio outside its band after {_percent_ci(m, lo, hi)} of updates")
    experiment = f"notebook 03; {sweep['experiment']}; {abl['experiment']}"
    notes = "; ".join(n for n in (abl["note"], sweep["note"]) if n)
    if abl["analysis"] is None or abl["scores"] is None:
        return _row("03, 05, 07", experiment, "; ".join(parts), QUALIFIED,
                    _prefix(notes, "the theory is heuristic; how many hacks are needed awaits the ablation."), False)
    a = abl["analysis"]
    readings = _clip_readings(abl)
    labels = {e: decide("an effect", r["boost"], +1) for e, r in readings.items()}
    parts.append(f"details' effect on clip, all on − all off, α = {ALPHA} per task, δ = {MARGIN_FRACTION} × (solved − "
                 "random): " + "; ".join(f"{e}: {_difference_text(r['boost'])}; {_tost_text(r['boost'])}"
                                         for e, r in readings.items()))
    parts.append("details whose removal alone hurts clip (Holm): " + "; ".join(_needed(a["details"], e) for e in a["verdict"]["tasks"]))
    groups = _by_label(labels)
    bits = []
    if groups.get(HOLDS) or groups.get(QUALIFIED):
        bits.append(f"the details measurably help clip on {_tasks(groups.get(HOLDS, []) + groups.get(QUALIFIED, []))}")
    if groups.get(NOT_HOLD):
        bits.append(f"they are shown to help it by less than δ on {_tasks(groups[NOT_HOLD])} (the one-sided upper bound "
                    "of all on − all off below δ)")
    if groups.get(UNDECIDED):
        bits.append(f"undecided on {_tasks(groups[UNDECIDED])}")
    verdict = HOLDS if labels and combine(labels) == HOLDS else QUALIFIED
    why = "the theory is heuristic" + ("" if verdict == HOLDS else ", but how many hacks are needed is not settled") \
        + ": " + "; ".join(bits) + "."
    return _row("03, 05, 07", experiment, "; ".join(parts), verdict, _prefix(notes, why),
                abl["complete"] and sweep["complete"])


def _interaction_against(c: stats.Comparison) -> str:
    """Why an interaction reading goes against "hacks, not objective" (:func:`decide` gave *does not hold*)."""
    if c.sign == 1:
        return (f"the interaction is positive ({_difference_text(c)}): without the details clip beats kl_dual by far "
                "more than with them, so the objective matters where the details are off")
    return ("the details are shown to raise clip's edge over kl_dual by less than δ (one-sided lower bound of the "
            f"interaction {_num(c.lower_bound, 1, True)} > −{_num(c.margin)})")


def _clip_readings(abl: dict[str, Any]) -> dict[str, dict[str, stats.Comparison]]:
    """Per ablation task with its clip and kl_dual corners: ``boost`` (clip all on − all off), ``cost`` (clip all
    off − all on) and ``interaction`` ((clip − kl_dual | all off) − (clip − kl_dual | all on)), each a Welch
    :class:`~ppo_lite.experiments.stats.Comparison` at the task's δ on the per-seed evaluation returns."""
    s, out = abl["scores"], {}
    for e in abl["analysis"]["verdict"]["tasks"]:
        keys = {(o, st): (e, o, st) for o in ("clip", "kl_dual") for st in (ablation.ALL_ON, ablation.ALL_OFF)}
        if not all(k in s for k in keys.values()):
            continue
        x = {k: s[v] for k, v in keys.items()}
        on, off = ablation.ALL_ON, ablation.ALL_OFF
        d = abl["margins"][e]
        out[e] = {"boost": stats.compare(x["clip", on], x["clip", off], d, ALPHA),
                  "cost": stats.compare(x["clip", off], x["clip", on], d, ALPHA),
                  "interaction": stats.compare_interaction(x["clip", off], x["kl_dual", off], x["clip", on],
                                                           x["kl_dual", on], d, ALPHA)}
    return out


def _hacks_not_objective(figures: Path) -> dict[str, Any]:
    """The claim's own test, per task: the interaction (clip − kl_dual | all off) − (clip − kl_dual | all on) (the
    details make clip's edge over PPO v1's kl_dual: negative; :func:`decide`, an effect of sign −1), and the details'
    effect on clip, all on − all off (an effect of sign +1), both at δ = :data:`MARGIN_FRACTION` of the task's range.
    A task holds if both hold and does not hold if either is shown against (:func:`_both`); :func:`combine` across."""
    cor = _corners(figures)
    if any(not r["at_ceiling"] for r in cor["readings"].values()):
        return _hacks_not_objective_corners(cor)
    abl = _ablation(figures)
    if abl["analysis"] is None:
        return _row("07", abl["experiment"], "none yet", UNTESTABLE, _prefix(abl["note"], f"rerun `{ablation.COMMAND}`."),
                    False)
    if abl["scores"] is None:
        return _row("07", abl["experiment"], "none yet", UNTESTABLE,
                    _prefix(abl["note"], "figures/ablation.json has no per-seed cells to test."), False)
    readings = _clip_readings(abl)
    if not readings:
        return _row("07", abl["experiment"], "none yet", UNDECIDED,
                    _prefix(abl["note"], "no task has all four clip and kl_dual corners yet."), False)
    labels, reasons = {}, {}
    for e, r in readings.items():
        li, lb = decide("an effect", r["interaction"], -1), decide("an effect", r["boost"], +1)
        labels[e] = _both(li, lb)
        why = []
        if li == NOT_HOLD:
            why.append(_interaction_against(r["interaction"]))
        if lb == NOT_HOLD:
            why.append("the details raise clip's return by less than δ (one-sided upper bound of all on − all off "
                       f"{_num(r['boost'].upper_bound, 1, True)} < {_num(r['boost'].margin)})")
        reasons[e] = "; ".join(why)
    statistic = (f"eval return per seed, α = {ALPHA} per task, δ = {MARGIN_FRACTION} × (solved − random): "
                 + ", ".join(f"{e} {_num(abl['margins'][e])}" for e in readings)
                 + ". Interaction (clip − kl_dual | all off) − (clip − kl_dual | all on), Welch–Satterthwaite over the "
                   "four arms: "
                 + "; ".join(f"{e}: {_difference_text(r['interaction'])}; {_tost_text(r['interaction'])}"
                             for e, r in readings.items())
                 + ". Details' effect on clip, all on − all off (Welch): "
                 + "; ".join(f"{e}: {_difference_text(r['boost'])}; {_tost_text(r['boost'])}" for e, r in readings.items()))
    groups = _by_label(labels)
    bits = [f"on {e} it does not hold: {reasons[e]}" for e in groups.get(NOT_HOLD, [])]
    if groups.get(HOLDS) or groups.get(QUALIFIED):
        bits.append(f"on {_tasks(groups.get(HOLDS, []) + groups.get(QUALIFIED, []))} the details make clip's edge "
                    "over kl_dual and raise its return")
    if groups.get(UNDECIDED):
        bits.append(f"undecided on {_tasks(groups[UNDECIDED])} (neither test rejects either way at δ)")
    return _row("07", abl["experiment"], statistic, combine(labels), _prefix(abl["note"], "; ".join(bits) + "."),
                abl["complete"])


def _near_text(g: dict[str, Any]) -> str:
    """``near 63%, worse 10%, undecided 27% of 30 cells`` (:func:`ppo_lite.experiments.sensitivity.near_best_by_tost`)."""
    nb = g["near_best"] or g["near_best_same_seeds"]
    return (f"within ±{_num(nb['margin'], 1)} of the best {100 * nb['near']:.0f}%, shown worse {100 * nb['far']:.0f}%, "
            f"undecided {100 * nb['undecided']:.0f}% of {len(g['cells'])} cells")


def _success_text(r: dict[str, Any]) -> str:
    """``clip succeeds on 26/30 seeds all on, 14/30 all off (Fisher p = …, Holm …)``."""
    sc = r["success"]
    holm = f", Holm {_pv(sc['p_holm'])}" if "p_holm" in sc else ""
    return (f"clip succeeds on {sc['clip_all_on']}/{sc['n']} seeds all on, {sc['clip_all_off']}/{sc['n']} all off "
            f"(Fisher p = {_pv(sc['p'])}{holm})")


def _success_differs(r: dict[str, Any]) -> int:
    """+1 / −1 where clip's success count is shown higher / lower with the details on (Holm-adjusted Fisher), else 0."""
    sc = r["success"]
    if sc.get("p_holm", 1.0) > ALPHA or sc["clip_all_on"] == sc["clip_all_off"]:
        return 0
    return 1 if sc["clip_all_on"] > sc["clip_all_off"] else -1


def _corner_statistic(cor: dict[str, Any], reading: str, what: str) -> str:
    """The declared endpoints of the corners study per task, for a row's statistic."""
    informative = {t: r for t, r in cor["readings"].items() if not r["at_ceiling"]}
    ceiling = [t for t, r in cor["readings"].items() if r["at_ceiling"]]
    text = (f"corners study, {corners.len_final_seeds()} fresh seeds per corner, each corner tuned on its own seeds; "
            f"20%-trimmed evaluation returns (Yuen), α = {ALPHA}, p-values Holm-adjusted over "
            f"{_tasks(list(informative))}, δ = {corners.MARGIN_FRACTION} × (solved − random). {what}: "
            + "; ".join(f"{t} (δ {_num(r['margin'])}): {_difference_text(r[reading])}; {_tost_text(r[reading])}; "
                        f"{_success_text(r)}" for t, r in informative.items()))
    if ceiling:
        text += f". At the ceiling (every arm's trimmed mean 500, no spread left), left out: {_tasks(ceiling)}"
    return text


def _hacks_not_objective_corners(cor: dict[str, Any]) -> dict[str, Any]:
    """:func:`_hacks_not_objective` on the corners study: per informative task the interaction (an effect of sign
    −1) and the details' effect on clip (sign +1), trimmed means, Holm over tasks; clip's success counts beside (a
    task where they show the details help while the trimmed means show less than δ holds with a qualification)."""
    labels, reasons = {}, {}
    for t, r in cor["readings"].items():
        if r["at_ceiling"]:
            continue
        li, lb = decide("an effect", r["interaction"], -1), decide("an effect", r["boost"], +1)
        why = []
        if li == NOT_HOLD:
            why.append(_interaction_against(r["interaction"]))
        if lb in (NOT_HOLD, QUALIFIED):
            how = ("raise clip's trimmed return, but by less than δ" if lb == QUALIFIED
                   else "change clip's trimmed return by less than δ")
            why.append(f"the details {how} ({_num(r['boost'].estimate, 1, True)}, one-sided upper bound "
                       f"{_num(r['boost'].upper_bound, 1, True)} < {_num(r['boost'].margin)})")
            if _success_differs(r) == 1:
                lb = QUALIFIED
                why.append(f"though they raise its success count: {_success_text(r)}")
        elif lb == UNDECIDED and _success_differs(r) == 1:  # the other primary endpoint decides the details' effect
            lb = HOLDS
            why.append(f"the details raise clip's success count ({_success_text(r)}) though not decidedly its trimmed return")
        labels[t] = _both(li, lb)
        reasons[t] = "; ".join(why)
    statistic = _corner_statistic(cor, "interaction", "Interaction (clip − kl_dual | all off) − (clip − kl_dual | all on)")
    statistic += ". Details' effect on clip, all on − all off: " + "; ".join(
        f"{t}: {_difference_text(r['boost'])}; {_tost_text(r['boost'])}" for t, r in cor["readings"].items()
        if not r["at_ceiling"])
    groups = _by_label(labels)
    bits = [f"on {t} it does not hold: {reasons[t]}" for t in groups.get(NOT_HOLD, [])]
    if groups.get(HOLDS) or groups.get(QUALIFIED):
        bits.append(f"on {_tasks(groups.get(HOLDS, []) + groups.get(QUALIFIED, []))} the details make clip's edge "
                    "over kl_dual and raise its return" + "".join(f" ({t}: {reasons[t]})" for t in groups.get(QUALIFIED, [])
                                                           if reasons[t]))
    for t in groups.get(UNDECIDED, []):
        r = cor["readings"][t]
        bits.append(f"undecided on {t}: the interaction is not decided either way at δ "
                    f"({_difference_text(r['interaction'])})" + (f"; {reasons[t]}" if reasons[t] else ""))
    return _row("07", cor["experiment"], statistic, combine(labels), _prefix(cor["note"], "; ".join(bits) + "."),
                cor["complete"])


def _easy_corners(cor: dict[str, Any], statistic: str) -> dict[str, Any]:
    """:func:`_easy` on the corners study: per informative task non-inferiority of clip all off against all on
    (trimmed means, Holm over tasks); where clip's success count (the other primary endpoint) is shown lower without
    the details, a task that passes non-inferiority is qualified and one that does not is against the claim."""
    labels, notes = {}, {}
    for t, r in cor["readings"].items():
        if r["at_ceiling"]:
            continue
        label = decide("not worse", r["cost"])
        if _success_differs(r) == 1:  # the other primary endpoint: clip succeeds less often without the details
            label, notes[t] = (QUALIFIED if label == HOLDS else NOT_HOLD), _success_text(r)
        labels[t] = label
    statistic += "; " + _corner_statistic(cor, "cost", "Clip all off − all on")
    verdict, why = _easy_verdict(labels, notes)
    return _row("06, 07", cor["experiment"], statistic, verdict, _prefix(cor["note"], why), cor["complete"])


def _hard_to_tune(figures: Path) -> dict[str, Any]:
    """The sensitivity sweep's own verdict (:func:`ppo_lite.experiments.sensitivity.verdict`: near-best shares by
    TOST at δ = 0.1 of the range, the best chosen on separate seeds; the SB3 #25 story by a difference at the same
    δ), with its metrics."""
    sens = _sensitivity(figures)
    if sens["data"] is None:
        return _row("09 §1", sens["experiment"], "none yet", UNTESTABLE,
                    _prefix(sens["note"], f"rerun `{sensitivity.COMMAND}`."), False)
    data, v = sens["data"], sens["data"]["verdict"]
    parts = []
    for env in v["per_task"]:
        for grid, name in (("ppo_lr_lambda", "PPO"), ("pg_lr_lambda", "PG")):
            g = data["results"][env].get(grid)
            if g is not None:
                nb = g["near_best"] or g["near_best_same_seeds"]
                how = (f"best chosen on seeds {nb['selection_seeds']}, compared on {nb['comparison_seeds']}"
                       if g["near_best"] else "best chosen and compared on the same seeds")
                parts.append(f"{env} {name} lr × λ: {_near_text(g)} ({how}); a random setting "
                             f"{_num(g['expected_max'][0], 2)} vs the best {_num(g['expected_max'][-1], 2)}")
    story = v.get("story")
    if story is not None:
        parts.append(f"Pendulum-v1, SB3's generic defaults − the tuned ones: {_num(story['difference'], 1, True)} "
                     f"{_ci(*story['ci'], 1, True)} (95%, Welch p = {_pv(story['p_difference'])}), δ = {_num(story['margin'])}")
    shapes = {e: r["ppo_shape"] for e, r in v["per_task"].items()}
    shape_text = {"peaked": "peaked (fewer than a quarter of its cells can be within δ of the best) on {}",
                  "flat": "flat (more than half of its cells shown within δ of the best) on {}",
                  "undecided": "of undecided shape on {}"}
    bits = ["around the tuned defaults PPO's lr × λ grid is " + ", and ".join(
        shape_text[shape].format(_tasks([e for e, s in shapes.items() if s == shape]))
        for shape in ("peaked", "flat", "undecided") if shape in shapes.values())]
    if story is not None and story["shown_worse_by_more_than_margin"]:
        bits.append("but the generic defaults are shown worse than the tuned ones by more than δ on Pendulum "
                    "(one-sided upper bound "
                    f"{_num(story['upper_bound'], 1, True)} < −{_num(story['margin'])}): finding the basin is the hard part")
    easier = [e for e, r in v["per_task"].items() if r.get("ppo_easier_than_pg")]
    if easier:
        bits.append(f"PPO is shown easier to tune than one-epoch policy gradient on {_tasks(easier)}")
    else:
        bits.append("whether PPO is easier to tune than one-epoch policy gradient is undecided (most of the baseline's "
                    "cells are undecided at 3 comparison seeds)")
    statistic = (f"normalized eval score, TOST at ±{_num(v['margin'], 1)} (α = {v['alpha']}) against the best cell; "
                 + "; ".join(parts)) if parts else "none yet"
    return _row("09 §1", sens["experiment"], statistic, v["status"], _prefix(sens["note"], "; ".join(bits) + "."),
                sens["complete"])


VARIANT_NAMES = {"none": "plain reward", "shaping": "energy shaping", "count_bonus": "count bonus"}


def _binomial_ci(k: int, n: int) -> tuple[float, float]:
    """Clopper-Pearson 95% interval of a proportion k/n (scipy's exact binomial interval)."""
    from scipy.stats import binomtest

    ci = binomtest(k, n).proportion_ci(0.95, method="exact")
    return float(ci.low), float(ci.high)


def _hard_exploration(figures: Path) -> dict[str, Any]:
    """MountainCar-v0 at a small budget with generic settings: the seeds that reach the flag at least once, per
    variant, with a Clopper-Pearson interval over seeds (a seed, not an episode, is the independent unit; issue 29
    point 6), and Fisher's exact test of shaping against the plain reward; DeepSea's cliff in N beside it. Holds if
    plain PPO reaches the flag on no seed (and DeepSea's plain PPO solves no seed at its largest N); does not hold if
    it reaches it on every seed. Qualified by budget where the benchmark shows the same library solving MountainCar at
    rl-baselines3-zoo's budget with the zoo's settings."""
    path = figures / "exploration.json"
    data = _load(path)
    experiment = _experiment(path, data, exploration.COMMAND)
    if data is None or not data["variants"].get("none"):
        return _row("09 §2", experiment, "none yet", UNTESTABLE,
                    "evidence missing: figures/exploration.json has no plain run.", False)
    parts, reached = [], {}
    for variant, runs in data["variants"].items():
        k, n = sum(r["goal_fraction"] > 0 for r in runs), len(runs)
        reached[variant] = (k, n)
        lo, hi = _binomial_ci(k, n)
        share = sum(r["goal_fraction"] for r in runs) / n
        parts.append(f"{VARIANT_NAMES.get(variant, variant)}: {k} of {n} seeds reach the flag ({_ci(100 * lo, 100 * hi, 0)}% "
                     f"of seeds; {_num(100 * share, 0)}% of episodes on average over seeds)")
    k0, n0 = reached["none"]
    verdict = HOLDS if k0 == 0 else NOT_HOLD if k0 == n0 else QUALIFIED
    why = {HOLDS: f"with generic settings and {data['steps']:,} env steps plain PPO reaches the flag on none of {n0} seeds",
           NOT_HOLD: "plain PPO reaches the flag on every seed",
           QUALIFIED: f"plain PPO reaches the flag on {k0} of {n0} seeds only"}[verdict]
    if "shaping" in reached:
        ks, ns = reached["shaping"]
        _, p = stats.success_counts_test(ks, ns, k0, n0, alternative="greater")
        parts.append(f"shaping vs plain, seeds reaching the flag: Fisher's exact one-sided p = {_pv(p)}")
        if p <= ALPHA:
            why += f"; potential-based shaping, which keeps the optimal policy, gets {ks} of {ns} seeds there (Fisher p = {_pv(p)})"
    bench_data = _load(figures / "benchmark.json")
    solved_at_budget = []
    if bench_data is not None:
        for r in bench_data.get("summary", []):
            if r["env_id"] == data["env_id"] and r["variant"] in ("ppo", "pg") and r["per_seed"] \
                    and all(v > -200 for v in r["per_seed"]):
                solved_at_budget.append(f"{'PPO' if r['variant'] == 'ppo' else 'one-epoch PG'} reaches the flag on "
                                        f"{len(r['per_seed'])} of {len(r['per_seed'])} seeds")
    if solved_at_budget and verdict == HOLDS:
        verdict = QUALIFIED
        why += (f"; at rl-baselines3-zoo's budget (1M env steps) and with its tuned settings "
                + " and ".join(solved_at_budget) + " (notebook 06's benchmark): hard at a small budget, not beyond PPO")
    statistic = (f"{data['env_id']}, {data['steps']:,} env steps, {n0} seeds: " + "; ".join(parts)
                 + " (Clopper-Pearson over seeds)")
    complete = True
    ds_path = figures / "deep_sea.json"
    ds = _load(ds_path)
    if ds is not None and ds.get("summary"):
        experiment += f"; {_experiment(ds_path, ds, deep_sea.COMMAND)}"
        largest = ds["largest_solved"]
        top = max(ds["sizes"])
        at_top = {r["variant"]: r for r in ds["summary"] if r["size"] == top}
        statistic += (f"; DeepSea, {ds['episodes']:,} episodes, {len(ds['seeds'])} seeds: largest N solved by at least "
                      f"half the seeds (every smaller N too): " + ", ".join(f"{deep_sea.DEEP_SEA_NAMES.get(v, v)} {n}" for v, n in largest.items())
                      + f"; at N = {top}: " + ", ".join(f"{deep_sea.DEEP_SEA_NAMES.get(v, v)} {r['solved']} of {r['seeds']}" for v, r in at_top.items()))
        complete = bool(ds.get("complete"))
        ppo_top, bonus_top = at_top.get("ppo"), at_top.get("count_bonus")
        if verdict in (HOLDS, QUALIFIED) and ppo_top is not None and ppo_top["solved"] == 0:
            why += (f"; on DeepSea plain PPO stops solving beyond N = {largest.get('ppo')} (random search finds the "
                    f"treasure with probability 2^-N), and a tuned count bonus only postpones it"
                    + (f" (to N = {largest.get('count_bonus')}; at N = {top} it solves {bonus_top['solved']} of "
                       f"{bonus_top['seeds']})" if bonus_top is not None else ""))
    return _row("09 §2", experiment, statistic, verdict, why + ".", complete)


def _ppo_v1(figures: Path) -> dict[str, Any]:
    """Derived and checked exactly on tabular MDPs in notebook 04 (no results file): holds."""
    return _row("04", "notebooks/04_ppo_v1_kl_dual.ipynb (exact tabular checks, asserted when it runs; no results file)",
                "derived and checked exactly on tabular MDPs in notebook 04: the optimum has KL = δ (|KL − δ| < 1e-9), "
                "strong duality g(η*) = E_p*[A] (< 1e-9), dual descent reaches the closed-form η* and p* "
                "(|η − η*| < 1e-4, |p − p*| < 1e-4 after 60 iterations)", HOLDS,
                "the constrained problem, its Lagrangian and dual descent on η are derived and checked exactly; adaptive β "
                "holds the KL in its band but is not η* (notebook 04).", True)


def _median(xs: list[float]) -> float:
    """The upper median, as the clip sweep's summary takes it."""
    return sorted(xs)[len(xs) // 2]


def _ppo_v2(figures: Path) -> dict[str, Any]:
    """The clip sweep at ε = 0.1 and 0.2, per task: how often the ratio leaves the band, on which side, and how far it
    strays against no clip. Holds if it stays inside, qualified if the clip measurably restrains it on every task,
    does not hold otherwise."""
    sweep = _clip_sweep(figures)
    parts, outside, restrains = [], [], []
    for e in sweep["envs"]:
        runs = sweep["by_env"][e]
        labels = [x for x in ("0.1", "0.2") if len(runs.get(x, [])) >= 2]
        if not labels or len(runs.get("none", [])) < 2:
            continue
        median = {k: [_median(r["updates"]["ratio_max_dev"]) for r in runs[k]] for k in (*labels, "none")}
        for x in labels:
            m, lo, hi = stats.t_interval([_outside_fraction(r) for r in runs[x]])
            _, dlo, dhi, _ = stats.welch_interval(median["none"], median[x])
            s = sweep["summary_by_env"][e].get(x, {})
            side = ""
            if s.get("mean_frac_clipped_side") is not None:
                side = (f"; outside it after an update: {100 * s['mean_frac_clipped_side']:.1f}% of the batch on the "
                        f"clipped side, {100 * s['mean_frac_free_side']:.1f}% on the other")
            parts.append(f"{e}, ε = {x}: ratio outside the band after {_percent_ci(m, lo, hi)} of updates{side}; median "
                         f"per-update max|r − 1| {_num(sum(median[x]) / len(median[x]), 2)} vs "
                         f"{_num(sum(median['none']) / len(median['none']), 2)} without clip (difference "
                         f"{_ci(dlo, dhi, 2, True)})")
            outside.append(m)
            restrains.append(dlo > 0)
    if not parts:
        return _row("05", sweep["experiment"], "none yet", UNTESTABLE,
                    _prefix(sweep["note"], "the sweep has no two seeds of ε = 0.1 or 0.2 and of no clip."), False)
    if max(outside) < 0.05:
        verdict, why = HOLDS, "the ratio stays inside [1 − ε, 1 + ε] after almost every update."
    elif all(restrains):
        verdict, why = QUALIFIED, ("the clip holds the ratio measurably closer to 1 than no clip, but the ratio leaves "
                                   f"the band after up to {_num(100 * max(outside), 0)}% of updates, mostly on the side "
                                   "where the clip zeroes the gradient: a brake, not a trust region's wall.")
    else:
        verdict, why = NOT_HOLD, "the ratio leaves the band and strays about as far as without the clip."
    return _row("05", sweep["experiment"], "; ".join(parts), verdict, _prefix(sweep["note"], why), sweep["complete"])


_ROWS = {
    "definition": _definition, "stability_efficiency": _stability_efficiency, "too_large_updates": _too_large_updates,
    "sota": _sota, "easy": _easy, "impressive": _impressive, "gpus": _gpus, "hacky_theory": _hacky_theory,
    "hacks_not_objective": _hacks_not_objective, "hard_to_tune": _hard_to_tune, "hard_exploration": _hard_exploration,
    "ppo_v1": _ppo_v1, "ppo_v2": _ppo_v2,
}


def verdict_table(figures: Path = FIGURES) -> list[dict[str, Any]]:
    """One row per statement of :data:`STATEMENTS` (in the seed note's order): ``id``, ``statement``, ``notebook``,
    ``experiment``, ``statistic``, ``verdict`` (one of :data:`VERDICTS`), ``why`` and ``evidence_complete``,
    computed from the results files under ``figures`` (module docstring; no row parses ``bench/results/*.md``)."""
    figures = Path(figures)
    if not figures.is_dir():
        raise ValueError(f"figures must be an existing folder of results, got {str(figures)!r}")
    return [{"id": key, "statement": STATEMENTS[key], **_ROWS[key](figures)} for key in STATEMENTS]


def _cell(text: Any) -> str:
    """Text for a Markdown table cell: a ``|`` would end the cell, so it is escaped."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def format_markdown(rows: list[dict[str, Any]]) -> str:
    """The table notebook 09 shows: statement | tested in | statistic | verdict (with why; partial evidence marked)."""
    lines = ["| statement (seed note) | tested in | statistic | verdict |", "|---|---|---|---|"]
    for r in rows:
        mark = "" if r["evidence_complete"] else " (evidence incomplete)"
        lines.append(f"| {_cell(r['statement'])} | {_cell(r['notebook'])} | {_cell(r['statistic'])} | "
                     f"**{r['verdict']}**{mark}: {_cell(r['why'])} |")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    """Print the verdict table of the committed results as Markdown (writes no results file, so nothing is drawn)."""
    parser = argparse.ArgumentParser(prog="python -m ppo_lite.experiments verdicts", 
                                     description="Print the seed note's statements with their verdicts (Markdown).")
    parser.add_argument("--figures", default=str(FIGURES), help="folder of the results files (figures/)")
    parser.add_argument("--sources", action="store_true", help="also list each row's results file and command")
    ns = parser.parse_args(argv)
    rows = verdict_table(Path(ns.figures))
    print(format_markdown(rows))
    if ns.sources:
        print()
        for r in rows:
            print(f"- {r['id']}: {r['experiment']}")
    return 0
