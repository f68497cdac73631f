"""The library as a Stable-Baselines3 or CleanRL user meets it (issue 28): your own env, load and predict, resume with
the run's own settings, Ctrl-C and SIGTERM, bad input refused in one line before any work, numbered checkpoints and
periodic evaluation. Where a user would use a fresh process (the CLI, a later evaluation), the tests do too."""
from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch

import ppo_lite
from ppo_lite import PPOConfig, Trainer
from ppo_lite.__main__ import main as cli
from ppo_lite.checkpoint import load_checkpoint
from ppo_lite.envs.spec import env_id_of
from user_envs.corridor import Corridor, best_return, make_corridor

ROOT = Path(__file__).resolve().parents[1]
# A fresh process sees the repository (ppo_lite) and tests/ (the user's own package, user_envs), nothing else.
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")])}
# Small settings under which PPO solves a corridor of 4 cells in a few seconds on one core.
FAST = dict(num_envs=4, num_steps=32, num_minibatches=2, update_epochs=4, lr=3e-3, total_steps=6144, seed=0)


def run(*args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ppo_lite", *args], capture_output=True, text=True, env=ENV,
                          timeout=timeout, cwd=ROOT)


# -- 1. your own env ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("env", [Corridor, make_corridor, "user_envs.corridor:Corridor", "user_envs.corridor:Corridor-v0"],
                         ids=["class", "factory", "module:Class", "module:Id"])
def test_own_env_in_every_form_trains_and_solves_the_corridor(env):
    config = PPOConfig.for_env(env, env_kwargs={"length": 4}, **FAST)
    assert config.env_id.startswith("user_envs.corridor:")  # recorded as a string a fresh process can import
    trainer = Trainer(config)
    trainer.run(progress=False)
    returns = ppo_lite.evaluate(trainer, episodes=4)
    # The best return 0.98 is reachable only by walking right every step; a random walk averages below 0.
    assert min(returns) == pytest.approx(best_return(4), abs=1e-6), returns


def test_own_env_through_the_cli_in_fresh_processes(tmp_path):
    ckpt = tmp_path / "corridor.pt"
    fast = [f"--{k.replace('_', '-')}={v}" for k, v in FAST.items()]
    trained = run("train", "--env", "user_envs.corridor:Corridor", "--env-kwargs", "length=4", *fast,
                  "--save", str(ckpt), "--no-progress")
    assert trained.returncode == 0, trained.stderr
    evaluated = run("evaluate", str(ckpt), "--episodes", "3")  # a new process: it rebuilds the env from the record
    assert evaluated.returncode == 0, evaluated.stderr
    assert f"deterministic return over 3 episodes: {best_return(4):.1f}" in evaluated.stdout


def test_an_env_no_import_can_rebuild_is_named_with_what_to_pass(tmp_path):
    make = lambda: Corridor(4)  # noqa: E731: what a notebook user writes
    config = PPOConfig.for_env(make, **{**FAST, "total_steps": 256})
    assert config.env_id.startswith("unrecorded:")
    ckpt = tmp_path / "lambda.pt"
    ppo_lite.train(config, save_path=ckpt, progress=False)
    # In this process the lambda is still known; in a fresh one it is not, and the error says what to pass.
    assert len(ppo_lite.evaluate(ckpt, episodes=2)) == 2
    fresh = run("evaluate", str(ckpt), "--episodes", "2")
    assert fresh.returncode == 2 and "Traceback" not in fresh.stderr
    assert "no import can rebuild" in fresh.stderr and "env=" in fresh.stderr and len(fresh.stderr.strip().splitlines()) == 1
    # A fresh process that passes the env again evaluates it.
    code = (f"import ppo_lite; from user_envs.corridor import Corridor; "
            f"print(len(ppo_lite.evaluate({str(ckpt)!r}, episodes=2, env=lambda: Corridor(4))))")
    again = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV, timeout=120)
    assert again.returncode == 0 and again.stdout.strip() == "2", again.stderr


