"""The torch-native classic-control envs against gymnasium's own, step by step.

The reference is always gymnasium: ``gymnasium.make(env_id)`` (its env inside its ``TimeLimit``), started from our
state (we copy ``env.state`` into ``unwrapped.state`` after every reset), driven with the same actions, compared at
every step. Each driven policy is chosen so that the run covers a termination (where the env has one) and a
time-limit truncation, and the test asserts it did.
"""
from __future__ import annotations

import io
import warnings

import gymnasium as gym
import numpy as np
import pytest
import torch

from ppo_lite.envs import GymVecEnv, make_env
from ppo_lite.envs.classic import TORCH_ENVS

torch.set_num_threads(1)

ENV_IDS = ["CartPole-v1", "Acrobot-v1", "MountainCar-v0", "MountainCarContinuous-v0", "Pendulum-v1"]


# --- policies: (gymnasium state as float64 array, numpy rng) -> action -----------------------------------------------
def random_discrete(n):
    return lambda s, rng: int(rng.integers(n))


def random_box(low, high):
    return lambda s, rng: rng.uniform(low, high, size=1).astype(np.float32)


def cartpole_balance(s, rng):  # PD on angle and position: keeps the pole up until the 500-step limit
    return int(s[2] + 0.5 * s[3] + 0.01 * s[0] + 0.1 * s[1] > 0)


def push_along_velocity(index, low, high):  # energy pumping: MountainCar (v at index 1), Acrobot (dtheta2 at 3)
    return lambda s, rng: high if s[index] >= 0 else low


def box_along_velocity(s, rng):
    return np.array([1.0 if s[1] >= 0 else -1.0], dtype=np.float32)


# per env: policies (one env each), steps to drive, whether a termination must occur
CASES = {
    "CartPole-v1": ([random_discrete(2), lambda s, rng: 1, cartpole_balance], 505, True),
    "Acrobot-v1": ([random_discrete(3), push_along_velocity(3, 0, 2)], 505, True),
    "MountainCar-v0": ([random_discrete(3), push_along_velocity(1, 0, 2)], 205, True),
    "MountainCarContinuous-v0": ([random_box(-1.5, 1.5), box_along_velocity], 1003, True),
    "Pendulum-v1": ([random_box(-3.0, 3.0), lambda s, rng: np.array([2.5], dtype=np.float32)], 205, False),
}


# --- gymnasium side ------------------------------------------------------------------------------------------------
def gym_observation(ref: gym.Env) -> np.ndarray:
    """gymnasium's own observation of its current state."""
    base = ref.unwrapped
    if hasattr(base, "_get_ob"):  # Acrobot
        return base._get_ob()
    if hasattr(base, "_get_obs"):  # Pendulum
        return base._get_obs()
    return np.array(base.state, dtype=np.float32)  # CartPole, MountainCar(Continuous)


def gym_state(ref: gym.Env) -> np.ndarray:
    return np.array(ref.unwrapped.state, dtype=np.float64)


def set_gym_state(ref: gym.Env, row: torch.Tensor) -> None:
    ref.unwrapped.state = row.detach().cpu().double().numpy().copy()


def in_reset_distribution(env_id: str, s: np.ndarray) -> bool:
    """gymnasium's reset supports (uniform ranges), on the state."""
    if env_id == "CartPole-v1":
        return bool(np.all(np.abs(s) <= 0.05))
    if env_id == "Acrobot-v1":
        return bool(np.all(np.abs(s) <= 0.1))
    if env_id in ("MountainCar-v0", "MountainCarContinuous-v0"):
        return bool(-0.6 <= s[0] <= -0.4 and s[1] == 0.0)
    return bool(abs(s[0]) <= np.pi and abs(s[1]) <= 1.0)  # Pendulum


def to_actions(env, acts) -> torch.Tensor:
    if env.is_discrete:
        return torch.tensor(acts, dtype=torch.int64)
    return torch.from_numpy(np.stack(acts)).to(torch.float32)


