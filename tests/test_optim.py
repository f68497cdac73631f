"""FlatAdam against torch's own optimizer and gradient clipping (the references), and its guard rails."""
from __future__ import annotations

import copy

import pytest
import torch

from ppo_lite.optim import FlatAdam
from ppo_lite.policies import ActorCritic


def _loss(agent: ActorCritic, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    logp, entropy, value = agent.evaluate(obs, actions)
    return -(logp * torch.linspace(-1, 1, len(obs))).mean() + (value - 1.0).pow(2).mean() - 0.01 * entropy.mean()


@pytest.mark.parametrize("discrete", [True, False])
def test_flat_adam_is_bitwise_torch_adam(discrete):
    """Same parameters after 25 steps with varying learning rates as torch.optim.Adam(foreach=False), bit for bit."""
    torch.manual_seed(0)
    ours = ActorCritic(3, 2, discrete)
    ref = copy.deepcopy(ours)
    initial = copy.deepcopy(ours.state_dict())
    flat = FlatAdam(ours, lr=3e-3, eps=1e-5)
    torch_adam = torch.optim.Adam(ref.parameters(), lr=3e-3, eps=1e-5, foreach=False)
    obs = torch.randn(64, 3)
    actions = torch.randint(0, 2, (64,)) if discrete else torch.randn(64, 2)
    for step in range(25):
        lr = 3e-3 * (1 - step / 25)
        flat.lr = lr
        torch_adam.param_groups[0]["lr"] = lr
        flat.zero_grad()
        _loss(ours, obs, actions).backward()
        flat.step()
        torch_adam.zero_grad()
        _loss(ref, obs, actions).backward()
        torch_adam.step()
    for (name, p), q in zip(ours.named_parameters(), ref.parameters()):
        assert torch.equal(p, q), f"{name} differs from torch.optim.Adam by {(p - q).abs().max():.3g}"
        assert not torch.equal(p, initial[name]), f"{name} never moved"
    state = torch_adam.state[next(iter(ref.parameters()))]
    assert flat.step_count == int(state["step"]) == 25


def test_backward_accumulates_into_the_flat_buffer():
    """The module's gradients live in FlatAdam.grad: same values as a plain backward, no copies made."""
    torch.manual_seed(1)
    agent = ActorCritic(4, 3, True)
    ref = copy.deepcopy(agent)
    flat = FlatAdam(agent, lr=1e-3)
    obs, actions = torch.randn(32, 4), torch.randint(0, 3, (32,))
    pointers = [p.grad.data_ptr() for p in agent.parameters()]
    for _ in range(2):  # the second pass must not add to the first
        flat.zero_grad()
        _loss(agent, obs, actions).backward()
    _loss(ref, obs, actions).backward()
    assert pointers == [p.grad.data_ptr() for p in agent.parameters()]
    expected = torch.cat([p.grad.reshape(-1) for p in ref.parameters()])
    torch.testing.assert_close(flat.grad, expected, rtol=0, atol=0)
    assert flat.params.data_ptr() == next(agent.parameters()).data_ptr()


@pytest.mark.parametrize("max_norm", [0.05, 100.0])
def test_clip_grad_norm_matches_torch(max_norm):
    torch.manual_seed(2)
    agent = ActorCritic(4, 2, True)
    ref = copy.deepcopy(agent)
    flat = FlatAdam(agent, lr=1e-3)
    obs, actions = torch.randn(16, 4), torch.randint(0, 2, (16,))
    flat.zero_grad()
    _loss(agent, obs, actions).backward()
    _loss(ref, obs, actions).backward()
    norm = flat.clip_grad_norm(max_norm)
    ref_norm = torch.nn.utils.clip_grad_norm_(ref.parameters(), max_norm)
    torch.testing.assert_close(norm, ref_norm, rtol=1e-6, atol=0)
    torch.testing.assert_close(flat.grad, torch.cat([p.grad.reshape(-1) for p in ref.parameters()]), rtol=1e-6, atol=1e-9)
    after = float(torch.linalg.vector_norm(flat.grad))
    assert after == pytest.approx(min(max_norm, float(ref_norm)), rel=1e-5)  # clipped exactly when the norm is larger


def test_detached_gradients_are_refused():
    agent = ActorCritic(2, 2, True)
    flat = FlatAdam(agent, lr=1e-3)
    agent.zero_grad()  # set_to_none: backward would now write gradients FlatAdam never sees
    _loss(agent, torch.randn(4, 2), torch.randint(0, 2, (4,))).backward()
    with pytest.raises(RuntimeError, match="FlatAdam.zero_grad"):
        flat.step()


def test_state_dict_round_trip_and_shape_check():
    torch.manual_seed(3)
    a, b = ActorCritic(4, 2, True), ActorCritic(4, 2, True)
    opt_a, opt_b = FlatAdam(a, lr=1e-3), FlatAdam(b, lr=5e-4)
    opt_a.zero_grad()
    _loss(a, torch.randn(8, 4), torch.randint(0, 2, (8,))).backward()
    opt_a.step()
    opt_b.load_state_dict(opt_a.state_dict())
    assert opt_b.step_count == 1 and opt_b.lr == 1e-3
    assert torch.equal(opt_b.exp_avg, opt_a.exp_avg) and torch.equal(opt_b.exp_avg_sq, opt_a.exp_avg_sq)
    other = FlatAdam(ActorCritic(4, 2, True, hidden=(8,)), lr=1e-3)
    with pytest.raises(ValueError, match="parameters"):
        other.load_state_dict(opt_a.state_dict())
    torch_state = torch.optim.Adam(ActorCritic(4, 2, True).parameters()).state_dict()
    with pytest.raises(ValueError, match="not written by FlatAdam"):
        opt_b.load_state_dict(torch_state)


@pytest.mark.parametrize("kwargs", [dict(lr=0.0), dict(lr=1e-3, eps=0.0), dict(lr=1e-3, betas=(0.9, 1.0))])
def test_bad_hyperparameters_are_refused(kwargs):
    with pytest.raises(ValueError, match="FlatAdam needs"):
        FlatAdam(ActorCritic(2, 2, True), **kwargs)
