"""K agents in one batched computation: agent k must be the single-agent computation with its seed and hyperparameters.

References are the single-agent library itself (``Trainer``'s initialization, ``trainer.update``, ``torch.optim.Adam``,
``advantages.gae``, ``ObsNormalizer``/``RewardScaler``), never the batched code. The full CartPole learning comparison
is ``slow``; a short learning check runs in the fast set.
"""
import pytest
import torch
from torch.nn.utils import parameters_to_vector

from ppo_lite import PPOConfig, train
from ppo_lite.advantages import gae
from ppo_lite.batched import (
    AgentHyperparameters, BatchedActorCritic, BatchedConfig, BatchedTrainer, batched_update, per_agent_gae, train_batched,
)
from ppo_lite.normalize import ObsNormalizer, PerAgentObsNormalizer, PerAgentRewardScaler, RewardScaler
from ppo_lite.optim import BatchedAdam, FlatAdam
from ppo_lite.trainer import Trainer, update

SMALL = dict(num_envs=4, num_steps=16, update_epochs=2, num_minibatches=2, total_steps=4 * 16 * 6, device="cpu")


# (a) initial parameters -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("env_id", ["CartPole-v1", "Pendulum-v1"])
def test_initial_parameters_equal_the_single_agent_trainers(env_id):
    cfg = BatchedConfig(PPOConfig.for_env(env_id, **SMALL), seeds=[3, 0, 3], lr=[1e-3, 2e-3, 5e-4])
    net = BatchedTrainer(cfg).net
    for k in range(cfg.num_agents):
        single = Trainer(cfg.agent_config(k)).agent.state_dict()
        batched = net.to_single(k).state_dict()
        assert single.keys() == batched.keys()
        for name in single:
            assert torch.equal(single[name], batched[name]), (k, name)
    assert not torch.equal(net.flat[0], net.flat[1])  # seeds 3 and 0 differ
    assert torch.equal(net.flat[0], net.flat[2])  # the same seed twice gives the same weights
    again = BatchedActorCritic.from_singles([net.to_single(k) for k in (2, 1)])
    assert torch.equal(again.flat, net.flat[[2, 1]])


