"""ppo_lite.course.surrogate_study, ppo_lite.course.trpo and their argument checks (ppo_lite.course._checks) against
independent references: closed forms, brute force, finite differences, the exact tabular gradient and Monte Carlo."""
import math

import pytest
import torch

from ppo_lite.course import surrogate_study as ss, trpo
from ppo_lite.course import _checks as checks
from ppo_lite.course.tabular import TabularMDP

@pytest.fixture(scope="module")
def mdp_and_theta():
    mdp = TabularMDP.random(6, 3, 0.9, seed=3)
    return mdp, ss.pretrained_theta(mdp, 3)


# ----------------------------------------------------------------------------------- importance sampling
def test_gaussian_weight_variance_matches_monte_carlo():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2_000_000, generator=gen, dtype=torch.float64)
    for mu in [0.3, 0.8]:
        w = torch.exp(mu * x - 0.5 * mu**2)
        assert abs(w.var().item() - ss.gaussian_weight_variance(mu).item()) < 0.02 * ss.gaussian_weight_variance(mu).item()


def test_importance_sampling_is_unbiased_for_small_shift():
    study = ss.importance_sampling_study([0.0, 0.5, 1.0], n_samples=500, n_repeats=400)
    se = study["estimate_std"] / math.sqrt(400)
    assert ((study["estimate_mean"] - study["shift"]).abs() < 4 * se + 1e-12).all()
    assert study["ess_fraction"][0].item() == pytest.approx(1.0)
    assert study["ess_fraction"][2] < study["ess_fraction"][1] < 1.0


# ----------------------------------------------------------------------------------- tabular surrogate
def test_exact_surrogate_gradient_is_the_policy_gradient(mdp_and_theta):
    mdp, theta_old = mdp_and_theta
    theta = theta_old.clone().requires_grad_(True)
    (g_sur,) = torch.autograd.grad(ss.exact_surrogate(mdp, theta, theta_old), theta)
    (g_j,) = torch.autograd.grad(mdp.objective(theta), theta)  # autograd through the linear solve
    assert torch.allclose(g_sur, g_j, atol=1e-10)
    assert ss.exact_surrogate(mdp, theta_old, theta_old).item() == pytest.approx(mdp.objective(theta_old).item())


def test_exact_surrogate_gradient_matches_finite_differences_of_j(mdp_and_theta):
    mdp, theta_old = mdp_and_theta
    theta = theta_old.clone().requires_grad_(True)
    (g_sur,) = torch.autograd.grad(ss.exact_surrogate(mdp, theta, theta_old), theta)
    h = 1e-6
    for s, a in [(0, 0), (2, 1), (4, 2)]:
        e = torch.zeros_like(theta_old)
        e[s, a] = h
        fd = (mdp.objective(theta_old + e) - mdp.objective(theta_old - e)).item() / (2 * h)
        assert abs(fd - g_sur[s, a].item()) < 1e-7


def test_sampled_surrogate_gradient_is_reinforce_with_baseline(mdp_and_theta):
    mdp, theta_old = mdp_and_theta
    batch = ss.sample_batch(mdp, theta_old, 12, torch.Generator().manual_seed(1))
    episodes = mdp.sample_episodes(theta_old, 12, torch.Generator().manual_seed(1))
    theta = theta_old.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(ss.sampled_surrogate(batch, theta), theta)
    assert torch.allclose(g, mdp.reinforce_gradient(theta_old, episodes, "baseline"), atol=1e-12)


