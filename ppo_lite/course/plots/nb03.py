"""Figures of notebook 03 (reusing samples: importance weights, the surrogate, its KL bound, the trust region).

Each ``plot_*`` draws results computed by :mod:`ppo_lite.course.surrogate_study` and :mod:`ppo_lite.course.trpo`
(which also hold the notebook's settings) and returns a matplotlib Figure; :func:`save_key_figures` asks those modules
for the notebook's experiments (same seeds and settings) and writes the PNGs.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure

from .. import surrogate_study as ss
from .. import trpo
from ..tabular import TabularMDP
from . import save_figures


def plot_importance_sampling(study: dict[str, torch.Tensor]) -> Figure:
    """Left: variance of the weights, measured vs e^{m^2} - 1. Right: the IS estimate of E_p[x] vs the truth."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.8))
    mu = study["shift"]
    ax1.semilogy(mu[1:], study["weight_var"][1:], "o", label="measured Var$_q[w]$")
    ax1.semilogy(mu[1:], study["weight_var_exact"][1:], "-", label=r"exact $e^{m^2}-1$")
    ax1.set_xlabel(r"shift $m$ between $p=\mathcal{N}(m,1)$ and $q=\mathcal{N}(0,1)$ (units of $\sigma$)")
    ax1.set_ylabel("variance of the importance weight (log scale)")
    ax1.legend()
    ax1.set_title("the weights' variance blows up")
    ax2.errorbar(mu, study["estimate_mean"], yerr=study["estimate_std"], fmt="o", capsize=3,
                 label=r"IS estimate, mean $\pm$ 1 std over repeats")
    ax2.plot(mu, mu, "k--", label=r"truth $\mathbb{E}_p[x]=m$")
    ax2.set_xlabel(r"shift $m$ ($\sigma$ units)")
    ax2.set_ylabel(r"estimate of $\mathbb{E}_p[x]$ (same units as $x$)")
    ax2.legend(fontsize=8)
    ax2.set_title("unbiased on average, useless one at a time")
    fig.tight_layout()
    return fig

def plot_many_steps(traces: list[dict[str, torch.Tensor]], highlight: int = 0) -> Figure:
    """Left: one path (surrogate estimate, exact surrogate, true J). Right: true gain of every path vs its KL."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.9))
    t = traces[highlight]
    steps = torch.arange(len(t["J"]))
    ax1.plot(steps, t["L_hat"], label=r"$J_{old}+\hat L(\theta)$ (batch surrogate)")
    ax1.plot(steps, t["L"], "--", label=r"$L_{old}(\theta)$ (exact surrogate)")
    ax1.plot(steps, t["J"], lw=2, label=r"$J(\theta)$ (true return)")
    ax1.axhline(t["J"][0], color="gray", ls=":", label=r"$J(\theta_{old})$")
    ax1.set_xlabel("gradient step on the fixed batch's surrogate")
    ax1.set_ylabel("expected discounted return (reward units)")
    ax1.set_title(f"batch seed {highlight}: the surrogate keeps rising")
    ax1.legend(fontsize=8)
    for i, tr_i in enumerate(traces):
        ax2.plot(tr_i["kl_mean"], tr_i["J"] - tr_i["J"][0], lw=1, alpha=0.8, label=f"batch seed {i}")
    ax2.axhline(0.0, color="k", lw=0.8)
    ax2.set_xscale("symlog", linthresh=1e-3)
    ax2.set_xlim(left=0.0)
    ax2.set_xlabel(r"mean KL$(\pi_{old}\|\pi_\theta)$ over $\bar\rho_{old}$ (nats)")
    ax2.set_ylabel(r"true gain $J(\theta)-J(\theta_{old})$ (reward units)")
    ax2.set_title("every path: gain first, collapse later")
    ax2.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return fig

def plot_two_mechanisms(exact_run: dict[str, torch.Tensor], traces: list[dict[str, torch.Tensor]]) -> Figure:
    """Left: (b) the exact surrogate's model error J - L_old against the mean KL, on the exact climb and on the sampled
    paths. Right: (a) the batch estimate's drift (L_hat - L_old) - (its value at theta_old) on the sampled paths."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.9), sharey=True)
    for i, t in enumerate(traces):
        ax1.plot(t["kl_mean"], t["J"] - t["L"], color="gray", lw=0.8, alpha=0.6,
                 label="sampled paths" if i == 0 else None)
        dev = t["L_hat"] - t["L"]
        ax2.plot(t["kl_mean"], dev - dev[0], lw=1, alpha=0.8, label=f"batch seed {i}")
    ax1.plot(exact_run["kl_mean"], exact_run["J"] - exact_run["L"], color="C3", lw=2.5,
             label=r"climbing the exact $L_{old}$ (no sampling)")
    for ax in (ax1, ax2):
        ax.axhline(0.0, color="k", lw=0.8)
        ax.set_xscale("symlog", linthresh=1e-2)
        ax.set_xlim(left=0.0)
        ax.set_xlabel(r"mean KL$(\pi_{old}\|\pi_\theta)$ over $\bar\rho_{old}$ (nats)")
    ax1.set_ylabel("error (reward units)")
    ax1.set_title(r"(b) model error $J-L_{old}$: small")
    ax2.set_title(r"(a) the batch's drift $(\hat L - L_{old})$, from its value at $\theta_{old}$")
    ax1.legend(fontsize=8)
    ax2.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return fig


