"""Notebook 04's checkers pass the reference, report a stub as not attempted, and catch the usual wrong answers
(naming the registered mistake where there is one)."""
import math

import pytest
import torch

from ppo_lite.course.exercises import nb04
from ppo_lite.kl import kl_k3
from ppo_lite.course.kl_constrained import MDP_ARGS
from ppo_lite.course.tabular import TabularMDP


def _stub(*args, **kwargs):
    raise NotImplementedError


def _assert_stub_not_attempted(result):
    assert not result and not result.attempted and "not attempted" in result.message


# ----------------------------------------------------------------------------------------- 1. k3
def test_no_public_solutions():
    assert not [n for n in dir(nb04) if n.startswith(("solution", "reference"))]


def test_k3_checker():
    assert nb04.check_k3(nb04._solution_k3)
    assert nb04.check_k3(kl_k3)  # the library's estimator is the reference
    _assert_stub_not_attempted(nb04.check_k3(_stub))
    for description, wrong in nb04._K3_MISTAKES.items():
        result = nb04.check_k3(wrong)
        assert not result and result.mistake == description
    # unregistered wrong answers fail too
    assert not nb04.check_k3(lambda logp_new, logp_old: torch.exp(logp_new - logp_old) - 1)  # only r - 1
    assert not nb04.check_k3(lambda logp_new, logp_old: (logp_new - logp_old).abs())


# ----------------------------------------------------------------------------------------- 2. dual update
def test_dual_update_checker():
    assert nb04.check_dual_update(nb04._solution_dual_update)
    _assert_stub_not_attempted(nb04.check_dual_update(_stub))
    no_projection = nb04.check_dual_update(lambda eta, kl, delta, lr: eta + lr * (kl - delta))
    assert not no_projection and no_projection.mistake.startswith("no projection")
    reversed_sign = nb04.check_dual_update(lambda eta, kl, delta, lr: torch.clamp(eta - lr * (kl - delta), min=0.0))
    assert not reversed_sign and reversed_sign.mistake.startswith("the sign reversed")
    assert not nb04.check_dual_update(lambda eta, kl, delta, lr: torch.clamp(eta + (kl - delta), min=0.0))  # no lr


# ----------------------------------------------------------------------------------------- 3. tilted
def test_tilted_checker():
    assert nb04.check_tilted(nb04._solution_tilted)
    _assert_stub_not_attempted(nb04.check_tilted(_stub))
    for description, wrong in nb04._TILTED_MISTAKES.items():
        result = nb04.check_tilted(wrong)
        assert not result and result.mistake == description
    assert not nb04.check_tilted(lambda advantages, q, eta: torch.softmax(torch.log(q) - advantages / eta, -1))


def test_tilted_solution_is_the_library_closed_form():
    from ppo_lite.course.kl_constrained import tilted_distribution

    gen = torch.Generator().manual_seed(3)
    a, q = torch.randn(6, generator=gen, dtype=torch.float64), torch.softmax(torch.randn(6, generator=gen, dtype=torch.float64), -1)
    assert torch.allclose(nb04._solution_tilted(a, q, 0.7), tilted_distribution(a, q, 0.7), atol=1e-15)


# ----------------------------------------------------------------------------------------- 4. one PPO v1 iteration
def _iteration_by_hand(theta_old, states, actions, advantages, eta, delta, dual_lr, lr, steps):
    """An independent solution: the gradient of the penalized surrogate for a softmax table written out by hand.

    d/d theta_{s,b} of r_i A_i = r_i A_i (1[b = a_i] - pi(b|s_i)) 1[s = s_i];
    d/d theta_{s,b} of KL(pi_old(.|s_i) || pi(.|s_i)) = (pi(b|s_i) - pi_old(b|s_i)) 1[s = s_i].
    """
    n = states.shape[0]
    pi_old = torch.softmax(theta_old, -1)
    theta = theta_old.clone()
    onehot_s = torch.nn.functional.one_hot(states, theta.shape[0]).to(theta.dtype)     # (N, S)
    onehot_a = torch.nn.functional.one_hot(actions, theta.shape[1]).to(theta.dtype)    # (N, A)
    for _ in range(steps):
        pi = torch.softmax(theta, -1)
        r = pi[states, actions] / pi_old[states, actions]
        g_surr = (r * advantages)[:, None] * (onehot_a - pi[states])                   # (N, A)
        g_kl = pi[states] - pi_old[states]
        theta = theta + lr * onehot_s.T @ (g_surr - eta * g_kl) / n
    pi = torch.softmax(theta, -1)
    kl = (pi_old[states] * (torch.log(pi_old[states]) - torch.log(pi[states]))).sum(-1).mean().item()
    return theta, kl, max(0.0, eta + dual_lr * (kl - delta))


def test_ppo_v1_dual_iteration_checker():
    assert nb04.check_ppo_v1_dual_iteration(nb04._solution_ppo_v1_dual_iteration)
    assert nb04.check_ppo_v1_dual_iteration(_iteration_by_hand)  # the reference agrees with a hand-derived gradient
    _assert_stub_not_attempted(nb04.check_ppo_v1_dual_iteration(_stub))
    for description, wrong in nb04._ITERATION_MISTAKES.items():
        result = nb04.check_ppo_v1_dual_iteration(wrong)
        assert not result and result.mistake == description, (description, result)