def drive(env_id, dtype, sync_every_step, atol, seed=0):
    """Drive ours and gymnasium's side by side; assert agreement at every step; return event counts."""
    policies, steps, _ = CASES[env_id]
    n = len(policies)
    ours = TORCH_ENVS[env_id](num_envs=n, dtype=dtype)
    obs = ours.reset(seed=seed)
    refs = [gym.make(env_id, disable_env_checker=True) for _ in range(n)]
    for i, ref in enumerate(refs):
        ref.reset(seed=seed + i)
        set_gym_state(ref, ours.state[i])
        np.testing.assert_allclose(obs[i].numpy(), gym_observation(ref), rtol=atol, atol=atol)
    rng = np.random.default_rng(seed)
    returns, lengths = np.zeros(n), np.zeros(n, dtype=np.int64)
    n_terminated, n_truncated = np.zeros(n, dtype=int), np.zeros(n, dtype=int)
    for t in range(steps):
        if sync_every_step:  # one step from gymnasium's exact state: isolates per-step error from chaos
            ours.state = torch.tensor(np.stack([gym_state(ref) for ref in refs]), dtype=dtype)
        acts = [policy(gym_state(ref), rng) for policy, ref in zip(policies, refs)]
        obs, reward, terminated, truncated, info = ours.step(to_actions(ours, acts))
        assert obs.dtype == torch.float32 and reward.dtype == torch.float32
        assert info["episode_return"].dtype == torch.float32 and info["episode_length"].dtype == torch.int64
        results = [ref.step(a) for ref, a in zip(refs, acts)]
        g_obs = np.stack([r[0] for r in results])
        g_reward, g_term, g_trunc = (np.array([r[k] for r in results]) for k in (1, 2, 3))
        where = f"{env_id} step {t}"
        np.testing.assert_allclose(info["final_obs"].numpy(), g_obs, rtol=atol, atol=atol, err_msg=where)
        np.testing.assert_allclose(reward.numpy(), g_reward, rtol=atol, atol=atol, err_msg=where)
        np.testing.assert_array_equal(terminated.numpy(), g_term, err_msg=where)
        np.testing.assert_array_equal(truncated.numpy(), g_trunc, err_msg=where)
        done = g_term | g_trunc
        returns += g_reward
        lengths += 1
        np.testing.assert_array_equal(info["episode_length"].numpy(), np.where(done, lengths, 0), err_msg=where)
        np.testing.assert_allclose(info["episode_return"].numpy(), np.where(done, returns, 0.0), rtol=1e-5, atol=1e-4,
                                   err_msg=where)
        # where the episode goes on: obs is final_obs, and the state itself matches too (Acrobot's angle wrapping
        # is invisible in its cos/sin observation)
        live = torch.from_numpy(~done)
        assert torch.equal(obs[live], info["final_obs"][live]), where
        g_state = np.stack([gym_state(ref) for ref in refs])
        np.testing.assert_allclose(ours.state[live].double().numpy(), g_state[~done], rtol=atol, atol=atol, err_msg=where)
        returns[done], lengths[done] = 0.0, 0
        n_terminated += g_term
        n_truncated += g_trunc
        for i in np.flatnonzero(done):  # the returned obs is a fresh reset state, with its step counter at 0
            assert in_reset_distribution(env_id, ours.state[i].double().numpy()), where
            assert ours.elapsed[i].item() == 0, where
            assert not torch.equal(obs[i], info["final_obs"][i]), where
            refs[i].reset()
            set_gym_state(refs[i], ours.state[i])
            np.testing.assert_allclose(obs[i].numpy(), gym_observation(refs[i]), rtol=atol, atol=atol, err_msg=where)
    return n_terminated, n_truncated


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_trajectories_match_gymnasium_float64(env_id):
    """Whole trajectories (no re-syncing mid-episode) in float64, through terminations and truncations."""
    n_terminated, n_truncated = drive(env_id, torch.float64, sync_every_step=False, atol=1e-5)
    must_terminate = CASES[env_id][2]
    assert (n_terminated.sum() > 0) == must_terminate, (env_id, n_terminated)
    assert n_truncated.sum() > 0, (env_id, n_truncated)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_each_step_matches_gymnasium_float32(env_id):
    """The default float32 physics, one step at a time from gymnasium's exact state."""
    n_terminated, n_truncated = drive(env_id, torch.float32, sync_every_step=True, atol=2e-4)
    assert (n_terminated.sum() > 0) == CASES[env_id][2]
    assert n_truncated.sum() > 0


