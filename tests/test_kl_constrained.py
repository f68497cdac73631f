"""ppo_lite.course.kl_constrained against independent references: brute force, KKT conditions, finite differences,
closed-form estimator moments and the exact tabular return."""
import math

import pytest
import torch

from ppo_lite.course import kl_constrained as kc
from ppo_lite.kl import AdaptiveBeta, DualDescent
from ppo_lite.course.tabular import TabularMDP

A = torch.tensor([1.0, 0.5, 0.0, -0.5, -1.0], dtype=torch.float64)
Q = torch.tensor([0.1, 0.15, 0.3, 0.3, 0.15], dtype=torch.float64)


# ----------------------------------------------------------------------------------- toy constrained problem
@pytest.mark.parametrize("delta", [0.01, 0.1, 0.5])
def test_constrained_optimum_is_feasible_and_beats_random_feasible_points(delta):
    opt = kc.constrained_optimum(A, Q, delta)
    assert abs(opt.kl - delta) < 1e-9  # the constraint binds (delta < KL_max here)
    gen = torch.Generator().manual_seed(0)
    # Brute force: 60,000 random distributions around q at many scales; keep the feasible ones.
    scales = torch.logspace(-2, 1, 30, dtype=torch.float64).repeat_interleave(2000)[:, None]
    p = torch.softmax(torch.log(Q) + scales * torch.randn(len(scales), 5, generator=gen, dtype=torch.float64), -1)
    feasible = kc.kl_categorical(p, Q.expand_as(p)) <= delta
    assert feasible.sum() > 1000
    best_random = (p[feasible] * A).sum(-1).max().item()
    assert opt.value >= best_random - 1e-12
    assert opt.value - best_random < 0.1 * (opt.value - (Q * A).sum().item())  # and brute force gets close


def test_constrained_optimum_satisfies_stationarity():
    """KKT: log(p*/q) - A/eta* is constant across actions."""
    opt = kc.constrained_optimum(A, Q, 0.1)
    residual = torch.log(opt.p / Q) - A / opt.eta
    assert residual.max() - residual.min() < 1e-10


def test_constraint_not_binding_gives_the_greedy_distribution():
    opt = kc.constrained_optimum(A, Q, delta=-math.log(0.1) + 0.1)
    assert opt.eta == 0.0 and opt.p[0].item() == 1.0 and opt.value == 1.0


def test_dual_function_derivative_and_weak_duality():
    delta = 0.1
    opt = kc.constrained_optimum(A, Q, delta)
    for eta in [0.3, 1.0, 3.0]:
        h = 1e-6
        fd = (kc.dual_function(eta + h, A, Q, delta) - kc.dual_function(eta - h, A, Q, delta)) / (2 * h)
        analytic = delta - kc.kl_categorical(kc.tilted_distribution(A, Q, eta), Q)
        assert abs(fd.item() - analytic.item()) < 1e-7
        assert kc.dual_function(eta, A, Q, delta).item() >= opt.value - 1e-12
    assert abs(kc.dual_function(opt.eta, A, Q, delta).item() - opt.value) < 1e-9  # strong duality at eta*


def test_dual_descent_toy_converges_to_closed_form():
    opt = kc.constrained_optimum(A, Q, 0.1)
    run = kc.penalized_ascent_toy(A, Q, DualDescent(target=0.1, init=0.2, lr=1.0), outer_steps=60, inner_steps=5)
    assert abs(run["coef"][-1].item() - opt.eta) < 1e-4
    assert (run["p"][-1] - opt.p).abs().max().item() < 1e-4
    assert run["p"].shape == (61, 5)


def test_adaptive_beta_toy_ends_in_band_but_not_at_the_optimum():
    opt = kc.constrained_optimum(A, Q, 0.1)
    run = kc.penalized_ascent_toy(A, Q, AdaptiveBeta(target=0.1, init=0.2), outer_steps=60, inner_steps=5)
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
        kc.constrained_optimum(**kwargs)


