r"""Hacks vs objective (notebook 07): ``python -m ppo_lite.experiments ablation``.

The seed note's claim: *"performance boost comes from hacks, not from objective"*. Engstrom et al. (2020),
"Implementation Matters in Deep Policy Gradients", tested it on MuJoCo: PPO without its code-level optimizations
(PPO-M) loses its edge over TRPO. This sweep asks the same question of ``ppo_lite`` on a discrete and a continuous
task, crossing the implementation details with the objective:

- details (:data:`DETAILS`): advantage normalization, value clipping, observation normalization, reward scaling,
  orthogonal init, learning-rate annealing, gradient clipping, entropy bonus, several minibatches, several epochs;
  each has an "on" and an "off" value per task (:func:`detail_values`);
- settings (:func:`settings`): ``all on``, ``no <detail>`` for each detail (leave one out), and ``all off``
  (PPO-M-like: every code-level detail off, but the minibatch epochs that make PPO an optimizer of a surrogate kept);
- objectives (:data:`OBJECTIVES`): ``clip`` (PPO v2), ``kl_dual`` (PPO v1, dual descent on η), ``surrogate``
  (the importance-weighted objective with no trust region at all).

Each (task, objective, setting) trains ``--seeds`` seeds as one batched computation
(:func:`ppo_lite.batched.train_batched`, which supports every switch varied here); a batch in which one agent
diverges is retrained seed by seed with :class:`ppo_lite.trainer.Trainer` so the others still count. Per run it
records the final return (mean of the last 20 episodes) and the area under the learning curve (the mean over updates
of the smoothed return, in return units). :func:`summarize` gives each group's mean with a 95% Student-t interval;
:func:`effects` the bootstrap 95% intervals of the differences the claim is about. Writes ``figures/ablation.json``
(with provenance), from which ``python -m ppo_lite.experiments ablation`` then draws ``figures/ablation.png``.
"""
from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import torch

from ..config import PPOConfig
from ..history import History
from . import write_results

DETAILS = (
    "norm_adv", "clip_value", "norm_obs", "scale_reward", "ortho_init",
    "anneal_lr", "grad_clip", "ent_bonus", "minibatches", "epochs",
)
"""The implementation details ablated, in the order the results are reported."""
DETAIL_LABELS = {
    "norm_adv": "advantage normalization", "clip_value": "value clipping", "norm_obs": "observation normalization",
    "scale_reward": "reward scaling", "ortho_init": "orthogonal init", "anneal_lr": "lr annealing",
    "grad_clip": "gradient clipping", "ent_bonus": "entropy bonus", "minibatches": "several minibatches",
    "epochs": "several epochs",
}
STRUCTURAL = ("minibatches", "epochs")
"""Details that ``all off`` keeps on: without several gradient steps per batch every objective is the same
policy gradient (the ratio is 1 at the only step), so there would be nothing left to compare."""
OBJECTIVES = ("clip", "kl_dual", "surrogate")
ALL_ON, ALL_OFF = "all on", "all off"

# Per-task base settings: reduced budgets so the whole sweep fits on a loaded 2-core CPU (see the notebook).
TASKS: dict[str, dict[str, Any]] = {
    "CartPole-v1": dict(total_steps=16_384, update_epochs=10, num_minibatches=2),
    "Pendulum-v1": dict(total_steps=24_576, update_epochs=10, num_minibatches=4),
}
ENT_COEF_ON = 0.01
"""Entropy bonus when on (CleanRL's discrete default); off is 0."""
COMMAND = "python -m ppo_lite.experiments ablation"


