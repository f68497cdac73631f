"""ppo_lite.kl_constrained against independent references: brute force, KKT conditions, finite differences,
closed-form estimator moments and the exact tabular return."""
import math

import pytest
import torch

from ppo_lite import kl_constrained as kc
from ppo_lite.kl import AdaptiveBeta, DualDescent
from ppo_lite.tabular import TabularMDP

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
