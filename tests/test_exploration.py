"""Potential-based shaping keeps the optimal policy, the count bonus decays, and both wrappers keep the env contract."""
import pytest
import torch

from ppo_lite.envs import make_env
from ppo_lite.envs.exploration import CountBonus, PotentialShaping, count_bonus, discretize, mountain_car_energy, shape_tabular_rewards, shaping_reward

F64 = torch.float64


def chain_mdp(n: int = 6, slip: float = 0.1):
    """States 0..n-1 on a line plus a terminal goal state n; actions left/right (slipping with prob ``slip``);
    −1 per step, +10 on entering the goal."""
    S, A = n + 1, 2
    P = torch.zeros(S, A, S, dtype=F64)
    R = torch.full((S, A), -1.0, dtype=F64)
    for s in range(n):
        left, right = max(s - 1, 0), s + 1
        P[s, 0, left] += 1 - slip
        P[s, 0, right] += slip
        P[s, 1, right] += 1 - slip
        P[s, 1, left] += slip
        R[s] += 10.0 * P[s, :, n]
    P[n, :, n] = 1.0
    terminal = torch.zeros(S, dtype=torch.bool)
    terminal[n] = True
    return P, R, terminal


def optimal_q(P, R, terminal, gamma, iters=3000):
    """Value iteration on the episodic MDP (terminal states absorbing with value 0)."""
    live = (~terminal).to(F64)
    q = torch.zeros_like(R)
    for _ in range(iters):
        v = q.max(1).values * live
        q = (R + gamma * torch.einsum("sat,t->sa", P, v)) * live[:, None]
    return q


def test_shaping_preserves_optimal_policy_on_a_chain():
    P, R, terminal = chain_mdp()
    gamma = 0.9
    q = optimal_q(P, R, terminal, gamma)
    phi = torch.randn(R.shape[0], generator=torch.Generator().manual_seed(0), dtype=F64) * 20  # arbitrary, large
    q_shaped = optimal_q(P, shape_tabular_rewards(P, R, phi, gamma, terminal), terminal, gamma)
    live = ~terminal
    # Ng et al. (1999): Q'* = Q* − Φ(s) exactly, so the argmax is unchanged.
    assert torch.allclose(q_shaped[live], (q - phi[:, None])[live], atol=1e-9)
    assert torch.equal(q_shaped[live].argmax(1), q[live].argmax(1))
    # A bonus that depends on the action is not potential-based and can change the optimal policy.
    bonus = torch.zeros_like(R)
    bonus[:, 0] = 5.0
    q_bonus = optimal_q(P, R + bonus, terminal, gamma)
    assert not torch.equal(q_bonus[live].argmax(1), q[live].argmax(1))


def test_shaping_reward_formula():
    phi, phi_next = torch.tensor([1.0, 2.0, -3.0]), torch.tensor([4.0, -1.0, 2.0])
    term = torch.tensor([False, True, False])
    assert torch.allclose(shaping_reward(phi, phi_next, term, 0.5), torch.tensor([2.0 - 1.0, -2.0, 1.0 + 3.0]))
    with pytest.raises(ValueError, match="gamma"):
        shaping_reward(phi, phi_next, term, 1.5)




