"""Figures of notebook 07 (hacks vs objective: clip, kl_dual and the bare surrogate at every detail set).

Each ``plot_*`` takes the data written by ``python -m ppo_lite.experiments ablation`` (``figures/ablation.json``)
and returns a matplotlib Figure; they only draw what :func:`ppo_lite.experiments.ablation.analyze` computed.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from ...config import SOLVED_THRESHOLDS
from ...experiments import FIGURES
from ...experiments.ablation import OBJECTIVES

COLORS = {"clip": "tab:blue", "kl_dual": "tab:orange", "surrogate": "tab:red"}
UNITS = {"CartPole-v1": "return (steps balanced)", "Acrobot-v1": "return (−steps to swing up)",
         "Pendulum-v1": "return (negative cost)"}
METRIC_LABELS = {"eval_return": "evaluation return (10 deterministic episodes)", "auc": "area under the learning curve"}


def load_results(path: Path | None = None) -> dict[str, Any]:
    """The committed ablation results (``figures/ablation.json`` by default)."""
    return json.loads(Path(path or FIGURES / "ablation.json").read_text())


def _envs(data: dict[str, Any]) -> list[str]:
    return [e for e in data["tasks"] if any(c["env_id"] == e for c in data["cells"])]


def plot_ablation(data: dict[str, Any], metric: str = "eval_return") -> Figure:
    """Per task: each detail set's seed mean of ``metric`` with its 95% t-interval, one marker per objective, the
    task's random-policy and solved levels dashed."""
    analysis = data["analysis"][metric]
    envs = _envs(data)
    fig, axes = plt.subplots(1, len(envs), figsize=(4.6 * len(envs), 3.9), squeeze=False)
    for ax, env in zip(axes[0], envs):
        settings = [s for s in data["settings"][env] if any(r["env_id"] == env and r["setting"] == s for r in analysis["summary"])]
        for k, o in enumerate(OBJECTIVES):
            rows = {r["setting"]: r for r in analysis["summary"] if r["env_id"] == env and r["objective"] == o}
            xs = [i + (k - 1) * 0.22 for i, s in enumerate(settings) if s in rows]
            ys = [rows[s]["mean"] for s in settings if s in rows]
            err = np.array([[rows[s]["mean"] - rows[s]["ci"][0], rows[s]["ci"][1] - rows[s]["mean"]] for s in settings if s in rows]).T
            if xs:
                ax.errorbar(xs, ys, yerr=err, fmt="o", ms=4, capsize=2, color=COLORS[o], label=o)
        if metric == "eval_return":
            ax.axhline(data["random_returns"][env], color="gray", ls=":", lw=1, label="random policy")
            ax.axhline(SOLVED_THRESHOLDS[env], color="green", ls="--", lw=1, label="solved")
        ax.set_xticks(range(len(settings)), settings, rotation=45, ha="right", fontsize=8)
        ax.set_ylabel(f"{METRIC_LABELS[metric]}\n{UNITS.get(env, 'return')}", fontsize=8)
        ax.set_title(f"{env}, {data['tasks'][env]:,} env steps", fontsize=9)
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7)
    fig.suptitle("Each corner at its own tuned learning rate; 10 seeds, mean and 95% t-interval", fontsize=9)
    fig.tight_layout()
    return fig


def plot_differences(data: dict[str, Any], family: str = "objective", metric: str = "eval_return") -> Figure:
    """A forest plot of one family of differences per task: each with its Welch 95% interval (thin) and the
    Bonferroni interval that holds for the whole family (thick); filled markers are Holm-significant calls."""
    rows = data["analysis"][metric][family]
    envs = [e for e in _envs(data) if any(r["env_id"] == e for r in rows)]
    height = max(3.0, 0.28 * max(sum(r["env_id"] == e for r in rows) for e in envs) + 1.2) if envs else 3.0
    fig, axes = plt.subplots(1, max(1, len(envs)), figsize=(4.8 * max(1, len(envs)), height), squeeze=False)
    for ax, env in zip(axes[0], envs):
        mine = [r for r in rows if r["env_id"] == env]
        for i, r in enumerate(mine):
            y = len(mine) - 1 - i
            color = COLORS["kl_dual"] if "kl_dual" in r["label"].split(":")[-1] else COLORS["surrogate"] if "surrogate" in r["label"].split(":")[-1] \
                else COLORS.get(r["label"].split(":")[0], "k")
            ax.plot(r["ci_adjusted"], [y, y], color=color, lw=3, alpha=0.35)
            ax.plot(r["ci"], [y, y], color=color, lw=1)
            ax.plot([r["diff"]], [y], "o", color=color, mfc=color if r["significant"] else "white", ms=5)
        ax.axvline(0, color="k", lw=0.8)
        ax.set_yticks(range(len(mine)), [r["label"] for r in reversed(mine)], fontsize=7)
        ax.set_xlabel(f"difference in {METRIC_LABELS[metric]}\n{UNITS.get(env, 'return')}", fontsize=8)
        ax.set_title(env, fontsize=9)
        ax.grid(alpha=0.3, axis="x")
    what = "objective: clip − kl_dual, clip − surrogate" if family == "objective" else "details: all on − fewer details"
    fig.suptitle(f"{what}; thin: Welch 95%, thick: family-wise (Bonferroni) interval, filled: Holm-significant", fontsize=9)
    fig.tight_layout()
    return fig


