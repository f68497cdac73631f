"""Notebook 02's studies (ppo_lite.course.gae_study) against independent computations: step-by-step loops for the
critic/returns split, power iteration and autograd for the γ-just expectations, Monte Carlo for the samples, and the
closed-form survival probability for the time limit."""
import pytest
import torch

from ppo_lite.course import gae_study as gs
from ppo_lite.course import tabular as tab

F64 = torch.float64


def loop_gradients(mdp, theta, tr, rewards_on: bool, values: torch.Tensor, lam: float, telescoped: bool = False):
    """Per-episode sum_t gamma^t score(a_t|s_t) A_t by explicit loops over each episode's steps. With
    ``telescoped``, A_t is the closed form -v(s_t) + (1-lam) sum_{l>=1} gamma^l lam^(l-1) v(s_{t+l}) (zero rewards)."""
    g = mdp.gamma
    v = values * (~mdp.terminal).to(F64)
    out = []
    for e in range(tr.states.shape[1]):
        n = int(tr.mask[:, e].sum())
        s, a = tr.states[:n, e], tr.actions[:n, e]
        path = torch.cat([s, tr.next_states[n - 1:n, e]])  # s_0 .. s_n, the last one terminal
        r = tr.rewards[:n, e] if rewards_on else torch.zeros(n, dtype=F64)
        total = torch.zeros(mdp.num_states, mdp.num_actions, dtype=F64)
        for t in range(n):
            if telescoped:
                adv = -v[path[t]] + (1 - lam) * sum(g**l * lam ** (l - 1) * v[path[t + l]] for l in range(1, n - t + 1))
            else:
                adv = sum((g * lam) ** l * (r[t + l] + g * v[path[t + l + 1]] - v[path[t + l]]) for l in range(n - t))
            total += g**t * tab.score_function(theta, s[t:t + 1], a[t:t + 1])[0] * adv
        out.append(total)
    return torch.stack(out)


@pytest.mark.parametrize("lam", [0.0, 0.6, 1.0])
def test_split_gradient_samples_match_loops_and_the_telescoped_critic_error(lam):
    mdp, theta, v_hat = gs.gae_problem()
    tr = mdp.sample_transitions(theta, 12, torch.Generator().manual_seed(4), 1000)
    ret, crit = gs.split_gradient_samples(mdp, theta, tr, v_hat, lam)
    eps = v_hat - mdp.values(theta)
    assert torch.allclose(ret, loop_gradients(mdp, theta, tr, True, mdp.values(theta), lam), atol=1e-9)
    assert torch.allclose(crit, loop_gradients(mdp, theta, tr, False, eps, lam, telescoped=True), atol=1e-9)
    assert torch.allclose(ret + crit, loop_gradients(mdp, theta, tr, True, v_hat, lam), atol=1e-9)


def test_variance_split_adds_up_and_uses_the_bias_variance_episodes():
    split = gs.variance_split_study(num_episodes=300, seed=2)
    study = gs.bias_variance_study(num_episodes=300, seed=2)
    assert (split["split_error"] < 1e-9).all()
    assert torch.allclose(split["total"], split["returns"] + split["critic"] + split["covariance"], rtol=1e-9)
    assert torch.allclose(split["total"], study["variance"], rtol=1e-12)
    assert (split["returns"] > 0).all() and (split["critic"] > 0).all()


def test_variance_split_rejects_too_few_episodes():
    with pytest.raises(ValueError, match="at least 2 episodes"):
        gs.variance_split_study(num_episodes=1)


def power_iteration_expected_gradient(gamma: float, gamma_eval: float, steps: int = 3000) -> torch.Tensor:
    """sum_t gamma_eval^t Pr(s_t = s) pi(b|s) A^{pi,gamma}(s,b) by iterating the chain and the Bellman backup
    (no linear solve)."""
    mdp, theta = gs.gamma_problem(gamma_eval)
    pi = tab.policy(theta)
    live = (~mdp.terminal).to(F64)
    P = mdp.P * live[:, None, None] * live[None, None, :]
    R = mdp.R * live[:, None]
    P_pi = torch.einsum("sa,sat->st", pi, P)
    mu, visits = mdp.mu0.clone(), torch.zeros(mdp.num_states, dtype=F64)
    V = torch.zeros(mdp.num_states, dtype=F64)
    for _ in range(steps):
        visits += mu
        mu = gamma_eval * mu @ P_pi
        V = (pi * R).sum(-1) + gamma * P_pi @ V
    Q = R + gamma * P @ V
    return visits[:, None] * pi * (Q - V[:, None])


def test_gamma_just_expectations_against_power_iteration_and_autograd():
    gammas = [1.0, 0.9, 0.6]
    res = gs.gamma_just_study(gammas=gammas, num_episodes=1500, seed=7)
    for i, g in enumerate(gammas):
        assert torch.allclose(res["expected"][i], power_iteration_expected_gradient(g, 1.0), atol=1e-8), g
    mdp, theta = gs.gamma_problem(1.0)
    theta = theta.clone().requires_grad_()
    (autograd,) = torch.autograd.grad(mdp.objective(theta), theta)
    assert torch.allclose(res["exact"], autograd, atol=1e-10)
    assert res["bias2"][0] < 1e-20 and (res["bias2"][1:] > 1e-4).all()
    assert (res["mc_bias_z"] < 4.5).all()             # Monte Carlo means agree with the exact expectations
    assert (res["variance"].diff() < 0).all()          # fewer effective rewards summed, less variance


def test_gamma_just_with_a_discounted_objective():
    # gamma_eval < 1: the gamma_eval^t weights enter the samples; the expectation still checks out by Monte Carlo
    res = gs.gamma_just_study(gammas=[0.95, 0.7], gamma_eval=0.95, num_episodes=1500, seed=3)
    for i, g in enumerate([0.95, 0.7]):
        assert torch.allclose(res["expected"][i], power_iteration_expected_gradient(g, 0.95), atol=1e-8)
    assert res["bias2"][0] < 1e-20 < res["bias2"][1]
    assert (res["mc_bias_z"] < 4.5).all()


def test_gamma_just_rejects_a_discount_above_the_problems():
    with pytest.raises(ValueError, match="gamma_eval"):
        gs.gamma_just_study(gammas=[0.99], gamma_eval=0.9)
    with pytest.raises(ValueError, match="gammas"):
        gs.gamma_just_study(gammas=[1.2])


def test_truncated_fraction_is_the_survival_probability():
    # every (s, a) terminates with probability 0.01 in truncation_problem, so an episode outlives the limit with
    # probability 0.99^TIME_LIMIT whatever the policy
    out = gs.truncation_study(seed=11)
    p = 0.99**gs.TIME_LIMIT
    se = (p * (1 - p) / gs.TRUNC_EPISODES) ** 0.5
    assert abs(out["truncated_fraction"].item() - p) < 4 * se


def test_truncation_study_marks_the_live_states():
    out = gs.truncation_study(seed=2)
    mdp, _ = gs.truncation_problem()
    assert torch.equal(out["live"], ~mdp.terminal) and out["live"].any()
    assert (out["V"][~out["live"]] == 0).all() and (out["V"][out["live"]] > 0).all()  # positive rewards, terminal pays 0