# (b) the same update as trainer.update, agent by agent ------------------------------------------------------------
def _random_batch(net: BatchedActorCritic, B: int, seed: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    K = net.num_agents
    obs = torch.randn(K, B, net.obs_dim, generator=g)
    actions, logp, values = net.act(obs.reshape(K * B, -1), g)
    shape = (K, B) if net.discrete else (K, B, net.act_dim)
    values = values.reshape(K, B)
    return {
        "obs": obs, "actions": actions.reshape(shape),
        "logp": logp.reshape(K, B) + 0.3 * torch.randn(K, B, generator=g),  # ratios away from 1: clipping acts
        "values": values, "advantages": torch.randn(K, B, generator=g) * 2.0 + 0.5,
        "returns": values + torch.randn(K, B, generator=g),
    }


# Every objective, and each switch that changes the update's code path, against trainer.update agent by agent.
UPDATE_CASES = [
    ("CartPole-v1", dict(objective="clip")),
    ("CartPole-v1", dict(objective="kl_adaptive", clip_value=True)),
    ("CartPole-v1", dict(objective="kl_dual")),
    ("CartPole-v1", dict(objective="pg", norm_adv=False)),
    ("CartPole-v1", dict(objective="clip", num_minibatches=1)),          # the whole-batch fast path
    ("Pendulum-v1", dict(objective="clip", clip_value=True)),
    ("Pendulum-v1", dict(objective="surrogate", max_grad_norm=None)),
    ("Pendulum-v1", dict(objective="kl_dual", num_minibatches=1, norm_adv=False)),
]


@pytest.mark.parametrize("env_id,switches", UPDATE_CASES, ids=[f"{e}-{'-'.join(f'{k}={v}' for k, v in s.items())}" for e, s in UPDATE_CASES])
def test_first_update_equals_single_agent_update(env_id, switches):
    settings = dict(device="cpu", num_envs=4, num_steps=16, update_epochs=3, num_minibatches=4, max_grad_norm=0.5)
    base = PPOConfig.for_env(env_id, **{**settings, **switches})
    objective = base.objective
    cfg = BatchedConfig(base, seeds=[0, 1, 2], lr=[1e-3, 3e-3, 5e-4], clip_eps=[0.2, 0.1, 0.3], ent_coef=[0.0, 0.01, 0.05])
    obs_dim, act_dim, discrete = (4, 2, True) if env_id == "CartPole-v1" else (3, 1, False)
    net = BatchedActorCritic.from_seeds(cfg.seeds, obs_dim, act_dim, discrete, log_std_init=-0.5)
    B = base.batch_size
    batch = _random_batch(net, B, seed=11)
    uses_kl = objective in ("kl_adaptive", "kl_dual")
    kl_coef = torch.tensor([0.5, 1.0, 2.0])
    singles, optimizers, single_stats, perms = [], [], [], []
    for k in range(cfg.num_agents):
        agent = net.to_single(k)
        opt = FlatAdam(agent, lr=cfg.values("lr")[k], eps=base.adam_eps)  # as Trainer
        stats = update(agent, opt, {n: v[k] for n, v in batch.items()}, cfg.agent_config(k),
                       torch.Generator().manual_seed(100 + k), kl_coef[k] if uses_kl else None)
        if base.num_minibatches > 1:
            replay = torch.Generator().manual_seed(100 + k)  # the shuffles trainer.update drew
            perms.append(torch.stack([torch.randperm(B, generator=replay) for _ in range(base.update_epochs)]))
        singles.append(agent), optimizers.append(opt), single_stats.append(stats)

    hp = AgentHyperparameters.from_config(cfg)
    adam = BatchedAdam(net.flat, net.grad, torch.tensor(cfg.values("lr"), dtype=torch.float64), eps=base.adam_eps)
    stats = batched_update(net, adam, batch, base, hp, torch.Generator(), kl_coef if uses_kl else None,
                           perms=torch.stack(perms, 1) if perms else None)
    for k, (agent, opt) in enumerate(zip(singles, optimizers)):
        after = parameters_to_vector(agent.parameters()).detach()
        moved = (after - parameters_to_vector(BatchedActorCritic.from_seeds([cfg.seeds[k]], obs_dim, act_dim, discrete, log_std_init=-0.5).to_single(0).parameters())).abs().max()
        assert moved > 1e-3  # the update did something to compare
        torch.testing.assert_close(net.flat[k], after, rtol=1e-4, atol=2e-6)
        state = adam.agent_state(k)
        assert state["step"] == opt.step_count == base.update_epochs * base.num_minibatches
        for key in ("exp_avg", "exp_avg_sq"):
            torch.testing.assert_close(state[key], getattr(opt, key), rtol=1e-4, atol=1e-8)
        for name in ("policy_loss", "value_loss", "entropy", "clip_frac", "grad_norm"):
            torch.testing.assert_close(stats[name][k], single_stats[k][name], rtol=1e-4, atol=1e-6, msg=f"agent {k} {name}")


# (e) batched Adam against torch.optim.Adam ------------------------------------------------------------------------
@pytest.mark.parametrize("impl", [{"foreach": False}, {"foreach": True}, {"fused": True}])
def test_batched_adam_equals_torch_adam_step_for_step(impl):
    g = torch.Generator().manual_seed(0)
    K, P, lrs, eps = 3, 40, [1e-3, 1e-2, 0.1], 1e-5
    start = torch.randn(K, P, generator=g)
    grads = [torch.randn(K, P, generator=g) * torch.logspace(-6, 1, P) for _ in range(25)]  # tiny to large gradients
    grads[3][1] = 0.0  # a step with an all-zero gradient for one agent
    params, grad = start.clone(), torch.zeros(K, P)
    adam = BatchedAdam(params, grad, torch.tensor(lrs, dtype=torch.float64), eps=eps)
    refs = [torch.nn.Parameter(start[k].clone()) for k in range(K)]
    opts = [torch.optim.Adam([refs[k]], lr=lrs[k], eps=eps, **impl) for k in range(K)]
    for step_grad in grads:
        grad.copy_(step_grad)
        adam.step()
        for k in range(K):
            refs[k].grad = step_grad[k].clone()
            opts[k].step()
    for k in range(K):
        if impl == {"foreach": False}:  # the single-tensor Adam that FlatAdam and BatchedAdam are written after: bitwise
            assert torch.equal(params[k], refs[k].detach()), k
            assert torch.equal(adam.exp_avg_sq[k], opts[k].state[refs[k]]["exp_avg_sq"]), k
        else:  # multi-tensor and fused kernels order some operations differently: last-bit differences
            torch.testing.assert_close(params[k], refs[k].detach(), rtol=1e-6, atol=1e-7)
            torch.testing.assert_close(adam.exp_avg_sq[k], opts[k].state[refs[k]]["exp_avg_sq"], rtol=1e-6, atol=0.0)
    assert (params - start).abs().amax(1).argsort().tolist() == [0, 1, 2]  # a larger lr moves further


def test_batched_adam_row_equals_flat_adam_and_clips_per_row():
    """Row k of BatchedAdam (with its per-row norm clip) is bitwise FlatAdam on agent k alone."""
    g = torch.Generator().manual_seed(3)
    nets = [torch.nn.Linear(5, 3) for _ in range(2)]
    flats = [FlatAdam(net, lr=lr) for net, lr in zip(nets, (3e-3, 1e-2))]
    params = torch.stack([f.params.clone() for f in flats])
    grad = torch.zeros_like(params)
    adam = BatchedAdam(params, grad, torch.tensor([3e-3, 1e-2], dtype=torch.float64))
    for step in range(10):
        step_grad = torch.randn(params.shape, generator=g) * (10.0 if step % 2 else 0.01)  # clipped, then not
        grad.copy_(step_grad)
        norms = adam.clip_grad_norm(0.5)
        adam.step()
        for k, f in enumerate(flats):
            f.grad.copy_(step_grad[k])
            assert torch.equal(f.clip_grad_norm(0.5), norms[k])
            f.step()
            assert torch.equal(f.params, params[k]), (step, k)


# per-agent pieces against the single-agent library functions ------------------------------------------------------
def test_per_agent_gae_equals_gae_on_each_agents_columns():
    g = torch.Generator().manual_seed(1)
    T, K, N = 12, 3, 4
    rewards, values, next_values = (torch.randn(T, K * N, generator=g) for _ in range(3))
    terminated = torch.rand(T, K * N, generator=g) < 0.1
    truncated = torch.rand(T, K * N, generator=g) < 0.1
    gammas, lams = [0.99, 0.9, 0.5], [0.95, 0.0, 1.0]
    adv = per_agent_gae(rewards, values, next_values, terminated, truncated, gammas, lams)
    for k in range(K):
        cols = slice(k * N, (k + 1) * N)
        ref = gae(rewards[:, cols], values[:, cols], next_values[:, cols], terminated[:, cols], truncated[:, cols], gammas[k], lams[k])
        torch.testing.assert_close(adv[:, cols], ref)


def test_per_agent_normalizers_equal_single_agent_normalizers():
    g = torch.Generator().manual_seed(2)
    K, N, D, T = 3, 4, 5, 8
    gammas = torch.tensor([0.99, 0.9, 0.5])
    obs_norm = PerAgentObsNormalizer(K, D, enabled=True)
    scaler = PerAgentRewardScaler(K, N, gammas, enabled=True)
    singles = [(ObsNormalizer(D, enabled=True), RewardScaler(N, float(gammas[k]), enabled=True)) for k in range(K)]
    for _ in range(3):
        raw = torch.randn(T, K * N, D, generator=g) * torch.tensor([1.0, 5.0, 0.1]).repeat_interleave(N)[:, None] + 3.0
        rewards = torch.randn(T, K * N, generator=g).abs()
        dones = torch.rand(T, K * N, generator=g) < 0.2
        tracked = torch.stack([scaler.track(rewards[t], dones[t]) for t in range(T)])
        obs_norm.update(raw), scaler.update(tracked)
        for k, (o, s) in enumerate(singles):
            cols = slice(k * N, (k + 1) * N)
            ref_tracked = torch.stack([s.track(rewards[t, cols], dones[t, cols]) for t in range(T)])
            torch.testing.assert_close(tracked[:, cols], ref_tracked)
            o.update(raw[:, cols].reshape(-1, D)), s.update(ref_tracked)
    probe_obs = torch.randn(T, K * N, D, generator=g)
    probe_rew = torch.randn(K * N, generator=g)
    for k, (o, s) in enumerate(singles):
        cols = slice(k * N, (k + 1) * N)
        torch.testing.assert_close(obs_norm(probe_obs)[:, cols], o(probe_obs[:, cols]))
        torch.testing.assert_close(scaler(probe_rew)[cols], s(probe_rew[cols]))


# (d) per-agent hyperparameters act per agent ---------------------------------------------------------------------
def test_an_agent_with_lr_near_zero_does_not_move_while_the_others_do():
    cfg = BatchedConfig(PPOConfig.for_env("CartPole-v1", **SMALL), seeds=[0, 0, 0], lr=[1e-3, 1e-12, 3e-3])
    trainer = BatchedTrainer(cfg)
    before = trainer.net.flat.clone()
    histories = trainer.run(progress=False)
    moved = (trainer.net.flat - before).abs().amax(1)
    assert moved[1] < 1e-9 < 1e-4 < moved[0] < moved[2]
    assert [h["lr"][0] for h in histories] == [1e-3, 1e-12, 3e-3]
    assert all(len(h) == cfg.base.num_updates for h in histories)


def test_histories_have_every_figure_and_their_own_episodes():
    cfg = BatchedConfig(PPOConfig.for_env("CartPole-v1", objective="kl_dual", **SMALL), seeds=[0, 1])
    histories = train_batched(cfg, progress=False)
    single = train(cfg.agent_config(0), progress=False)
    for h in histories:
        assert set(h.updates) == set(single.updates)
        assert h["env_steps"] == single["env_steps"] == [64.0 * k for k in range(1, 7)]
        assert h["lr"] == single["lr"]
        assert len(h.episodes["return"]) > 0 and all(r >= 8 for r in h.episodes["return"])
        assert h.episodes["env_steps"] == sorted(h.episodes["env_steps"])
        assert h.episodes["return"] == h.episodes["length"]  # CartPole: +1 per step
    assert histories[0].episodes != histories[1].episodes


def test_gymnasium_backend_runs():
    cfg = BatchedConfig(PPOConfig.for_env("CartPole-v1", backend="gymnasium", **SMALL), seeds=[0, 1])
    histories = train_batched(cfg, progress=False)
    assert all(len(h) == 6 and len(h.episodes["return"]) > 0 for h in histories)


def test_short_run_learns():
    cfg = BatchedConfig(PPOConfig.for_env("CartPole-v1", device="cpu", total_steps=8_192), seeds=[0, 1])
    histories = train_batched(cfg, progress=False)
    for h in histories:
        assert h.mean_return() > 100, h.mean_return()  # a uniform random policy averages about 22


def test_training_stops_at_a_non_finite_parameter_naming_the_agent():
    cfg = BatchedConfig(PPOConfig.for_env("CartPole-v1", **SMALL), seeds=[0, 5])
    trainer = BatchedTrainer(cfg)
    with torch.no_grad():
        trainer.net.flat[1, -1] = float("nan")  # the critic's output bias: actions stay valid, values become NaN
    with pytest.raises(FloatingPointError, match=r"agent 1 \(seed 5"):
        trainer.run(progress=False)


# (f) bad input ----------------------------------------------------------------------------------------------------
BAD = [
    (dict(seeds=[]), "seeds"),
    (dict(seeds=[0, -1]), r"seeds\[1\]"),
    (dict(seeds=[0, True]), r"seeds\[1\]"),
    (dict(seeds=[0, 1], lr=[1e-3]), "lr"),
    (dict(seeds=[0, 1], lr=[1e-3, -1e-3]), r"agent 1 \(seed 1\): PPOConfig.lr=-0.001"),
    (dict(seeds=[0, 1], gamma=[0.99, 1.5]), r"agent 1 .*gamma=1.5"),
    (dict(seeds=[0, 1], clip_eps=[0.2, "0.1"]), r"clip_eps\[1\]"),
    (dict(seeds=[0], base=PPOConfig(target_kl=0.01, device="cpu")), "target_kl=0.01 is not supported"),
    (dict(seeds=[0], base={"lr": 1e-3}), "PPOConfig"),
]


@pytest.mark.parametrize("kwargs,match", BAD)
def test_bad_input_is_refused_before_any_work(kwargs, match):
    kwargs = dict(kwargs)
    kwargs.setdefault("base", PPOConfig.for_env("CartPole-v1", **SMALL))
    with pytest.raises((ValueError, TypeError), match=match):
        train_batched(BatchedConfig(**kwargs), progress=False)


def test_bad_network_input_is_refused():
    with pytest.raises(ValueError, match="one learning rate per agent"):
        BatchedAdam(torch.zeros(3, 4), torch.zeros(3, 4), torch.ones(2))
    net = BatchedActorCritic.from_seeds([0, 1], 4, 2, True)
    with pytest.raises(IndexError, match="agent index 2"):
        net.to_single(2)
    with pytest.raises(ValueError, match="architecture"):
        BatchedActorCritic.from_singles([net.to_single(0), BatchedActorCritic.from_seeds([0], 4, 3, True).to_single(0)])


# (c) full CartPole runs against single-agent runs -----------------------------------------------------------------
@pytest.mark.slow
def test_cartpole_agents_solve_like_single_agent_runs():
    """Every agent of K=4 reaches mean-of-last-20 >= 475 within the single-agent budget, and the steps it takes
    overlap the single-agent runs' (same seeds and config, ppo_lite.train)."""
    base = PPOConfig.for_env("CartPole-v1", device="cpu")
    cfg = BatchedConfig(base, seeds=[0, 1, 2, 3])

    def solved_all(_, histories):
        return all(h.steps_to_threshold(475) is not None for h in histories)

    batched = [h.steps_to_threshold(475) for h in train_batched(cfg, progress=False, callback=solved_all)]
    single = [train(cfg.agent_config(k), progress=False, callback=lambda _, h: h.mean_return() >= 475).steps_to_threshold(475)
              for k in range(cfg.num_agents)]
    print(f"steps to 475: batched {batched}, single {single}")
    assert all(s is not None for s in single), single
    assert all(s is not None and s <= base.total_steps for s in batched), batched
    assert min(batched) <= max(single) and min(single) <= max(batched)


@pytest.mark.parametrize("streams", ["per_agent", "shared"])
def test_evaluate_agents_scores_each_agent_as_its_own_single_network_would(streams):
    """Agent k's deterministic evaluation equals its single-agent network stepping the same envs (reference: the
    single-agent ActorCritic and ObsNormalizer, column by column): per agent, E envs reset with the evaluation seed
    (every agent the same starts); shared, block k of K·E envs reset with it."""
    from ppo_lite.envs import make_env
    from ppo_lite.evaluation import evaluate_agents

    cfg = BatchedConfig(PPOConfig.for_env("Pendulum-v1", device="cpu", num_envs=2, num_steps=32, update_epochs=2,
                                          num_minibatches=2, total_steps=2 * 32 * 3, norm_obs=True), seeds=[0, 1, 2],
                        streams=streams)
    trainer = BatchedTrainer(cfg)
    trainer.run(progress=False)
    E, K = 3, cfg.num_agents
    scores = evaluate_agents(trainer, episodes=E, seed=777)
    assert len(scores) == K and all(len(s) == E for s in scores)
    for k in range(K):
        net = trainer.net.to_single(k)
        norm = ObsNormalizer(3, True)
        norm.rms.mean, norm.rms.var = trainer.obs_norm.rms.mean[k, 0].clone(), trainer.obs_norm.rms.var[k, 0].clone()
        norm._refresh()
        n = E if streams == "per_agent" else K * E
        env = make_env("Pendulum-v1", n, "cpu")
        obs, total = env.reset(seed=777), torch.zeros(n)
        for _ in range(200):  # Pendulum: every episode is 200 steps
            action, _ = net.sample(norm(obs), deterministic=True)
            obs, reward, *_ = env.step(torch.clamp(action, -2.0, 2.0))
            total += reward
        mine = total if streams == "per_agent" else total[k * E:(k + 1) * E]
        torch.testing.assert_close(torch.tensor(scores[k]), mine, rtol=1e-4, atol=1e-3)
    assert scores[0] != scores[1]  # different agents, different scores


def test_agent_states_move_between_batches_whole():
    """load_agent_states(agent_state(k)): every piece of an agent's learnt state arrives, and a refused network
    shape names the mismatch (issue 27: nothing reaches into a trainer from outside)."""
    base = PPOConfig.for_env("Acrobot-v1", norm_obs=True, scale_reward=True, num_envs=2, num_steps=16, update_epochs=2,
                             total_steps=2 * 16 * 6, device="cpu")
    parent = BatchedTrainer(BatchedConfig(base, seeds=[0, 1, 2]))
    for _ in range(3):
        parent.run_update()
    child = BatchedTrainer(BatchedConfig(base, seeds=[7, 8]))
    child.load_agent_states([parent.agent_state(2), parent.agent_state(0)])
    for j, k in enumerate((2, 0)):
        got, want = child.agent_state(j), parent.agent_state(k)
        for key in want:
            assert torch.equal(torch.as_tensor(got[key]), torch.as_tensor(want[key])), key
    assert child.optimizer.step_count == parent.optimizer.step_count > 0
    assert not torch.equal(child.agent_state(0)["params"], BatchedTrainer(BatchedConfig(base, seeds=[7, 8])).agent_state(0)["params"])
    other = BatchedTrainer(BatchedConfig(base.replace(hidden=(8,)), seeds=[0]))
    with pytest.raises(ValueError, match="not the same network"):
        other.load_agent_states([parent.agent_state(0)])
    with pytest.raises(ValueError, match="2 states for 1 agents"):
        other.load_agent_states([parent.agent_state(0)] * 2)


# (f) per-agent random streams (issue 29 point 8) ------------------------------------------------------------------
def _same_history(a, b) -> bool:
    """Every logged figure of two histories equal, bit for bit (nan equal to nan), wall-clock figures aside."""
    keys = [k for k in a.updates if k not in ("time", "sps")]
    same = lambda x, y: x == y or (x != x and y != y)  # noqa: E731
    return keys == [k for k in b.updates if k not in ("time", "sps")] and all(
        len(a[k]) == len(b[k]) and all(same(x, y) for x, y in zip(a[k], b[k])) for k in keys) and a.episodes == b.episodes


STREAM_CASES = [
    ("CartPole-v1", dict(num_minibatches=4, norm_obs=True, scale_reward=True)),
    ("Pendulum-v1", dict(objective="kl_dual")),
    ("CartPole-v1", dict(backend="gymnasium")),
]


@pytest.mark.parametrize("env_id,switches", STREAM_CASES, ids=[e + "-" + "-".join(s) for e, s in STREAM_CASES])
def test_an_agent_draws_the_same_run_whatever_its_batch_mates(env_id, switches):
    """Agent k of a batch is, bit for bit, the same seed trained in a batch of one, and in another batch at another
    position: weights, every logged figure, evaluation returns. So a stored run can be trained again alone."""
    from ppo_lite.evaluation import evaluate_agents

    base = PPOConfig.for_env(env_id, device="cpu", num_envs=4, num_steps=32, update_epochs=2, total_steps=4 * 32 * 6, **switches)
    runs = {}
    for seeds in ([3, 0, 5], [0], [7, 7, 0, 2]):
        t = BatchedTrainer(BatchedConfig(base, seeds=seeds, lr=[3e-3 if s == 0 else 1e-3 for s in seeds], streams="per_agent"))
        t.run(progress=False)
        runs[tuple(seeds)] = (t, evaluate_agents(t, episodes=3))
        t.env.close()
    (t3, e3), (t1, e1), (t4, e4) = runs.values()
    assert torch.equal(t3.net.flat[1], t1.net.flat[0]) and torch.equal(t4.net.flat[2], t1.net.flat[0])
    assert _same_history(t3.histories[1], t1.histories[0]) and _same_history(t4.histories[2], t1.histories[0])
    assert e3[1] == e1[0] == e4[2]
    assert not torch.equal(t3.net.flat[0], t3.net.flat[1])                 # other seeds, other runs
    assert torch.equal(t4.net.flat[0], t4.net.flat[1])                     # one seed twice, one run twice


def test_an_agents_streams_are_the_single_agent_trainers():
    """Agent k resets its envs and samples with generators seeded seeds[k], as Trainer does for that seed: the
    same first observations, and on CartPole the same first rollout of actions (the weights start equal; the
    batched and single forward passes round alike enough that no sampled action differs)."""
    base = PPOConfig.for_env("CartPole-v1", device="cpu", num_envs=4, num_steps=16, total_steps=64)
    batch = BatchedTrainer(BatchedConfig(base, seeds=[4, 9], streams="per_agent"))
    single = Trainer(base.replace(seed=9))
    torch.testing.assert_close(batch.obs[4:8], single.obs, rtol=0, atol=0)
    batch.run_update(), single.run_update()
    assert torch.equal(batch.last_batch["actions"][1], single.last_batch["actions"])
    shared = BatchedTrainer(BatchedConfig(base, seeds=[4, 9]))
    assert shared.config.streams == "shared" and not torch.equal(shared.obs[4:8], single.obs)  # the default: another draw


def test_streams_must_be_one_of_the_two():
    with pytest.raises(ValueError, match=r"streams='own' is not allowed: use one of \('per_agent', 'shared'\)"):
        BatchedTrainer(BatchedConfig(PPOConfig.for_env("CartPole-v1", **SMALL), seeds=[0], streams="own"))


def test_block_seeded_env_state_round_trips():
    """An env reset in blocks saves and restores every block's stream: the restored copy steps the same episodes."""
    from ppo_lite.envs import make_env

    env, copy = make_env("CartPole-v1", 6, "cpu"), make_env("CartPole-v1", 6, "cpu")
    env.reset_blocks([3, 4])
    actions = torch.ones(6, dtype=torch.int64)
    for _ in range(15):
        env.step(actions)
    copy.load_state_dict(env.state_dict())
    for _ in range(40):  # past the first episode ends: autoreset draws from the block streams
        a, b = env.step(actions), copy.step(actions)
        assert torch.equal(a[0], b[0])
    with pytest.raises(ValueError, match="do not split num_envs=6"):
        env.reset_blocks([1, 2, 3, 4])
