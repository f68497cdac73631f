"""ppo_lite.course.debugging (notebook 10): the readings against independent computations (sums, Monte Carlo, the library's
own formulas), the runs against the trainers they wrap, and the bad-input errors."""
import math

import pytest
import torch

from ppo_lite import PPOConfig, Trainer
from ppo_lite.course import debugging as dbg
from ppo_lite.batched import BatchedConfig, BatchedTrainer, train_batched
from ppo_lite.evaluation import evaluate_agents
from ppo_lite.history import History
from ppo_lite.kl import kl_k3
from ppo_lite.normalize import ObsNormalizer, RewardScaler
from ppo_lite.policies import ActorCritic, gaussian_entropy
from ppo_lite.trainer import explained_variance

TINY = dict(device="cpu", num_envs=2, num_steps=16, update_epochs=2, num_minibatches=1, total_steps=2 * 16 * 3)


def tiny(env_id="CartPole-v1", **overrides):
    return PPOConfig.for_env(env_id, **{**TINY, **overrides})


# -- readings ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("gamma", [0.0, 0.5, 0.9, 0.99])
def test_horizon_and_weight_beyond_are_the_discount_sums(gamma):
    terms = [gamma**t for t in range(20_000)]
    assert dbg.effective_horizon(gamma) == pytest.approx(sum(terms), rel=1e-9)
    for steps in (0, 1, 7, 200):
        assert dbg.discount_weight_beyond(gamma, steps) == pytest.approx(sum(terms[steps:]) / sum(terms), rel=1e-9, abs=1e-300)
    assert dbg.discount_weight_beyond(1.0, 50) == 1.0  # gamma = 1: nothing is discounted away


@pytest.mark.parametrize("bad", [1.0, -0.1, 1.5, True, "0.9"])
def test_bad_gamma_is_refused(bad):
    with pytest.raises(ValueError, match="gamma"):
        dbg.effective_horizon(bad)
    if bad != 1.0:
        with pytest.raises(ValueError, match="gamma"):
            dbg.discount_weight_beyond(bad, 3)
    with pytest.raises(ValueError, match="steps"):
        dbg.discount_weight_beyond(0.9, -1)


def test_residual_std_fraction_is_the_ratio_of_standard_deviations():
    gen = torch.Generator().manual_seed(0)
    returns = 5 * torch.randn(500, generator=gen, dtype=torch.float64)
    for noise in (0.1, 1.0, 3.0, 10.0):  # from a good critic to one worse than a constant (EV < 0)
        values = returns + noise * torch.randn(500, generator=gen, dtype=torch.float64) + 2.0  # an offset EV ignores
        ev = float(explained_variance(values, returns))
        assert dbg.residual_std_fraction(ev) == pytest.approx(float((returns - values).std() / returns.std()), rel=1e-9)
    assert dbg.residual_std_fraction(0.0) == 1.0 and dbg.residual_std_fraction(-3.0) == 2.0
    with pytest.raises(ValueError, match="explained_variance"):
        dbg.residual_std_fraction(1.5)


def test_fraction_moved_counts_relative_moves_both_ways():
    logp_old = torch.log(torch.tensor([0.5, 0.5, 0.5, 0.5]))
    logp_new = torch.log(torch.tensor([0.5, 0.56, 0.44, 0.52]))  # moves of 0%, +12%, -12%, +4%
    assert float(dbg.fraction_moved(logp_new, logp_old, 0.1)) == 0.5
    assert float(dbg.fraction_moved(logp_new, logp_old, 0.01)) == 0.75
    with pytest.raises(ValueError, match="by"):
        dbg.fraction_moved(logp_new, logp_old, 0.0)
    with pytest.raises(ValueError, match="shape"):
        dbg.fraction_moved(logp_new, logp_old[:3])


@pytest.mark.parametrize("kl", [0.002, 0.01, 0.02])
def test_gaussian_fraction_moved_against_monte_carlo(kl):
    gen = torch.Generator().manual_seed(1)
    delta = math.sqrt(2 * kl) * torch.randn(400_000, generator=gen, dtype=torch.float64)
    for by in (0.1, 0.2):
        assert dbg.gaussian_fraction_moved(kl, by) == pytest.approx(float((delta.abs() >= by).double().mean()), abs=0.005)
    # The model's premise: a ratio r = 1 + delta with that spread has k3 close to kl (exact as kl -> 0).
    r = 1 + delta[delta.abs() < 0.9]
    assert float(kl_k3(torch.log(r), torch.zeros_like(r)).mean()) == pytest.approx(kl, rel=0.1)
    with pytest.raises(ValueError, match="kl"):
        dbg.gaussian_fraction_moved(0.0)