# ----------------------------------------------------------------------------------- KL estimators
def test_kl_estimators_bias_matches_closed_form():
    mus = [0.5, 1.5]
    study = kc.kl_estimator_study(mus, n_samples=100, n_repeats=4000)
    for i, mu in enumerate(mus):
        assert study["exact"][i].item() == pytest.approx(mu**2 / 2)
        for k in ("k1", "k3"):  # unbiased
            assert abs(study[f"{k}_mean"][i] - study["exact"][i]) < 4 * study[f"{k}_se"][i]
        k2_expected = 0.5 * (mu**2 + mu**4 / 4)  # E[(log r)^2]/2 with log r = mu x - mu^2/2
        assert abs(study["k2_mean"][i].item() - k2_expected) < 4 * study["k2_se"][i].item()
    assert study["k1_min"].min() < 0 and study["k3_min"].min() >= 0 and study["k2_min"].min() >= 0


def test_kl_estimator_categorical_exact_kl():
    study = kc.kl_estimator_study([1.0], n_samples=10, n_repeats=10, family="categorical")
    p_new = torch.softmax(torch.tensor([1.0, 0.5, -0.5, -1.0], dtype=torch.float64), -1)
    exact = (0.25 * torch.log(0.25 / p_new)).sum().item()
    assert study["exact"][0].item() == pytest.approx(exact, rel=1e-12)
    with pytest.raises(ValueError, match="family"):
        kc.kl_estimator_study([1.0], family="poisson")


# ----------------------------------------------------------------------------------- PPO v1 on a tabular MDP
def test_ppo_v1_tabular_improves_and_rejects_bad_input():
    mdp = TabularMDP.random(6, 3, 0.9, seed=1)
    run = kc.ppo_v1_tabular(mdp, DualDescent(target=0.02, init=1.0, lr=20.0), iterations=8, episodes_per_batch=16)
    assert run["J"][-1] > run["J"][0]
    assert run["J"].shape == (9,) and run["kl"].shape == (8,)
    with pytest.raises(ValueError, match="epochs"):
        kc.ppo_v1_tabular(mdp, DualDescent(), epochs=0)
    with pytest.raises(ValueError, match="theta_init"):
        kc.ppo_v1_tabular(mdp, DualDescent(), theta_init=torch.zeros(2, 2, dtype=torch.float64))


def test_ppo_v1_tabular_traces_are_consistent_with_the_controllers():
    """Dual descent: eta is the running sum of its steps, so while the projection never acts the mean measured KL is
    delta + (eta_T - eta_0) / (alpha T). Adaptive beta: every value is beta_0 times a power of 2."""
    mdp = TabularMDP.random(8, 4, 0.9, seed=0)
    run = kc.ppo_v1_tabular(mdp, DualDescent(target=0.02, init=1.0, lr=20.0), iterations=12)
    assert run["coef"].min() > 0
    drift = (run["coef"][-1] - 1.0) / (20.0 * 12)
    assert abs((run["kl"].mean() - 0.02) - drift) < 1e-5
    assert torch.equal(run["coef"], run["coef_all"])  # one update per batch
    beta = kc.ppo_v1_tabular(mdp, AdaptiveBeta(target=0.02, init=1.0), iterations=12, update_every_minibatch=4)
    assert beta["coef_all"].shape == (12 * 10 * 4,)
    log2 = beta["coef_all"].log2()
    assert torch.equal(log2, log2.round())


def test_ppo_v1_tabular_kl_traces_against_the_exact_kl():
    """kl_exact weights the analytic per-state KL by the old visitation; kl_states averages it over the batch's states.
    Both are non-negative and of one size; the batch k3 the controller sees is an in-sample estimate, lower."""
    mdp = TabularMDP.random(8, 4, 0.9, seed=0)
    run = kc.ppo_v1_tabular(mdp, AdaptiveBeta(target=0.02, init=1.0), iterations=20)
    assert (run["kl_exact"] >= 0).all() and (run["kl_states"] >= 0).all() and (run["kl"] >= 0).all()
    assert 0.7 < (run["kl_states"] / run["kl_exact"]).median() < 1.4
    assert (run["kl_exact"] / run["kl"]).median() > 1.1


