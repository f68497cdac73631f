"""Notebook 10's checkers pass the reference and independent correct answers, report a stub as not attempted, and
catch (and name) the registered wrong answers."""
import math

import torch

from exercise_checks import assert_rejects_stub_and_names_mistakes
from ppo_lite.course import debugging
from ppo_lite.course.exercises import nb10
from ppo_lite.policies import gaussian_entropy


def test_solutions_pass_and_agree_with_the_library():
    assert nb10.check_weight_beyond(nb10.solution_weight_beyond)
    assert nb10.check_weight_beyond(lambda gamma, steps: torch.tensor(
        [debugging.discount_weight_beyond(float(g), int(t)) for g, t in zip(gamma, steps)], dtype=torch.float64))
    assert nb10.check_explained_variance(nb10.solution_explained_variance)
    assert nb10.check_explained_variance(  # written out by hand, an independent correct answer
        lambda values, returns: 1 - ((returns - values) - (returns - values).mean()).pow(2).sum()
        / (returns - returns.mean()).pow(2).sum())
    assert nb10.check_sigma_from_entropy(nb10.solution_sigma_from_entropy)
    assert nb10.check_sigma_from_entropy(lambda entropy, act_dim: torch.tensor(
        [debugging.gaussian_sigma(float(h), act_dim) for h in entropy], dtype=torch.float64))


def test_sigma_solution_inverts_the_policy_entropy():
    log_std = torch.tensor([[-2.0, 0.5, -0.1], [0.0, 0.0, 0.0]], dtype=torch.float64)
    sigma = nb10.solution_sigma_from_entropy(gaussian_entropy(log_std), 3)
    assert torch.allclose(sigma, log_std.mean(-1).exp(), rtol=1e-12)
    assert math.isclose(float(nb10.solution_weight_beyond(torch.tensor(0.99, dtype=torch.float64), torch.tensor(200.0, dtype=torch.float64))), 0.99**200, rel_tol=1e-6)


def test_stubs_are_not_attempted_and_mistakes_are_named():
    assert_rejects_stub_and_names_mistakes(nb10.check_weight_beyond, nb10.WEIGHT_BEYOND_MISTAKES)
    assert_rejects_stub_and_names_mistakes(nb10.check_explained_variance, nb10.EXPLAINED_VARIANCE_MISTAKES)
    assert_rejects_stub_and_names_mistakes(nb10.check_sigma_from_entropy, nb10.SIGMA_MISTAKES)


def test_unregistered_wrong_answers_fail_without_a_mistake_name():
    for checker, wrong in (
        (nb10.check_weight_beyond, lambda gamma, steps: 1 / (1 - gamma)),                         # the horizon instead
        (nb10.check_explained_variance, lambda values, returns: values.var() / (returns - values).var()),
        (nb10.check_sigma_from_entropy, lambda entropy, act_dim: entropy / act_dim),              # log sigma + const
    ):
        result = checker(wrong)
        assert not result and result.attempted and result.mistake is None
