"""ppo_lite.course.tabular against references that do not use its closed forms: autograd, finite differences,
iterative policy evaluation, and Monte Carlo rollouts."""
import pytest
import torch

from ppo_lite.course.tabular import ESTIMATORS, TabularMDP, make_small_mdp, score_function

torch.set_num_threads(1)
F64 = torch.float64


def mdps():
    return [make_small_mdp(), TabularMDP.random(6, 3, gamma=0.9, seed=1), TabularMDP.random(4, 2, gamma=1.0, seed=2)]


def random_theta(mdp, seed, scale=1.0):
    gen = torch.Generator().manual_seed(seed)
    return scale * torch.randn(mdp.num_states, mdp.num_actions, generator=gen, dtype=F64)


def iterative_policy_evaluation(mdp, theta, sweeps=3000):
    """V <- r_pi + gamma P_pi V with terminal states held at 0, from the raw P and R (no cut-out matrices)."""
    pi = torch.softmax(theta, -1)
    live = (~mdp.terminal).to(F64)
    V = torch.zeros(mdp.num_states, dtype=F64)
    for _ in range(sweeps):
        Q = mdp.R + mdp.gamma * mdp.P @ V
        V = live * (pi * Q).sum(-1)
    return V


@pytest.mark.parametrize("idx", range(3))
def test_values_match_iterative_policy_evaluation(idx):
    mdp = mdps()[idx]
    theta = random_theta(mdp, idx)
    V_ref = iterative_policy_evaluation(mdp, theta)
    assert torch.allclose(mdp.values(theta), V_ref, atol=1e-9)
    assert mdp.values(theta)[mdp.terminal].abs().max() == 0
    # Q is consistent with V, and advantages average to zero under pi.
    pi = mdp.policy(theta)
    assert torch.allclose((pi * mdp.q_values(theta)).sum(-1), mdp.values(theta), atol=1e-12)
    assert torch.allclose((pi * mdp.advantages(theta)).sum(-1), torch.zeros(mdp.num_states, dtype=F64), atol=1e-12)


@pytest.mark.parametrize("idx", range(3))
def test_exact_gradient_equals_autograd_and_finite_differences(idx):
    mdp = mdps()[idx]
    theta = random_theta(mdp, 10 + idx)
    exact = mdp.exact_policy_gradient(theta)
    t = theta.clone().requires_grad_(True)
    mdp.objective(t).backward()
    assert torch.allclose(t.grad, exact, atol=1e-12)
    fd = torch.zeros_like(theta)
    eps = 1e-6
    for s in range(mdp.num_states):
        for a in range(mdp.num_actions):
            e = torch.zeros_like(theta)
            e[s, a] = eps
            fd[s, a] = (mdp.objective(theta + e) - mdp.objective(theta - e)) / (2 * eps)
    assert torch.allclose(fd, exact, atol=1e-8)
    assert exact.abs().max() > 1e-3  # a non-trivial gradient, so the comparisons above can fail


def test_discounted_visitation_matches_simulation():
    mdp = make_small_mdp()
    theta = random_theta(mdp, 3, 0.5)
    eps = mdp.sample_episodes(theta, 20000, torch.Generator().manual_seed(0))
    disc = mdp.gamma ** torch.arange(eps.states.shape[1], dtype=F64)
    counts = torch.zeros(eps.states.shape[0], mdp.num_states, dtype=F64)
    counts.scatter_add_(1, eps.states, disc * eps.mask)
    mean, se = counts.mean(0), counts.std(0) / counts.shape[0] ** 0.5
    d = mdp.discounted_visitation(theta)
    assert ((mean - d).abs() <= 4 * se + 1e-12).all()


def test_monte_carlo_objective_matches_exact():
    mdp = TabularMDP.random(6, 3, gamma=0.9, seed=1)
    theta = random_theta(mdp, 4)
    eps = mdp.sample_episodes(theta, 20000, torch.Generator().manual_seed(1))
    G0 = mdp.discounted_rewards_to_go(eps)[:, 0]
    assert abs(G0.mean() - mdp.objective(theta)) < 4 * G0.std() / len(G0) ** 0.5


@pytest.mark.parametrize("idx", [0, 1])
def test_reinforce_estimators_unbiased_and_variance_ordered(idx):
    mdp = mdps()[idx]
    theta = random_theta(mdp, 20 + idx, 0.5)
    exact = mdp.exact_policy_gradient(theta)
    eps = mdp.sample_episodes(theta, 20000, torch.Generator().manual_seed(idx))
    total_var = {}
    for est in ESTIMATORS:
        samples = mdp.reinforce_gradient_samples(theta, eps, est)
        mean, se = samples.mean(0), samples.std(0) / samples.shape[0] ** 0.5
        assert torch.allclose(mean, mdp.reinforce_gradient(theta, eps, est))
        # Each component within 4.5 standard errors (a ~1e-5 chance per component if unbiased).
        assert ((mean - exact).abs() <= 4.5 * se + 1e-12).all(), est
        total_var[est] = samples.var(0).sum().item()
    assert total_var["reward_to_go"] < total_var["total_return"]
    if idx == 1:
        # Random MDP, values far from 0: the V baseline cuts variance. On the small corridor (reward only at the
        # end, V near 0) it need not: V is not the variance-minimizing baseline (notebook 01 measures both).
        assert total_var["baseline"] < 0.8 * total_var["reward_to_go"]


