"""Notebook 03's checkers pass the reference, say "not attempted" to a stub, and catch the classic wrong answers
(naming the registered mistake where there is one)."""
import math

import pytest
import torch

from ppo_lite.course import surrogate_study as ss, trpo
from ppo_lite.course.exercises import nb03
from ppo_lite.objectives import surrogate_loss


def _stub(*args, **kwargs):
    raise NotImplementedError


# ----------------------------------------------------------------------------------- 1. surrogate
def test_no_public_solutions():
    assert not [n for n in dir(nb03) if n.startswith(("solution", "reference"))]


def test_surrogate_checker():
    assert nb03.check_surrogate(nb03._reference_surrogate)
    assert nb03.check_surrogate(lambda logp_new, logp_old, advantages: -surrogate_loss(logp_new, logp_old, advantages))
    stub = nb03.check_surrogate(_stub)
    assert not stub and not stub.attempted and "NOT ATTEMPTED" in repr(stub)
    for description, wrong in nb03.SURROGATE_MISTAKES.items():
        result = nb03.check_surrogate(wrong)
        assert not result and result.attempted and result.mistake == description
    # an unregistered wrong answer fails without a named mistake
    result = nb03.check_surrogate(lambda logp_new, logp_old, advantages: (torch.exp(logp_new - logp_old)).mean())
    assert not result and result.mistake is None


# ----------------------------------------------------------------------------------- 2. state KL
def test_state_kl_checker():
    assert nb03.check_state_kl(nb03._reference_state_kl)
    stub = nb03.check_state_kl(_stub)
    assert not stub and not stub.attempted
    for description, wrong in nb03.STATE_KL_MISTAKES.items():
        result = nb03.check_state_kl(wrong)
        assert not result and result.mistake == description
    naive = nb03.check_state_kl(lambda pi_old, pi_new: (pi_old * torch.log(pi_old / pi_new)).sum(-1))  # 0 log 0
    assert not naive and "NaN" in naive.message


# ----------------------------------------------------------------------------------- 3. natural step
def test_natural_step_checker_passes_every_correct_method():
    assert nb03.check_natural_step(nb03._reference_natural_step)

    def pinv_step(g, F, fvp, delta):
        x = (torch.linalg.pinv(F) @ g.flatten()).reshape(g.shape)
        return math.sqrt(2 * delta / (g * x).sum().item()) * x

    def damped_step(g, F, fvp, delta):
        x = torch.linalg.solve(F + 1e-6 * torch.eye(F.shape[0], dtype=F.dtype), g.flatten()).reshape(g.shape)
        return math.sqrt(2 * delta / (g * x).sum().item()) * x

    def trpo_cg_step(g, F, fvp, delta):  # TRPO's 10 conjugate-gradient iterations
        x = trpo.conjugate_gradient(fvp, g, iterations=10)
        return trpo.trpo_step_size(g, x, delta) * x

    def shifted_step(g, F, fvp, delta):  # adding a constant to a state's logits changes nothing
        return nb03._reference_natural_step(g, F, fvp, delta) + 3.0

    def damped_small_against_fmin(g, F, fvp, delta):  # damping mu = 0.1 f_min on every problem: small enough
        eigenvalues = torch.linalg.eigvalsh(F)
        mu = 0.1 * eigenvalues[eigenvalues > 1e-10].min().item()
        x = torch.linalg.solve(F + mu * torch.eye(F.shape[0], dtype=F.dtype), g.flatten()).reshape(g.shape)
        return math.sqrt(2 * delta / (g * x).sum().item()) * x

    for fn in (pinv_step, damped_step, trpo_cg_step, shifted_step, damped_small_against_fmin):
        assert nb03.check_natural_step(fn), fn.__name__