def detail_values(env_id: str) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """For each detail, the ``(on, off)`` PPOConfig overrides on ``env_id``.

    Structural details: *on* is the task's base (:data:`TASKS`: several epochs, several minibatches); *off* is one
    epoch, or one minibatch (the whole rollout per step).
    """
    base = TASKS.get(env_id)
    if base is None:
        raise ValueError(f"ablation has no task settings for env_id={env_id!r}; use one of {tuple(TASKS)}")
    return {
        "norm_adv": ({"norm_adv": True}, {"norm_adv": False}),
        "clip_value": ({"clip_value": True}, {"clip_value": False}),
        "norm_obs": ({"norm_obs": True}, {"norm_obs": False}),
        "scale_reward": ({"scale_reward": True}, {"scale_reward": False}),
        "ortho_init": ({"ortho_init": True}, {"ortho_init": False}),
        "anneal_lr": ({"anneal_lr": True}, {"anneal_lr": False}),
        "grad_clip": ({"max_grad_norm": 0.5}, {"max_grad_norm": None}),
        "ent_bonus": ({"ent_coef": ENT_COEF_ON}, {"ent_coef": 0.0}),
        "minibatches": ({"num_minibatches": base["num_minibatches"]}, {"num_minibatches": 1}),
        "epochs": ({"update_epochs": base["update_epochs"]}, {"update_epochs": 1}),
    }


def settings(details: Sequence[str] = DETAILS) -> list[str]:
    """``["all on", "no <d>" for each detail d, "all off"]``: the leave-one-out design plus PPO-M."""
    for d in details:
        if d not in DETAILS:
            raise ValueError(f"unknown detail {d!r}; use some of {DETAILS}")
    return [ALL_ON] + [f"no {d}" for d in details] + [ALL_OFF]


def details_off(setting: str) -> set[str]:
    """Which details are off in ``setting``."""
    if setting == ALL_ON:
        return set()
    if setting == ALL_OFF:
        return set(DETAILS) - set(STRUCTURAL)
    if setting.startswith("no ") and setting[3:] in DETAILS:
        return {setting[3:]}
    raise ValueError(f"unknown setting {setting!r}; use {ALL_ON!r}, {ALL_OFF!r} or 'no <detail>' with detail in {DETAILS}")


def config_for(env_id: str, objective: str, setting: str, seed: int = 0, total_steps: int | None = None,
               **overrides: Any) -> PPOConfig:
    """The PPOConfig of one cell of the sweep: the task's defaults, every detail on except those ``setting`` turns off."""
    if objective not in OBJECTIVES:
        raise ValueError(f"unknown objective {objective!r}; the ablation uses {OBJECTIVES}")
    off = details_off(setting)
    per_detail = detail_values(env_id)  # refuses an env without task settings
    values = dict(TASKS[env_id])
    for name, (on_values, off_values) in per_detail.items():
        values.update(off_values if name in off else on_values)
    if total_steps is not None:
        values["total_steps"] = total_steps
    values.update(overrides)
    return PPOConfig.for_env(env_id, objective=objective, seed=seed, **values).validate()


# -- statistics ---------------------------------------------------------------------------------------------
T_975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
         2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086)
r"""Two-sided 95% Student-t quantiles :math:`t_{0.975,\,\nu}` for ν = 1..20 degrees of freedom."""


def t_interval(x: Sequence[float]) -> tuple[float, float, float]:
    r"""Mean and 95% Student-t interval :math:`\bar x \pm t_{0.975,n-1}\, s/\sqrt n` (``s`` the sample std)."""
    xs = [float(v) for v in x]
    n = len(xs)
    if n < 2:
        raise ValueError(f"t_interval needs at least 2 values, got {n}")
    if n - 1 > len(T_975):
        raise ValueError(f"t_interval tabulates up to {len(T_975) + 1} values, got {n}")
    mean = sum(xs) / n
    s = math.sqrt(sum((v - mean) ** 2 for v in xs) / (n - 1))
    half = T_975[n - 2] * s / math.sqrt(n)
    return mean, mean - half, mean + half


def bootstrap_ci(x: Sequence[float], level: float = 0.95, n_boot: int = 10_000, seed: int = 0) -> tuple[float, float, float]:
    r"""Mean and percentile-bootstrap interval: resample ``x`` with replacement ``n_boot`` times, take the
    :math:`(1-\text{level})/2` and :math:`(1+\text{level})/2` quantiles of the resampled means.

    With few values (5 seeds) the percentile bootstrap is too narrow by about :math:`\sqrt{(n-1)/n}\cdot t/z`;
    :func:`t_interval` is the safer single-group interval, and this the one for differences (:func:`bootstrap_diff_ci`).
    """
    return bootstrap_diff_ci(x, None, level, n_boot, seed)