def test_env_instances_and_non_envs_are_refused_saying_what_to_pass():
    with pytest.raises(TypeError, match="pass its class"):
        PPOConfig.for_env(Corridor(4))
    with pytest.raises(TypeError, match="not a gymnasium.Env subclass"):
        PPOConfig.for_env(dict)
    with pytest.raises(ValueError, match="env_id.*must be a gymnasium id"):
        PPOConfig(env_id=lambda: Corridor(4)).validate()
    with pytest.raises(ValueError, match="does not take env_kwargs"):
        ppo_lite.train(PPOConfig.for_env(lambda: Corridor(4), env_kwargs={"length": 3}, **FAST), progress=False)


def test_two_different_lambdas_get_different_ids():
    a, b = (lambda: Corridor(3)), (lambda: Corridor(5))
    assert env_id_of(a) != env_id_of(b) and env_id_of(a) == env_id_of(a)


def test_env_kwargs_reach_gymnasiums_own_env():
    # CartPole's sutton_barto_reward gives 0 per step and -1 at failure: the returns say the kwarg arrived.
    config = PPOConfig.for_env("CartPole-v1", env_kwargs={"sutton_barto_reward": True}, total_steps=512)
    history = ppo_lite.train(config, progress=False)
    assert history.episodes["return"] and all(r <= 0 for r in history.episodes["return"])


# -- 2. load and predict --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def pendulum_run(tmp_path_factory):
    path = tmp_path_factory.mktemp("pendulum") / "pendulum.pt"
    config = PPOConfig.for_env("Pendulum-v1", norm_obs=True, total_steps=4096, seed=1)
    trainer = Trainer(config)
    trainer.run(save_path=path, progress=False)
    return trainer, path


def test_predict_applies_the_normalizer_and_the_action_bounds(pendulum_run):
    trainer, path = pendulum_run
    agent = ppo_lite.load(path)
    obs = np.stack([gym.make("Pendulum-v1").reset(seed=s)[0] for s in range(6)]).astype(np.float32)
    # Independently: normalize with the saved statistics, take the Gaussian mean, clip to the bounds.
    state = load_checkpoint(path)["obs_norm"]
    normed = np.clip((obs - state["mean"].numpy()) / np.sqrt(state["var"].numpy() + 1e-8), -10, 10)
    with torch.no_grad():
        mean = trainer.agent.actor(torch.as_tensor(normed, dtype=torch.float32)).numpy()
    expected = np.clip(mean, -2.0, 2.0)
    np.testing.assert_allclose(agent.predict(obs), expected, atol=1e-6)
    np.testing.assert_allclose(agent.predict(obs[0]), expected[0], atol=1e-6)  # one observation: no batch axis
    assert agent.predict(obs[0]).shape == (1,) and agent.predict(obs).shape == (6, 1)
    # The statistics matter here: the raw observations give other actions (what forgetting them does silently).
    with torch.no_grad():
        raw = np.clip(trainer.agent.actor(torch.as_tensor(obs)).numpy(), -2, 2)
    assert np.abs(raw - expected).max() > 1e-3
    with pytest.raises(ValueError, match=r"expected an observation of shape \(3,\)"):
        agent.predict(np.zeros(4))


def test_evaluate_takes_a_path_an_agent_or_a_trainer_alike(pendulum_run):
    trainer, path = pendulum_run
    by_path = ppo_lite.evaluate(path, episodes=3)
    assert ppo_lite.evaluate(ppo_lite.load(path), episodes=3) == by_path
    assert ppo_lite.evaluate(trainer, episodes=3) == by_path


def test_predict_discrete_returns_an_int_the_env_accepts(tmp_path):
    path = tmp_path / "c.pt"
    ppo_lite.train(PPOConfig.for_env("CartPole-v1", total_steps=512), save_path=path, progress=False)
    agent = ppo_lite.load(path)
    env = gym.make("CartPole-v1")
    obs, _ = env.reset(seed=0)
    action = agent.predict(obs)
    assert isinstance(action, int) and env.action_space.contains(action)
    assert agent.predict(np.stack([obs, obs])).dtype == np.int64