def test_gaussian_sigma_inverts_the_policy_entropy():
    gen = torch.Generator().manual_seed(2)
    for d in (1, 2, 4):
        log_std = -3 + 4 * torch.rand(d, generator=gen, dtype=torch.float64)
        entropy = float(gaussian_entropy(log_std))
        assert dbg.gaussian_sigma(entropy, d) == pytest.approx(math.exp(float(log_std.mean())), rel=1e-12)
    assert float(gaussian_entropy(torch.tensor([math.log(dbg.NEGATIVE_ENTROPY_SIGMA)], dtype=torch.float64))) == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ValueError, match="act_dim"):
        dbg.gaussian_sigma(0.0, 0)
    with pytest.raises(ValueError, match="entropy"):
        dbg.gaussian_sigma(float("nan"))


def test_first_reach_and_fell_after_reaching():
    h = History()
    for step, ret in zip(range(1, 7), [100, 480, 490, 300, 200, 495]):
        h.log_episodes([step * 10.0], [float(ret)], [float(ret)])
        h.log_update(env_steps=step * 10.0)
    assert dbg.first_reach(h, 475, last=1) == 1 and dbg.first_reach(h, 499, last=1) is None
    assert dbg.fell_after_reaching(h, 475, 250, last=1) and not dbg.fell_after_reaching(h, 475, 150, last=1)
    assert not dbg.fell_after_reaching(h, 499, 0, last=1)  # never reached: no collapse


# -- runs -------------------------------------------------------------------------------------------------------
def _same(a: list[History], b: list[History]) -> bool:
    return [h.without_timing() for h in a] == [h.without_timing() for h in b]


def test_run_arms_batches_per_agent_arms_together_and_the_others_apart():
    base = tiny()
    arms = {"a": {}, "b": {"lr": 3e-3, "gamma": 0.9}, "c": {"num_minibatches": 2}}
    runs = dbg.run_arms(base, arms, seeds=[0, 1])
    assert list(runs) == ["a", "b", "c"] and all(len(v) == 2 for v in runs.values())
    together = train_batched(BatchedConfig(base, seeds=[0, 1, 0, 1], lr=[base.lr] * 2 + [3e-3] * 2, gamma=[base.gamma] * 2 + [0.9] * 2), progress=False)
    assert _same(runs["a"] + runs["b"], together)
    assert _same(runs["c"], train_batched(BatchedConfig(base.replace(num_minibatches=2), seeds=[0, 1]), progress=False))
    short = dbg.run_arms(base.replace(total_steps=2 * 16 * 6), {"a": {}}, seeds=[0], stop_after=2)["a"][0]
    assert len(short) == 2 and short["lr"][1] == pytest.approx(base.lr * (1 - 1 / 6))  # the long run's schedule
    with pytest.raises(ValueError, match="unknown PPOConfig fields"):
        dbg.run_arms(base, {"x": {"learning_rate": 1.0}}, seeds=[0])
    with pytest.raises(ValueError, match="arms is empty"):
        dbg.run_arms(base, {}, seeds=[0])
    with pytest.raises(ValueError, match="seeds"):
        dbg.run_arms(base, {"a": {}}, seeds=[])
    with pytest.raises(ValueError, match="stop_after"):
        dbg.run_arms(base, {"a": {}}, seeds=[0], stop_after=0)


