import pytest
import torch

from ppo_lite import objectives
from ppo_lite.policies import ActorCritic


def _batch(seed=0, B=64):
    torch.manual_seed(seed)
    net = ActorCritic(4, 3, discrete=True, ortho_init=False)
    obs = torch.randn(B, 4)
    actions, logp_old, _ = net.act(obs)
    adv = torch.randn(B)
    return net, obs, actions, logp_old, adv


def _grad(net, loss):
    net.zero_grad()
    loss.backward()
    return torch.cat([p.grad.flatten() for p in net.actor.parameters()])


def test_same_gradient_at_ratio_one():
    """Before any update (r ≡ 1) PG, surrogate, clipped and KL-penalized losses share one gradient."""
    net, obs, actions, logp_old, adv = _batch()
    grads = {}
    for name in ("pg", "surrogate", "clip", "kl"):
        logp, _ = net.log_prob_entropy(obs, actions)
        if name == "pg":
            loss = objectives.pg_loss(logp, adv)
        elif name == "surrogate":
            loss = objectives.surrogate_loss(logp, logp_old, adv)
        elif name == "clip":
            loss = objectives.clipped_loss(logp, logp_old, adv, 0.2)
        else:
            loss = objectives.kl_penalty_loss(logp, logp_old, adv, coef=3.0)
        grads[name] = _grad(net, loss)
    assert grads["pg"].abs().sum() > 0
    for name in ("surrogate", "clip", "kl"):
        torch.testing.assert_close(grads[name], grads["pg"], rtol=1e-5, atol=1e-7)


def test_surrogate_gradient_matches_finite_differences():
    net, obs, actions, logp_old, adv = _batch(seed=1)
    net.double()
    obs, logp_old, adv = obs.double(), logp_old.double(), adv.double()
    with torch.no_grad():
        for p in net.actor.parameters():
            p.add_(0.05 * torch.randn_like(p))  # move away from r = 1
    w = net.actor[0].weight
    logp, _ = net.log_prob_entropy(obs, actions)
    g = torch.autograd.grad(objectives.clipped_loss(logp, logp_old, adv, 0.1), w)[0]
    h = 1e-6
    for (i, j) in [(0, 0), (3, 2), (10, 1)]:
        with torch.no_grad():
            w[i, j] += h
            up = objectives.clipped_loss(net.log_prob_entropy(obs, actions)[0], logp_old, adv, 0.1)
            w[i, j] -= 2 * h
            down = objectives.clipped_loss(net.log_prob_entropy(obs, actions)[0], logp_old, adv, 0.1)
            w[i, j] += h
        assert abs((up - down).item() / (2 * h) - g[i, j].item()) < 1e-6


def test_clipped_objective_is_a_lower_bound_of_the_surrogate():
    g = torch.Generator().manual_seed(0)
    r = torch.exp(0.5 * torch.randn(10_000, generator=g))
    adv = torch.randn(10_000, generator=g)
    for eps in (0.05, 0.2, 0.5):
        clipped = objectives.clipped_objective(r, adv, eps)
        assert bool((clipped <= r * adv + 1e-7).all())
        inside = (r - 1).abs() <= eps
        torch.testing.assert_close(clipped[inside], (r * adv)[inside])
        assert bool((clipped[~inside] < (r * adv)[~inside]).any())


def test_clipped_in_improving_direction_gives_zero_gradient():
    eps = 0.2
    # A > 0 and r > 1+ε, or A < 0 and r < 1-ε: already moved enough, no gradient.
    # A > 0 and r < 1-ε, or A < 0 and r > 1+ε: the min takes the unclipped term, gradient stays.
    logr = torch.log(torch.tensor([1.5, 0.5, 0.5, 1.5, 1.1])).requires_grad_()
    adv = torch.tensor([1.0, -1.0, 1.0, -1.0, 1.0])
    objectives.clipped_objective(torch.exp(logr), adv, eps).sum().backward()
    grad = logr.grad
    assert grad[0] == 0 and grad[1] == 0
    assert grad[2] != 0 and grad[3] != 0 and grad[4] != 0
    torch.testing.assert_close(grad[2:], (torch.exp(logr) * adv)[2:].detach())


def test_spinning_up_compact_form_is_equivalent():
    """min(rA, g(ε, A)) with g = (1+ε)A for A ≥ 0, (1-ε)A for A < 0 (spinningup PR #315)."""
    g = torch.Generator().manual_seed(1)
    r = torch.exp(torch.randn(5000, generator=g))
    adv = torch.randn(5000, generator=g)
    eps = 0.2
    compact = torch.minimum(r * adv, torch.where(adv >= 0, (1 + eps) * adv, (1 - eps) * adv))
    torch.testing.assert_close(objectives.clipped_objective(r, adv, eps), compact)


def test_value_loss_clipping_is_pessimistic():
    g = torch.Generator().manual_seed(2)
    v, ret, old = (torch.randn(1000, generator=g) for _ in range(3))
    plain = objectives.value_loss(v, ret)
    clipped = objectives.value_loss(v, ret, old, clip_eps=0.1)
    assert clipped >= plain
    torch.testing.assert_close(objectives.value_loss(v, ret, old, clip_eps=100.0), plain)
    torch.testing.assert_close(plain, 0.5 * ((v - ret) ** 2).mean())


def test_clip_fraction_counts_outside_the_band():
    r = torch.tensor([0.7, 0.9, 1.0, 1.1, 1.3])
    assert objectives.clip_fraction(r, 0.2).item() == pytest.approx(2 / 5)
