"""Figures of notebook 04 (PPO v1: the KL-constrained problem, dual descent vs adaptive beta, KL estimators).

Each ``plot_*`` takes results computed by :mod:`ppo_lite.course.kl_constrained` and returns a matplotlib Figure;
:func:`save_key_figures` recomputes the notebook's experiments (same seeds and settings) and writes the PNGs.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure

from .. import kl_constrained as kc
from ...kl import AdaptiveBeta, DualDescent
from ..tabular import TabularMDP
from ..trust_region import pretrained_theta
from . import save_figures

# The notebook's settings, shared with save_key_figures so the PNGs are the notebook's figures.
TOY_A = [1.0, 0.5, 0.0, -0.5, -1.0]
TOY_Q = [0.1, 0.15, 0.3, 0.3, 0.15]
TOY_DELTA = 0.1
TOY_LOOP = dict(outer_steps=60, inner_steps=5, inner_lr=1.0)
TOY_ETA = dict(init=0.2, lr=1.0)
MDP_ARGS = dict(num_states=8, num_actions=4, gamma=0.9, seed=0)
V1_DELTA = 0.02
V1_LOOP = dict(iterations=30, episodes_per_batch=16, epochs=10, lr=0.1, seed=0)
V1_ETA = dict(init=1.0, lr=20.0)  # dual descent: eta_0 and alpha_eta
V1_BETA_INIT = 1.0  # adaptive beta: beta_0
KL_SHIFTS = [0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 2.5, 3.0]


def toy_runs() -> tuple[kc.ConstrainedOptimum, dict, dict]:
    """The closed-form optimum and the dual-descent and adaptive-beta loops on the toy problem."""
    a = torch.tensor(TOY_A, dtype=torch.float64)
    q = torch.tensor(TOY_Q, dtype=torch.float64)
    opt = kc.constrained_optimum(a, q, TOY_DELTA)
    dual = kc.penalized_ascent_toy(a, q, DualDescent(target=TOY_DELTA, **TOY_ETA), **TOY_LOOP)
    beta = kc.penalized_ascent_toy(a, q, AdaptiveBeta(target=TOY_DELTA, init=TOY_ETA["init"]), **TOY_LOOP)
    return opt, dual, beta


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


def plot_dual_function(a: torch.Tensor, q: torch.Tensor, delta: float, opt: kc.ConstrainedOptimum) -> Figure:
    """g(eta) with its minimum at eta*, above the primal optimum E_{p*}[A] (weak duality), on a linear eta axis (on a
    log axis the convex g would look non-convex)."""
    eta = torch.arange(10, 601, dtype=torch.float64) / 100  # eta = 0.1 ... 6
    fig, ax = plt.subplots(figsize=(6, 3.8))
    ax.plot(eta, kc.dual_function(eta, a, q, delta), label=r"$g(\eta)=\eta\delta+\eta\log\sum_a q_a e^{A_a/\eta}$")
    ax.axhline(opt.value, color="k", ls="--", label=r"primal optimum $\mathbb{E}_{p^*}[A]$")
    ax.axvline(opt.eta, color="gray", ls=":", label=rf"$\eta^*={opt.eta:.3f}$")
    ax.set_xlabel(r"multiplier $\eta$ (return units per nat)")
    ax.set_ylabel(r"dual value $g(\eta)$ (return units)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def ppo_v1_runs(mdp: TabularMDP, theta_init: torch.Tensor | None = None) -> dict[str, dict]:
    """PPO v1 on the tabular MDP with dual descent, adaptive beta, and adaptive beta updated per minibatch."""
    return {
        "dual descent": kc.ppo_v1_tabular(mdp, DualDescent(target=V1_DELTA, **V1_ETA), theta_init=theta_init, **V1_LOOP),
        "adaptive beta": kc.ppo_v1_tabular(mdp, AdaptiveBeta(target=V1_DELTA, init=V1_BETA_INIT), theta_init=theta_init,
                                           **V1_LOOP),
    }


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
    """Recompute notebook 04's experiments and write ``nb04_*.png`` into ``outdir``; returns the paths."""
    torch.manual_seed(0)
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    opt, dual, beta = toy_runs()
    a, q = torch.tensor(TOY_A, dtype=torch.float64), torch.tensor(TOY_Q, dtype=torch.float64)
    mdp = TabularMDP.random(**MDP_ARGS)
    j_opt = mdp.objective(pretrained_theta(mdp, 2000, lr=5.0)).item()
    figures = {
        "nb04_toy_dual_descent.png": plot_toy(opt, dual, beta, TOY_DELTA),
        "nb04_dual_function.png": plot_dual_function(a, q, TOY_DELTA, opt),
        "nb04_ppo_v1_tabular.png": plot_ppo_v1(ppo_v1_runs(mdp), V1_DELTA, j_opt),
        "nb04_kl_estimators.png": plot_kl_estimators(
            kc.kl_estimator_study(KL_SHIFTS), kc.kl_estimator_study(KL_SHIFTS, family="categorical")
        ),
    }
    return save_figures(figures, outdir)