# states at the edges of each env's rules, where random and pumping policies rarely go
EDGE_STATES = {
    "CartPole-v1": [[2.39, 1.0, 0.0, 0.0], [-2.39, -1.0, 0.01, 0.0], [0.0, 0.0, 0.2, 0.5], [0.1, 0.0, -0.2, -0.5],
                    [2.3, 0.5, 0.0, 0.0], [0.0, 0.0, 0.2, -0.5]],
    "Acrobot-v1": [[3.1, -3.1, 12.5, 28.0], [-3.1, 3.1, -12.5, -28.0], [3.0, 0.2, 6.0, -2.0], [0.0, 0.0, 0.0, 0.0]],
    "MountainCar-v0": [[-1.19, -0.07, 0, 0], [-1.2, 0.0, 0, 0], [0.49, 0.02, 0, 0], [0.59, 0.069, 0, 0]],
    "MountainCarContinuous-v0": [[-1.19, -0.07, 0, 0], [0.44, 0.02, 0, 0], [0.59, 0.069, 0, 0], [-0.5, 0.0, 0, 0]],
    "Pendulum-v1": [[7.0, 7.9, 0, 0], [-7.0, -7.9, 0, 0], [np.pi, 0.0, 0, 0], [0.1, -3.0, 0, 0]],
}


def one_step_from(env_id, states, **options):
    """Every action from every state, one step, ours (float64) vs gymnasium's; returns how many terminated."""
    probe = TORCH_ENVS[env_id](num_envs=1)
    if probe.is_discrete:
        actions = list(range(probe.act_dim))
    else:
        actions = [np.array([v], np.float32) for v in (-5.0, -0.7, 0.0, 0.3, 5.0)]
    rows = [s[: probe.state_dim] for s in states for _ in actions]
    acts = [a for _ in states for a in actions]
    ours = TORCH_ENVS[env_id](num_envs=len(rows), dtype=torch.float64, **options)
    ours.reset(seed=0)
    ours.state = torch.tensor(rows, dtype=torch.float64)
    _, reward, terminated, _, info = ours.step(to_actions(ours, acts))
    ref = gym.make(env_id, disable_env_checker=True, **options)
    events = 0
    for i, (row, a) in enumerate(zip(rows, acts)):
        ref.reset(seed=0)
        ref.unwrapped.state = np.array(row, dtype=np.float64)
        g_obs, g_reward, g_term, _, _ = ref.step(a)
        where = f"{env_id} {options} state {row} action {a}"
        np.testing.assert_allclose(info["final_obs"][i].numpy(), g_obs, rtol=1e-6, atol=1e-6, err_msg=where)
        assert reward[i].item() == pytest.approx(g_reward, rel=1e-6, abs=1e-6), where
        assert bool(terminated[i]) == g_term, where
        if not g_term:
            np.testing.assert_allclose(ours.state[i].numpy(), gym_state(ref), rtol=1e-6, atol=1e-6, err_msg=where)
        events += g_term
    return events


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_one_step_from_edge_states_matches_gymnasium(env_id):
    """Walls, speed limits, position/angle terminations, angle wrapping: every action from every edge state."""
    events = one_step_from(env_id, EDGE_STATES[env_id])
    assert (events > 0) == CASES[env_id][2]  # the edge states do reach the termination rules


