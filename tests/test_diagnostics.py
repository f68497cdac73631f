"""The one read-back of an update (ppo_lite.diagnostics.read_back) and the one assembled loss (objectives.ppo_loss)."""
import torch

from ppo_lite import objectives
from ppo_lite.diagnostics import read_back


def test_read_back_splits_figures_and_episode_ends_per_agent():
    K, T, N = 3, 4, 2
    gen = torch.Generator().manual_seed(0)
    dones = torch.rand(T, K * N, generator=gen) < 0.3
    ret, length = torch.randn(T, K * N, generator=gen), torch.randint(1, 9, (T, K * N), generator=gen).float()
    figures = {"loss": torch.tensor([1.5, -2.0, 0.25]), "flag": torch.tensor([True, False, True])}
    per_agent, d, r, l = read_back(figures, dones, ret, length, K)
    assert per_agent == {"loss": [1.5, -2.0, 0.25], "flag": [1.0, 0.0, 1.0]}
    for k in range(K):  # agent k owns envs [kN, (k+1)N)
        assert torch.equal(d[k], dones[:, k * N:(k + 1) * N].float())
        assert torch.equal(r[k], ret[:, k * N:(k + 1) * N]) and torch.equal(l[k], length[:, k * N:(k + 1) * N])
    one, d1, _, _ = read_back({"x": torch.tensor(2.0)}, dones[:, :N], ret[:, :N], length[:, :N])  # one agent: K = 1
    assert one == {"x": [2.0]} and d1.shape == (1, T, N)


def test_ppo_loss_is_the_sum_of_its_parts_and_drops_a_zero_entropy_term():
    gen = torch.Generator().manual_seed(1)
    logp, logp_old, adv, ent = (torch.randn(16, generator=gen) for _ in range(4))
    v, ret, v_old = (torch.randn(16, generator=gen) for _ in range(3))
    kw = dict(clip_eps=0.2, vf_coef=0.5, value_clip_eps=None)
    loss, pi, vl, h = objectives.ppo_loss("clip", logp, logp_old, adv, ent, v, ret, v_old, ent_coef=0.01, **kw)
    assert torch.allclose(pi, objectives.clipped_loss(logp, logp_old, adv, 0.2))
    assert torch.allclose(vl, 0.5 * ((v - ret) ** 2).mean()) and torch.allclose(h, ent.mean())
    assert torch.allclose(loss, pi + 0.5 * vl - 0.01 * h)
    no_ent = torch.randn(16, requires_grad=True)
    loss0, *_ = objectives.ppo_loss("clip", logp, logp_old, adv, no_ent, v, ret, v_old, ent_coef=0.0, **kw)
    assert not loss0.requires_grad  # the entropy is not in the graph when c_H is the number 0
    per_agent, *_ = objectives.ppo_loss("clip", logp.reshape(2, 8), logp_old.reshape(2, 8), adv.reshape(2, 8),
                                        ent.reshape(2, 8), v.reshape(2, 8), ret.reshape(2, 8), v_old.reshape(2, 8),
                                        ent_coef=torch.tensor([0.01, 0.0]), dim=1, **kw)
    first, *_ = objectives.ppo_loss("clip", logp[:8], logp_old[:8], adv[:8], ent[:8], v[:8], ret[:8], v_old[:8], ent_coef=0.01, **kw)
    assert per_agent.shape == (2,) and torch.allclose(per_agent[0], first)