def test_fork_continues_each_parent_exactly():
    base = tiny(norm_obs=True, scale_reward=True)
    parent = BatchedTrainer(BatchedConfig(base, seeds=[0, 1, 2]))
    parent.run(progress=False)
    child = dbg.fork(parent, BatchedConfig(base, seeds=[5, 6], lr=[1e-4, 1e-2]), parents=[2, 0])
    assert torch.equal(child.net.flat, parent.net.flat[[2, 0]])
    assert torch.equal(child.optimizer.exp_avg_sq, parent.optimizer.exp_avg_sq[[2, 0]])
    assert child.optimizer.step_count == parent.optimizer.step_count
    assert torch.equal(child.obs_norm.rms.var, parent.obs_norm.rms.var[[2, 0]])
    assert torch.equal(child.reward_scaler.rms.var, parent.reward_scaler.rms.var[[2, 0]])
    # Same weights and statistics: the same deterministic evaluation on the same evaluation envs.
    same = dbg.fork(parent, BatchedConfig(base, seeds=[7, 8, 9]), parents=[0, 1, 2])
    assert evaluate_agents(same, episodes=3, seed=77) == evaluate_agents(parent, episodes=3, seed=77)
    assert len(child.run(progress=False)[1]) == base.num_updates  # and it trains
    with pytest.raises(ValueError, match="env_id"):
        dbg.fork(parent, BatchedConfig(tiny("Acrobot-v1", norm_obs=True, scale_reward=True), seeds=[0]), parents=[0])
    with pytest.raises(ValueError, match="parents"):
        dbg.fork(parent, BatchedConfig(base, seeds=[0]), parents=[3])
    with pytest.raises(ValueError, match="one parent per seed"):
        dbg.fork(parent, BatchedConfig(base, seeds=[0, 1]), parents=[0])


def _fresh_snapshot(layout=lambda net: net, seed=0, **overrides):
    cfg = tiny(**overrides)
    torch.manual_seed(seed)
    return dbg.AgentSnapshot(cfg, layout(ActorCritic(4, 2, True)), ObsNormalizer(4, False), RewardScaler(cfg.num_envs, cfg.gamma, False))


def test_probe_update_measures_one_update_from_one_starting_point():
    snap = _fresh_snapshot(update_epochs=4)
    before = [p.detach().clone() for p in snap.agent.parameters()]
    rows = dbg.probe_update(snap, [{"lr": 1e-9}, {"lr": 1e-5}, {"lr": 1e-3}, {"lr": 1e-3, "target_kl": 1e-9}], seed=3)
    assert all(torch.equal(a, b) for a, b in zip(before, snap.agent.parameters()))  # the snapshot is not changed
    assert rows[0]["approx_kl"] < 1e-9 and rows[0]["moved_10"] == 0.0
    assert rows[2]["approx_kl"] > 10 * rows[1]["approx_kl"] > 0 and rows[2]["actor_step"] > 10 * rows[1]["actor_step"]
    # Early stopping checks the KL of an epoch's last minibatch before its step: with one minibatch, epoch 1 sees
    # the old policy (KL 0), epoch 2 the first step's, so even a tiny target_kl ends the update after 2 of 4 epochs.
    assert rows[2]["epochs"] == 4 and rows[3]["epochs"] == 2
    assert 0 < rows[0]["rare"] < 1 and rows[0]["moved_20"] <= rows[0]["moved_10"]
    with pytest.raises(ValueError, match="settings is empty"):
        dbg.probe_update(snap, [])


def test_probe_update_shows_what_vf_coef_does_in_each_layout():
    separate = dbg.probe_update(_fresh_snapshot(), [{"vf_coef": 0.5, "max_grad_norm": None}, {"vf_coef": 5.0, "max_grad_norm": None}], seed=1)
    assert separate[0]["value_grad"] == 0.0 and separate[0]["actor_step"] == separate[1]["actor_step"]
    shared = dbg.probe_update(_fresh_snapshot(dbg.share_trunk), [{"vf_coef": 0.5, "max_grad_norm": None}, {"vf_coef": 5.0, "max_grad_norm": None}], seed=1)
    assert shared[0]["value_grad"] > 0 and shared[1]["value_grad"] == pytest.approx(10 * shared[0]["value_grad"], rel=1e-5)
    assert shared[0]["actor_step"] != shared[1]["actor_step"]  # on a shared trunk, vf_coef moves the actor


def test_snapshot_of_a_single_agent_trainer_and_of_a_batch():
    trainer = Trainer(tiny(norm_obs=True))
    trainer.run(progress=False)
    snap = dbg.snapshot(trainer)
    assert torch.equal(snap.obs_norm.rms.mean, trainer.obs_norm.rms.mean) and snap.agent is not trainer.agent
    assert dbg.probe_update(snap, [{"lr": 1e-4}], seed=0)[0]["epochs"] == 2
    batch = BatchedTrainer(BatchedConfig(tiny(norm_obs=True), seeds=[3, 4]))
    batch.run(progress=False)
    one = dbg.snapshot(batch, 1)
    assert one.config.seed == 4 and torch.equal(one.obs_norm.rms.var, batch.obs_norm.rms.var[1, 0])
    with torch.no_grad():
        obs = torch.randn(5, 4)
        assert torch.allclose(one.agent.actor(obs), batch.net.actor(obs.expand(2, 5, 4))[1])
    with pytest.raises(ValueError, match="k=2"):
        dbg.snapshot(batch, 2)