def bootstrap_diff_ci(a: Sequence[float], b: Sequence[float] | None, level: float = 0.95, n_boot: int = 10_000,
                      seed: int = 0) -> tuple[float, float, float]:
    r"""Mean of ``a`` minus mean of ``b`` (``b=None``: just ``a``), with a percentile-bootstrap interval that resamples
    each group independently (the groups are different runs)."""
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    gen = torch.Generator().manual_seed(seed)

    def means(x: Sequence[float]) -> torch.Tensor:
        t = torch.as_tensor([float(v) for v in x], dtype=torch.float64)
        if t.numel() < 2:
            raise ValueError(f"bootstrap needs at least 2 values per group, got {t.numel()}")
        idx = torch.randint(0, t.numel(), (n_boot, t.numel()), generator=gen)
        return t[idx].mean(1)

    point = sum(map(float, a)) / len(a) - (0.0 if b is None else sum(map(float, b)) / len(b))
    diffs = means(a) - (0.0 if b is None else means(b))
    lo, hi = torch.quantile(diffs, torch.tensor([(1 - level) / 2, (1 + level) / 2], dtype=torch.float64)).tolist()
    return point, lo, hi


# -- one cell ----------------------------------------------------------------------------------------------
def area_under_curve(curve: Sequence[float]) -> float:
    """Mean of the smoothed-return curve over the updates that have one (return units; higher learned sooner)."""
    xs = [v for v in curve if v == v]
    return sum(xs) / len(xs) if xs else float("nan")


def _record(env_id: str, objective: str, setting: str, seed: int, history: History, diverged: bool, seconds: float) -> dict[str, Any]:
    curve = history.smoothed_returns()

    def r(v: float) -> float | None:
        return None if v != v else round(v, 3)

    return {
        "env_id": env_id, "objective": objective, "setting": setting, "seed": seed,
        "final_return": r(history.mean_return(20)), "auc": r(area_under_curve(curve)),
        "max_approx_kl": r(max(history["approx_kl"])) if len(history) else None,
        "diverged": diverged, "seconds": round(seconds, 2),
        "env_steps": [int(s) for s in history["env_steps"]], "curve": [r(v) for v in curve],
    }


def run_cell(env_id: str, objective: str, setting: str, seeds: Sequence[int], total_steps: int | None = None,
             batched: bool = True) -> list[dict[str, Any]]:
    """Train one (task, objective, setting) for every seed; one record per seed.

    ``batched``: all seeds as one :func:`~ppo_lite.batched.train_batched` computation (each agent is the
    single-agent trainer with its seed; the envs draw from one shared stream). If that stops on a NaN, or
    ``batched=False``, the seeds train one by one and a seed that diverges keeps its episodes up to the NaN,
    flagged ``diverged``.
    """
    cfgs = [config_for(env_id, objective, setting, seed=s, total_steps=total_steps, device="cpu") for s in seeds]
    if batched and len(seeds) > 1:
        from ..batched import BatchedConfig, train_batched

        t0 = time.perf_counter()
        try:
            histories = train_batched(BatchedConfig(base=cfgs[0], seeds=list(seeds)), progress=False)
        except FloatingPointError:
            pass
        else:
            seconds = (time.perf_counter() - t0) / len(seeds)
            return [_record(env_id, objective, setting, s, h, False, seconds) for s, h in zip(seeds, histories)]
    from ..trainer import Trainer

    out = []
    for s, cfg in zip(seeds, cfgs):
        t0 = time.perf_counter()
        trainer = Trainer(cfg)
        diverged = False
        try:
            trainer.run(progress=False)
        except FloatingPointError:
            diverged = True
        finally:
            trainer.env.close()
        out.append(_record(env_id, objective, setting, s, trainer.history, diverged, time.perf_counter() - t0))
    return out


