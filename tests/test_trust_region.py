"""ppo_lite.trust_region against independent references: closed forms, brute force, finite differences,
the exact tabular gradient and Monte Carlo."""
import math

import pytest
import torch

from ppo_lite import trust_region as tr
from ppo_lite.tabular import TabularMDP

@pytest.fixture(scope="module")
def mdp_and_theta():
    mdp = TabularMDP.random(6, 3, 0.9, seed=3)
    return mdp, tr.pretrained_theta(mdp, 3)


# ----------------------------------------------------------------------------------- importance sampling
def test_gaussian_weight_variance_matches_monte_carlo():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2_000_000, generator=gen, dtype=torch.float64)
    for mu in [0.3, 0.8]:
        w = torch.exp(mu * x - 0.5 * mu**2)
        assert abs(w.var().item() - tr.gaussian_weight_variance(mu).item()) < 0.02 * tr.gaussian_weight_variance(mu).item()


def test_importance_sampling_is_unbiased_for_small_shift():
    study = tr.importance_sampling_study([0.0, 0.5, 1.0], n_samples=500, n_repeats=400)
    se = study["estimate_std"] / math.sqrt(400)
    assert ((study["estimate_mean"] - study["shift"]).abs() < 4 * se + 1e-12).all()
    assert study["ess_fraction"][0].item() == pytest.approx(1.0)
    assert study["ess_fraction"][2] < study["ess_fraction"][1] < 1.0


# ----------------------------------------------------------------------------------- tabular surrogate
def test_exact_surrogate_gradient_is_the_policy_gradient(mdp_and_theta):
    mdp, theta_old = mdp_and_theta
    theta = theta_old.clone().requires_grad_(True)
    (g_sur,) = torch.autograd.grad(tr.exact_surrogate(mdp, theta, theta_old), theta)
    (g_j,) = torch.autograd.grad(mdp.objective(theta), theta)  # autograd through the linear solve
    assert torch.allclose(g_sur, g_j, atol=1e-10)
    assert tr.exact_surrogate(mdp, theta_old, theta_old).item() == pytest.approx(mdp.objective(theta_old).item())


def test_exact_surrogate_gradient_matches_finite_differences_of_j(mdp_and_theta):
    mdp, theta_old = mdp_and_theta
    theta = theta_old.clone().requires_grad_(True)
    (g_sur,) = torch.autograd.grad(tr.exact_surrogate(mdp, theta, theta_old), theta)
    h = 1e-6
    for s, a in [(0, 0), (2, 1), (4, 2)]:
        e = torch.zeros_like(theta_old)
        e[s, a] = h
        fd = (mdp.objective(theta_old + e) - mdp.objective(theta_old - e)).item() / (2 * h)
        assert abs(fd - g_sur[s, a].item()) < 1e-7


def test_sampled_surrogate_gradient_is_reinforce_with_baseline(mdp_and_theta):
    mdp, theta_old = mdp_and_theta
    batch = tr.sample_batch(mdp, theta_old, 12, torch.Generator().manual_seed(1))
    episodes = mdp.sample_episodes(theta_old, 12, torch.Generator().manual_seed(1))
    theta = theta_old.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(tr.sampled_surrogate(batch, theta), theta)
    assert torch.allclose(g, mdp.reinforce_gradient(theta_old, episodes, "baseline"), atol=1e-12)


