"""Notebook 01's checkers pass the reference and catch the classic wrong answers."""
import torch

from ppo_lite.advantages import reward_to_go
from ppo_lite.exercises import nb01


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