def test_sampled_surrogate_is_unbiased_for_exact_surrogate(mdp_and_theta):
    mdp, theta_old = mdp_and_theta
    theta = theta_old + 0.3 * torch.randn(theta_old.shape, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    batch = ss.sample_batch(mdp, theta_old, 20000, torch.Generator().manual_seed(3))
    estimate = mdp.objective(theta_old).item() + ss.sampled_surrogate(batch, theta).item()
    assert estimate == pytest.approx(ss.exact_surrogate(mdp, theta, theta_old).item(), abs=0.05)


def test_trpo_bound_holds_and_is_tight_at_theta_old(mdp_and_theta):
    mdp, theta_old = mdp_and_theta
    gen = torch.Generator().manual_seed(4)
    at_old = ss.trpo_lower_bound(mdp, theta_old, theta_old)
    assert at_old["bound"] == pytest.approx(at_old["J"]) and at_old["max_kl"] == 0.0
    for _ in range(50):
        theta = theta_old + torch.rand(()).item() * 3 * torch.randn(theta_old.shape, generator=gen, dtype=torch.float64)
        row = ss.trpo_lower_bound(mdp, theta, theta_old)
        assert row["J"] >= row["bound"] - 1e-12


def test_state_kl_direction_and_terminal_states(mdp_and_theta):
    mdp, theta_old = mdp_and_theta
    theta = theta_old + 1.0
    assert ss.state_kl(mdp, theta_old, theta).abs().max().item() < 1e-12  # a constant shift of logits: same policy
    theta = theta_old.clone()
    theta[0, 0] += 2.0
    kl = ss.state_kl(mdp, theta_old, theta)
    p, q = torch.softmax(theta_old[0], -1), torch.softmax(theta[0], -1)
    assert kl[0].item() == pytest.approx((p * torch.log(p / q)).sum().item())
    assert (kl[mdp.terminal] == 0).all()


def test_many_surrogate_steps_surrogate_rises_while_j_falls():
    mdp = TabularMDP.random(8, 4, 0.9, seed=0)
    theta_old = ss.pretrained_theta(mdp, 5)
    run = ss.many_surrogate_steps(mdp, theta_old, ss.sample_batch(mdp, theta_old, 16, torch.Generator().manual_seed(3)),
                                  steps=300, lr=0.5)
    assert run["L_hat"][-1] > run["L_hat"][0] and (run["L_hat"].diff() > -1e-9).all()
    assert run["J"].max() > run["J"][0]  # the first steps help
    assert run["J"][-1] < run["J"][0]  # many steps hurt (this batch)


def test_ratio_drift_only_first_minibatch_is_exactly_one(mdp_and_theta):
    mdp, theta_old = mdp_and_theta
    batch = ss.sample_batch(mdp, theta_old, 16, torch.Generator().manual_seed(0))
    drift = ss.ratio_drift(batch, theta_old, epochs=3, minibatches=4)
    assert drift["max_dev"][0, 0].item() == 0.0
    assert (drift["max_dev"].flatten()[1:] > 0).all()
    bug = ss.ratio_drift(batch, theta_old, epochs=3, minibatches=4, recompute_old=True)
    assert bug["max_dev"].max().item() == 0.0 and bug["clip_frac"].max().item() == 0.0


# ----------------------------------------------------------------------------------- argument checks (shared with kl_constrained)
def test_argument_checks_name_the_bad_value(mdp_and_theta):
    mdp, theta_old = mdp_and_theta
    for bad in (0.0, -1.0, float("nan"), float("inf"), "0.1"):
        with pytest.raises(ValueError, match=r"^lr must be a finite number > 0, got"):
            checks.check_positive("lr", bad)
    checks.check_positive("lr", 1e-9)
    for bad in (0, 2.0, "3"):
        with pytest.raises(ValueError, match=r"^steps must be an int >= 1, got"):
            checks.check_count("steps", bad)
    checks.check_count("steps", 0, minimum=0)
    checks.check_thetas(mdp, theta_old=theta_old)
    with pytest.raises(ValueError, match=r"theta must have shape \(6, 3\), got \(3, 6\)"):
        checks.check_thetas(mdp, theta_old=theta_old, theta=theta_old.T)
    with pytest.raises(ValueError, match="lr must be a finite number > 0, got -0.5"):
        ss.many_surrogate_steps(mdp, theta_old, ss.sample_batch(mdp, theta_old, 2, torch.Generator().manual_seed(0)), lr=-0.5)


# ----------------------------------------------------------------------------------- surrogate climbs (mechanisms a and b)
def test_exact_surrogate_steps_never_lose_and_respect_the_bound(mdp_and_theta):
    mdp, theta_old = mdp_and_theta
    run = ss.exact_surrogate_steps(mdp, theta_old, steps=100, lr=0.5)
    C = ss.trpo_lower_bound(mdp, theta_old, theta_old)["C"]
    assert run["J"][0].item() == pytest.approx(mdp.objective(theta_old).item())
    assert (run["min_state_gain"] > -1e-12).all()  # every state's surrogate term improves ...
    assert (run["J"] >= run["J"][0] - 1e-12).all()  # ... so J does (policy improvement theorem)
    assert ((run["J"] - run["L"]).abs() <= C * run["kl_max"] + 1e-12).all()  # the two-sided Kakade-Langford bound
    assert run["kl_mean"][-1] > 0.1


def test_many_surrogate_steps_effective_sample_size(mdp_and_theta):
    mdp, theta_old = mdp_and_theta
    batch = ss.sample_batch(mdp, theta_old, 16, torch.Generator().manual_seed(0))
    run = ss.many_surrogate_steps(mdp, theta_old, batch, steps=50, lr=0.5)
    assert run["ess_fraction"][0].item() == pytest.approx(1.0)
    assert ((run["ess_fraction"] > 0) & (run["ess_fraction"] <= 1 + 1e-12)).all()
    assert run["ess_fraction"][-1] < 0.9
    assert run["theta"].shape == theta_old.shape


# ----------------------------------------------------------------------------------- the TRPO step
def test_fisher_matrix_is_the_finite_difference_hessian_of_the_mean_kl(mdp_and_theta):
    mdp, theta_old = mdp_and_theta
    S, A = theta_old.shape
    n, h = S * A, 1e-4
    F = trpo.fisher_matrix(mdp, theta_old)

    def kl(flat):
        return ss.mean_kl(mdp, theta_old, theta_old + flat.reshape(S, A)).item()

    H = torch.zeros(n, n, dtype=torch.float64)
    eye = torch.eye(n, dtype=torch.float64) * h
    for i in range(n):
        for j in range(i, n):
            H[i, j] = H[j, i] = (kl(eye[i] + eye[j]) - kl(eye[i] - eye[j]) - kl(-eye[i] + eye[j]) + kl(-eye[i] - eye[j])) / (4 * h * h)
    assert (H - F).abs().max().item() < 1e-6
    assert F.abs().max().item() > 1e-2  # not trivially zero


def test_fisher_vector_product_matches_the_matrix_and_double_backprop(mdp_and_theta):
    mdp, theta_old = mdp_and_theta
    F = trpo.fisher_matrix(mdp, theta_old)
    v = torch.randn(theta_old.shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    fv = trpo.fisher_vector_product(mdp, theta_old, v)
    assert torch.allclose(fv.flatten(), F @ v.flatten(), atol=1e-14)
    # TRPO's way: the Hessian-vector product of the mean KL by differentiating twice
    theta = theta_old.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(ss.mean_kl(mdp, theta_old, theta), theta, create_graph=True)
    (hvp,) = torch.autograd.grad((grad * v).sum(), theta)
    assert torch.allclose(fv, hvp, atol=1e-12)
    # the null space: constant shifts of a state's logits, and the terminal state
    ones = torch.ones_like(theta_old)
    assert trpo.fisher_vector_product(mdp, theta_old, ones).abs().max().item() < 1e-15
    rank = int(torch.linalg.matrix_rank(F, hermitian=True))
    assert rank == int((~mdp.terminal).sum()) * (mdp.num_actions - 1)


def test_fisher_matrix_is_the_expected_score_outer_product_by_monte_carlo(mdp_and_theta):
    mdp, theta_old = mdp_and_theta
    from ppo_lite.course.tabular import score_function
    gen = torch.Generator().manual_seed(5)
    w = ss.state_weights(mdp, theta_old)
    states = torch.multinomial(w, 200_000, replacement=True, generator=gen)
    actions = torch.multinomial(mdp.policy(theta_old)[states], 1, generator=gen).squeeze(-1)
    scores = score_function(theta_old, states, actions).flatten(1)
    F_mc = scores.T @ scores / len(states)
    assert (F_mc - trpo.fisher_matrix(mdp, theta_old)).abs().max().item() < 5e-3


def test_natural_gradient_is_the_advantage_table(mdp_and_theta):
    """Kakade 2001: for a softmax table F^+ g = (sum_s d_old(s)) (A_old - row mean of A_old) on visited states."""
    mdp, theta_old = mdp_and_theta
    x = trpo.natural_gradient(mdp, theta_old)
    adv = mdp.advantages(theta_old)
    closed = mdp.discounted_visitation(theta_old).sum() * (adv - adv.mean(-1, keepdim=True))
    closed[mdp.terminal] = 0.0
    assert torch.allclose(x, closed, atol=1e-10)
    g = mdp.exact_policy_gradient(theta_old)
    assert torch.allclose(trpo.fisher_vector_product(mdp, theta_old, x), g, atol=1e-12)  # g is in the range of F
    errors = [(trpo.natural_gradient(mdp, theta_old, damping=lam) - x).abs().max().item() for lam in (1e-4, 1e-6, 1e-8)]
    assert errors[0] > errors[1] > errors[2] and errors[2] < 1e-4  # damping -> pseudo-inverse as lambda -> 0
    with pytest.raises(ValueError, match="damping must be a finite number >= 0, got -1"):
        trpo.natural_gradient(mdp, theta_old, damping=-1)


def test_conjugate_gradient_matches_a_direct_solve():
    gen = torch.Generator().manual_seed(0)
    M = torch.randn(12, 12, generator=gen, dtype=torch.float64)
    K = M @ M.T + 0.5 * torch.eye(12, dtype=torch.float64)
    b = torch.randn(12, generator=gen, dtype=torch.float64)
    x = trpo.conjugate_gradient(lambda v: K @ v, b, iterations=50, tolerance=1e-14)
    assert torch.allclose(x, torch.linalg.solve(K, b), atol=1e-9)
    few = trpo.conjugate_gradient(lambda v: K @ v, b, iterations=2)
    assert (few - torch.linalg.solve(K, b)).norm() > 1e-3  # two iterations are not enough here
    with pytest.raises(ValueError, match="iterations must be an int >= 1, got 0"):
        trpo.conjugate_gradient(lambda v: K @ v, b, iterations=0)
    with pytest.raises(ValueError, match="tolerance must be a finite number >= 0"):
        trpo.conjugate_gradient(lambda v: K @ v, b, tolerance=-1.0)
    with pytest.raises(ValueError, match="not positive definite"):
        trpo.conjugate_gradient(lambda v: -v, b)


def test_conjugate_gradient_on_the_singular_fisher_gives_the_pseudo_inverse(mdp_and_theta):
    mdp, theta_old = mdp_and_theta
    g = mdp.exact_policy_gradient(theta_old)
    x = trpo.conjugate_gradient(lambda v: trpo.fisher_vector_product(mdp, theta_old, v), g, iterations=g.numel(), tolerance=1e-13)
    F = trpo.fisher_matrix(mdp, theta_old)
    direct = (torch.linalg.pinv(F, hermitian=True) @ g.flatten()).reshape(g.shape)
    assert torch.allclose(x, direct, atol=1e-8)


def test_trpo_step_size_puts_the_step_on_the_kl_boundary(mdp_and_theta):
    mdp, theta_old = mdp_and_theta
    g, x = mdp.exact_policy_gradient(theta_old), trpo.natural_gradient(mdp, theta_old)
    F = trpo.fisher_matrix(mdp, theta_old)
    errors = []
    for delta in (1e-2, 1e-4, 1e-6):
        step = trpo.trpo_step_size(g, x, delta) * x
        assert 0.5 * (step.flatten() @ F @ step.flatten()).item() == pytest.approx(delta, rel=1e-10)  # quadratic model
        errors.append(abs(ss.mean_kl(mdp, theta_old, theta_old + step).item() / delta - 1))  # exact KL
    assert errors[2] < 2e-3
    assert 5 < errors[0] / errors[1] < 20 and 5 < errors[1] / errors[2] < 20  # third-order error: O(sqrt(delta))
    with pytest.raises(ValueError, match="delta must be a finite number > 0, got 0"):
        trpo.trpo_step_size(g, x, 0)
    with pytest.raises(ValueError, match=r"g\^T x must be > 0"):
        trpo.trpo_step_size(g, -x, 0.01)


def test_backtracking_line_search_on_a_parabola():
    objective = lambda t: -((t - 1.0) ** 2).sum().item()  # noqa: E731
    kl = lambda t: (t**2).sum().item()  # noqa: E731
    zero = torch.zeros(1, dtype=torch.float64)
    res = trpo.backtracking_line_search(objective, kl, zero, torch.tensor([4.0], dtype=torch.float64), delta=1.0)
    # t = 4: worse; t = 2: not better (and KL 4 > 1); t = 1: better and KL 1 <= 1
    assert res.accepted and res.backtracks == 2 and res.fraction == 0.25 and res.theta.item() == 1.0
    res = trpo.backtracking_line_search(objective, kl, zero, torch.tensor([-1.0], dtype=torch.float64), delta=1.0, max_backtracks=5)
    assert not res.accepted and res.fraction == 0.0 and res.theta.item() == 0.0  # downhill: rejected
    with pytest.raises(ValueError, match="shrink must lie strictly between 0 and 1, got 1.5"):
        trpo.backtracking_line_search(objective, kl, zero, zero, delta=1.0, shrink=1.5)
    with pytest.raises(ValueError, match="full_step must have the shape"):
        trpo.backtracking_line_search(objective, kl, zero, torch.zeros(2), delta=1.0)


def test_trpo_step_satisfies_the_constraint_and_beats_the_equal_kl_plain_gradient():
    for seed in range(5):
        mdp = TabularMDP.random(7, 4, 0.9, seed=10 + seed)
        theta_old = 1.5 * torch.randn(7, 4, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
        delta = 1e-3
        res = trpo.trpo_step(mdp, theta_old, delta)
        assert res.accepted and res.kl <= delta
        assert res.kl == pytest.approx(ss.mean_kl(mdp, theta_old, res.theta).item())
        assert res.objective > ss.exact_surrogate(mdp, theta_old, theta_old).item()
        g = mdp.exact_policy_gradient(theta_old)
        t = trpo.scale_to_kl(mdp, theta_old, g, res.kl)
        assert ss.mean_kl(mdp, theta_old, theta_old + t * g).item() == pytest.approx(res.kl, rel=1e-8)
        j_old = mdp.objective(theta_old).item()
        # Cauchy-Schwarz in the Fisher metric: to first order the natural step gains more at equal KL
        assert mdp.objective(res.theta).item() - j_old > mdp.objective(theta_old + t * g).item() - j_old > 0


def test_scale_to_kl_errors(mdp_and_theta):
    mdp, theta_old = mdp_and_theta
    with pytest.raises(ValueError, match="never reaches delta"):
        trpo.scale_to_kl(mdp, theta_old, torch.ones_like(theta_old), 0.01)  # a constant shift: the same policy
    with pytest.raises(ValueError, match="delta must be a finite number > 0"):
        trpo.scale_to_kl(mdp, theta_old, theta_old, -0.1)


def test_equal_kl_comparison_tends_to_the_cauchy_schwarz_ratio():
    mdp = TabularMDP.random(6, 3, 0.9, seed=21)
    theta_old = torch.randn(6, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    rows = [trpo.equal_kl_comparison(mdp, theta_old, d) for d in (1e-3, 1e-5)]
    errors = [abs(r["natural_gain"] / r["plain_gain"] - r["cauchy_schwarz"]) for r in rows]
    assert rows[0]["cauchy_schwarz"] > 1.0
    assert errors[1] < errors[0] and errors[1] < 0.01 * rows[1]["cauchy_schwarz"]


def test_early_stopping_climbs_land_on_delta_and_agree_with_the_full_step_rule(mdp_and_theta):
    """The cut step lands on delta; on the same path the full-step rule is kl_early_stopping_gain's; a step so small
    that the first full step already exceeds delta is reported as no full step, yet the cut step still gains."""
    mdp, theta_old = mdp_and_theta
    seeds, deltas = [0, 1], [1e-4, 1e-2, 0.1]
    out = ss.early_stopping_climbs(mdp, theta_old, seeds, deltas, episodes=8, steps=40, lr=0.5)
    traces = [ss.many_surrogate_steps(mdp, theta_old, ss.sample_batch(mdp, theta_old, 8, torch.Generator().manual_seed(s)),
                                      steps=40, lr=0.5) for s in seeds]
    assert torch.allclose(out["gain_full_steps"], ss.kl_early_stopping_gain(traces, deltas), atol=1e-12)
    first_kl = torch.tensor([t["kl_mean"][1].item() for t in traces])
    assert ((out["full_steps"][0] == 0) == (first_kl > 1e-4)).all()
    reached = torch.tensor([[t["kl_mean"].max().item() > d for t in traces] for d in deltas])
    kl = out["kl"] / torch.tensor(deltas)[:, None]
    assert ((kl - 1).abs()[reached] < 1e-6).all() and (kl[~reached] <= 1).all()
    # the gain at the cut step is the true J there (independently: J of theta_old + a step of that KL is positive)
    assert (out["gain"][0] > 0).all()
    with pytest.raises(ValueError, match="delta"):
        ss.early_stopping_climbs(mdp, theta_old, seeds, [0.0])