@pytest.mark.parametrize(
    "env_id,options,states",
    [
        ("CartPole-v1", {"sutton_barto_reward": True}, EDGE_STATES["CartPole-v1"]),
        # goal velocity = max speed: terminates only where the clipped speed equals it exactly (>=, not >)
        ("MountainCar-v0", {"goal_velocity": 0.07}, [[0.45, 0.069], [0.45, 0.05], [0.59, 0.07]]),
        ("MountainCarContinuous-v0", {"goal_velocity": 0.07}, [[0.40, 0.069], [0.44, 0.05], [0.59, 0.07]]),
        ("Pendulum-v1", {"g": 9.81}, EDGE_STATES["Pendulum-v1"]),
    ],
)
def test_env_options_match_gymnasium(env_id, options, states):
    events = one_step_from(env_id, states, **options)
    assert (events > 0) == (env_id != "Pendulum-v1")


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_spaces_and_time_limit_match_gymnasium(env_id):
    ours = TORCH_ENVS[env_id](num_envs=2)
    ref = gym.make(env_id)
    assert ours.single_observation_space == ref.observation_space
    assert ours.single_action_space == ref.action_space
    assert ours.single_observation_space.dtype == ref.observation_space.dtype
    assert ours.max_episode_steps == ref.spec.max_episode_steps
    assert ours.env_id == env_id


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_reset_draws_gymnasiums_uniform_ranges(env_id):
    env = TORCH_ENVS[env_id](num_envs=4000, dtype=torch.float64)
    env.reset(seed=1)
    s = env.state.numpy()
    assert all(in_reset_distribution(env_id, row) for row in s)
    expected_high = {"CartPole-v1": [0.05] * 4, "Acrobot-v1": [0.1] * 4, "Pendulum-v1": [np.pi, 1.0]}
    if env_id in expected_high:  # symmetric uniform: both ends of every coordinate are reached
        high = np.array(expected_high[env_id])
        np.testing.assert_allclose(s.max(0), high, rtol=0.01)
        np.testing.assert_allclose(s.min(0), -high, rtol=0.01)
    else:  # MountainCar: position in [-0.6, -0.4), velocity 0
        assert s[:, 0].min() == pytest.approx(-0.6, abs=1e-3) and s[:, 0].max() == pytest.approx(-0.4, abs=1e-3)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_wrong_action_shape_or_dtype_refused_even_without_validation(env_id):
    env = TORCH_ENVS[env_id](num_envs=3, validate_actions=False)
    env.reset(seed=0)
    if env.is_discrete:
        bad = [torch.zeros(3, dtype=torch.float32), torch.zeros(4, dtype=torch.int64), torch.zeros(3, 1, dtype=torch.int64)]
        message = "discrete actions must be an int64 tensor of shape"
    else:
        bad = [torch.zeros(3, 1, dtype=torch.int64), torch.zeros(3), torch.zeros(2, 1)]
        message = "continuous actions must be a float tensor of shape"
    for actions in bad:
        with pytest.raises(ValueError, match=message):
            env.step(actions)
    with pytest.raises(TypeError, match="must be a torch.Tensor"):
        env.step([0, 1, 0])


@pytest.mark.parametrize("env_id,bad_value", [("CartPole-v1", 2), ("Acrobot-v1", 3), ("MountainCar-v0", -1)])
def test_out_of_range_discrete_action_refused_when_validating(env_id, bad_value):
    env = TORCH_ENVS[env_id](num_envs=3)
    assert env.validate_actions  # on by default on CPU
    env.reset(seed=0)
    actions = torch.tensor([0, bad_value, 1])
    n = env.act_dim
    with pytest.raises(ValueError, match=rf"action {bad_value} at env 1 is out of range; allowed: 0\.\.{n - 1}"):
        env.step(actions)
    unchecked = TORCH_ENVS[env_id](num_envs=3, validate_actions=False)
    unchecked.reset(seed=0)
    unchecked.step(actions)  # the value check is the switch's doing: off, nothing is raised


@pytest.mark.parametrize("env_id", ["MountainCarContinuous-v0", "Pendulum-v1"])
@pytest.mark.parametrize("bad_value", [float("nan"), float("inf")])
def test_non_finite_continuous_action_refused_when_validating(env_id, bad_value):
    env = TORCH_ENVS[env_id](num_envs=3)
    env.reset(seed=0)
    actions = torch.tensor([[0.5], [0.0], [bad_value]])
    with pytest.raises(ValueError, match=rf"action {bad_value} at env 2, dim 0 is not finite"):
        env.step(actions)


def test_bad_construction_and_call_order_refused():
    with pytest.raises(ValueError, match="dtype must be one of"):
        TORCH_ENVS["CartPole-v1"](num_envs=2, dtype=torch.float16)
    with pytest.raises(ValueError, match="num_envs must be a positive int, got 0"):
        TORCH_ENVS["CartPole-v1"](num_envs=0)
    with pytest.raises(ValueError, match="seed must be a non-negative int"):
        TORCH_ENVS["CartPole-v1"](num_envs=2).reset(seed=-1)
    with pytest.raises(RuntimeError, match=r"call reset\(\) before step\(\)"):
        TORCH_ENVS["CartPole-v1"](num_envs=2).step(torch.zeros(2, dtype=torch.int64))


def random_actions(env, generator):
    if env.is_discrete:
        return torch.randint(0, env.act_dim, (env.num_envs,), generator=generator)
    return torch.rand(env.num_envs, env.act_dim, generator=generator) * 4 - 2


