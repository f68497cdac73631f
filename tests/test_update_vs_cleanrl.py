"""``ppo_lite.trainer.update`` against an independently written PPO update in CleanRL's style (issue 27 part 2).

The reference below is written from CleanRL's ``ppo.py`` / ``ppo_continuous_action.py`` (vwxyzjn/cleanrl): the
network's outputs go through ``torch.distributions`` (not ppo_lite's log-prob and entropy formulas), the losses are
spelled out inline (``max`` of the two negated surrogates, value clipping around the rollout-time value, entropy
bonus), the gradient is clipped with ``nn.utils.clip_grad_norm_`` and stepped with ``torch.optim.Adam``. Only the
minibatch order is shared: both draw their permutations from generators seeded alike, since the order is a sampling
choice, not a formula. After a whole update (several epochs of several minibatches) every parameter must agree to
float rounding, for discrete and Gaussian policies and for each switch the reference spells out.
"""
from __future__ import annotations

import copy

import pytest
import torch
from torch import nn
from torch.distributions import Categorical, Normal

from ppo_lite import PPOConfig
from ppo_lite.optim import FlatAdam
from ppo_lite.policies import ActorCritic
from ppo_lite.trainer import update


def cleanrl_update(agent: ActorCritic, batch: dict, cfg: PPOConfig, generator: torch.Generator) -> None:
    """One PPO update as CleanRL writes it, on ``agent`` in place."""
    optimizer = torch.optim.Adam(agent.parameters(), lr=cfg.lr, eps=cfg.adam_eps)
    B = batch["obs"].shape[0]
    mb = B // cfg.num_minibatches
    for _ in range(cfg.update_epochs):
        b_inds = torch.arange(B) if cfg.num_minibatches == 1 else torch.randperm(B, generator=generator)
        for start in range(0, B, mb):
            idx = b_inds[start:start + mb]
            obs, actions = batch["obs"][idx], batch["actions"][idx]
            out = agent.actor(obs)
            if agent.discrete:
                dist = Categorical(logits=out)
                newlogprob, entropy = dist.log_prob(actions), dist.entropy()
            else:
                dist = Normal(out, agent.log_std.exp().expand_as(out))
                newlogprob, entropy = dist.log_prob(actions).sum(1), dist.entropy().sum(1)
            newvalue = agent.critic(obs).view(-1)
            ratio = (newlogprob - batch["logp"][idx]).exp()
            mb_adv = batch["advantages"][idx]
            if cfg.norm_adv:
                mb_adv = (mb_adv - mb_adv.mean()) / (mb_adv.std() + 1e-8)
            pg_loss = torch.max(-mb_adv * ratio, -mb_adv * torch.clamp(ratio, 1 - cfg.clip_eps, 1 + cfg.clip_eps)).mean()
            ret, old_v = batch["returns"][idx], batch["values"][idx]
            if cfg.clip_value:
                v_clipped = old_v + torch.clamp(newvalue - old_v, -cfg.value_clip_eps, cfg.value_clip_eps)
                v_loss = 0.5 * torch.max((newvalue - ret) ** 2, (v_clipped - ret) ** 2).mean()
            else:
                v_loss = 0.5 * ((newvalue - ret) ** 2).mean()
            loss = pg_loss - cfg.ent_coef * entropy.mean() + cfg.vf_coef * v_loss
            optimizer.zero_grad()
            loss.backward()
            if cfg.max_grad_norm is not None:
                nn.utils.clip_grad_norm_(agent.parameters(), cfg.max_grad_norm)
            optimizer.step()


def random_batch(agent: ActorCritic, B: int, gen: torch.Generator) -> dict:
    obs = torch.randn(B, agent.obs_dim, generator=gen)
    with torch.no_grad():
        out = agent.actor(obs)
        if agent.discrete:
            actions = torch.randint(0, agent.act_dim, (B,), generator=gen)
        else:
            actions = out + torch.randn(out.shape, generator=gen)
        logp, _ = agent.log_prob_entropy(obs, actions)
        values = agent.value(obs)
    logp = logp + 0.1 * torch.randn(B, generator=gen)  # the batch was collected by a slightly different policy
    advantages = 3.0 * torch.randn(B, generator=gen) + 0.5
    return {"obs": obs, "actions": actions, "logp": logp, "values": values,
            "advantages": advantages, "returns": advantages + values}


CASES = {
    "discrete, CartPole defaults": dict(discrete=True, env="CartPole-v1", over={}),
    "discrete, minibatches, value clip, entropy": dict(discrete=True, env="CartPole-v1",
                                                       over=dict(num_minibatches=4, update_epochs=3, clip_value=True, ent_coef=0.01)),
    "discrete, no norm_adv, no grad clip": dict(discrete=True, env="CartPole-v1",
                                               over=dict(num_minibatches=2, norm_adv=False, max_grad_norm=None)),
    "gaussian, Pendulum defaults": dict(discrete=False, env="Pendulum-v1", over=dict(update_epochs=3)),
}


@pytest.mark.parametrize("case", CASES)
def test_update_equals_cleanrl_style_update(case):
    spec = CASES[case]
    cfg = PPOConfig.for_env(spec["env"], device="cpu", objective="clip", **spec["over"])
    torch.manual_seed(3)
    agent = ActorCritic(5, 3 if spec["discrete"] else 2, spec["discrete"], ortho_init=True)
    reference = copy.deepcopy(agent)
    batch = random_batch(agent, 64, torch.Generator().manual_seed(11))
    before = torch.nn.utils.parameters_to_vector(agent.parameters()).clone()

    update(agent, FlatAdam(agent, lr=cfg.lr, eps=cfg.adam_eps), batch, cfg, torch.Generator().manual_seed(5))
    cleanrl_update(reference, batch, cfg, torch.Generator().manual_seed(5))

    got = torch.nn.utils.parameters_to_vector(agent.parameters())
    want = torch.nn.utils.parameters_to_vector(reference.parameters())
    moved = (want - before).abs().max().item()
    assert moved > 1e-4, "the reference update did not move the parameters: the comparison would be empty"
    assert torch.allclose(got, want, rtol=1e-5, atol=1e-6 * max(1.0, moved)), (
        f"{case}: ppo_lite's update differs from the CleanRL-style update by {(got - want).abs().max().item():.3g} "
        f"(the update moved parameters by up to {moved:.3g})")


def test_the_comparison_catches_a_wrong_update():
    """The test above can fail: an update with the clip range off by 0.1 is told apart from the reference."""
    cfg = PPOConfig.for_env("CartPole-v1", device="cpu", num_minibatches=2, update_epochs=4)
    torch.manual_seed(3)
    agent = ActorCritic(5, 3, True)
    reference = copy.deepcopy(agent)
    batch = random_batch(agent, 64, torch.Generator().manual_seed(11))
    batch["logp"] = batch["logp"] + 0.3 * torch.randn(64, generator=torch.Generator().manual_seed(2))  # ratios far from 1
    update(agent, FlatAdam(agent, lr=cfg.lr, eps=cfg.adam_eps), batch, cfg.replace(clip_eps=0.1), torch.Generator().manual_seed(5))
    cleanrl_update(reference, batch, cfg, torch.Generator().manual_seed(5))
    got = torch.nn.utils.parameters_to_vector(agent.parameters())
    want = torch.nn.utils.parameters_to_vector(reference.parameters())
    assert not torch.allclose(got, want, rtol=1e-5, atol=1e-6)