def test_ppo_v1_tabular_one_iteration_by_hand():
    """One iteration, one epoch, from the uniform policy: Adam's first step moves every logit with a nonzero gradient
    by exactly lr (its update is lr * g / |g| at step 1, up to eps), and the gradient of the k3 penalty is 0 there."""
    from ppo_lite.course.surrogate_study import sample_batch

    mdp = TabularMDP.random(6, 3, 0.9, seed=2)
    run = kc.ppo_v1_tabular(mdp, DualDescent(target=0.02, init=1.0, lr=20.0), iterations=1, epochs=1, lr=0.1, seed=5)
    theta0 = torch.zeros(6, 3, dtype=torch.float64)
    batch = sample_batch(mdp, theta0, 16, torch.Generator().manual_seed(5))  # the same first batch
    th = theta0.clone().requires_grad_(True)
    gain = (torch.exp(torch.log_softmax(th, -1)[batch.states, batch.actions] - batch.logp_old) * batch.advantages).mean()
    (g,) = torch.autograd.grad(gain, th)
    theta1 = 0.1 * torch.sign(g) * (g.abs() > 1e-12)
    assert abs(run["J"][1].item() - mdp.objective(theta1).item()) < 1e-6


def test_k3_gradient_is_the_kl_gradient_in_expectation_and_zero_at_theta_old():
    """sum_a pi_old(a) grad k3(a) = grad KL(pi_old || pi_theta) exactly (the derivation of notebook 04), and every
    per-action gradient of k3 vanishes at theta = theta_old, while k1's (the score) does not."""
    from ppo_lite.kl import kl_k1, kl_k3

    gen = torch.Generator().manual_seed(0)
    theta_old = torch.randn(6, generator=gen, dtype=torch.float64)
    log_old = torch.log_softmax(theta_old, -1)
    theta = theta_old + 0.7 * torch.randn(6, generator=gen, dtype=torch.float64)

    def per_action(est, th):
        return torch.autograd.functional.jacobian(lambda t: est(torch.log_softmax(t, -1), log_old), th)

    th = theta.clone().requires_grad_(True)
    (grad_kl,) = torch.autograd.grad(kc.kl_categorical(log_old.exp(), torch.softmax(th, -1)), th)
    for est in (kl_k3, kl_k1):
        assert torch.allclose(log_old.exp() @ per_action(est, theta), grad_kl, atol=1e-12)
    assert per_action(kl_k3, theta_old).abs().max().item() == 0.0
    assert per_action(kl_k1, theta_old).norm(dim=1).min() > 0.1


@pytest.mark.parametrize("family", ["gaussian", "categorical"])
def test_kl_study_log_ratio_moments(family):
    """k1 = -log r and k2 = (log r)^2 / 2, so Var(k1) = m2 - KL^2 and Var(k2) = (m4 - m2^2) / 4 exactly: the study's
    exact moments must match its sample spreads within sampling error."""
    study = kc.kl_estimator_study([0.3, 1.0], n_samples=100, n_repeats=2000, family=family)
    m2, m4, kl = study["logr_m2"], study["logr_m4"], study["exact"]
    assert torch.allclose(study["k1_std"], (m2 - kl**2).sqrt(), rtol=0.02)
    assert torch.allclose(study["k2_std"], 0.5 * (m4 - m2**2).sqrt(), rtol=0.03)
    if family == "gaussian":
        assert torch.allclose(m2, torch.tensor([0.3**2 + 0.3**4 / 4, 1.0 + 0.25], dtype=torch.float64), atol=1e-15)


def test_ppo_v1_tabular_heldout_k3_leaves_the_trace_alone_and_reads_the_exact_kl():
    """heldout_episodes does not change the training trace; its k3 on fresh episodes is not biased low the way the
    in-sample k3 is (over 40 batches its mean is within 20% of the exact KL, the in-sample one more than 20% below)."""
    mdp = TabularMDP.random(8, 4, 0.9, seed=0)
    plain = kc.ppo_v1_tabular(mdp, DualDescent(target=0.02, init=1.0, lr=20.0), iterations=40)
    held = kc.ppo_v1_tabular(mdp, DualDescent(target=0.02, init=1.0, lr=20.0), iterations=40, heldout_episodes=16)
    assert "kl_heldout" not in plain and all(torch.equal(plain[k], held[k]) for k in plain)
    late = slice(10, None)
    exact = held["kl_exact"][late].mean()
    assert abs(held["kl_heldout"][late].mean() / exact - 1) < 0.2 and held["kl"][late].mean() / exact < 0.8
    with pytest.raises(ValueError, match="heldout_episodes"):
        kc.ppo_v1_tabular(mdp, DualDescent(), heldout_episodes=-1)