def plot_cg_and_step_kl(cg_errors: list[float], deltas: list[float], kl_errors: list[float]) -> Figure:
    """Left: conjugate gradient's relative error against the direct solve, per iteration. Right: |KL/delta - 1| of
    the TRPO step against delta, with a sqrt(delta) guide."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.8))
    ax1.semilogy(range(1, len(cg_errors) + 1), cg_errors, "o-")
    ax1.axvline(10, color="gray", ls=":", label="TRPO's 10 iterations")
    ax1.set_xlabel("conjugate-gradient iteration (one Fisher-vector product each)")
    ax1.set_ylabel(r"$\|x_k - F^+g\| / \|F^+g\|$ (dimensionless)")
    ax1.set_title("CG reaches the direct solve without forming $F^{-1}$")
    ax1.legend(fontsize=8)
    d = torch.tensor(deltas, dtype=torch.float64)
    ax2.loglog(d, kl_errors, "o-", label=r"$|\overline{KL}/\delta - 1|$ of the step")
    ax2.loglog(d, kl_errors[-1] * (d / d[-1]).sqrt(), "k--", lw=0.8, label=r"$\propto\sqrt{\delta}$")
    ax2.set_xlabel(r"trust-region radius $\delta$ (nats)")
    ax2.set_ylabel("relative error of the quadratic KL model")
    ax2.set_title(r"KL of the step $=\delta$ to second order")
    ax2.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_natural_vs_plain(deltas: list[float], natural: list[float], plain: list[float],
                          ratios: torch.Tensor, cauchy_schwarz: torch.Tensor) -> Figure:
    """Left: true gain of the TRPO step and of the equal-KL plain-gradient step against delta. Right: their gain
    ratio on random problems against the first-order prediction (the Cauchy-Schwarz ratio)."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10.5, 3.8))
    ax1.loglog(deltas, natural, "o-", label="natural (TRPO) step")
    ax1.loglog(deltas, plain, "s--", label="plain gradient, same mean KL")
    ax1.set_xlabel(r"trust-region radius $\delta$ (nats)")
    ax1.set_ylabel(r"true gain $J(\theta)-J(\theta_{old})$ (reward units)")
    ax1.set_title("this notebook's MDP")
    ax1.legend(fontsize=8)
    ax2.plot(cauchy_schwarz, ratios, "o", alpha=0.7)
    lo, hi = float(min(cauchy_schwarz.min(), ratios.min())), float(max(cauchy_schwarz.max(), ratios.max()))
    ax2.plot([lo, hi], [lo, hi], "k--", lw=0.8, label="first-order prediction")
    ax2.axhline(1.0, color="gray", lw=0.8)
    ax2.set_xlabel(r"$\sqrt{g^\top F^+ g\; g^\top F g}\,/\,g^\top g$ (dimensionless)")
    ax2.set_ylabel("gain of natural / gain of plain (dimensionless)")
    ax2.set_title(f"{len(ratios)} random problems, equal KL")
    ax2.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_kl_bound(rows: list[dict[str, float]], scales: list[float]) -> Figure:
    """J, L and the TRPO lower bound L - C max KL along theta_old + s * direction."""
    fig, ax = plt.subplots(figsize=(6.5, 4))
    j0 = rows[0]["J"]
    ax.plot(scales, [r["J"] - j0 for r in rows], "o-", label=r"$J(\pi)-J(\pi_{old})$")
    ax.plot(scales, [r["L"] - j0 for r in rows], "s--", label=r"$L_{old}(\pi)-J(\pi_{old})$")
    ax.plot(scales, [r["bound"] - j0 for r in rows], "^-", label=r"$L_{old}-C\max_s\mathrm{KL}$ (TRPO bound)")
    ax.set_xscale("symlog", linthresh=0.005)
    ax.set_yscale("symlog", linthresh=0.01)
    ax.set_xlabel(r"step size $s$ in $\theta=\theta_{old}+s\,u$ (logit units)")
    ax.set_ylabel("change from $J(\\pi_{old})$ (reward units, symlog)")
    ax.set_title(f"the bound holds, with C = {rows[0]['C']:.0f}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig

def plot_trust_region(gains: torch.Tensor, deltas: list[float]) -> Figure:
    """True gain after early stopping at mean KL = delta (the crossing step cut to land on delta), every batch and
    the mean, vs delta (:func:`ppo_lite.course.surrogate_study.early_stopping_climbs`)."""
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for j in range(gains.shape[1]):
        ax.plot(deltas, gains[:, j], color="gray", alpha=0.4, lw=1)
    ax.plot(deltas, gains.mean(1), "o-", lw=2, color="C3", label="mean over batches")
    ax.axhline(0.0, color="k", lw=0.8)
    ax.set_xscale("log")
    ax.set_xlabel(r"trust-region size $\delta$: stop when mean KL$(\pi_{old}\|\pi_\theta) = \delta$ (nats)")
    ax.set_ylabel(r"true gain $J(\theta_{stop})-J(\theta_{old})$ (reward units)")
    ax.set_title("too small: little progress; too large: the surrogate lies")
    ax.legend()
    fig.tight_layout()
    return fig

def plot_ratio_drift(drift: dict[str, torch.Tensor], clip_eps: float) -> Figure:
    """max |r - 1| at each minibatch step, epochs laid end to end. (The recomputed-old-log-prob bug is not drawn: its
    r is 1 by construction, a line at 0 that shows nothing measured.)"""
    fig, ax = plt.subplots(figsize=(6.5, 4))
    epochs, minibatches = drift["max_dev"].shape
    x = torch.arange(epochs * minibatches)
    ax.plot(x, drift["max_dev"].flatten(), "o-", label="old log-probs stored at rollout")
    ax.axhline(clip_eps, color="gray", ls=":", label=rf"clip range $\epsilon={clip_eps}$")
    for e in range(1, epochs):
        ax.axvline(e * minibatches - 0.5, color="k", lw=0.5, alpha=0.3)
    ax.set_xlabel("minibatch step (epochs laid end to end, 4 minibatches each)")
    ax.set_ylabel(r"$\max_i |r_i-1|$ on the minibatch (dimensionless)")
    ax.set_title("r = 1 only at the very first minibatch")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig

def save_key_figures(outdir: Path) -> list[Path]:
    """Notebook 03's experiments (from :mod:`ppo_lite.course.surrogate_study` and :mod:`ppo_lite.course.trpo`), drawn
    as ``nb03_*.png`` in ``outdir``; returns the paths."""
    torch.manual_seed(0)
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    mdp = TabularMDP.random(**ss.MDP_ARGS)
    theta_old = ss.pretrained_theta(mdp, ss.PRETRAIN_STEPS)
    traces = ss.surrogate_step_study(mdp, theta_old, **ss.STUDY)
    batch = ss.sample_batch(mdp, theta_old, 16, torch.Generator().manual_seed(0))
    exact_run = ss.exact_surrogate_steps(mdp, theta_old, **ss.EXACT_CLIMB)
    ours = [trpo.equal_kl_comparison(mdp, theta_old, d) for d in trpo.TRPO_DELTAS[:5]]
    small = [trpo.equal_kl_comparison(m, th, 0.0001) for m, th in trpo.random_problems()]
    figures = {
        "nb03_two_mechanisms.png": plot_two_mechanisms(exact_run, traces),
        "nb03_natural_vs_plain.png": plot_natural_vs_plain(
            trpo.TRPO_DELTAS[:5], [r["natural_gain"] for r in ours], [r["plain_gain"] for r in ours],
            torch.tensor([r["natural_gain"] / r["plain_gain"] for r in small]),
            torch.tensor([r["cauchy_schwarz"] for r in small])),
        "nb03_importance_weights.png": plot_importance_sampling(ss.importance_sampling_study(ss.IS_SHIFTS)),
        "nb03_many_surrogate_steps.png": plot_many_steps(traces),
        "nb03_kl_bound.png": plot_kl_bound(ss.bound_along_gradient(mdp, theta_old, ss.BOUND_SCALES), ss.BOUND_SCALES),
        "nb03_trust_region.png": plot_trust_region(
            ss.early_stopping_climbs(mdp, theta_old, ss.STUDY["seeds"], ss.DELTAS, episodes=ss.STUDY["episodes"],
                                     steps=ss.STUDY["steps"], lr=ss.STUDY["lr"])["gain"], ss.DELTAS),
        "nb03_ratio_drift.png": plot_ratio_drift(ss.ratio_drift(batch, theta_old), 0.2),
    }
    return save_figures(figures, outdir)
