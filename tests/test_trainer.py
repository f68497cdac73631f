"""Trainer: determinism, checkpoint resume, bad input, NaN handling (learning curves: test_learning.py)."""
import gymnasium as gym
import numpy as np
import pytest
import torch

from ppo_lite import PPOConfig, train
from ppo_lite.checkpoint import load_checkpoint
from ppo_lite.trainer import Trainer

SMALL = dict(num_envs=4, num_steps=16, update_epochs=2, num_minibatches=2, total_steps=4 * 16 * 6)


@pytest.mark.parametrize("objective", ["clip", "kl_dual"])
def test_same_seed_same_history(objective):
    cfg = PPOConfig.for_env("CartPole-v1", objective=objective, device="cpu", **SMALL)
    a = train(cfg, progress=False).without_timing()
    b = train(cfg, progress=False).without_timing()
    assert a == b
    c = train(cfg.replace(seed=1), progress=False).without_timing()
    assert a != c


@pytest.mark.parametrize("env_id,backend,objective", [
    ("CartPole-v1", "auto", "kl_adaptive"),
    ("CartPole-v1", "gymnasium", "clip"),
    ("Pendulum-v1", "auto", "clip"),
])
def test_resume_from_checkpoint_gives_the_uninterrupted_history(tmp_path, env_id, backend, objective):
    cfg = PPOConfig.for_env(env_id, backend=backend, objective=objective, device="cpu", norm_obs=True, scale_reward=True, **SMALL)
    full = train(cfg, progress=False).without_timing()
    path = tmp_path / "run.pt"
    train(cfg, save_path=path, stop_after=3, progress=False)
    assert load_checkpoint(path)["counters"]["update"] == 3
    resumed = train(cfg, resume_from=path, progress=False).without_timing()
    assert resumed == full


def test_history_has_every_figure():
    h = train(PPOConfig.for_env("CartPole-v1", objective="kl_dual", device="cpu", **SMALL), progress=False)
    for key in ("env_steps", "policy_loss", "value_loss", "entropy", "approx_kl", "clip_frac", "explained_variance",
                "kl_coef", "lr", "sps", "episode_return_mean", "episode_length_mean"):
        assert len(h[key]) == 6, key
    assert h["env_steps"] == [64.0 * k for k in range(1, 7)]
    assert h["lr"][0] > h["lr"][-1]  # annealed
    assert len(h.episodes["return"]) > 0 and all(r >= 8 for r in h.episodes["return"])  # CartPole lasts >= 8 steps


def test_truncated_episodes_are_logged_with_their_full_length():
    h = train(PPOConfig.for_env("Pendulum-v1", device="cpu", num_envs=2, num_steps=100, num_minibatches=2, update_epochs=1, total_steps=800), progress=False)
    # 800 steps over 2 envs: each env completes two 200-step episodes, ending at global steps 400 and 800.
    assert h.episodes["length"] == [200.0] * 4
    assert h.episodes["env_steps"] == [400.0, 400.0, 800.0, 800.0]
    assert all(-2000 < r < 0 for r in h.episodes["return"])


BAD = [
    (dict(clip_eps=0.0), "clip_eps"),
    (dict(clip_eps=-0.1), "clip_eps"),
    (dict(gamma=1.01), "gamma"),
    (dict(gae_lambda=-0.5), "gae_lambda"),
    (dict(num_envs=3, num_steps=5, num_minibatches=4), "does not split"),
    (dict(total_steps=0), "total_steps"),
    (dict(total_steps=-5), "total_steps"),
    (dict(num_steps=0), "num_steps"),
    (dict(objective="ppo3"), "objective"),
    (dict(lr=0.0), "lr"),
    (dict(device="tpu"), "device"),
]


@pytest.mark.parametrize("changes,match", BAD)
def test_bad_config_is_refused_before_training(changes, match):
    cfg = PPOConfig(**changes) if "objective" in changes else PPOConfig.for_env("CartPole-v1", **changes)
    with pytest.raises(ValueError, match=match):
        train(cfg, progress=False)


class _MultiDiscreteEnv(gym.Env):
    observation_space = gym.spaces.Box(-1.0, 1.0, (3,), np.float32)
    action_space = gym.spaces.MultiDiscrete([2, 3])


def test_unknown_env_and_unsupported_spaces_are_refused():
    with pytest.raises(ValueError, match="unknown env id 'CartPoel-v1'"):
        train(PPOConfig(env_id="CartPoel-v1"), progress=False)
    with pytest.raises(ValueError, match="unsupported observation space Tuple"):
        train(PPOConfig(env_id="Blackjack-v1"), progress=False)
    gym.register("MultiDiscreteToy-v0", entry_point=_MultiDiscreteEnv)
    with pytest.raises(ValueError, match=r"unsupported action space MultiDiscrete\(\[2 3\]\)"):
        train(PPOConfig(env_id="MultiDiscreteToy-v0"), progress=False)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error on a machine without a GPU")
def test_cuda_without_gpu_is_refused():
    with pytest.raises(ValueError, match="torch sees no CUDA GPU"):
        train(PPOConfig(device="cuda"), progress=False)


def test_bad_checkpoints_are_refused(tmp_path):
    cfg = PPOConfig.for_env("CartPole-v1", device="cpu", **SMALL)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        train(cfg, resume_from=tmp_path / "missing.pt", progress=False)
    good = tmp_path / "good.pt"
    train(cfg, save_path=good, stop_after=1, progress=False)
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(ValueError, match="unreadable"):
        train(cfg, resume_from=truncated, progress=False)
    with pytest.raises(ValueError, match="env_id='CartPole-v1'"):
        train(PPOConfig.for_env("Acrobot-v1", device="cpu", **SMALL), resume_from=good, progress=False)
    with pytest.raises(ValueError, match="hidden"):
        train(cfg.replace(hidden=(32,)), resume_from=good, progress=False)
    # Checkpoints load with weights_only=True: a pickled object is refused, not executed.
    evil = tmp_path / "evil.pt"
    torch.save({"format_version": 1, "config": {}, "payload": object()}, evil)
    with pytest.raises(ValueError, match="unreadable"):
        load_checkpoint(evil)


