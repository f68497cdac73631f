"""ppo_lite.course.baselines against independent computations: explicit per-step sums, least squares, exact expectations."""
import pytest
import torch

from ppo_lite.course import baselines as bl
from ppo_lite.course import tabular as tab

F64 = torch.float64


def _problem(seed=0, S=5, A=3, episodes=300):
    mdp = tab.TabularMDP.random(S, A, gamma=0.9, seed=seed)
    theta = torch.randn(S, A, generator=torch.Generator().manual_seed(seed + 50), dtype=F64)
    return mdp, theta, mdp.sample_episodes(theta, episodes, torch.Generator().manual_seed(seed + 99))


def _explicit_samples(mdp, theta, ep, baseline):
    """sum_t gamma^t score(a_t|s_t) (G_t - b(s_t)) with Python loops over episodes and steps."""
    out = torch.zeros(ep.states.shape[0], mdp.num_states, mdp.num_actions, dtype=F64)
    for e in range(ep.states.shape[0]):
        T = int(ep.mask[e].sum())
        rewards = ep.rewards[e, :T].tolist()
        for t in range(T):
            G = sum(mdp.gamma ** (k - t) * rewards[k] for k in range(t, T))
            s, a = ep.states[e, t], ep.actions[e, t]
            score = tab.score_function(theta, s[None], a[None])[0]
            out[e] += mdp.gamma ** t * score * (G - baseline[s])
    return out


def test_baselined_samples_match_explicit_sums():
    mdp, theta, ep = _problem(episodes=40)
    b = torch.randn(mdp.num_states, generator=torch.Generator().manual_seed(3), dtype=F64)
    assert torch.allclose(bl.baselined_gradient_samples(mdp, theta, ep, b), _explicit_samples(mdp, theta, ep, b), atol=1e-12)
    # zeros = reward-to-go, V^pi = the library's "baseline" estimator
    zeros = torch.zeros(mdp.num_states, dtype=F64)
    assert torch.allclose(bl.baselined_gradient_samples(mdp, theta, ep, zeros), mdp.reinforce_gradient_samples(theta, ep, "reward_to_go"), atol=1e-12)
    assert torch.allclose(bl.baselined_gradient_samples(mdp, theta, ep, mdp.values(theta)), mdp.reinforce_gradient_samples(theta, ep, "baseline"), atol=1e-12)


def test_optimal_baseline_is_the_least_squares_minimiser():
    """b* minimises (1/E) sum_e ||g_b,e||^2: solve the same least squares with torch.linalg.lstsq over all states."""
    mdp, theta, ep = _problem(seed=1, episodes=60)
    E, S, A = ep.states.shape[0], mdp.num_states, mdp.num_actions
    g0 = _explicit_samples(mdp, theta, ep, torch.zeros(S, dtype=F64))
    # Column s of the design: the change of every episode's estimate per unit of b(s) (explicit, one state at a time).
    columns = [(g0 - _explicit_samples(mdp, theta, ep, torch.eye(S, dtype=F64)[s])).flatten() for s in range(S)]
    design = torch.stack(columns, 1)
    visited = design.abs().sum(0) > 0
    solution = torch.linalg.lstsq(design[:, visited], g0.flatten()[:, None]).solution[:, 0]
    expected = torch.zeros(S, dtype=F64)
    expected[visited] = solution
    assert torch.allclose(bl.optimal_state_baseline(mdp, theta, ep), expected, atol=1e-9)
    # and moving any coordinate away raises the sampled second moment
    best = bl.optimal_state_baseline(mdp, theta, ep)
    second_moment = lambda b: bl.baselined_gradient_samples(mdp, theta, ep, b).pow(2).sum((1, 2)).mean()  # noqa: E731
    for s in range(S - 1):
        for step in (-0.1, 0.1):
            assert second_moment(best + step * torch.eye(S, dtype=F64)[s]) > second_moment(best)


def test_per_visit_equals_optimal_without_revisits():
    """A forward-only chain visits each state at most once: the products between visits vanish, the two agree."""
    S, A = 5, 2
    P = torch.zeros(S, A, S, dtype=F64)
    for s in range(S - 1):
        P[s, 0, s + 1] = 1.0
        P[s, 1, min(s + 2, S - 1)] = 1.0
    P[S - 1, :, S - 1] = 1.0
    R = torch.randn(S, A, generator=torch.Generator().manual_seed(0), dtype=F64)
    mu0 = torch.tensor([0.5, 0.5, 0.0, 0.0, 0.0], dtype=F64)
    mdp = tab.TabularMDP(P, R, mu0, 0.9, torch.tensor([False] * (S - 1) + [True]))
    theta = torch.randn(S, A, generator=torch.Generator().manual_seed(1), dtype=F64)
    ep = mdp.sample_episodes(theta, 500, torch.Generator().manual_seed(2))
    assert torch.allclose(bl.per_visit_baseline(mdp, theta, ep), bl.optimal_state_baseline(mdp, theta, ep), atol=1e-12)
    # with revisits (a random MDP) they differ
    mdp2, theta2, ep2 = _problem(seed=2)
    assert (bl.per_visit_baseline(mdp2, theta2, ep2) - bl.optimal_state_baseline(mdp2, theta2, ep2)).abs().max() > 1e-3