def test_sampled_surrogate_is_unbiased_for_exact_surrogate(mdp_and_theta):
    mdp, theta_old = mdp_and_theta
    theta = theta_old + 0.3 * torch.randn(theta_old.shape, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    batch = tr.sample_batch(mdp, theta_old, 20000, torch.Generator().manual_seed(3))
    estimate = mdp.objective(theta_old).item() + tr.sampled_surrogate(batch, theta).item()
    assert estimate == pytest.approx(tr.exact_surrogate(mdp, theta, theta_old).item(), abs=0.05)


def test_trpo_bound_holds_and_is_tight_at_theta_old(mdp_and_theta):
    mdp, theta_old = mdp_and_theta
    gen = torch.Generator().manual_seed(4)
    at_old = tr.trpo_lower_bound(mdp, theta_old, theta_old)
    assert at_old["bound"] == pytest.approx(at_old["J"]) and at_old["max_kl"] == 0.0
    for _ in range(50):
        theta = theta_old + torch.rand(()).item() * 3 * torch.randn(theta_old.shape, generator=gen, dtype=torch.float64)
        row = tr.trpo_lower_bound(mdp, theta, theta_old)
        assert row["J"] >= row["bound"] - 1e-12


def test_state_kl_direction_and_terminal_states(mdp_and_theta):
    mdp, theta_old = mdp_and_theta
    theta = theta_old + 1.0
    assert tr.state_kl(mdp, theta_old, theta).abs().max().item() < 1e-12  # a constant shift of logits: same policy
    theta = theta_old.clone()
    theta[0, 0] += 2.0
    kl = tr.state_kl(mdp, theta_old, theta)
    p, q = torch.softmax(theta_old[0], -1), torch.softmax(theta[0], -1)
    assert kl[0].item() == pytest.approx((p * torch.log(p / q)).sum().item())
    assert (kl[mdp.terminal] == 0).all()


def test_many_surrogate_steps_surrogate_rises_while_j_falls():
    mdp = TabularMDP.random(8, 4, 0.9, seed=0)
    theta_old = tr.pretrained_theta(mdp, 5)
    run = tr.many_surrogate_steps(mdp, theta_old, tr.sample_batch(mdp, theta_old, 16, torch.Generator().manual_seed(3)),
                                  steps=300, lr=0.5)
    assert run["L_hat"][-1] > run["L_hat"][0] and (run["L_hat"].diff() > -1e-9).all()
    assert run["J"].max() > run["J"][0]  # the first steps help
    assert run["J"][-1] < run["J"][0]  # many steps hurt (this batch)


def test_ratio_drift_only_first_minibatch_is_exactly_one(mdp_and_theta):
    mdp, theta_old = mdp_and_theta
    batch = tr.sample_batch(mdp, theta_old, 16, torch.Generator().manual_seed(0))
    drift = tr.ratio_drift(batch, theta_old, epochs=3, minibatches=4)
    assert drift["max_dev"][0, 0].item() == 0.0
    assert (drift["max_dev"].flatten()[1:] > 0).all()
    bug = tr.ratio_drift(batch, theta_old, epochs=3, minibatches=4, recompute_old=True)
    assert bug["max_dev"].max().item() == 0.0 and bug["clip_frac"].max().item() == 0.0


# ----------------------------------------------------------------------------------- argument checks (shared with kl_constrained)
def test_argument_checks_name_the_bad_value(mdp_and_theta):
    mdp, theta_old = mdp_and_theta
    for bad in (0.0, -1.0, float("nan"), float("inf"), "0.1"):
        with pytest.raises(ValueError, match=r"^lr must be a finite number > 0, got"):
            tr.check_positive("lr", bad)
    tr.check_positive("lr", 1e-9)
    for bad in (0, 2.0, "3"):
        with pytest.raises(ValueError, match=r"^steps must be an int >= 1, got"):
            tr.check_count("steps", bad)
    tr.check_count("steps", 0, minimum=0)
    tr.check_thetas(mdp, theta_old=theta_old)
    with pytest.raises(ValueError, match=r"theta must have shape \(6, 3\), got \(3, 6\)"):
        tr.check_thetas(mdp, theta_old=theta_old, theta=theta_old.T)
    with pytest.raises(ValueError, match="lr must be a finite number > 0, got -0.5"):
        tr.many_surrogate_steps(mdp, theta_old, tr.sample_batch(mdp, theta_old, 2, torch.Generator().manual_seed(0)), lr=-0.5)
