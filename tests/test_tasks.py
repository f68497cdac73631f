"""The tasks people try first: they install and train, a finished run is never lost, and a run can be followed.

- Box2D and MuJoCo tasks make, step and take their family defaults (requirements.txt installs their packages);
- an env whose optional dependency is missing gets a one-line error naming the package, before any work;
- a run on an env whose state cannot be snapshotted still checkpoints everything else, is evaluated from that file
  and resumes from a fresh reset of its envs, saying so; MuJoCo's state is snapshotted exactly;
- ``log_dir`` writes TensorBoard event files (read back with TensorBoard's own reader) and a CSV.
"""
import csv
import math

import gymnasium as gym
import numpy as np
import pytest
import torch

from ppo_lite import PPOConfig, Trainer, train
from ppo_lite.__main__ import main as cli
from ppo_lite.checkpoint import load_checkpoint
from ppo_lite.envs import make_env
from ppo_lite.evaluation import evaluate
from ppo_lite.runlog import COLUMNS, TAGS


# -- the usual tasks -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("env_id", ["LunarLander-v3", "LunarLanderContinuous-v3", "BipedalWalker-v3", "HalfCheetah-v5"])
def test_box2d_and_mujoco_tasks_make_step_and_have_family_defaults(env_id):
    cfg = PPOConfig.for_env(env_id)
    env = make_env(env_id, 2, "cpu", "gymnasium")
    obs = env.reset(seed=0)
    action = torch.zeros(2, dtype=torch.int64) if env.is_discrete else torch.zeros(2, env.act_dim)
    obs2, reward, *_ = env.step(action)
    assert obs.shape == obs2.shape == (2, env.obs_dim) and torch.isfinite(reward).all()
    assert cfg.num_minibatches >= 1 and cfg.batch_size % cfg.num_minibatches == 0
    if env_id.startswith("LunarLander"):  # rl-baselines3-zoo's LunarLander settings on either action space
        assert (cfg.num_envs, cfg.num_steps, cfg.minibatch_size, cfg.gamma, cfg.ent_coef) == (16, 1024, 64, 0.999, 0.01)
    else:
        assert (cfg.ent_coef, cfg.clip_value, cfg.norm_obs) == (0.0, True, True)  # CleanRL's continuous defaults
    env.close()


def test_mujoco_state_is_snapshotted_exactly():
    env = make_env("HalfCheetah-v5", 2, "cpu", "gymnasium")
    env.reset(seed=3)
    actions = [torch.rand(2, env.act_dim, generator=torch.Generator().manual_seed(k)) * 2 - 1 for k in range(8)]
    for a in actions[:4]:
        env.step(a)
    state = env.state_dict()
    after = [env.step(a)[0] for a in actions[4:]]
    again = make_env("HalfCheetah-v5", 2, "cpu", "gymnasium")
    again.load_state_dict(state)
    assert all(torch.equal(x, again.step(a)[0]) for x, a in zip(after, actions[4:]))


# -- a missing optional dependency ------------------------------------------------------------------------------
class _NeedsMissingPackage(gym.Env):
    def __init__(self, **kwargs):
        raise gym.error.DependencyNotInstalled("imaginary_physics is not installed, run `pip install imaginary_physics`")


