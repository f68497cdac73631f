r"""Notebook 02's exact studies of advantage estimators on tabular MDPs: bias and variance across λ, the split of
that variance into the critic's part and the returns' part, the discount γ as a bias-variance knob (γ-just
estimators, Schulman et al. 2016), time-limit truncation (Pardo et al. 2018) and advantage normalization.

Everything is float64 on :class:`ppo_lite.course.tabular.TabularMDP`, so each estimate is compared with an exact answer.
The settings below are the notebook's; :mod:`ppo_lite.course.plots.nb02` draws the results.
"""
from __future__ import annotations

import torch
from torch import Tensor

from ..normalize import normalize_advantages
from . import tabular as tab

__all__ = [
    "LAMS", "BATCH_EPISODES", "VALUE_NOISE", "GAMMAS", "GAMMA_EVAL", "TIME_LIMIT", "TRUNC_EPISODES", "TRUNC_LAM",
    "gae_problem", "bias_variance_study", "split_gradient_samples", "variance_split_study", "gamma_problem",
    "gamma_just_study", "truncation_problem", "truncation_study", "normalization_study",
]

F64 = torch.float64
LAMS = [0.0, 0.25, 0.5, 0.7, 0.8, 0.9, 0.95, 0.98, 1.0]
BATCH_EPISODES = 256  # the MSE is that of a gradient averaged over this many episodes
VALUE_NOISE = 2.0     # standard deviation of the critic's error e_V(s)
GAMMAS = [1.0, 0.99, 0.97, 0.95, 0.9, 0.8, 0.6]  # discounts of the γ-just study, for the problem's GAMMA_EVAL
GAMMA_EVAL = 1.0      # the γ-just study's objective: the undiscounted return, as in the GAE paper
TIME_LIMIT, TRUNC_EPISODES, TRUNC_LAM = 50, 1000, 0.95


def _check_unit(name: str, values: list[float]) -> None:
    bad = [v for v in values if not 0.0 <= v <= 1.0]
    if not values or bad:
        raise ValueError(f"{name} must be a non-empty list of numbers in [0, 1], got {name}={values}")


def _check_count(**counts: int) -> None:
    bad = {k: v for k, v in counts.items() if v < 2}
    if bad:
        raise ValueError(f"need at least 2 episodes to measure a variance, got {bad}")


def gae_problem() -> tuple[tab.TabularMDP, Tensor, Tensor]:
    r"""Random 8-state MDP (γ = 0.95, episodes end with probability 0.05 per step), a fixed softmax policy θ, and an
    imperfect critic :math:`\hat V = V^\pi + e_V` with the critic's error :math:`e_V(s) \sim \mathcal N(0, 2^2)`
    drawn once per state (notebook 02, section 3)."""
    mdp = tab.TabularMDP.random(8, 3, gamma=0.95, seed=3, terminate_prob=0.05)
    gen = torch.Generator().manual_seed(0)
    theta = 0.5 * torch.randn(8, 3, generator=gen, dtype=F64)
    v_hat = mdp.values(theta) + VALUE_NOISE * torch.randn(8, generator=gen, dtype=F64)
    return mdp, theta, v_hat


def bias_variance_study(num_episodes: int = 4000, seed: int = 0) -> dict[str, Tensor]:
    r"""Exact bias² and measured variance of the GAE(λ) policy gradient
    :math:`\hat g_\lambda = \sum_t \gamma^t \nabla\log\pi(a_t|s_t)\hat A^\lambda_t` for each λ in :data:`LAMS`, on
    :func:`gae_problem` (:func:`ppo_lite.course.tabular.gae_bias_variance`; notebook 02, section 3)."""
    _check_count(num_episodes=num_episodes)
    mdp, theta, v_hat = gae_problem()
    return tab.gae_bias_variance(mdp, theta, v_hat, LAMS, num_episodes, torch.Generator().manual_seed(seed))