def rollout(env, steps, action_seed):
    g = torch.Generator().manual_seed(action_seed)
    out = []
    for _ in range(steps):
        obs, reward, terminated, truncated, info = env.step(random_actions(env, g))
        out.append(torch.cat([obs.flatten(), reward, terminated.float(), truncated.float(), info["final_obs"].flatten(),
                              info["episode_return"], info["episode_length"].float()]))
    return torch.stack(out)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_same_seed_same_trajectory(env_id):
    runs = []
    for seed in (7, 7, 8):
        env = TORCH_ENVS[env_id](num_envs=16, max_episode_steps=40)  # short episodes: autoresets within the run
        env.reset(seed=seed)
        runs.append(rollout(env, 100, action_seed=0))
    assert torch.equal(runs[0], runs[1])
    assert not torch.equal(runs[0], runs[2])


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_state_dict_round_trip_continues_identically(env_id):
    env = TORCH_ENVS[env_id](num_envs=16, max_episode_steps=40)
    env.reset(seed=3)
    rollout(env, 30, action_seed=1)
    buffer = io.BytesIO()
    torch.save(env.state_dict(), buffer)
    buffer.seek(0)
    restored = TORCH_ENVS[env_id](num_envs=16, max_episode_steps=40)
    restored.load_state_dict(torch.load(buffer, weights_only=True))
    # across time limits and autoresets, so the step counters and the generator state matter
    expected = rollout(env, 100, action_seed=2)
    assert torch.equal(rollout(restored, 100, action_seed=2), expected)


def test_episode_statistics_of_always_push_right_cartpole():
    env = make_env("CartPole-v1", 4, backend="torch")
    env.reset(seed=0)
    steps_since_reset = torch.zeros(4, dtype=torch.int64)
    ended = 0
    for _ in range(60):
        _, reward, terminated, truncated, info = env.step(torch.ones(4, dtype=torch.int64))
        steps_since_reset += 1
        done = terminated | truncated
        assert torch.equal(info["episode_length"], torch.where(done, steps_since_reset, 0))
        assert torch.equal(info["episode_return"], torch.where(done, steps_since_reset.float(), 0.0))  # +1 per step
        steps_since_reset[done] = 0
        ended += int(done.sum())
    assert ended >= 8  # pushing right topples the pole within ~10 steps


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_make_env_backends_agree_given_the_same_states(env_id):
    n, steps = 3, 60
    ours = make_env(env_id, n, backend="torch", dtype=torch.float64)
    theirs = make_env(env_id, n, backend="gymnasium")
    assert type(ours) is TORCH_ENVS[env_id] and isinstance(theirs, GymVecEnv)
    ours.reset(seed=0)
    theirs.reset(seed=0)

    def sync(rows):
        for i in rows:
            set_gym_state(theirs.env.envs[i], ours.state[i])

    sync(range(n))
    g = torch.Generator().manual_seed(0)
    for t in range(steps):
        actions = random_actions(ours, g)
        a = ours.step(actions)
        b = theirs.step(actions.float() if not ours.is_discrete else actions)
        obs_a, rew_a, term_a, trunc_a, info_a = a
        obs_b, rew_b, term_b, trunc_b, info_b = b
        torch.testing.assert_close(info_a["final_obs"], info_b["final_obs"], rtol=1e-5, atol=1e-5, msg=f"step {t}")
        torch.testing.assert_close(rew_a, rew_b, rtol=1e-5, atol=1e-5)
        assert torch.equal(term_a, term_b) and torch.equal(trunc_a, trunc_b), t
        torch.testing.assert_close(info_a["episode_return"], info_b["episode_return"], rtol=1e-5, atol=1e-4)
        assert torch.equal(info_a["episode_length"], info_b["episode_length"])
        done = (term_a | trunc_a).nonzero().flatten().tolist()
        sync(done)  # the two backends draw resets from different generators
    theirs.close()


def test_compile_switch_falls_back_to_eager_when_compilation_fails(monkeypatch):
    def broken_compile(fn, **kwargs):
        def run(*args):
            raise RuntimeError("no C++ compiler")
        return run

    monkeypatch.setattr(torch, "compile", broken_compile)
    compiled = TORCH_ENVS["Pendulum-v1"](num_envs=4, compile=True)
    eager = TORCH_ENVS["Pendulum-v1"](num_envs=4)
    compiled.reset(seed=0)
    eager.reset(seed=0)
    with pytest.warns(UserWarning, match="torch.compile failed .*no C\\+\\+ compiler.*stepping eagerly"):
        first = rollout(compiled, 1, action_seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # warned once, then eager for good
        rest = rollout(compiled, 20, action_seed=1)
    assert torch.equal(first, rollout(eager, 1, action_seed=0))
    assert torch.equal(rest, rollout(eager, 20, action_seed=1))