def test_a_missing_dependency_is_one_line_naming_the_package(capsys):
    if "NeedsMissingPackage-v0" not in gym.registry:
        gym.register("NeedsMissingPackage-v0", entry_point=_NeedsMissingPackage)
    with pytest.raises(ValueError, match="NeedsMissingPackage-v0 needs an optional package.*imaginary_physics"):
        PPOConfig.for_env("NeedsMissingPackage-v0")
    with pytest.raises(ValueError, match="imaginary_physics"):
        make_env("NeedsMissingPackage-v0", 1, "cpu", "gymnasium")
    assert cli(["train", "--env", "NeedsMissingPackage-v0", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: NeedsMissingPackage-v0 needs an optional package") and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


# -- a run whose envs cannot be snapshotted ----------------------------------------------------------------------
class _NoStateEnv(gym.Env):
    """A tiny task that keeps its state where no snapshot can reach it (as Box2D envs do)."""

    observation_space = gym.spaces.Box(-1.0, 1.0, (3,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        self._hidden = self.np_random.uniform(-0.5, 0.5, 3).astype(np.float32)
        self._t = 0
        return self._hidden.copy(), {}

    def step(self, action):
        self._t += 1
        self._hidden = np.clip(self._hidden + (0.1 if action == 1 else -0.1), -1, 1).astype(np.float32)
        reward = float(-abs(self._hidden).sum())
        return self._hidden.copy(), reward, False, self._t >= 20, {}


def _no_state_config(**overrides):
    if "NoStateToy-v0" not in gym.registry:
        gym.register("NoStateToy-v0", entry_point=_NoStateEnv)
    values = dict(device="cpu", num_envs=2, num_steps=16, update_epochs=2, num_minibatches=2, total_steps=2 * 16 * 6)
    return PPOConfig(env_id="NoStateToy-v0", **{**values, **overrides})


def test_a_run_on_a_non_snapshottable_env_is_saved_evaluated_and_resumed(tmp_path, capsys):
    cfg = _no_state_config()
    path = tmp_path / "run.pt"
    trainer = Trainer(cfg)
    assert trainer.env.snapshot_unsupported() is not None
    trainer.run(save_path=path, save_every=2, stop_after=4, progress=False)
    assert "the checkpoint will hold everything else" in capsys.readouterr().err  # said before training
    ckpt = load_checkpoint(path)
    assert ckpt["env"] is None and "cannot copy" in ckpt["env_note"]
    assert ckpt["counters"]["update"] == 4 and len(ckpt["history"]["updates"]["env_steps"]) == 4
    assert torch.equal(ckpt["agent"]["actor.0.weight"], trainer.agent.state_dict()["actor.0.weight"])
    returns = evaluate(path, episodes=3)
    assert len(returns) == 3 and all(math.isfinite(r) for r in returns)

    resumed = Trainer(cfg, resume_from=path)
    assert "not bit-identical" in capsys.readouterr().err
    assert torch.equal(resumed.optimizer.exp_avg, ckpt["optimizer"]["exp_avg"])  # everything but the envs resumes
    assert torch.equal(resumed.generator.get_state(), ckpt["generator"])
    history = resumed.run(save_path=path, progress=False)
    assert history["env_steps"] == [32.0 * k for k in range(1, 7)]  # the two missing updates, after the saved four
    assert load_checkpoint(path)["counters"]["update"] == 6


def test_an_unwritable_save_path_is_refused_before_training(tmp_path):
    trainer = Trainer(_no_state_config())
    with pytest.raises(ValueError, match="cannot write checkpoints"):
        trainer.run(save_path=tmp_path, progress=False)  # a folder, not a file
    assert trainer.counters.update == 0


# -- following a run ---------------------------------------------------------------------------------------------
def test_log_dir_writes_tensorboard_events_and_a_csv(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    cfg = PPOConfig.for_env("CartPole-v1", objective="kl_dual", device="cpu", num_envs=4, num_steps=16, update_epochs=2,
                            total_steps=4 * 16 * 5)
    history = train(cfg, progress=False, log_dir=tmp_path, save_path=tmp_path / "run.pt")
    events = EventAccumulator(str(tmp_path))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert set(TAGS.values()) - {"rollout/episode_return", "rollout/episode_length"} <= tags
    kl = events.Scalars("policy/approx_kl")
    assert [e.step for e in kl] == [int(s) for s in history["env_steps"]] == [64, 128, 192, 256, 320]
    assert [e.value for e in kl] == pytest.approx(history["approx_kl"], rel=1e-6)
    assert [e.value for e in events.Scalars("policy/kl_coef")] == pytest.approx(history["kl_coef"], rel=1e-6)
    with open(tmp_path / "progress.csv") as f:
        rows = list(csv.DictReader(f))
    assert tuple(rows[0]) == COLUMNS and len(rows) == 5
    assert [float(r["env_steps"]) for r in rows] == history["env_steps"]
    assert [float(r["value_loss"]) for r in rows] == pytest.approx(history["value_loss"], rel=1e-9)

    # a resumed run appends to the same files
    train(cfg.replace(total_steps=4 * 16 * 7), progress=False, log_dir=tmp_path, resume_from=tmp_path / "run.pt")
    with open(tmp_path / "progress.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["update"]) for r in rows] == [1, 2, 3, 4, 5, 6, 7]


# -- watching the agent ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("env_id,backend,suffix", [("CartPole-v1", "torch", ".gif"), ("Pendulum-v1", "gymnasium", ".mp4")])
def test_evaluate_records_a_video_headless(tmp_path, capsys, env_id, backend, suffix):
    import imageio.v3 as iio

    cfg = PPOConfig.for_env(env_id, backend=backend, device="cpu", num_envs=2, num_steps=32, update_epochs=1,
                            num_minibatches=1, total_steps=2 * 32 * 2)
    train(cfg, progress=False, save_path=tmp_path / "run.pt")
    out = tmp_path / f"agent{suffix}"
    assert cli(["evaluate", str(tmp_path / "run.pt"), "--episodes", "2", "--video", str(out)]) == 0
    assert f"video: {out}" in capsys.readouterr().out
    frames = iio.imread(out, index=None)
    length = {"CartPole-v1": None, "Pendulum-v1": 201}[env_id]   # Pendulum: reset frame + 200 steps
    assert frames.ndim == 4 and frames.shape[-1] == 3 and frames.shape[1] >= 100 and frames.shape[0] > 5
    if length is not None:
        assert frames.shape[0] == length
    assert frames.std() > 1.0                                    # not a blank picture
    assert out.stat().st_size < 2_000_000
    with pytest.raises(ValueError, match=r"\.gif or \.mp4"):
        from ppo_lite.evaluation import record_video
        record_video(tmp_path / "run.pt", tmp_path / "agent.avi")
