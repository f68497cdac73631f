import pytest
import torch

from ppo_lite.advantages import discounted_returns, gae, lambda_returns, reward_to_go, td_residuals


def _random_batch(T=7, N=3, seed=0, p_term=0.15, p_trunc=0.1):
    g = torch.Generator().manual_seed(seed)
    rewards = torch.randn(T, N, generator=g, dtype=torch.float64)
    values = torch.randn(T, N, generator=g, dtype=torch.float64)
    next_values = torch.randn(T, N, generator=g, dtype=torch.float64)
    terminated = torch.rand(T, N, generator=g) < p_term
    truncated = (torch.rand(T, N, generator=g) < p_trunc) & ~terminated
    # Within an episode V(s'_{t+1}) is V(s_{t+1}); it differs only where the episode ended (the final
    # observation is not the reset observation stored at t+1) and at the rollout's end.
    done = terminated | truncated
    next_values[:-1] = torch.where(done[:-1], next_values[:-1], values[1:])
    return rewards, values, next_values, terminated, truncated


def test_gae_lambda_one_is_discounted_return_minus_value():
    """λ = 1: Â_t = (discounted return, bootstrapped with V at truncation / rollout end) − V(s_t)."""
    gamma = 0.97
    rewards, values, next_values, terminated, truncated = _random_batch()
    adv = gae(rewards, values, next_values, terminated, truncated, gamma, 1.0)
    # Independent reference: walk each env forward, summing discounted rewards until the episode or rollout ends.
    T, N = rewards.shape
    expected = torch.empty_like(rewards)
    for n in range(N):
        for t in range(T):
            g, discount = 0.0, 1.0
            for u in range(t, T):
                g += discount * rewards[u, n].item()
                discount *= gamma
                if terminated[u, n]:
                    break
                if truncated[u, n] or u == T - 1:
                    g += discount * next_values[u, n].item()
                    break
            expected[t, n] = g - values[t, n]
    torch.testing.assert_close(adv, expected)


def test_gae_lambda_zero_is_td_residual():
    rewards, values, next_values, terminated, truncated = _random_batch(seed=1)
    adv = gae(rewards, values, next_values, terminated, truncated, 0.9, 0.0)
    manual = rewards + 0.9 * next_values * (~terminated).double() - values
    torch.testing.assert_close(adv, manual)
    torch.testing.assert_close(adv, td_residuals(rewards, values, next_values, terminated, 0.9))


def test_gae_hand_computed_two_envs_truncation_and_termination():
    """4 steps, 2 envs, γ = 0.5, λ = 0.5 (γλ = 0.25). Env 0 terminates at t=1; env 1 is truncated at t=2."""
    rewards = torch.tensor([[1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0]])
    values = torch.tensor([[2.0, 4.0], [2.0, 4.0], [2.0, 4.0], [2.0, 4.0]])
    # next_values[t] = V(s'_{t+1}); at env 0's termination it holds 8.0, which must be ignored; at env 1's
    # truncation it holds V(true final obs) = 6.0 (not the value 4.0 of the reset obs that follows).
    next_values = torch.tensor([[2.0, 4.0], [8.0, 4.0], [2.0, 6.0], [2.0, 4.0]])
    terminated = torch.tensor([[False, False], [True, False], [False, False], [False, False]])
    truncated = torch.tensor([[False, False], [False, False], [False, True], [False, False]])
    adv = gae(rewards, values, next_values, terminated, truncated, gamma=0.5, lam=0.5)
    # Env 0: δ = [1+1-2, 1+0-2, 1+1-2, 1+1-2] = [0, -1, 0, 0]
    #   A3 = 0; A2 = 0 + .25*0 = 0; A1 = -1 (episode ends: nothing from t=2); A0 = 0 + .25*(-1) = -0.25
    # Env 1: δ = [1+2-4, 1+2-4, 1+3-4, 1+2-4] = [-1, -1, 0, -1]
    #   A3 = -1; A2 = 0 (truncated: cut from t=3); A1 = -1 + .25*0 = -1; A0 = -1 + .25*(-1) = -1.25
    expected = torch.tensor([[-0.25, -1.25], [-1.0, -1.0], [0.0, 0.0], [0.0, -1.0]])
    torch.testing.assert_close(adv, expected)
    torch.testing.assert_close(lambda_returns(adv, values), expected + values)


def test_truncation_bootstrap_differs_from_termination():
    """Treating the truncation as a termination would drop γ·V(final obs): the advantage must change by it."""
    rewards, values, next_values, terminated, truncated = _random_batch(seed=2, p_term=0.0, p_trunc=0.3)
    assert truncated.any()
    proper = gae(rewards, values, next_values, terminated, truncated, 0.9, 0.0)
    wrong = gae(rewards, values, next_values, terminated | truncated, torch.zeros_like(truncated), 0.9, 0.0)
    torch.testing.assert_close((proper - wrong)[truncated], 0.9 * next_values[truncated])
    torch.testing.assert_close(proper[~truncated], wrong[~truncated])


def test_gae_is_weighted_sum_of_n_step_advantages():
    """Â^{GAE} = (1-λ) Σ_n λ^{n-1} Â^{(n)} for a long episode without ends (truncating the tail at T)."""
    T, gamma, lam = 200, 0.95, 0.7
    g = torch.Generator().manual_seed(3)
    rewards = torch.randn(T, 1, generator=g, dtype=torch.float64)
    values = torch.randn(T + 1, 1, generator=g, dtype=torch.float64)
    none = torch.zeros(T, 1, dtype=torch.bool)
    adv = gae(rewards, values[:-1], values[1:], none, none, gamma, lam)
    t = 0
    total = 0.0
    for n in range(1, T - t + 1):
        n_step = sum(gamma**k * rewards[t + k, 0].item() for k in range(n)) + gamma**n * values[t + n, 0].item() - values[t, 0].item()
        weight = (1 - lam) * lam ** (n - 1) if n < T - t else lam ** (n - 1)  # the tail's weight lands on the last
        total += weight * n_step
    assert abs(adv[0, 0].item() - total) < 1e-8


def test_discounted_returns_and_reward_to_go():
    r = torch.tensor([1.0, 2.0, 3.0])
    torch.testing.assert_close(reward_to_go(r, 0.5), torch.tensor([1 + 0.5 * 2 + 0.25 * 3, 2 + 0.5 * 3, 3.0]))
    rewards = torch.tensor([[1.0], [1.0], [1.0]])
    dones = torch.tensor([[False], [True], [False]])
    torch.testing.assert_close(discounted_returns(rewards, dones, 0.9), torch.tensor([[1.9], [1.0], [1.0]]))


def test_bad_inputs_refused():
    x = torch.zeros(3, 2)
    b = torch.zeros(3, 2, dtype=torch.bool)
    with pytest.raises(ValueError, match="gamma"):
        gae(x, x, x, b, b, 1.5, 0.9)
    with pytest.raises(ValueError, match="lam"):
        gae(x, x, x, b, b, 0.9, -0.1)
    with pytest.raises(ValueError, match="shape"):
        gae(x, torch.zeros(3, 3), x, b, b, 0.9, 0.9)
    with pytest.raises(ValueError, match="1-D"):
        reward_to_go(x)
