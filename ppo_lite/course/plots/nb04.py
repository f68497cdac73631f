"""Figures of notebook 04 (PPO v1: the KL-constrained problem, dual descent vs adaptive beta, KL estimators).

Each ``plot_*`` draws results computed by :mod:`ppo_lite.course.kl_constrained` (which also holds the notebook's
settings) and returns a matplotlib Figure; :func:`save_key_figures` asks that module for the notebook's experiments
(same seeds and settings) and writes the PNGs.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure

from .. import kl_constrained as kc
from ..surrogate_study import pretrained_theta
from ..tabular import TabularMDP
from . import save_figures


def plot_toy(opt: kc.ConstrainedOptimum, dual: dict, beta: dict, delta: float) -> Figure:
    """Coefficient, KL and the probabilities p_theta per outer step, against the closed-form optimum."""
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    steps = torch.arange(len(dual["kl"]))
    ax = axes[0]
    ax.plot(steps, dual["coef"], label=r"dual descent $\eta$")
    ax.plot(steps, beta["coef"], label=r"adaptive $\beta$")
    ax.axhline(opt.eta, color="k", ls="--", label=rf"$\eta^*={opt.eta:.3f}$ (root find)")
    ax.set_xlabel("outer iteration")
    ax.set_ylabel("penalty coefficient (return units per nat)")
    ax.legend(fontsize=8)
    ax = axes[1]
    ax.plot(steps, dual["kl"], label="dual descent")
    ax.plot(steps, beta["kl"], label=r"adaptive $\beta$")
    ax.axhline(delta, color="k", ls="--", label=rf"$\delta={delta}$")
    ax.axhspan(delta / 1.5, 1.5 * delta, color="gray", alpha=0.15, label=r"$[\delta/1.5,\ 1.5\delta]$")
    ax.set_xlabel("outer iteration")
    ax.set_ylabel(r"KL$(p_\theta\|q)$ (nats)")
    ax.legend(fontsize=8)
    ax = axes[2]
    for a in range(dual["p"].shape[1]):
        line, = ax.plot(steps, dual["p"][:, a], label=f"$p_\\theta({a})$")
        ax.axhline(opt.p[a], color=line.get_color(), ls="--", lw=0.8)
    ax.set_xlabel("outer iteration")
    ax.set_ylabel("probability (dual descent; dashed: $p^*$)")
    ax.legend(fontsize=8, ncol=2)
    fig.suptitle(r"max $\mathbb{E}_p[A]$ s.t. KL$(p\|q)\leq\delta$: the iterates reach the closed form")
    fig.tight_layout()
    return fig


def plot_dual_function(eta: torch.Tensor, g: torch.Tensor, opt: kc.ConstrainedOptimum) -> Figure:
    """g(eta) against eta (:func:`ppo_lite.course.kl_constrained.toy_dual_curve`), with its minimum at eta* above the
    primal optimum E_{p*}[A] (weak duality), on a linear eta axis (on a log axis the convex g would look non-convex)."""
    fig, ax = plt.subplots(figsize=(6, 3.8))
    ax.plot(eta, g, label=r"$g(\eta)=\eta\delta+\eta\log\sum_a q_a e^{A_a/\eta}$")
    ax.axhline(opt.value, color="k", ls="--", label=r"primal optimum $\mathbb{E}_{p^*}[A]$")
    ax.axvline(opt.eta, color="gray", ls=":", label=rf"$\eta^*={opt.eta:.3f}$")
    ax.set_xlabel(r"multiplier $\eta$ (return units per nat)")
    ax.set_ylabel(r"dual value $g(\eta)$ (return units)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_ppo_v1(runs: dict[str, dict], delta: float, j_opt: float) -> Figure:
    """Return, KL (the batch's k3 estimate the controller saw, solid; the exact visitation-weighted KL, dashed) and
    coefficient per iteration for each controller."""
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    for name, r in runs.items():
        axes[0].plot(r["J"], label=name)
        its = torch.arange(1, len(r["kl"]) + 1)
        line, = axes[1].plot(its, r["kl"], label=f"{name}: batch $k_3$ mean")
        if "kl_exact" in r:
            axes[1].plot(its, r["kl_exact"], ls="--", color=line.get_color(), label=f"{name}: exact KL")
        axes[2].plot(torch.arange(1, len(r["coef"]) + 1), r["coef"], label=name)
    axes[0].axhline(j_opt, color="k", ls="--", label="optimal policy")
    axes[0].set_ylabel("exact return $J$ (reward units)")
    axes[1].axhline(delta, color="k", ls="--", label=rf"$\delta={delta}$")
    axes[1].axhspan(delta / 1.5, 1.5 * delta, color="gray", alpha=0.15)
    axes[1].set_yscale("log")
    axes[1].set_ylabel(r"KL$(\pi_{old}\|\pi_\theta)$ after the epochs (nats)")
    axes[2].set_ylabel(r"coefficient $\eta$ or $\beta$ (per nat)")
    for ax in axes:
        ax.set_xlabel("PPO iteration (one batch of 16 episodes)")
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_kl_estimators(gauss: dict[str, torch.Tensor], cat: dict[str, torch.Tensor]) -> Figure:
    """Bias (top) and per-sample std (bottom) of k1, k2, k3 vs the exact KL, Gaussians and categoricals."""
    fig, axes = plt.subplots(2, 2, figsize=(11, 7), sharex="col")
    for col, (study, title) in enumerate(((gauss, r"Gaussians $\mathcal{N}(0,1)\to\mathcal{N}(m,1)$"),
                                          (cat, "categoricals (4 actions)"))):
        kl = study["exact"]
        for k in ("k1", "k2", "k3"):
            axes[0, col].errorbar(kl, study[f"{k}_mean"] - kl, yerr=2 * study[f"{k}_se"], fmt="o-", capsize=2, label=k)
            axes[1, col].loglog(kl, study[f"{k}_std"], "o-", label=k)
        axes[0, col].axhline(0.0, color="k", lw=0.8)
        axes[0, col].set_xscale("log")
        axes[0, col].set_ylabel(r"bias $\mathbb{E}[k]-$KL (nats, $\pm 2$ s.e.)")
        axes[0, col].set_title(title)
        axes[1, col].set_ylabel("per-sample std (nats)")
        axes[1, col].set_xlabel(r"exact KL$(\pi_{old}\|\pi_{new})$ (nats)")
        for ax in axes[:, col]:
            ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def save_key_figures(outdir: Path) -> list[Path]:
    """Notebook 04's experiments (from :mod:`ppo_lite.course.kl_constrained`), drawn as ``nb04_*.png`` in ``outdir``;
    returns the paths."""
    torch.manual_seed(0)
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    opt, dual, beta = kc.toy_runs()
    mdp = TabularMDP.random(**kc.MDP_ARGS)
    j_opt = mdp.objective(pretrained_theta(mdp, 2000, lr=5.0)).item()
    figures = {
        "nb04_toy_dual_descent.png": plot_toy(opt, dual, beta, kc.TOY_DELTA),
        "nb04_dual_function.png": plot_dual_function(*kc.toy_dual_curve(), opt),
        "nb04_ppo_v1_tabular.png": plot_ppo_v1(kc.ppo_v1_runs(mdp), kc.V1_DELTA, j_opt),
        "nb04_kl_estimators.png": plot_kl_estimators(
            kc.kl_estimator_study(kc.KL_SHIFTS), kc.kl_estimator_study(kc.KL_SHIFTS, family="categorical")
        ),
    }
    return save_figures(figures, outdir)