def test_potential_shaping_wrapper_adds_exactly_the_shaping_term_and_keeps_the_contract():
    gamma = 0.98
    potential = lambda obs: mountain_car_energy(obs, 1e4)  # noqa: E731
    base, wrapped = make_env("MountainCar-v0", 4, "cpu", "torch"), PotentialShaping(make_env("MountainCar-v0", 4, "cpu", "torch"), potential, gamma)
    prev = wrapped.reset(seed=3)
    assert torch.equal(base.reset(seed=3), prev)
    gen = torch.Generator().manual_seed(0)
    discounted = torch.zeros(4)
    phi0 = potential(prev)
    ended = False
    for t in range(200):  # exactly one episode: MountainCar truncates at 200 (random actions never reach the flag)
        a = torch.randint(3, (4,), generator=gen)
        ob, rb, tb, ub, ib = base.step(a)
        ow, rw, tw, uw, iw = wrapped.step(a)
        assert torch.equal(ob, ow) and torch.equal(tb, tw) and torch.equal(ub, uw)
        for key in ("final_obs", "episode_return", "episode_length"):
            assert torch.equal(ib[key], iw[key]), key  # the true return is passed through
        expected = rb + gamma * potential(ib["final_obs"]) * (~tb) - potential(prev)
        assert torch.allclose(rw, expected, atol=1e-5)
        discounted += gamma**t * (rw - rb)
        prev = ow
        ended = bool(ub.all())
    assert ended
    # Telescoping: sum_t γ^t F_t = γ^T Φ(s_T) − Φ(s_0) for the truncated episode.
    assert torch.allclose(discounted, gamma**200 * potential(ib["final_obs"]) - phi0, atol=1e-3)
    with pytest.raises(ValueError, match="gamma"):
        PotentialShaping(base, potential, -0.1)
    with pytest.raises(RuntimeError, match="reset"):
        PotentialShaping(make_env("MountainCar-v0", 1, "cpu", "torch"), potential, 0.9).step(torch.zeros(1, dtype=torch.int64))


def test_count_bonus_decays_with_visits_and_keeps_groups_apart():
    counts = torch.tensor([1, 4, 100])
    assert torch.allclose(count_bonus(counts, 2.0), torch.tensor([2.0, 1.0, 0.2]))
    env = CountBonus(make_env("MountainCar-v0", 4, "cpu", "torch"), beta=1.0, bins=10, num_groups=2)
    env.reset(seed=0)
    bonuses = []
    for _ in range(30):
        _, r, *_ = env.step(torch.ones(4, dtype=torch.int64))  # "no push": the car stays near its start cell
        bonuses.append(r + 1.0)  # reward is -1 per step
    b = torch.stack(bonuses)
    assert (b > 0).all() and b[-1].max() < b[0].min()  # familiar cells pay less
    table = env.group_counts()
    assert table.shape == (2, 100) and table.sum(1).tolist() == [60, 60]  # each agent's 2 envs x 30 steps, its own table
    cell = discretize(torch.tensor([[-0.5, 0.0]]), env.low, env.high, 10)
    assert 0 <= int(cell) < 100


def test_count_bonus_keeps_the_env_contract_and_refuses_bad_input():
    base, wrapped = make_env("MountainCar-v0", 3, "cpu", "torch"), CountBonus(make_env("MountainCar-v0", 3, "cpu", "torch"))
    assert torch.equal(base.reset(seed=1), wrapped.reset(seed=1))
    gen = torch.Generator().manual_seed(1)
    for _ in range(50):
        a = torch.randint(3, (3,), generator=gen)
        ob, rb, tb, ub, ib = base.step(a)
        ow, rw, tw, uw, iw = wrapped.step(a)
        assert torch.equal(ob, ow) and torch.equal(tb, tw) and torch.equal(ub, uw) and torch.equal(ib["final_obs"], iw["final_obs"])
        assert (rw > rb).all() and rw.dtype == rb.dtype and rw.shape == rb.shape
    state = wrapped.state_dict()
    wrapped.load_state_dict(state)
    assert torch.equal(wrapped.counts, state["counts"])
    with pytest.raises(ValueError, match="beta"):
        CountBonus(base, beta=-1.0)
    with pytest.raises(ValueError, match="num_groups"):
        CountBonus(base, num_groups=2)
    with pytest.raises(ValueError, match="finite"):
        CountBonus(make_env("CartPole-v1", 2, "cpu", "torch"))  # unbounded velocities: give low= and high=
    with pytest.raises(TypeError, match="VecEnv"):
        CountBonus("CartPole-v1")