def test_estimator_bias_is_detectable():
    """A wrong estimator (reward-to-go without the gamma^t factor) must fail the same check, so the check has teeth."""
    mdp = TabularMDP.random(6, 3, gamma=0.9, seed=1)
    theta = random_theta(mdp, 21, 0.5)
    eps = mdp.sample_episodes(theta, 20000, torch.Generator().manual_seed(1))
    rtg = mdp.discounted_rewards_to_go(eps) * eps.mask
    scores = score_function(theta, eps.states, eps.actions)
    wrong = torch.einsum("et,etsa->esa", rtg, scores)
    se = wrong.std(0) / wrong.shape[0] ** 0.5
    assert ((wrong.mean(0) - mdp.exact_policy_gradient(theta)).abs() > 4.5 * se).any()


def test_score_function_matches_autograd():
    mdp = TabularMDP.random(5, 3, gamma=0.9, seed=0)
    theta = random_theta(mdp, 5)
    for s, a in [(0, 1), (3, 2)]:
        t = theta.clone().requires_grad_(True)
        torch.log_softmax(t, -1)[s, a].backward()
        assert torch.allclose(score_function(theta, torch.tensor(s), torch.tensor(a)), t.grad)


def test_gae_expectation_limits():
    mdp = TabularMDP.random(6, 3, gamma=0.9, seed=1)
    theta = random_theta(mdp, 6)
    V, Q, A = mdp.values(theta), mdp.q_values(theta), mdp.advantages(theta)
    v_hat = V + 0.3 * torch.randn(6, generator=torch.Generator().manual_seed(0), dtype=F64)
    for lam in (0.0, 0.5, 1.0):
        assert torch.allclose(mdp.gae_expectation(theta, V, lam), A, atol=1e-12)
    live_hat = v_hat * (~mdp.terminal)
    assert torch.allclose(mdp.gae_expectation(theta, v_hat, 1.0), (Q - live_hat[:, None]) * (~mdp.terminal)[:, None], atol=1e-12)
    lam0 = mdp.R + mdp.gamma * mdp.P @ live_hat - live_hat[:, None]
    assert torch.allclose(mdp.gae_expectation(theta, v_hat, 0.0)[:5], lam0[:5], atol=1e-12)


def test_bad_input_is_rejected():
    mdp = make_small_mdp()
    with pytest.raises(ValueError, match="theta must have shape"):
        mdp.values(torch.zeros(3, 2, dtype=F64))
    with pytest.raises(ValueError, match="estimator must be one of"):
        mdp.reinforce_gradient(torch.zeros(5, 2, dtype=F64), mdp.sample_episodes(torch.zeros(5, 2, dtype=F64), 2, torch.Generator()), "bogus")
    with pytest.raises(ValueError, match="P must hold probabilities"):
        TabularMDP(torch.ones(2, 1, 2), torch.zeros(2, 1), torch.tensor([1.0, 0.0]), 0.9, torch.tensor([False, True]))
    with pytest.raises(ValueError, match="gamma must lie"):
        TabularMDP.random(3, 2, gamma=1.5, seed=0)
    with pytest.raises(RuntimeError, match="did not terminate"):
        make_small_mdp().sample_episodes(torch.zeros(5, 2, dtype=F64), 10, torch.Generator().manual_seed(0), max_steps=1)


def test_gae_bias_variance_and_truncation_studies():
    import ppo_lite.course.tabular as tab

    mdp = TabularMDP.random(6, 3, gamma=0.95, seed=3, terminate_prob=0.1)
    theta = random_theta(mdp, 7, 0.5)
    V = mdp.values(theta)
    v_hat = V + torch.randn(6, generator=torch.Generator().manual_seed(1), dtype=F64)
    out = tab.gae_bias_variance(mdp, theta, v_hat, [0.0, 0.5, 1.0], 3000, torch.Generator().manual_seed(2))
    assert (out["mc_bias_z"] < 4.5).all()  # the exact expectation agrees with Monte Carlo
    assert out["bias2"][2] < 1e-20 < out["bias2"][0]  # lambda = 1 unbiased, lambda = 0 not
    assert out["variance"][2] > out["variance"][0]
    # Time limits: bootstrapping keeps fitted values near V; treating the limit as terminal drags them down.
    pos = TabularMDP.random(6, 2, gamma=0.99, seed=0, terminate_prob=0.02)
    pos = TabularMDP(pos.P, pos.R.abs() + 0.5, pos.mu0, pos.gamma, pos.terminal)
    th0 = torch.zeros(6, 2, dtype=F64)
    tr = pos.sample_transitions(th0, 500, torch.Generator().manual_seed(3), time_limit=50)
    assert tr.truncated.any() and tr.terminated.any()
    V = pos.values(th0)
    live = ~pos.terminal
    boot = tab.fit_values_with_time_limit(pos, tr, 0.95, bootstrap_truncation=True)
    term = tab.fit_values_with_time_limit(pos, tr, 0.95, bootstrap_truncation=False)
    assert ((boot - V)[live] / V[live]).abs().mean() < 0.1
    assert ((term - V)[live] / V[live]).mean() < -0.2
    err = tab.target_error_by_step(pos, tr, V, 0.95, bootstrap_truncation=False)
    assert err[-1] < -0.5 * V[live].min()  # at the limit the target is about r_t alone
