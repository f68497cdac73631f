"""The checkers of notebooks 01-02 pass the reference and catch the classic wrong answers."""
import torch

from ppo_lite.advantages import gae, reward_to_go, td_residuals
from ppo_lite.exercises import nb01, nb02


def test_reward_to_go_checker():
    assert nb01.check_reward_to_go(reward_to_go)
    undiscounted = lambda rewards, gamma: rewards.flip(0).cumsum(0).flip(0)  # noqa: E731
    assert not nb01.check_reward_to_go(undiscounted)
    total_return = lambda rewards, gamma: reward_to_go(rewards, gamma)[:1].expand_as(rewards)  # noqa: E731
    assert not nb01.check_reward_to_go(total_return)


def test_softmax_score_checker():
    right = lambda logits, actions: torch.nn.functional.one_hot(actions, logits.shape[1]) - torch.softmax(logits, -1)  # noqa: E731
    assert nb01.check_softmax_score(right)
    no_baseline_term = lambda logits, actions: torch.nn.functional.one_hot(actions, logits.shape[1]).double()  # noqa: E731
    assert not nb01.check_softmax_score(no_baseline_term)


def test_gae_checkers():
    assert nb02.check_gae(gae) and nb02.check_td_residuals(td_residuals)
    truncation_as_terminal = lambda rewards, values, next_values, terminated, truncated, gamma, lam: gae(  # noqa: E731
        rewards, values, next_values, terminated | truncated, truncated, gamma, lam)
    assert not nb02.check_gae(truncation_as_terminal)
    flows_across_episodes = lambda rewards, values, next_values, terminated, truncated, gamma, lam: gae(  # noqa: E731
        rewards, values, next_values, terminated, torch.zeros_like(truncated), gamma, lam)
    assert not nb02.check_gae(flows_across_episodes)
    no_termination_mask = lambda rewards, values, next_values, terminated, gamma: rewards + gamma * next_values - values  # noqa: E731
    assert not nb02.check_td_residuals(no_termination_mask)
    crash = lambda *a, **k: 1 / 0  # noqa: E731
    assert "ZeroDivisionError" in nb02.check_gae(crash).message
