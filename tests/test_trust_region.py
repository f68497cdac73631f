"""ppo_lite.trust_region against independent references: closed forms, brute force, finite differences,
the exact tabular gradient and Monte Carlo."""
import math

import pytest
import torch

from ppo_lite import trust_region as tr
from ppo_lite.kl import AdaptiveBeta, DualDescent
from ppo_lite.tabular import TabularMDP

A = torch.tensor([1.0, 0.5, 0.0, -0.5, -1.0], dtype=torch.float64)
Q = torch.tensor([0.1, 0.15, 0.3, 0.3, 0.15], dtype=torch.float64)


@pytest.fixture(scope="module")
def mdp_and_theta():
    mdp = TabularMDP.random(6, 3, 0.9, seed=3)
    return mdp, tr.pretrained_theta(mdp, 3)


# ----------------------------------------------------------------------------------- toy constrained problem
@pytest.mark.parametrize("delta", [0.01, 0.1, 0.5])
def test_constrained_optimum_is_feasible_and_beats_random_feasible_points(delta):
    opt = tr.constrained_optimum(A, Q, delta)
    assert abs(opt.kl - delta) < 1e-9  # the constraint binds (delta < KL_max here)
    gen = torch.Generator().manual_seed(0)
    # Brute force: 60,000 random distributions around q at many scales; keep the feasible ones.
    scales = torch.logspace(-2, 1, 30, dtype=torch.float64).repeat_interleave(2000)[:, None]
    p = torch.softmax(torch.log(Q) + scales * torch.randn(len(scales), 5, generator=gen, dtype=torch.float64), -1)
    feasible = tr.kl_categorical(p, Q.expand_as(p)) <= delta
    assert feasible.sum() > 1000
    best_random = (p[feasible] * A).sum(-1).max().item()
    assert opt.value >= best_random - 1e-12
    assert opt.value - best_random < 0.1 * (opt.value - (Q * A).sum().item())  # and brute force gets close


def test_constrained_optimum_satisfies_stationarity():
    """KKT: log(p*/q) - A/eta* is constant across actions."""
    opt = tr.constrained_optimum(A, Q, 0.1)
    residual = torch.log(opt.p / Q) - A / opt.eta
    assert residual.max() - residual.min() < 1e-10


def test_constraint_not_binding_gives_the_greedy_distribution():
    opt = tr.constrained_optimum(A, Q, delta=-math.log(0.1) + 0.1)
    assert opt.eta == 0.0 and opt.p[0].item() == 1.0 and opt.value == 1.0


def test_dual_function_derivative_and_weak_duality():
    delta = 0.1
    opt = tr.constrained_optimum(A, Q, delta)
    for eta in [0.3, 1.0, 3.0]:
        h = 1e-6
        fd = (tr.dual_function(eta + h, A, Q, delta) - tr.dual_function(eta - h, A, Q, delta)) / (2 * h)
        analytic = delta - tr.kl_categorical(tr.tilted_distribution(A, Q, eta), Q)
        assert abs(fd.item() - analytic.item()) < 1e-7
        assert tr.dual_function(eta, A, Q, delta).item() >= opt.value - 1e-12
    assert abs(tr.dual_function(opt.eta, A, Q, delta).item() - opt.value) < 1e-9  # strong duality at eta*


def test_dual_descent_toy_converges_to_closed_form():
    opt = tr.constrained_optimum(A, Q, 0.1)
    run = tr.penalized_ascent_toy(A, Q, DualDescent(target=0.1, init=0.2, lr=1.0), outer_steps=60, inner_steps=5)
    assert abs(run["coef"][-1].item() - opt.eta) < 1e-4
    assert (run["p"][-1] - opt.p).abs().max().item() < 1e-4
    assert run["p"].shape == (61, 5)


def test_adaptive_beta_toy_ends_in_band_but_not_at_the_optimum():
    opt = tr.constrained_optimum(A, Q, 0.1)
    run = tr.penalized_ascent_toy(A, Q, AdaptiveBeta(target=0.1, init=0.2), outer_steps=60, inner_steps=5)
    assert 0.1 / 1.5 <= run["kl"][-1].item() <= 0.15
    assert abs(run["coef"][-1].item() - opt.eta) > 0.05  # beta only lands within a factor of 2


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(advantages=A, q=Q, delta=0.0), "delta"),
        (dict(advantages=A, q=Q * 2, delta=0.1), "sum to 1"),
        (dict(advantages=A[:3], q=Q, delta=0.1), "one length"),
        (dict(advantages=A, q=torch.tensor([0.0, 0.25, 0.25, 0.25, 0.25], dtype=torch.float64), delta=0.1), "positive"),
    ],
)
def test_constrained_optimum_rejects_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        tr.constrained_optimum(**kwargs)


# ----------------------------------------------------------------------------------- importance sampling, KL estimators
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


def test_kl_estimators_bias_matches_closed_form():
    mus = [0.5, 1.5]
    study = tr.kl_estimator_study(mus, n_samples=100, n_repeats=4000)
    for i, mu in enumerate(mus):
        assert study["exact"][i].item() == pytest.approx(mu**2 / 2)
        for k in ("k1", "k3"):  # unbiased
            assert abs(study[f"{k}_mean"][i] - study["exact"][i]) < 4 * study[f"{k}_se"][i]
        k2_expected = 0.5 * (mu**2 + mu**4 / 4)  # E[(log r)^2]/2 with log r = mu x - mu^2/2
        assert abs(study["k2_mean"][i].item() - k2_expected) < 4 * study["k2_se"][i].item()
    assert study["k1_min"].min() < 0 and study["k3_min"].min() >= 0 and study["k2_min"].min() >= 0


def test_kl_estimator_categorical_exact_kl():
    study = tr.kl_estimator_study([1.0], n_samples=10, n_repeats=10, family="categorical")
    p_new = torch.softmax(torch.tensor([1.0, 0.5, -0.5, -1.0], dtype=torch.float64), -1)
    exact = (0.25 * torch.log(0.25 / p_new)).sum().item()
    assert study["exact"][0].item() == pytest.approx(exact, rel=1e-12)
    with pytest.raises(ValueError, match="family"):
        tr.kl_estimator_study([1.0], family="poisson")


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


def test_ppo_v1_tabular_improves_and_rejects_bad_input():
    mdp = TabularMDP.random(6, 3, 0.9, seed=1)
    run = tr.ppo_v1_tabular(mdp, DualDescent(target=0.02, init=1.0, lr=20.0), iterations=8, episodes_per_batch=16)
    assert run["J"][-1] > run["J"][0]
    assert run["J"].shape == (9,) and run["kl"].shape == (8,)
    with pytest.raises(ValueError, match="epochs"):
        tr.ppo_v1_tabular(mdp, DualDescent(), epochs=0)
    with pytest.raises(ValueError, match="theta_init"):
        tr.ppo_v1_tabular(mdp, DualDescent(), theta_init=torch.zeros(2, 2, dtype=torch.float64))