def test_ppo_v1_dual_iteration_catches_unregistered_mistakes():
    def no_penalty(theta_old, states, actions, advantages, eta, delta, dual_lr, lr, steps):
        return nb04._solution_ppo_v1_dual_iteration(theta_old, states, actions, advantages, 0.0, delta, dual_lr, lr,
                                                   steps)[:2] + (max(0.0, eta + dual_lr * 0.0),)

    def descent_not_ascent(theta_old, states, actions, advantages, eta, delta, dual_lr, lr, steps):
        return nb04._solution_ppo_v1_dual_iteration(theta_old, states, actions, advantages, eta, delta, dual_lr, -lr, steps)

    for wrong in (no_penalty, descent_not_ascent):
        result = nb04.check_ppo_v1_dual_iteration(wrong)
        assert not result and result.attempted


def test_iteration_inputs_exercise_the_projection():
    """The random problems must make eta's projection act on some trials (else 'no projection' passes)."""
    gen = torch.Generator().manual_seed(0)
    projected = sum(nb04._solution_ppo_v1_dual_iteration(**nb04._iteration_inputs(gen))[2] == 0.0 for _ in range(20))
    assert 2 <= projected <= 18


# ----------------------------------------------------------------------------------------- 5. (open) beta spread
def test_beta_spread_checker():
    mdp = TabularMDP.random(**MDP_ARGS)
    assert nb04.check_beta_spread(nb04._solution_beta_spread, mdp)
    _assert_stub_not_attempted(nb04.check_beta_spread(_stub, mdp))
    # the natural log instead of log2 is named; a non-integer is told it is not a whole number of doublings
    natural_log = nb04.check_beta_spread(lambda m, k: nb04._solution_beta_spread(m, k) * math.log(2), mdp)
    assert not natural_log and natural_log.mistake.startswith("the natural log")
    half = nb04.check_beta_spread(lambda m, k: nb04._solution_beta_spread(m, k) + 0.5, mdp)
    assert not half and "not an integer" in half.message
    # log2 written as log / log(2) is right, whatever its last bit
    assert nb04.check_beta_spread(lambda m, k: math.log(2.0 ** nb04._solution_beta_spread(m, k)) / math.log(2), mdp)
    raw_ratio = nb04.check_beta_spread(lambda m, k: 2.0 ** nb04._solution_beta_spread(m, k), mdp)
    assert not raw_ratio and raw_ratio.attempted and "not the reference run's" in raw_ratio.message
    # a constant answer (no spread at all) is wrong
    assert not nb04.check_beta_spread(lambda m, k: 0.0, mdp)


def test_beta_spread_checker_tells_every_update_from_every_batch():
    """run["coef"] (the value after each batch) gives 49 doublings per minibatch where every value beta took gives
    52: both inside any plausible range, and the checker must still reject the first and name the mistake."""
    from ppo_lite.kl import AdaptiveBeta
    from ppo_lite.course.kl_constrained import ppo_v1_tabular
    from ppo_lite.course.kl_constrained import V1_LOOP

    def per_batch(mdp, update_every_minibatch):
        run = ppo_v1_tabular(mdp, AdaptiveBeta(target=0.02, init=1.0), **V1_LOOP,
                             update_every_minibatch=update_every_minibatch)
        return math.log2(run["coef"].max().item() / run["coef"].min().item())

    def every_value(mdp, update_every_minibatch):  # an independent right answer, written as a learner would
        run = ppo_v1_tabular(mdp, AdaptiveBeta(target=0.02, init=1.0), **V1_LOOP,
                             update_every_minibatch=update_every_minibatch)
        return math.log2(run["coef_all"].max().item() / run["coef_all"].min().item())

    mdp = TabularMDP.random(**MDP_ARGS)
    lo, hi = nb04.BETA_SPREAD_RANGES[8]
    assert per_batch(mdp, 8) != every_value(mdp, 8) and lo <= per_batch(mdp, 8) <= hi  # a range cannot tell them apart
    result = nb04.check_beta_spread(per_batch, mdp)
    assert not result and result.attempted and "run['coef']" in result.mistake
    assert nb04.check_beta_spread(every_value, mdp)
    # off by one doubling, still inside the range: rejected
    assert not nb04.check_beta_spread(lambda m, k: every_value(m, k) + (1.0 if k else 0.0), mdp)


@pytest.mark.parametrize("every", [0, 8])
def test_beta_spread_ranges_hold_on_other_batch_seeds(every):
    """The expected ranges are not tuned to seed 0: they hold for other batch seeds of the same setting."""
    from ppo_lite.kl import AdaptiveBeta
    from ppo_lite.course.kl_constrained import ppo_v1_tabular

    mdp = TabularMDP.random(**MDP_ARGS)
    lo, hi = nb04.BETA_SPREAD_RANGES[every]
    for seed in (1, 2):
        coef = ppo_v1_tabular(mdp, AdaptiveBeta(target=0.02, init=1.0), seed=seed, update_every_minibatch=every)["coef_all"]
        assert lo <= math.log2(coef.max().item() / coef.min().item()) <= hi