def split_gradient_samples(
    mdp: tab.TabularMDP, theta: Tensor, transitions: tab.Transitions, value_estimate: Tensor, lam: float
) -> tuple[Tensor, Tensor]:
    r"""The GAE(λ) gradient of each episode split into the returns' part and the critic's part, each (E, S, A).

    GAE is linear in the rewards and the values, so with :math:`\hat V = V^\pi + e_V` (:math:`e_V` the critic's error),

    .. math:: \hat A^\lambda_t[r, \hat V] = \underbrace{\hat A^\lambda_t[r, V^\pi]}_{\text{returns}}
              + \underbrace{\hat A^\lambda_t[0, e_V]}_{\text{critic}}, \qquad
              \hat A^\lambda_t[0, e_V] = -e_V(s_t) + (1-\lambda)\sum_{l\ge1}\gamma^l\lambda^{l-1}e_V(s_{t+l})

    (the second form by telescoping :math:`\sum_l (\gamma\lambda)^l(\gamma e_V(s_{t+l+1}) - e_V(s_{t+l}))`),
    and :math:`\hat g_\lambda = \hat g^{\text{returns}}_\lambda + \hat g^{\text{critic}}_\lambda` episode by episode
    (notebook 02, section 3).
    """
    _check_unit("lam", [lam])
    exact_v = mdp.values(theta)
    error = (torch.as_tensor(value_estimate, dtype=F64) - exact_v) * (~mdp.terminal).to(F64)
    no_rewards = transitions._replace(rewards=torch.zeros_like(transitions.rewards))
    returns_part = tab.gae_gradient_samples(mdp, theta, transitions, exact_v, lam)
    critic_part = tab.gae_gradient_samples(mdp, theta, no_rewards, error, lam)
    return returns_part, critic_part


def _total_variance(x: Tensor) -> Tensor:
    """tr Cov of per-episode vectors (E, ...): the sum over components of the unbiased sample variance."""
    return x.flatten(1).var(0).sum()


def variance_split_study(num_episodes: int = 4000, seed: int = 0) -> dict[str, Tensor]:
    r"""The variance of :math:`\hat g_\lambda` on :func:`gae_problem`, for each λ in :data:`LAMS`, split as

    .. math:: \operatorname{tr}\mathrm{Var}[\hat g_\lambda] = \operatorname{tr}\mathrm{Var}[\hat g^{\text{returns}}_\lambda]
              + \operatorname{tr}\mathrm{Var}[\hat g^{\text{critic}}_\lambda]
              + 2\operatorname{tr}\mathrm{Cov}[\hat g^{\text{returns}}_\lambda, \hat g^{\text{critic}}_\lambda]

    (:func:`split_gradient_samples`; the returns' part is the estimator with the exact critic, :math:`e_V = 0`). Measured on
    the same episodes as :func:`bias_variance_study` with the same ``seed``. Returns (len(LAMS),) tensors
    ``total``, ``returns``, ``critic``, ``covariance`` (the 2 tr Cov term) and ``split_error`` (the largest
    |total − returns − critic| over episodes and components, zero in exact arithmetic). Notebook 02, section 3.
    """
    _check_count(num_episodes=num_episodes)
    mdp, theta, v_hat = gae_problem()
    tr = mdp.sample_transitions(theta, num_episodes, torch.Generator().manual_seed(seed), time_limit=1000)
    if tr.truncated.any():
        raise RuntimeError("an episode ran past 1000 steps; the study needs complete episodes")
    out: dict[str, list[Tensor]] = {k: [] for k in ("total", "returns", "critic", "covariance", "split_error")}
    for lam in LAMS:
        total = tab.gae_gradient_samples(mdp, theta, tr, v_hat, lam)
        ret, crit = split_gradient_samples(mdp, theta, tr, v_hat, lam)
        centred_r, centred_c = (x.flatten(1) - x.flatten(1).mean(0) for x in (ret, crit))
        out["total"].append(_total_variance(total))
        out["returns"].append(_total_variance(ret))
        out["critic"].append(_total_variance(crit))
        out["covariance"].append(2 * (centred_r * centred_c).sum() / (num_episodes - 1))
        out["split_error"].append((total - ret - crit).abs().max())
    return {k: torch.stack(v) for k, v in out.items()}


def gamma_problem(gamma_eval: float = GAMMA_EVAL) -> tuple[tab.TabularMDP, Tensor]:
    r""":func:`gae_problem`'s MDP and policy, with the objective's discount set to ``gamma_eval`` (1: the
    undiscounted return of each episode, the objective of the GAE paper). Notebook 02, section 4."""
    _check_unit("gamma_eval", [gamma_eval])
    base, theta, _ = gae_problem()
    return tab.TabularMDP(base.P, base.R, base.mu0, gamma_eval, base.terminal), theta