# -- the sweep and its summaries ---------------------------------------------------------------------------
def sweep(envs: Sequence[str], objectives: Sequence[str], setting_names: Sequence[str], seeds: Sequence[int],
          steps: dict[str, int], batched: bool = True, progress: bool = True, done: list[dict[str, Any]] | None = None,
          on_cell: Callable[[list[dict[str, Any]]], None] | None = None) -> list[dict[str, Any]]:
    """Every (env, objective, setting) cell; cells already in ``done`` (a resumed log) are skipped.

    Order: ``all on`` and ``all off`` of every task and objective first (the comparison the claim turns on), then
    the leave-one-out cells, so that a sweep cut short still answers the main question.
    """
    from tqdm.auto import tqdm

    runs = list(done or [])
    have = {(r["env_id"], r["objective"], r["setting"]) for r in runs}
    first = [s for s in setting_names if s in (ALL_ON, ALL_OFF)]
    rest = [s for s in setting_names if s not in first]
    jobs = [(e, o, s) for e in envs for s in first for o in objectives] + [(e, o, s) for s in rest for e in envs for o in objectives]
    for env_id, objective, setting in tqdm(jobs, desc="ablation", unit="cell", disable=not progress):
        if (env_id, objective, setting) in have:
            continue
        cell = run_cell(env_id, objective, setting, seeds, steps.get(env_id), batched)
        if on_cell is not None:
            on_cell(cell)
        runs += cell
    return runs


def group(runs: Sequence[dict[str, Any]], env_id: str, objective: str, setting: str, metric: str = "final_return") -> list[float]:
    """The per-seed values of ``metric`` of one cell (a run that completed no episode has none and is left out)."""
    return [r[metric] for r in runs
            if (r["env_id"], r["objective"], r["setting"]) == (env_id, objective, setting) and r[metric] is not None]