def test_natural_step_damping_must_be_small_against_the_smallest_nonzero_eigenvalue():
    """The docstring's condition, both ways: a fixed mu = 1e-3 is not small against the problems' f_min (some are
    ~1.6e-4) and fails, naming f_min; mu = f_min itself fails on some problem; the constant SMALLEST_FMIN is right."""
    def damped(mu_of_F):
        def step(g, F, fvp, delta):
            x = torch.linalg.solve(F + mu_of_F(F) * torch.eye(F.shape[0], dtype=F.dtype), g.flatten()).reshape(g.shape)
            return math.sqrt(2 * delta / (g * x).sum().item()) * x
        return step

    def f_min(F):
        eigenvalues = torch.linalg.eigvalsh(F)
        return eigenvalues[eigenvalues > 1e-10].min().item()

    fixed = nb03.check_natural_step(damped(lambda F: 1e-3))
    assert not fixed and fixed.attempted and "smallest non-zero eigenvalue" in fixed.message
    assert not nb03.check_natural_step(damped(f_min))                     # mu = f_min: not small against it
    assert nb03.check_natural_step(damped(lambda F: 1e-5))                # far below every f_min
    gen = torch.Generator().manual_seed(0)
    smallest = min(f_min(nb03._natural_step_problem(gen)[2]["F"]) for _ in range(20))
    assert 0.5 * nb03.SMALLEST_FMIN < smallest < 2 * nb03.SMALLEST_FMIN < 1e-3


def test_natural_step_checker_catches_the_usual_mistakes():
    stub = nb03.check_natural_step(_stub)
    assert not stub and not stub.attempted
    for description, (wrong, _) in nb03.NATURAL_STEP_MISTAKES.items():
        result = nb03.check_natural_step(wrong)
        assert not result and result.mistake == description, (description, result)
    # the plain gradient scaled to the right KL is still the wrong direction
    def plain_at_quadratic_kl(g, F, fvp, delta):
        return math.sqrt(2 * delta / (g * fvp(g)).sum().item()) * g
    result = nb03.check_natural_step(plain_at_quadratic_kl)
    assert not result and result.mistake.startswith("the plain gradient")
    # a plain solve of the singular F is reported, with the hint
    result = nb03.check_natural_step(lambda g, F, fvp, delta: torch.linalg.solve(F, g.flatten()).reshape(g.shape))
    assert not result and result.attempted and "singular" in result.message
    # the right direction, far too long: not a registered mistake, still caught by the KL test
    result = nb03.check_natural_step(lambda g, F, fvp, delta: 2.0 * nb03._reference_natural_step(g, F, fvp, delta))
    assert not result and result.mistake is None and "exact mean KL" in result.message
    result = nb03.check_natural_step(lambda g, F, fvp, delta: g.flatten())
    assert not result and "shape" in result.message


# ----------------------------------------------------------------------------------- 4. (open) penalty beta
def test_penalty_beta_checker_range():
    assert not nb03.check_penalty_beta(None).attempted
    good, too_small, too_large = (nb03.check_penalty_beta(b) for b in (8.0, 1.0, 50.0))
    assert good and not too_small and not too_large
    assert too_small.attempted and "mean KL reached" in too_small.message
    assert not nb03.check_penalty_beta(-1.0) and "beta must be" in nb03.check_penalty_beta(-1.0).message


def test_penalized_climb_reduces_to_the_plain_climb_at_beta_zero():
    """beta = 0 is notebook 03's section 3: the same final J as many_surrogate_steps on the same batches."""
    from ppo_lite.course.tabular import TabularMDP
    mdp = TabularMDP.random(num_states=8, num_actions=4, gamma=0.9, seed=0)
    theta_old = ss.pretrained_theta(mdp, 5)
    out = nb03.penalized_climb_gains(0.0, steps=20)
    for seed in (0, 5):
        batch = ss.sample_batch(mdp, theta_old, 16, torch.Generator().manual_seed(seed))
        run = ss.many_surrogate_steps(mdp, theta_old, batch, steps=20, lr=0.5)
        assert out["gain"][seed].item() == pytest.approx((run["J"][-1] - run["J"][0]).item(), abs=1e-12)