def test_checkpoint_write_is_atomic(tmp_path, monkeypatch):
    """A crash while writing leaves the previous checkpoint intact and no temp files behind."""
    cfg = PPOConfig.for_env("CartPole-v1", device="cpu", **SMALL)
    path = tmp_path / "run.pt"
    train(cfg, save_path=path, stop_after=1, progress=False)
    before = path.read_bytes()

    def crash(*args, **kwargs):
        raise KeyboardInterrupt("simulated crash during write")

    trainer = Trainer(cfg, resume_from=path)
    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(KeyboardInterrupt):
        trainer.save(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["run.pt"]


class _NanRewardEnv(gym.Env):
    """Observations are fine; from step 150 on the reward is NaN (a broken simulator)."""

    observation_space = gym.spaces.Box(-1.0, 1.0, (3,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        self.state = np.zeros(3)
        return np.zeros(3, np.float32), {}

    def step(self, action):
        self.t += 1
        self.total = getattr(self, "total", 0) + 1
        reward = float("nan") if self.total > 150 else 1.0
        return np.zeros(3, np.float32), reward, False, self.t >= 20, {}


def test_nan_stops_training_and_keeps_the_last_good_checkpoint(tmp_path):
    gym.register("NanReward-v0", entry_point=_NanRewardEnv)
    cfg = PPOConfig(env_id="NanReward-v0", device="cpu", num_envs=1, num_steps=32, num_minibatches=1, update_epochs=1, total_steps=32 * 10)
    path = tmp_path / "run.pt"
    with pytest.raises(FloatingPointError, match=r"update 5: the environment returned non-finite rewards"):
        train(cfg, save_path=path, save_every=1, progress=False)
    ckpt = load_checkpoint(path)
    assert ckpt["counters"]["update"] == 4
    assert all(torch.isfinite(v).all() for v in ckpt["agent"].values())


def test_history_smoothed_returns_and_steps_to_threshold():
    from ppo_lite.history import History

    h = History()
    for k, (steps, rets) in enumerate([([], []), ([150.0, 180.0], [10.0, 30.0]), ([250.0], [50.0])], start=1):
        h.log_episodes(steps, rets, [1.0] * len(rets))
        h.log_update(env_steps=100.0 * k)
    smoothed = h.smoothed_returns(last=2)
    assert smoothed[0] != smoothed[0]  # nan before the first episode
    assert smoothed[1:] == [20.0, 40.0]
    assert h.steps_to_threshold(40.0, last=2) == 250.0 and h.steps_to_threshold(41.0, last=2) is None


def test_config_defaults_are_the_classic_discrete_familys():
    """One place for the defaults: the dataclass's own are CartPole's family defaults, and the KL controllers'
    are the dataclass's."""
    from ppo_lite.kl import AdaptiveBeta, DualDescent

    assert PPOConfig(env_id="CartPole-v1") == PPOConfig.for_env("CartPole-v1")
    assert PPOConfig() == PPOConfig.for_env("CartPole-v1")
    cfg = PPOConfig()
    dual, beta = DualDescent(), AdaptiveBeta()
    assert (dual.target, dual.lr, float(dual.coef)) == (cfg.kl_target, cfg.kl_dual_lr, cfg.kl_coef_init)
    assert (beta.target, float(beta.coef)) == (cfg.kl_target, cfg.kl_coef_init)


def test_task_defaults_override_the_family_and_tuned_false_skips_them():
    """MountainCar's default is rl-baselines3-zoo's tuned settings (the family's did not reach the published score,
    notebook 06 §5); ``tuned=False`` gives the family's generic settings; explicit overrides win over both."""
    tuned, generic = PPOConfig.for_env("MountainCar-v0"), PPOConfig.for_env("MountainCar-v0", tuned=False)
    assert (tuned.num_envs, tuned.num_steps, tuned.update_epochs, tuned.minibatch_size) == (16, 16, 4, 64)
    assert tuned.norm_obs and tuned.scale_reward and (tuned.gamma, tuned.gae_lambda) == (0.99, 0.98)
    assert generic.replace(env_id="CartPole-v1") == PPOConfig.for_env("CartPole-v1")
    assert PPOConfig.for_env("MountainCar-v0", num_envs=4).num_envs == 4
    assert PPOConfig.for_env("CartPole-v1", tuned=False) == PPOConfig.for_env("CartPole-v1")  # no task entry


def test_an_env_wrapper_goes_around_the_env_before_its_first_reset():
    """Trainer(config, env_wrapper=...) trains on the wrapped env from its first reset, as BatchedTrainer does (a
    count bonus with beta = 0 here, so the first observation is the unwrapped trainer's)."""
    from ppo_lite.envs.exploration import CountBonus

    config = PPOConfig.for_env("MountainCar-v0", num_envs=2, num_steps=16, total_steps=32, device="cpu")
    seen = []

    def wrap(env):
        wrapped = CountBonus(env, beta=0.0, bins=4)
        seen.append(wrapped)
        return wrapped

    trainer = Trainer(config, env_wrapper=wrap)
    assert trainer.env is seen[0] and len(seen) == 1
    assert torch.equal(trainer.obs, Trainer(config).obs)   # the same first observation: wrapped before the one reset
    trainer.run(progress=False)
    assert trainer.counters.update == 1