# -- 3. resume keeps the run's settings -------------------------------------------------------------------------
def test_resume_keeps_the_checkpoints_settings_and_lists_what_changed(tmp_path, capsys):
    ckpt, logs = tmp_path / "run.pt", tmp_path / "logs"
    assert cli(["train", "--steps", "1024", "--lr", "3e-4", "--no-anneal-lr", "--ent-coef", "0.01", "--save", str(ckpt),
                "--log-dir", str(logs), "--no-progress"]) == 0
    capsys.readouterr()
    assert cli(["train", "--resume", str(ckpt), "--steps", "2048", "--save", str(ckpt), "--log-dir", str(logs),
                "--no-progress"]) == 0
    out = capsys.readouterr()
    saved = PPOConfig.from_dict(load_checkpoint(ckpt)["config"])
    assert (saved.lr, saved.anneal_lr, saved.ent_coef, saved.total_steps) == (3e-4, False, 0.01, 2048)
    assert "resuming at update 4/8" in out.err and "--total-steps 1024 -> 2048" in out.err
    assert "1,024 env steps in" in out.out and "2,048 in all" in out.out  # the speed counts the new steps only
    rows = list(csv.DictReader(open(logs / "progress.csv")))
    assert [int(r["update"]) for r in rows] == list(range(1, 9))
    assert cli(["train", "--resume", str(ckpt), "--env", "Acrobot-v1", "--no-progress"]) == 2
    assert "trained on 'CartPole-v1', not --env 'Acrobot-v1'" in capsys.readouterr().err


def test_a_resumed_log_drops_the_updates_its_checkpoint_does_not_hold(tmp_path):
    ckpt, logs = tmp_path / "run.pt", tmp_path / "logs"
    config = PPOConfig.for_env("CartPole-v1", total_steps=256 * 6)
    trainer = Trainer(config)
    trainer.run(save_path=ckpt, save_every=2, stop_after=2, progress=False)  # checkpoint at update 2
    Trainer(config, resume_from=ckpt).run(stop_after=5, progress=False, log_dir=logs)  # logs run to 5, no save
    # A crash here: the log holds updates 3-5 the checkpoint does not. Resuming from update 2 drops them.
    Trainer(config, resume_from=ckpt).run(progress=False, log_dir=logs)
    assert [int(r["update"]) for r in csv.DictReader(open(logs / "progress.csv"))] == [3, 4, 5, 6]


