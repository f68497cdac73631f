"""Figures of notebook 05 (PPO v2: the clipped objective, the ratio in practice, the clip-range sweep).

Each ``plot_*`` draws data it is given and returns a matplotlib Figure; :func:`save_key_figures` asks
:mod:`ppo_lite.course.clip_study` and :mod:`ppo_lite.experiments.clip_eps` for the notebook's small experiments (same
seeds and settings) and plots the committed sweep ``figures/clip_eps.json``, writing ``nb05_*.png``.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure

from .. import clip_study


def plot_clip_objective(curves: dict[str, torch.Tensor], eps: float) -> Figure:
    """The clipped objective and the surrogate against r, for A = +1 and A = −1, with the band and the flat parts
    (the data of :func:`ppo_lite.course.clip_study.clip_objective_curves` at this ``eps``)."""
    r = curves["r"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), sharey=True)
    for ax, name in zip(axes, ("+1", "-1")):
        clipped, flat = curves[f"clipped_{name}"], curves[f"flat_{name}"]
        ax.plot(r, curves[f"surrogate_{name}"], "--", color="gray", label=r"surrogate $rA$")
        ax.plot(r, clipped, lw=2.5, label=r"$\min(rA,\ \mathrm{clip}(r,1-\epsilon,1+\epsilon)A)$")
        ax.axvspan(1 - eps, 1 + eps, color="C2", alpha=0.12, label=rf"band $[1-\epsilon, 1+\epsilon]$, $\epsilon={eps}$")
        ax.plot(r[flat], clipped[flat], color="C3", lw=3, label="flat: zero gradient")
        ax.axhline(0, color="k", lw=0.5)
        ax.set_title(f"A = {name}")
        ax.set_xlabel(r"probability ratio $r=\pi_\theta/\pi_{old}$ (dimensionless)")
        ax.legend(fontsize=8, loc="upper left" if name == "+1" else "lower left")
    axes[0].set_ylabel("per-sample objective (advantage units)")
    fig.tight_layout()
    return fig


def plot_ratio_per_epoch(study: dict[str, dict[str, list[float]]], eps: float) -> Figure:
    """max |r − 1| and the fraction of samples outside the band at the start of each epoch, per objective."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
    for name, s in study.items():
        epochs = list(range(len(s["max_dev"])))
        axes[0].plot(epochs, s["max_dev"], marker="o", ms=3, label=name)
        axes[1].plot(epochs, s["frac_outside"], marker="o", ms=3, label=name)
    axes[0].axhline(eps, color="k", ls="--", lw=1, label=rf"$\epsilon={eps}$")
    axes[0].set_ylabel(r"max$_i |r_i - 1|$ over the batch (dimensionless)")
    axes[1].set_ylabel(r"fraction of samples with $|r-1|>\epsilon$")
    for ax in axes:
        ax.set_xlabel("epoch (ratio measured before its gradient step)")
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_live_run(updates: dict[str, list[float]], eps: float) -> Figure:
    """One training run: return, and how far the ratio strayed after each update, against env steps."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
    axes[0].plot(updates["env_steps"], updates["return"])
    axes[0].set_ylabel("return (mean of last 20 episodes)")
    axes[1].plot(updates["env_steps"], updates["ratio_max_dev"], label=r"max $|r-1|$ after the update")
    axes[1].plot(updates["env_steps"], updates["frac_outside"], label=r"fraction with $|r-1|>\epsilon$")
    axes[1].plot(updates["env_steps"], updates["clip_frac"], label="clip fraction (trainer, during the epochs)")
    axes[1].axhline(eps, color="k", ls="--", lw=1, label=rf"$\epsilon={eps}$")
    axes[1].set_ylabel("ratio excursion (dimensionless)")
    axes[1].legend(fontsize=8)
    for ax in axes:
        ax.set_xlabel("environment steps")
    fig.tight_layout()
    return fig


def plot_sweep_summary(results: dict[str, Any]) -> Figure:
    """The sweep per setting: final return of each seed, and how far the ratio strayed (median and max per run)."""
    labels = results["labels"]
    envs = sorted({r["env_id"] for r in results["runs"]})
    fig, axes = plt.subplots(len(envs), 3, figsize=(14, 3.6 * len(envs)), squeeze=False)
    for row, env_id in zip(axes, envs):
        for x, label in enumerate(labels):
            runs = [r for r in results["runs"] if r["env_id"] == env_id and r["label"] == label]
            scores = [r.get("eval_return", r["final_return"]) for r in runs]  # evaluation return where the sweep has it
            row[0].scatter([x] * len(runs), scores, color="C0", s=18)
            dev_max = [max(r["updates"]["ratio_max_dev"]) for r in runs]
            dev_med = [sorted(r["updates"]["ratio_max_dev"])[len(r["updates"]["ratio_max_dev"]) // 2] for r in runs]
            row[1].scatter([x] * len(runs), dev_med, color="C1", s=18, label="median over updates" if x == 0 else None)
            row[1].scatter([x] * len(runs), dev_max, color="C3", marker="x", s=24, label="max over updates" if x == 0 else None)
            eps = [r["updates"]["clip_eps"][0] for r in runs]
            if label != "none":
                row[1].hlines(eps[0], x - 0.3, x + 0.3, color="k", lw=1.5, label=r"$\epsilon$ (start)" if x == 0 else None)
            def mean_of(r: dict[str, Any], key: str) -> float:
                return sum(r["updates"][key]) / len(r["updates"][key])

            if "frac_outside_clipped_side" in runs[0]["updates"]:  # split by the side of the band
                row[2].scatter([x - 0.12] * len(runs), [mean_of(r, "frac_outside_clipped_side") for r in runs], color="C3", s=14,
                               label="clipped side" if x == 0 else None)
                row[2].scatter([x + 0.12] * len(runs), [mean_of(r, "frac_outside_free_side") for r in runs], color="C2", s=14,
                               label="other side" if x == 0 else None)
            else:
                row[2].scatter([x] * len(runs), [mean_of(r, "frac_outside") for r in runs], color="C2", s=18)
        for ax in row:
            ax.set_xticks(range(len(labels)), labels)
            ax.set_xlabel(r"setting (clip $\epsilon$, no clip, annealed)")
        row[0].set_ylabel(f"{env_id}: evaluation return\n(10 deterministic episodes)")
        row[1].set_ylabel(r"per-update max $|r-1|$ after the update")
        row[1].set_yscale("log")
        row[1].legend(fontsize=8)
        row[2].set_ylabel(r"mean fraction with $|r-1|>\epsilon$" + "\n(none: ε = 0.2)")
        if row[2].get_legend_handles_labels()[0]:
            row[2].legend(fontsize=8)
    fig.tight_layout()
    return fig


def save_key_figures(outdir: Path) -> list[Path]:
    """Write ``nb05_clip_objective.png``, ``nb05_ratio_per_epoch.png`` and, from the committed sweep,
    ``nb05_clip_sweep.png`` into ``outdir``."""
    from ...experiments.clip_eps import ratio_per_epoch

    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    paths = []
    fig = plot_clip_objective(clip_study.clip_objective_curves(0.2), 0.2)
    paths.append(outdir / "nb05_clip_objective.png")
    fig.savefig(paths[-1], dpi=110, bbox_inches="tight")
    plt.close(fig)
    study = ratio_per_epoch(**clip_study.EPOCH_STUDY)
    fig = plot_ratio_per_epoch(study, clip_study.EPOCH_STUDY["clip_eps"])
    paths.append(outdir / "nb05_ratio_per_epoch.png")
    fig.savefig(paths[-1], dpi=110, bbox_inches="tight")
    plt.close(fig)
    sweep = outdir / "clip_eps.json"
    if sweep.exists():
        fig = plot_sweep_summary(json.loads(sweep.read_text()))
        paths.append(outdir / "nb05_clip_sweep.png")
        fig.savefig(paths[-1], dpi=110, bbox_inches="tight")
        plt.close(fig)
    return paths