def test_denominator_matches_exact_visitation():
    r"""E||Y[s]||^2 = sum_t gamma^{2t} Pr(s_t = s) E_a||score||^2: the discounted visitation with gamma^2, exactly."""
    mdp, theta, _ = _problem(seed=3)
    ep = mdp.sample_episodes(theta, 40_000, torch.Generator().manual_seed(7))
    Y2 = bl.baseline_directions(mdp, theta, ep).pow(2).sum(2)
    pi = mdp.policy(theta)
    score_sq = (pi * (1 - 2 * pi + pi.pow(2).sum(1, keepdim=True))).sum(1)
    P_pi, _ = mdp.policy_dynamics(theta)
    d2 = torch.linalg.solve((torch.eye(mdp.num_states, dtype=F64) - mdp.gamma ** 2 * P_pi).T, mdp.mu0)
    exact = d2 * score_sq
    se = Y2.std(0) / len(Y2) ** 0.5
    live = ~mdp.terminal
    assert ((Y2.mean(0) - exact).abs()[live] < 4.5 * se[live]).all()


def test_optimal_beats_value_and_none_on_fresh_episodes():
    mdp, theta, fit = _problem(seed=4, episodes=5000)
    ev = mdp.sample_episodes(theta, 5000, torch.Generator().manual_seed(11))
    best = bl.optimal_state_baseline(mdp, theta, fit)
    d_best, se_best = bl.variance_change(mdp, theta, ev, best)
    d_value, _ = bl.variance_change(mdp, theta, ev, mdp.values(theta))
    assert d_best < -5 * se_best and d_best < d_value
    # variance_change agrees with the difference of the two sample total variances (same episodes)
    g0 = mdp.reinforce_gradient_samples(theta, ev, "reward_to_go")
    gb = bl.baselined_gradient_samples(mdp, theta, ev, best)
    direct = gb.var(0).sum() - g0.var(0).sum()
    assert abs(direct - d_best) < 0.02 * abs(d_best) + 5 * se_best


def test_bad_inputs():
    mdp, theta, ep = _problem(episodes=5)
    with pytest.raises(ValueError, match="baseline must have one entry per state"):
        bl.baselined_gradient_samples(mdp, theta, ep, torch.zeros(3))
    with pytest.raises(ValueError, match="NaN"):
        bl.baselined_gradient_samples(mdp, theta, ep, torch.full((mdp.num_states,), float("nan")))
    with pytest.raises(ValueError, match="theta must have shape"):
        bl.optimal_state_baseline(mdp, theta[:, :2], ep)
    with pytest.raises(TypeError, match="Episodes"):
        bl.baseline_directions(mdp, theta, tuple(ep))
    with pytest.raises(ValueError, match="power"):
        bl.per_visit_baseline(mdp, theta, ep, power=-1)


def test_exact_per_visit_baseline_matches_sampling():
    """The closed form (actions weighted by pi ||e_a - pi||^2, then Q) against the sampled per-visit weighted mean."""
    mdp, theta, _ = _problem(seed=5)
    ep = mdp.sample_episodes(theta, 30_000, torch.Generator().manual_seed(8))
    exact, sampled = bl.exact_per_visit_baseline(mdp, theta), bl.per_visit_baseline(mdp, theta, ep)
    assert (exact - sampled).abs().max() < 0.05 * exact.abs().max()
    # with a uniform policy every action has the same weight: it is V^pi
    uniform = torch.zeros_like(theta)
    assert torch.allclose(bl.exact_per_visit_baseline(mdp, uniform), mdp.values(uniform), atol=1e-12)
    assert (bl.exact_per_visit_baseline(mdp, theta) - mdp.values(theta)).abs().max() > 1e-2


def test_variance_change_against_a_reference():
    mdp, theta, ep = _problem(seed=6, episodes=2000)
    V, zeros = mdp.values(theta), torch.zeros(mdp.num_states, dtype=F64)
    best = bl.optimal_state_baseline(mdp, theta, ep)
    d_v, _ = bl.variance_change(mdp, theta, ep, V)
    d_best, _ = bl.variance_change(mdp, theta, ep, best)
    d_pair, _ = bl.variance_change(mdp, theta, ep, best, reference=V)
    assert abs(d_pair - (d_best - d_v)) < 1e-9 * (1 + abs(d_v))
    assert bl.variance_change(mdp, theta, ep, zeros) == (0.0, 0.0)


def test_small_problem_is_the_corridor_at_the_seeded_logits():
    mdp, theta = bl.small_problem()
    corridor = tab.make_small_mdp()
    assert torch.equal(mdp.P, corridor.P) and torch.equal(mdp.R, corridor.R)
    assert theta.shape == (mdp.num_states, mdp.num_actions) and theta.dtype == F64
    again = bl.THETA_SCALE * torch.randn(theta.shape, generator=torch.Generator().manual_seed(bl.THETA_SEED), dtype=F64)
    assert torch.equal(theta, again) and torch.equal(bl.small_problem()[1], theta)  # the same logits on every call


def test_convergence_study_errors_shrink_like_one_over_sqrt_n():
    counts, repeats = [20, 320], 20
    errors = bl.convergence_study(seed=3, episode_counts=counts, repeats=repeats)
    assert set(errors) == set(tab.ESTIMATORS)
    for est, err in errors.items():
        assert err.shape == (len(counts), repeats) and (err > 0).all()
        # 16x the episodes: the RMS error is about 4x smaller (unbiased estimators have no floor)
        ratio = (err[0].pow(2).mean().sqrt() / err[1].pow(2).mean().sqrt()).item()
        assert 2.2 < ratio < 7.0, (est, ratio)
    # seeded: the same errors again
    assert torch.equal(bl.convergence_study(seed=3, episode_counts=counts, repeats=repeats)["baseline"], errors["baseline"])
