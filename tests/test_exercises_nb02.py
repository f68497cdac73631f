"""Notebook 02's checkers pass the reference and catch the classic wrong answers."""
import torch

from ppo_lite.advantages import gae, td_residuals
from ppo_lite.exercises import nb02


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
