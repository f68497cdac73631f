"""Figures of notebook 02 (advantages and GAE): bias/variance of GAE(λ) and time-limit truncation.

Each ``plot_*`` takes results computed by :mod:`ppo_lite.tabular` and returns a Figure; :func:`save_key_figures`
reruns the notebook's experiments (same seeds and settings) and writes the PNGs.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure

from .. import tabular as tab
from . import save_figures

F64 = torch.float64
# The notebook's settings, shared with save_key_figures so the PNGs are the notebook's figures.
LAMS = [0.0, 0.25, 0.5, 0.7, 0.8, 0.9, 0.95, 0.98, 1.0]
BATCH_EPISODES = 256  # the MSE is that of a gradient averaged over this many episodes
VALUE_NOISE = 2.0
TIME_LIMIT, TRUNC_EPISODES, TRUNC_LAM = 50, 1000, 0.95


def gae_problem() -> tuple[tab.TabularMDP, torch.Tensor, torch.Tensor]:
    """Random 8-state MDP (γ = 0.95), a fixed policy, and an imperfect critic V̂ = V + noise (fixed per state)."""
    mdp = tab.TabularMDP.random(8, 3, gamma=0.95, seed=3, terminate_prob=0.05)
    gen = torch.Generator().manual_seed(0)
    theta = 0.5 * torch.randn(8, 3, generator=gen, dtype=F64)
    v_hat = mdp.values(theta) + VALUE_NOISE * torch.randn(8, generator=gen, dtype=F64)
    return mdp, theta, v_hat


def bias_variance_study(num_episodes: int = 4000, seed: int = 0) -> dict[str, torch.Tensor]:
    mdp, theta, v_hat = gae_problem()
    return tab.gae_bias_variance(mdp, theta, v_hat, LAMS, num_episodes, torch.Generator().manual_seed(seed))


def truncation_problem() -> tuple[tab.TabularMDP, torch.Tensor]:
    """A long-lived task (terminate 1%/step, γ = 0.99, positive rewards) and the uniform policy: V ≈ 80, so a
    time limit of 50 steps cuts most episodes while a lot of value is still ahead."""
    base = tab.TabularMDP.random(6, 2, gamma=0.99, seed=0, terminate_prob=0.01)
    mdp = tab.TabularMDP(base.P, base.R.abs() + 0.5, base.mu0, base.gamma, base.terminal)
    return mdp, torch.zeros(6, 2, dtype=F64)


def truncation_study(seed: int = 0) -> dict[str, torch.Tensor]:
    mdp, theta = truncation_problem()
    tr = mdp.sample_transitions(theta, TRUNC_EPISODES, torch.Generator().manual_seed(seed), TIME_LIMIT)
    V = mdp.values(theta)
    out = {"V": V, "truncated_fraction": tr.truncated.any(0).to(F64).mean()}
    for name, boot in (("bootstrap", True), ("terminal", False)):
        out[f"V_fit_{name}"] = tab.fit_values_with_time_limit(mdp, tr, TRUNC_LAM, boot)
        out[f"target_error_{name}"] = tab.target_error_by_step(mdp, tr, V, TRUNC_LAM, boot)
    return out


def plot_bias_variance(study: dict[str, torch.Tensor]) -> Figure:
    lams = torch.tensor(LAMS)
    bias2, var = study["bias2"], study["variance"] / BATCH_EPISODES
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.semilogy(lams, bias2.clamp_min(1e-6), "o-", label=r"bias$^2$ (exact)")
    ax.semilogy(lams, var, "s-", label=f"variance / {BATCH_EPISODES} episodes (measured)")
    ax.semilogy(lams, bias2 + var, "k^-", label="MSE")
    ax.set_xlabel(r"GAE $\lambda$")
    ax.set_ylabel(r"squared error of $\hat g_\lambda$ ((return units per logit)$^2$)")
    ax.set_title(r"GAE($\lambda$) policy gradient with a noisy critic (bias$^2$ floored at 1e-6)")
    ax.legend()
    fig.tight_layout()
    return fig


def plot_truncation(study: dict[str, torch.Tensor]) -> Figure:
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    t = torch.arange(len(study["target_error_bootstrap"]))
    ax1.plot(t, study["target_error_bootstrap"], label="bootstrap at the time limit (SB3, TorchRL)")
    ax1.plot(t, study["target_error_terminal"], label="time limit as terminal (CleanRL, PureJaxRL)")
    ax1.axhline(0, color="gray", lw=0.8)
    ax1.set_xlabel(f"step t within the episode (time limit {TIME_LIMIT})")
    ax1.set_ylabel(r"mean value-target error $\hat R_t - V(s_t)$ (return units)")
    ax1.legend(fontsize=8)
    live = ~truncation_problem()[0].terminal
    states = torch.arange(len(study["V"]))[live]
    w = 0.27
    ax2.bar(states - w, study["V"][live], w, label=r"exact $V^\pi$")
    ax2.bar(states, study["V_fit_bootstrap"][live], w, label="fitted, bootstrap")
    ax2.bar(states + w, study["V_fit_terminal"][live], w, label="fitted, limit as terminal")
    ax2.set_xlabel("state")
    ax2.set_ylabel("value (return units)")
    ax2.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def save_key_figures(outdir: Path) -> list[Path]:
    """Rerun the notebook's experiments and write ``nb02_*.png`` into ``outdir``."""
    torch.set_num_threads(1)
    return save_figures({
        "nb02_gae_bias_variance.png": plot_bias_variance(bias_variance_study()),
        "nb02_time_limit_truncation.png": plot_truncation(truncation_study()),
    }, outdir, dpi=120)


def normalization_study(batches: int = 200, episodes: int = 16, lam: float = 0.95, seed: int = 5) -> dict[str, float]:
    """Per-batch advantage normalization (A - mean) / std on the GAE problem: fraction of advantages whose sign
    flips, and the mean cosine between the batch gradient and the exact ∇J with raw vs normalized advantages."""
    mdp, theta, v_hat = gae_problem()
    exact = mdp.exact_policy_gradient(theta).flatten()
    gen = torch.Generator().manual_seed(seed)
    flips, cos_raw, cos_norm = [], [], []
    for _ in range(batches):
        tr = mdp.sample_transitions(theta, episodes, gen, 1000)
        adv, keep = mdp.gae(tr, v_hat, lam), tr.mask.bool()
        normed = torch.zeros_like(adv)
        normed[keep] = (adv[keep] - adv[keep].mean()) / (adv[keep].std() + 1e-8)
        flips.append(((adv[keep] > 0) != (normed[keep] > 0)).to(F64).mean())
        discount = mdp.gamma ** torch.arange(adv.shape[0], dtype=F64)[:, None]
        for weights, out in ((adv, cos_raw), (normed, cos_norm)):
            w = (discount * weights * tr.mask).T
            g = mdp.weighted_score_sums(theta, tr.states.T, tr.actions.T, w).mean(0).flatten()
            out.append(torch.nn.functional.cosine_similarity(g, exact, 0))
    mean = lambda xs: torch.stack(xs).mean().item()  # noqa: E731
    return {"sign_flip_fraction": mean(flips), "cosine_raw": mean(cos_raw), "cosine_normalized": mean(cos_norm)}