# -- 4. Ctrl-C and SIGTERM -------------------------------------------------------------------------------------
@pytest.mark.parametrize("sig,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["SIGINT", "SIGTERM"])
def test_a_signal_stops_at_an_update_boundary_with_a_loadable_checkpoint(tmp_path, sig, code):
    ckpt = tmp_path / "run.pt"
    proc = subprocess.Popen([sys.executable, "-m", "ppo_lite", "train", "--steps", "10000000", "--save", str(ckpt),
                             "--save-every", "1", "--no-progress"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=ENV, cwd=ROOT)
    deadline = time.time() + 120
    while not ckpt.exists() and time.time() < deadline:  # the first update is done once its checkpoint exists
        time.sleep(0.2)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == code, err
    assert "Traceback" not in err and "training stopped after update" in err and "checkpoint written" in err
    counters = load_checkpoint(ckpt)["counters"]
    assert counters["update"] >= 1 and f"after update {counters['update']}/" in err  # the checkpoint is the stop
    assert len(ppo_lite.evaluate(ckpt, episodes=2)) == 2


def test_a_signal_in_python_raises_training_interrupted_after_saving(tmp_path):
    ckpt = tmp_path / "run.pt"
    before = signal.getsignal(signal.SIGINT)  # Python's default, or SIG_IGN where the runner started us in the background

    def interrupt_at_3(update, history):
        if update == 3:
            os.kill(os.getpid(), signal.SIGINT)  # as Ctrl-C or Jupyter's interrupt would

    with pytest.raises(ppo_lite.TrainingInterrupted) as caught:
        ppo_lite.train(PPOConfig.for_env("CartPole-v1", total_steps=256 * 10), save_path=ckpt, progress=False,
                       callback=interrupt_at_3)
    assert caught.value.update == 3 and caught.value.checkpoint == ckpt and len(caught.value.history) == 3
    assert load_checkpoint(ckpt)["counters"]["update"] == 3
    assert signal.getsignal(signal.SIGINT) == before  # the previous handler is back


# -- 6. bad input refused in one line before any work --------------------------------------------------------------
@pytest.mark.parametrize("args,message", [
    (["train", "--save", "/proc/run.pt"], "cannot write checkpoints to '/proc/run.pt'"),
    (["train", "--lr", "nan"], "--lr=nan is not allowed: must be a finite number"),
    (["train", "--clip-eps", "inf"], "--clip-eps=inf is not allowed"),
    (["train", "--log-std-init", "-1"], "CartPole-v1 has discrete actions"),
    (["train", "--save-every", "3"], "--save-every 3 needs --save"),
    (["train", "--save-every", "-1", "--save", "x.pt"], "--save-every must be >= 0"),
    (["train", "--device", "cuda:x"], "--device='cuda:x' is not allowed"),
    (["train", "--env", "CarPole-v1"], "did you mean 'CartPole-v1'"),
    (["train", "--env", "HalfCheetah-v3"], "use 'HalfCheetah-v5'"),
    (["train", "--env", "no_such_module:Env"], "cannot import module 'no_such_module'"),
    (["train", "--minibatch-size", "100"], "--minibatch-size 100 does not divide a rollout"),
    (["train", "--num-envs", "0"], "--num-envs=0 is not allowed"),
    (["train", "--target-kl", "lots"], "--target-kl takes a number or 'none'"),
    (["evaluate", "missing.pt"], "checkpoint 'missing.pt' does not exist"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_bad_input_is_refused_in_one_line_naming_it(capsys, args, message):
    assert cli(args + (["--no-progress"] if args[0] == "train" else [])) == 2
    out = capsys.readouterr()
    assert message in out.err and len(out.err.strip().splitlines()) == 1, out.err
    assert "env steps in" not in out.out and "Traceback" not in out.err


def test_video_options_are_refused_before_the_evaluation_runs(tmp_path, capsys):
    ckpt = tmp_path / "c.pt"
    ppo_lite.train(PPOConfig.for_env("CartPole-v1", total_steps=256), save_path=ckpt, progress=False)
    capsys.readouterr()
    assert cli(["evaluate", str(ckpt), "--video", str(tmp_path / "v.gif"), "--video-episodes", "0"]) == 2
    out = capsys.readouterr()
    assert "--video-episodes must be >= 1" in out.err and "return over" not in out.out


def test_a_broken_env_is_blamed_not_the_action_and_the_update_is_named():
    config = PPOConfig.for_env(Corridor, env_kwargs={"length": 4, "nan_after": 3}, **FAST)
    with pytest.raises(ValueError, match=r"update 1, rollout: .*step\(\) returned a non-finite observation"):
        ppo_lite.train(config, progress=False)


def test_unknown_for_env_settings_get_a_suggestion():
    with pytest.raises(ValueError, match="unknown settings \\['learning_rate'\\]"):
        PPOConfig.for_env("CartPole-v1", learning_rate=1e-3)


# -- 7/8. the CLI explains itself; numbered checkpoints; the best model --------------------------------------------
def test_help_describes_every_option_and_print_config_resolves_an_env(capsys):
    with pytest.raises(SystemExit):
        cli(["train", "--help"])
    text = capsys.readouterr().out
    import dataclasses

    from ppo_lite.__main__ import _NOT_OPTIONS, field_docs, flag

    docs = field_docs()
    for f in dataclasses.fields(PPOConfig):
        if f.name not in _NOT_OPTIONS:
            assert flag(f.name) in text
            assert f.name in docs or f.name == "seed", f"PPOConfig.{f.name} has no docstring for --help"
    assert "[CartPole-v1: 150000]" in text and "--steps" in text
    assert cli(["train", "--env", "Pendulum-v1", "--print-config"]) == 0
    printed = capsys.readouterr().out
    assert "--num-envs" in printed and " 16\n" in printed and "--gamma" in printed  # Pendulum's own, not CartPole's


def test_numbered_checkpoints_keep_the_last_n_and_evaluation_keeps_the_best(tmp_path):
    ckpt = tmp_path / "run.pt"
    trainer = Trainer(PPOConfig.for_env(Corridor, env_kwargs={"length": 4}, **FAST))
    history = trainer.run(save_path=ckpt, save_every=2, keep_checkpoints=3, eval_every=4, eval_episodes=2, progress=False)
    numbered = sorted(p.name for p in tmp_path.glob("run_u*.pt"))
    last = trainer.counters.update
    assert numbered == [f"run_u{k:06d}.pt" for k in range(last - 4, last + 1, 2)]
    evals = history.evaluations
    assert evals["update"] == [float(k) for k in range(4, last + 1, 4)]
    best = load_checkpoint(tmp_path / "run_best.pt")
    assert best["counters"]["update"] == evals["update"][int(np.argmax(evals["return_mean"]))]
    assert max(evals["return_mean"]) == pytest.approx(best_return(4), abs=1e-6)
    mask = os.umask(0)
    os.umask(mask)
    assert ckpt.stat().st_mode & 0o777 == 0o666 & ~mask  # the user's umask, not mkstemp's 0600


# -- 9. MuJoCo videos headless -----------------------------------------------------------------------------------
def test_a_mujoco_video_renders_headless_or_is_refused_before_evaluating(tmp_path):
    pytest.importorskip("mujoco")
    ckpt = tmp_path / "cheetah.pt"
    config = PPOConfig.for_env("HalfCheetah-v5", num_steps=64, num_minibatches=1, update_epochs=1, total_steps=64)
    ppo_lite.train(config, save_path=ckpt, progress=False)
    env = {k: v for k, v in ENV.items() if k not in ("MUJOCO_GL", "DISPLAY")}
    probe = ("import sys; from ppo_lite.evaluation import record_video_check; "
             f"record_video_check({str(ckpt)!r}, 'x.gif'); print('renders')")

    def run_probe(extra):
        return subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env={**env, **extra},
                              timeout=180, cwd=tmp_path)

    import ctypes.util

    if ctypes.util.find_library("EGL") or ctypes.util.find_library("OSMesa"):
        picked = run_probe({})  # no MUJOCO_GL, no display: ppo_lite picks egl or osmesa
        assert picked.returncode == 0 and "renders" in picked.stdout, picked.stderr[-2000:]
    # A backend that cannot work here: refused in one line with the fix, before any episode, no MUJOCO_LOG.TXT left.
    bad = subprocess.run([sys.executable, "-m", "ppo_lite", "evaluate", str(ckpt), "--video", "x.gif"],
                         capture_output=True, text=True, env={**env, "MUJOCO_GL": "glfw"}, timeout=180, cwd=tmp_path)
    assert bad.returncode == 2 and "return over" not in bad.stdout, bad.stderr[-2000:]
    error = [line for line in bad.stderr.splitlines() if line.startswith("error:")]
    assert len(error) == 1 and "cannot render HalfCheetah-v5" in error[0] and "MUJOCO_GL=egl" in error[0]
    assert not (tmp_path / "MUJOCO_LOG.TXT").exists()


def test_mujoco_envs_are_made_without_the_c_level_deprecation_print_and_other_warnings_reach_python():
    pytest.importorskip("mujoco")
    import mujoco
    import warnings

    from ppo_lite.envs.base import mujoco_warnings_to_python

    # a fresh process: gymnasium's half_cheetah.xml triggers MuJoCo's 'settotalmass' deprecation, printed from C
    code = ("from ppo_lite.envs.gym_adapter import GymVecEnv; from ppo_lite.envs.base import make_gymnasium_env; "
            "GymVecEnv('HalfCheetah-v5', 2).reset(seed=0); make_gymnasium_env('HalfCheetah-v5').reset(seed=0)")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    raw = subprocess.run([sys.executable, "-c", "import gymnasium; gymnasium.make('HalfCheetah-v5')"],
                         capture_output=True, text=True, env=env, timeout=120)
    ours = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert "settotalmass" in raw.stdout + raw.stderr          # the print this test is about exists without us
    assert ours.returncode == 0 and "settotalmass" not in ours.stdout + ours.stderr
    # any other MuJoCo warning becomes a Python warning while the env is made, and the previous handler comes back
    before = mujoco.get_mju_user_warning()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with mujoco_warnings_to_python("HalfCheetah-v5"):
            mujoco.get_mju_user_warning()("Nan, Inf or huge value in QACC at DOF 0")
            mujoco.get_mju_user_warning()("compiler attribute 'settotalmass' is deprecated and will be removed")
    assert [str(w.message) for w in caught] == ["MuJoCo: Nan, Inf or huge value in QACC at DOF 0"]
    assert mujoco.get_mju_user_warning() is before
