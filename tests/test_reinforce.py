"""REINFORCE on CartPole-v1: episodes come out right, a short run learns, bad input is refused."""
import gymnasium as gym
import pytest
import torch

from ppo_lite.policies import ActorCritic
from ppo_lite.course.reinforce import evaluate, run_episode, train_reinforce

torch.set_num_threads(1)


def test_run_episode_matches_gymnasium_episode():
    env = gym.make("CartPole-v1")
    torch.manual_seed(0)
    model = ActorCritic(4, 2, discrete=True)
    ep = run_episode(env, model, torch.Generator().manual_seed(0), seed=3)
    T = ep.actions.shape[0]
    assert ep.observations.shape == (T, 4) and ep.rewards.shape == (T,)
    assert ep.total_reward == T  # CartPole pays +1 per step
    first_obs, _ = env.reset(seed=3)
    assert torch.allclose(ep.observations[0], torch.as_tensor(first_obs))
    assert not ep.truncated and T < 500  # a near-uniform policy falls well before the limit


def test_short_run_beats_the_random_policy():
    model, hist = train_reinforce(num_updates=12, episodes_per_update=8, lr=2e-2, seed=0)
    assert len(hist.mean_return) == 12 and hist.env_steps == sorted(hist.env_steps)
    first, last = sum(hist.mean_return[:2]) / 2, sum(hist.mean_return[-3:]) / 3
    assert last > 2 * first, (first, last)
    env = gym.make("CartPole-v1")
    assert sum(evaluate(env, model, 5, seed=100, deterministic=False)) / 5 > 40  # random policy: about 22


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="num_updates"):
        train_reinforce(num_updates=0)
    with pytest.raises(ValueError, match="Discrete action space"):
        train_reinforce(env_id="Pendulum-v1", num_updates=1)


def test_random_policy_return_is_a_near_uniform_policys():
    from ppo_lite.course.reinforce import random_policy_return

    r = random_policy_return(episodes=30, seed=7)
    assert 12 < r < 35  # a uniform policy on CartPole-v1 lasts about 22 steps
    assert random_policy_return(episodes=30, seed=7) == r  # seeded: weights and episodes
    with pytest.raises(ValueError, match="Discrete action space"):
        random_policy_return("Pendulum-v1", episodes=1)