def plot_iqm(data: dict[str, Any], metric: str = "eval_return") -> Figure:
    """Across tasks: the IQM of normalized scores (0 random, 1 solved) per objective and shared detail set, with
    its stratified-bootstrap 95% interval."""
    rows = data["analysis"][metric]["iqm"]
    settings = list(dict.fromkeys(r["setting"] for r in rows))
    fig, ax = plt.subplots(figsize=(max(5.0, 1.1 * len(settings) + 2), 3.6))
    for k, o in enumerate(OBJECTIVES):
        mine = {r["setting"]: r for r in rows if r["objective"] == o}
        xs = [i + (k - 1) * 0.22 for i, s in enumerate(settings) if s in mine]
        ys = [mine[s]["iqm"] for s in settings if s in mine]
        err = np.array([[mine[s]["iqm"] - mine[s]["ci"][0], mine[s]["ci"][1] - mine[s]["iqm"]] for s in settings if s in mine]).T
        if xs:
            ax.errorbar(xs, ys, yerr=err, fmt="s", ms=5, capsize=3, color=COLORS[o], label=o)
    ax.axhline(1.0, color="green", ls="--", lw=1, label="solved")
    ax.axhline(0.0, color="gray", ls=":", lw=1, label="random policy")
    ax.set_xticks(range(len(settings)), settings, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("IQM of normalized score\n(0 random, 1 solved)", fontsize=8)
    tasks = ", ".join(rows[0]["tasks"]) if rows else ""
    ax.set_title(f"Interquartile mean over {tasks} (runs pooled), stratified bootstrap 95%", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_curves(data: dict[str, Any], env_id: str, settings: tuple[str, ...] = ("all on", "all off")) -> Figure:
    """Seed-mean learning curves (smoothed training return) of each objective under the given detail sets."""
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    styles = ["-", "--", ":", "-."]
    for o in OBJECTIVES:
        for s, ls in zip(settings, styles):
            cell = next((c for c in data["cells"] if (c["env_id"], c["objective"], c["setting"]) == (env_id, o, s)), None)
            if cell is None:
                continue
            runs = [r for r in cell["runs"] if not r["diverged"]]
            steps = runs[0]["curve_steps"]
            curves = np.array([[np.nan if v is None else v for v in r["curve"]] for r in runs], dtype=float)
            seen = (~np.isnan(curves)).sum(axis=0)  # seeds with a finished episode by then (none at the first updates)
            mean = np.where(seen > 0, np.nansum(curves, axis=0) / np.maximum(seen, 1), np.nan)
            ax.plot(steps, mean, ls=ls, color=COLORS[o], label=f"{o}, {s} (lr {cell['lr']:g})")
    ax.set_xlabel("environment steps")
    ax.set_ylabel(f"smoothed training return, seed mean\n{UNITS.get(env_id, 'return')}", fontsize=8)
    ax.set_title(f"{env_id}: learning curves", fontsize=9)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_corner_profiles(data: dict[str, Any], arms: dict[tuple[str, str, str], dict[str, Any]]) -> Figure:
    """Performance profiles of the corners study (Agarwal et al. 2021, rliable): per task, for each corner the
    share of its final seeds whose evaluation return is at least τ, against τ; the solved score dashed.
    ``data``: ``figures/corners.json``; ``arms``: :func:`ppo_lite.experiments.corners.final_arms` of it."""
    colors = {"clip": "tab:blue", "kl_dual": "tab:orange", "surrogate": "tab:red"}
    tasks = [t["label"] for t in data["design"]["tasks"] if any(k[0] == t["label"] for k in arms)]
    fig, axes = plt.subplots(1, max(1, len(tasks)), figsize=(3.8 * max(1, len(tasks)), 3.2), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        for (t, objective, setting), arm in arms.items():
            if t != task:
                continue
            xs = np.sort(np.asarray(arm["scores"], dtype=float))
            share = 1.0 - np.arange(xs.size) / xs.size  # P(score >= xs[i]) over the seeds
            ax.step(xs, share, where="post", color=colors.get(objective, "k"), ls="-" if setting == "all on" else "--",
                    lw=1.2, label=f"{objective}, {setting}")
        ax.axvline(data["declaration"]["margins"]["success_score"][task], color="green", ls=":", lw=0.8)
        ax.set_title(task, fontsize=9)
        ax.set_xlabel("evaluation return τ", fontsize=8)
        ax.set_ylabel("share of seeds with return ≥ τ", fontsize=8)
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=6)
    fig.suptitle("Corners study: performance profiles over the final seeds (solid: all details on; dashed: all off; "
                 "dotted: solved)", fontsize=9)
    fig.tight_layout()
    return fig


def save_key_figures(outdir: Path) -> list[Path]:
    """Write the notebook's figures, from the committed ``figures/ablation.json`` (and ``figures/corners.json``), as
    ``nb07_*.png`` in ``outdir``."""
    from . import save_figures

    data = load_results()
    figs = {"nb07_ablation_eval": plot_ablation(data, "eval_return"), "nb07_ablation_auc": plot_ablation(data, "auc"),
            "nb07_objective": plot_differences(data, "objective"), "nb07_details": plot_differences(data, "details"),
            "nb07_iqm": plot_iqm(data)}
    for env_id in _envs(data):
        figs[f"nb07_curves_{env_id.split('-')[0].lower()}"] = plot_curves(data, env_id)
    corners_file = FIGURES / "corners.json"
    if corners_file.exists():
        from ...experiments.corners import final_arms

        cor = json.loads(corners_file.read_text())
        figs["nb07_corner_profiles"] = plot_corner_profiles(cor, final_arms(cor["corners"]))
    return save_figures({f"{name}.png": fig for name, fig in figs.items()}, Path(outdir))