def gamma_just_study(
    gammas: list[float] = GAMMAS, gamma_eval: float = GAMMA_EVAL, lam: float = 1.0,
    num_episodes: int = 4000, seed: int = 0,
) -> dict[str, Tensor]:
    r"""γ as a bias-variance parameter (Schulman et al. 2016, section 3): for each γ ≤ γ_eval, advantages
    GAE(γ, λ) with the exact critic :math:`V^{\pi,\gamma}` of the γ-discounted problem, in the gradient of the
    γ_eval problem,

    .. math:: \hat g^\gamma = \sum_t \gamma_{\text{eval}}^t\, \nabla\log\pi(a_t|s_t)\, \hat A^{\mathrm{GAE}(\gamma,\lambda)}_t,
              \qquad \mathbb E[\hat g^\gamma]_{sb} = d_{\gamma_{\text{eval}}}(s)\,\pi(b|s)\,A^{\pi,\gamma}(s,b)

    (the estimator is γ-just: :math:`\mathbb E[\hat A_t|s_t,a_t] = A^{\pi,\gamma}(s_t,a_t)`; softmax policy, so the
    expectation has the form of :meth:`~ppo_lite.course.tabular.TabularMDP.exact_policy_gradient` with
    :math:`A^{\pi,\gamma}` in place of :math:`A^{\pi,\gamma_{\text{eval}}}`). Against the exact
    :math:`\nabla J_{\gamma_{\text{eval}}}`, all shaped (len(gammas),):

    - ``bias2``: :math:`\|\mathbb E[\hat g^\gamma] - \nabla J_{\gamma_{\text{eval}}}\|^2`, exact;
    - ``advantage_error``: :math:`\max_{s,a}|A^{\pi,\gamma}(s,a) - A^{\pi,\gamma_{\text{eval}}}(s,a)|` over live states;
    - ``variance``: tr Var of a one-episode :math:`\hat g^\gamma`, measured on ``num_episodes`` episodes (the same
      episodes for every γ); ``mc_bias_z``: largest |MC mean − exact mean| in standard errors;
    - ``expected`` (len(gammas), S, A): the exact :math:`\mathbb E[\hat g^\gamma]`; ``exact`` (S, A): :math:`\nabla J_{\gamma_{\text{eval}}}`.

    Notebook 02, section 4.
    """
    _check_unit("gammas", list(gammas))
    _check_unit("lam", [lam])
    _check_count(num_episodes=num_episodes)
    if max(gammas) > gamma_eval:
        raise ValueError(f"every discount must be <= gamma_eval={gamma_eval}, got gammas={gammas}")
    mdp, theta = gamma_problem(gamma_eval)
    tr = mdp.sample_transitions(theta, num_episodes, torch.Generator().manual_seed(seed), time_limit=1000)
    if tr.truncated.any():
        raise RuntimeError("an episode ran past 1000 steps; the study needs complete episodes")
    exact = mdp.exact_policy_gradient(theta)
    pi, visits = mdp.policy(theta), mdp.discounted_visitation(theta)
    live = ~mdp.terminal
    eval_discount = gamma_eval ** torch.arange(tr.rewards.shape[0], dtype=F64)[:, None]
    out: dict[str, list[Tensor]] = {k: [] for k in ("bias2", "advantage_error", "variance", "mc_bias_z", "expected")}
    for gamma in gammas:
        discounted = tab.TabularMDP(mdp.P, mdp.R, mdp.mu0, gamma, mdp.terminal)
        critic = discounted.values(theta)
        mean_adv = discounted.gae_expectation(theta, critic, lam)   # = A^{π,γ} for every λ: the critic is exact
        expected = visits[:, None] * pi * (mean_adv - (pi * mean_adv).sum(-1, keepdim=True))
        adv = discounted.gae(tr, critic, lam) * tr.mask
        samples = mdp.weighted_score_sums(theta, tr.states.T, tr.actions.T, (eval_discount * adv).T)
        se = samples.std(0) / num_episodes**0.5
        out["bias2"].append(((expected - exact) ** 2).sum())
        out["advantage_error"].append((discounted.advantages(theta) - mdp.advantages(theta))[live].abs().max())
        out["variance"].append(_total_variance(samples))
        out["mc_bias_z"].append(((samples.mean(0) - expected).abs() / se.clamp_min(1e-12)).max())
        out["expected"].append(expected)
    result = {k: torch.stack(v) for k, v in out.items()}
    result["exact"] = exact
    return result


