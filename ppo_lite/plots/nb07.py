"""Figures of notebook 07 (hacks vs objective: the leave-one-out ablation crossed with the objective).

Each ``plot_*`` takes the data written by ``python -m ppo_lite.experiments ablation`` (``figures/ablation.json``)
and returns a matplotlib Figure; :func:`save_key_figures` reads the committed JSON and writes the PNGs.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from ..experiments import FIGURES
from . import save_figures
from ..experiments.ablation import OBJECTIVES

COLORS = {"clip": "tab:blue", "kl_dual": "tab:orange", "surrogate": "tab:red"}
UNITS = {"CartPole-v1": "return (steps balanced)", "Pendulum-v1": "return (negative cost)"}


def load_results(path: Path | None = None) -> dict[str, Any]:
    """The committed ablation results (``figures/ablation.json`` by default)."""
    return json.loads(Path(path or FIGURES / "ablation.json").read_text())


def plot_ablation(data: dict[str, Any], metric: str = "final_return") -> Figure:
    """Per task: each setting's mean ``metric`` with its 95% t-interval, one marker per objective."""
    envs = data["envs"]
    settings = data["settings"]
    objectives = [o for o in OBJECTIVES if o in data["objectives"]]
    fig, axes = plt.subplots(1, len(envs), figsize=(6.2 * len(envs), 0.38 * len(settings) + 1.6), squeeze=False)
    for ax, env_id in zip(axes[0], envs):
        rows = {(r["objective"], r["setting"]): r for r in data["summary"] if r["env_id"] == env_id}
        for j, o in enumerate(objectives):
            offset = (j - (len(objectives) - 1) / 2) * 0.22
            for i, s in enumerate(settings):
                r = rows.get((o, s))
                if r is None:
                    continue
                lo, hi = r[f"{metric}_ci"]
                ax.errorbar(r[metric], i + offset, xerr=[[r[metric] - lo], [hi - r[metric]]], fmt="o", ms=4,
                            color=COLORS.get(o), capsize=2, label=o if i == 0 else None)
        on = [rows[(o, settings[0])][metric] for o in objectives if (o, settings[0]) in rows]
        for o, v in zip(objectives, on):
            ax.axvline(v, color=COLORS.get(o), lw=0.8, ls=":", alpha=0.7)
        ax.set_yticks(range(len(settings)))
        ax.set_yticklabels(settings)
        ax.invert_yaxis()
        what = "final return (mean of last 20 episodes)" if metric == "final_return" else "area under the learning curve (mean smoothed return)"
        ax.set_xlabel(f"{what}\n{UNITS.get(env_id, 'return')}")
        ax.set_title(f"{env_id}, {data['steps'][env_id]:,} env steps, {data['seeds']} seeds, 95% t-intervals", fontsize=9)
        ax.grid(axis="x", alpha=0.3)
        ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    return fig


def plot_effects(data: dict[str, Any], metric: str = "final_return") -> Figure:
    """The claim in one picture: per task, what all the details buy (all on − all off) next to what the
    objective buys (clip or KL − surrogate), each with its bootstrap 95% interval."""
    envs = data["envs"]
    effects = [e for e in data["effects"][metric] if e["kind"] in ("details", "objective")]
    fig, axes = plt.subplots(1, len(envs), figsize=(6.2 * len(envs), 3.6), squeeze=False)
    for ax, env_id in zip(axes[0], envs):
        rows = [e for e in effects if e["env_id"] == env_id]
        for i, e in enumerate(rows):
            color = "tab:green" if e["kind"] == "details" else "tab:purple"
            lo, hi = e["ci"]
            ax.errorbar(e["diff"], i, xerr=[[e["diff"] - lo], [hi - e["diff"]]], fmt="s", color=color, capsize=3)
        ax.axvline(0, color="k", lw=0.8)
        ax.set_yticks(range(len(rows)))
        ax.set_yticklabels([e["label"] for e in rows], fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel(f"difference in {'final return' if metric == 'final_return' else 'AUC'} ({UNITS.get(env_id, 'return')})")
        ax.set_title(f"{env_id}: green = details, purple = objective (bootstrap 95% CI)", fontsize=9)
        ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig


def plot_curves(data: dict[str, Any], env_id: str, settings: tuple[str, ...] = ("all on", "all off")) -> Figure:
    """Seed-mean learning curves of each objective under the given settings."""
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    styles = ["-", "--", ":", "-."]
    for o in [o for o in OBJECTIVES if o in data["objectives"]]:
        for s, ls in zip(settings, styles):
            runs = [r for r in data["runs"] if (r["env_id"], r["objective"], r["setting"]) == (env_id, o, s)]
            if not runs:
                continue
            steps = runs[0]["env_steps"]
            curves = [[v if v is not None else float("nan") for v in r["curve"]] for r in runs]
            mean = [sum(c[i] for c in curves) / len(curves) for i in range(len(steps))]
            ax.plot(steps, mean, ls=ls, color=COLORS.get(o), label=f"{o}, {s}")
    ax.set_xlabel("environment steps")
    ax.set_ylabel(f"smoothed return, mean of seeds\n{UNITS.get(env_id, 'return')}")
    ax.set_title(f"{env_id}: learning curves", fontsize=9)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def save_key_figures(outdir: Path) -> list[Path]:
    """Write the notebook's figures, from the committed ``figures/ablation.json``, as ``nb07_*.png`` in ``outdir``."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    data = load_results()
    figs = {"nb07_ablation_final_return": plot_ablation(data, "final_return"),
            "nb07_ablation_auc": plot_ablation(data, "auc"),
            "nb07_effects": plot_effects(data, "final_return")}
    for env_id in data["envs"]:
        figs[f"nb07_curves_{env_id.split('-')[0].lower()}"] = plot_curves(data, env_id)
    return save_figures({f"{name}.png": fig for name, fig in figs.items()}, outdir)