def summarize(runs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per cell: mean and 95% t-interval of final return and of AUC, seeds, diverged runs."""
    rows = []
    seen = []
    for r in runs:
        key = (r["env_id"], r["objective"], r["setting"])
        if key not in seen:
            seen.append(key)
    for env_id, objective, setting in seen:
        row: dict[str, Any] = {"env_id": env_id, "objective": objective, "setting": setting}
        for metric in ("final_return", "auc"):
            m, lo, hi = t_interval(group(runs, env_id, objective, setting, metric))
            row[metric] = round(m, 1)
            row[f"{metric}_ci"] = [round(lo, 1), round(hi, 1)]
        cell = [r for r in runs if (r["env_id"], r["objective"], r["setting"]) == (env_id, objective, setting)]
        row["seeds"] = len(cell)
        row["diverged"] = sum(r["diverged"] for r in cell)
        rows.append(row)
    return rows


def effects(runs: Sequence[dict[str, Any]], metric: str = "final_return") -> list[dict[str, Any]]:
    r"""The differences the claim is about, each with a bootstrap 95% interval (per task):

    - ``details`` (per objective): all on − all off, what the code-level details buy that objective;
    - ``objective`` (per detail level): clip − surrogate and kl_dual − surrogate, what the trust region buys with
      all details on, and with all off;
    - ``leave-one-out`` (per objective, per detail): all on − no <detail>, what that one detail buys.
    """
    out = []
    envs = sorted({r["env_id"] for r in runs}, key=lambda e: list(TASKS).index(e) if e in TASKS else 99)
    objectives = [o for o in OBJECTIVES if any(r["objective"] == o for r in runs)]

    def add(kind: str, env_id: str, label: str, a: list[float], b: list[float]) -> None:
        if len(a) >= 2 and len(b) >= 2:
            d, lo, hi = bootstrap_diff_ci(a, b)
            out.append({"kind": kind, "env_id": env_id, "label": label, "diff": round(d, 1), "ci": [round(lo, 1), round(hi, 1)]})

    for env_id in envs:
        for o in objectives:
            add("details", env_id, f"{o}: all on − all off", group(runs, env_id, o, ALL_ON, metric), group(runs, env_id, o, ALL_OFF, metric))
        for level in (ALL_ON, ALL_OFF):
            for o in objectives:
                if o != "surrogate":
                    add("objective", env_id, f"{level}: {o} − surrogate", group(runs, env_id, o, level, metric),
                        group(runs, env_id, "surrogate", level, metric))
        for o in objectives:
            for d in DETAILS:
                add("leave-one-out", env_id, f"{o}: all on − no {d}", group(runs, env_id, o, ALL_ON, metric),
                    group(runs, env_id, o, f"no {d}", metric))
    return out


def format_table(rows: Sequence[dict[str, Any]]) -> str:
    """Markdown table of :func:`summarize`'s rows: final return and AUC with their 95% t-intervals."""
    lines = ["| env | objective | setting | final return [95% CI] | AUC [95% CI] | diverged |", "|---|---|---|---|---|---|"]
    for r in rows:
        f, a = r["final_return_ci"], r["auc_ci"]
        lines.append(f"| {r['env_id']} | {r['objective']} | {r['setting']} | {r['final_return']:.1f} [{f[0]:.1f}, {f[1]:.1f}] | "
                     f"{r['auc']:.1f} [{a[0]:.1f}, {a[1]:.1f}] | {r['diverged']}/{r['seeds']} |")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.splitlines()[0])
    parser.add_argument("--envs", nargs="+", default=list(TASKS), help=f"among {tuple(TASKS)}")
    parser.add_argument("--objectives", nargs="+", default=list(OBJECTIVES), help=f"among {OBJECTIVES}")
    parser.add_argument("--details", nargs="+", default=list(DETAILS), help=f"leave-one-out details, among {DETAILS}")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=None, help="env steps per run (default: per task, TASKS)")
    parser.add_argument("--sequential", action="store_true", help="train seeds one by one instead of batched")
    parser.add_argument("--log", default=None, help="append each finished cell to this JSON-lines file; resume from it")
    parser.add_argument("--name", default="ablation", help="output name under figures/")
    parser.add_argument("--outdir", default=None, help="write here instead of figures/ (tests)")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--only-log", action="store_true", help="train nothing: summarize the cells in --log")
    ns = parser.parse_args(argv)
    # Refuse bad input before any training.
    for e in ns.envs:
        detail_values(e)
    for o in ns.objectives:
        if o not in OBJECTIVES:
            raise SystemExit(f"unknown objective {o!r}; use some of {OBJECTIVES}")
    names = settings(ns.details)
    if ns.seeds < 2:
        raise SystemExit(f"--seeds must be >= 2 (confidence intervals need two values), got {ns.seeds}")
    torch.set_num_threads(1)
    steps = {e: ns.steps or TASKS[e]["total_steps"] for e in ns.envs}
    done: list[dict[str, Any]] = []
    log = Path(ns.log) if ns.log else None
    if log is not None and log.exists():
        done = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]

    def on_cell(cell: list[dict[str, Any]]) -> None:
        c = cell[0]
        vals = ", ".join(f"{r['final_return']:.0f}" if r["final_return"] is not None else "nan" for r in cell)
        print(f"{c['env_id']} {c['objective']} {c['setting']}: final {vals} ({sum(r['seconds'] for r in cell):.0f} s)", flush=True)
        if log is not None:
            with log.open("a") as fh:
                for r in cell:
                    fh.write(json.dumps(r) + "\n")

    t0 = time.perf_counter()
    if ns.only_log:
        runs = done
    else:
        runs = sweep(ns.envs, ns.objectives, names, list(range(ns.seeds)), steps, batched=not ns.sequential,
                     progress=not ns.no_progress, done=done, on_cell=on_cell)
    seconds = time.perf_counter() - t0 + sum(r["seconds"] for r in done)
    rows = summarize(runs)
    # A resumed log may hold cells of other envs/objectives than this invocation's: report what the data hold.
    envs = [e for e in TASKS if any(r["env_id"] == e for r in runs)]
    objectives = [o for o in OBJECTIVES if any(r["objective"] == o for r in runs)]
    names = [s for s in settings(DETAILS) if any(r["setting"] == s for r in runs)]
    steps = {e: max(r["env_steps"][-1] for r in runs if r["env_id"] == e) for e in envs}
    data = {
        "envs": envs, "objectives": objectives, "settings": names, "seeds": ns.seeds, "steps": steps,
        "tasks": {e: {k: v for k, v in config_for(e, "clip", ALL_ON).to_dict().items() if k != "extra"} for e in envs},
        "details": {e: {d: [on, off] for d, (on, off) in detail_values(e).items()} for e in envs},
        "batched": not ns.sequential, "summary": rows,
        "effects": {"final_return": effects(runs, "final_return"), "auc": effects(runs, "auc")}, "runs": runs,
    }
    command = f"{COMMAND} {' '.join(argv)}".strip()
    path = write_results(ns.name, data, seconds, command, outdir=ns.outdir)
    print(format_table(rows))
    print(f"wrote {path} in {seconds:.0f} s")
    return 0