def truncation_problem() -> tuple[tab.TabularMDP, Tensor]:
    r"""A long-lived task (terminate 1%/step, γ = 0.99, rewards |N(0, 1)| + 0.5 > 0) and the uniform policy. A reward
    of 1 per step would be worth :math:`\sum_t (0.99 \cdot 0.99)^t = 1/0.0199 \approx 50`; the rewards average about
    1.6 along the way, so :math:`V^\pi \approx 80`, and a time limit of 50 steps cuts most episodes while a lot of
    value is still ahead (notebook 02, section 5)."""
    base = tab.TabularMDP.random(6, 2, gamma=0.99, seed=0, terminate_prob=0.01)
    mdp = tab.TabularMDP(base.P, base.R.abs() + 0.5, base.mu0, base.gamma, base.terminal)
    return mdp, torch.zeros(6, 2, dtype=F64)


def truncation_study(seed: int = 0) -> dict[str, Tensor]:
    r"""Time limit bootstrapped vs treated as termination (Pardo et al. 2018), notebook 02, section 5: tabular values
    fitted to GAE(λ) targets of :data:`TRUNC_EPISODES` episodes cut at :data:`TIME_LIMIT` steps
    (:func:`ppo_lite.course.tabular.fit_values_with_time_limit`), and the mean target error
    :math:`\hat A^\lambda_t + V^\pi(s_t) - V^\pi(s_t)` by step (:func:`ppo_lite.course.tabular.target_error_by_step`).
    ``live`` marks the non-terminal states."""
    mdp, theta = truncation_problem()
    tr = mdp.sample_transitions(theta, TRUNC_EPISODES, torch.Generator().manual_seed(seed), TIME_LIMIT)
    V = mdp.values(theta)
    out = {"V": V, "live": ~mdp.terminal, "truncated_fraction": tr.truncated.any(0).to(F64).mean()}
    for name, boot in (("bootstrap", True), ("terminal", False)):
        out[f"V_fit_{name}"] = tab.fit_values_with_time_limit(mdp, tr, TRUNC_LAM, boot)
        out[f"target_error_{name}"] = tab.target_error_by_step(mdp, tr, V, TRUNC_LAM, boot)
    return out


def normalization_study(batches: int = 200, episodes: int = 16, lam: float = 0.95, seed: int = 5) -> dict[str, float]:
    r"""Per-batch advantage normalization :math:`\tilde A_t = (\hat A_t - \operatorname{mean}\hat A)/\operatorname{std}\hat A` on :func:`gae_problem`
    (notebook 02, section 6): fraction of advantages whose sign flips, and the mean cosine between the batch gradient
    and the exact ∇J with raw vs normalized advantages."""
    if batches < 1 or episodes < 2:
        raise ValueError(f"need batches >= 1 and episodes >= 2, got batches={batches}, episodes={episodes}")
    _check_unit("lam", [lam])
    mdp, theta, v_hat = gae_problem()
    exact = mdp.exact_policy_gradient(theta).flatten()
    gen = torch.Generator().manual_seed(seed)
    flips, cos_raw, cos_norm = [], [], []
    for _ in range(batches):
        tr = mdp.sample_transitions(theta, episodes, gen, 1000)
        adv, keep = mdp.gae(tr, v_hat, lam), tr.mask.bool()
        normed = torch.zeros_like(adv)
        normed[keep] = normalize_advantages(adv[keep])  # the trainer's per-batch normalization
        flips.append(((adv[keep] > 0) != (normed[keep] > 0)).to(F64).mean())
        discount = mdp.gamma ** torch.arange(adv.shape[0], dtype=F64)[:, None]
        for weights, out in ((adv, cos_raw), (normed, cos_norm)):
            w = (discount * weights * tr.mask).T
            g = mdp.weighted_score_sums(theta, tr.states.T, tr.actions.T, w).mean(0).flatten()
            out.append(torch.nn.functional.cosine_similarity(g, exact, 0))
    mean = lambda xs: torch.stack(xs).mean().item()  # noqa: E731
    return {"sign_flip_fraction": mean(flips), "cosine_raw": mean(cos_raw), "cosine_normalized": mean(cos_norm)}