def test_share_trunk_shares_the_hidden_layers_and_trains():
    net = dbg.share_trunk(ActorCritic(4, 2, True))
    assert net.actor[0] is net.critic[0]
    assert len(list(net.parameters())) == 4 + 2 + 2  # the trunk's two layers, the policy head, the value head
    value = net.value(torch.randn(3, 4)).sum()
    value.backward()
    assert net.actor[0][0].weight.grad is not None and net.actor[0][0].weight.grad.abs().sum() > 0
    with pytest.raises(TypeError, match="ActorCritic"):
        dbg.share_trunk(torch.nn.Linear(2, 2))
    histories = dbg.train_shared_trunk(tiny(), seeds=[0, 1])
    assert len(histories) == 2 and all(len(h) == tiny().num_updates for h in histories)
    assert histories[0].without_timing() != histories[1].without_timing()


def test_evaluate_without_obs_stats_is_an_identity_normalizer():
    trainer = BatchedTrainer(BatchedConfig(tiny(norm_obs=True), seeds=[0, 1]))
    trainer.run(progress=False)
    kept = trainer.obs_norm.rms.var.clone()
    forgot = dbg.evaluate_without_obs_stats(trainer, episodes=2, seed=5)
    assert torch.equal(trainer.obs_norm.rms.var, kept)  # the trainer's own statistics are untouched
    trainer.obs_norm.load_state_dict({"mean": torch.zeros_like(kept), "var": torch.ones_like(kept), "count": trainer.obs_norm.rms.count})
    assert forgot == evaluate_agents(trainer, episodes=2, seed=5)
    plain = BatchedTrainer(BatchedConfig(tiny(), seeds=[0]))
    with pytest.raises(ValueError, match="norm_obs"):
        dbg.evaluate_without_obs_stats(plain)


def test_from_snapshots_rebuilds_the_agents_that_fork_would_carry_over():
    base = tiny(norm_obs=True, scale_reward=True)
    parent = BatchedTrainer(BatchedConfig(base, seeds=[0, 1, 2]))
    parent.run(progress=False)
    snaps = [dbg.snapshot(parent, k) for k in (2, 0)]
    rebuilt = dbg.from_snapshots(snaps, BatchedConfig(base, seeds=[5, 6]))
    forked = dbg.fork(parent, BatchedConfig(base, seeds=[5, 6]), parents=[2, 0])
    for a, b in ((rebuilt.net.flat, forked.net.flat), (rebuilt.optimizer.exp_avg, forked.optimizer.exp_avg),
                 (rebuilt.optimizer.exp_avg_sq, forked.optimizer.exp_avg_sq), (rebuilt.obs_norm.rms.mean, forked.obs_norm.rms.mean),
                 (rebuilt.obs_norm.rms.var, forked.obs_norm.rms.var), (rebuilt.reward_scaler.rms.var, forked.reward_scaler.rms.var)):
        assert torch.equal(a, b)
    assert rebuilt.optimizer.step_count == forked.optimizer.step_count
    assert evaluate_agents(rebuilt, episodes=3, seed=77) == evaluate_agents(forked, episodes=3, seed=77)
    with pytest.raises(ValueError, match="2 snapshots for 3 agents"):
        dbg.from_snapshots(snaps, BatchedConfig(base, seeds=[5, 6, 7]))
    with pytest.raises(ValueError, match="env_id"):
        dbg.from_snapshots(snaps, BatchedConfig(tiny("Acrobot-v1", norm_obs=True, scale_reward=True), seeds=[5, 6]))


def test_share_trunk_batched_gives_each_agent_the_single_agent_shared_layout():
    trainer = dbg.share_trunk_batched(BatchedTrainer(BatchedConfig(tiny(), seeds=[0, 1])))
    obs = torch.randn(2, 5, 4)
    values = trainer.net.critic(obs)
    for k in range(2):
        single = dbg.share_trunk(trainer.net.to_single(k))   # the critic's hidden layers replaced by the actor's
        assert torch.allclose(values[k], single.critic(obs[k]), atol=1e-6)
    with pytest.raises(TypeError, match="BatchedTrainer"):
        dbg.share_trunk_batched(Trainer(tiny()))
