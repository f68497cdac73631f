"""Notebook 01's checkers pass the reference, say "not attempted" on a stub and catch the classic wrong answers."""
import torch

from ppo_lite.course import baselines, tabular as tab
from ppo_lite.advantages import reward_to_go
from ppo_lite.course.exercises import nb01
from exercise_checks import assert_rejects_stub_and_names_mistakes




def test_reward_to_go_checker():
    assert nb01.check_reward_to_go(reward_to_go)
    assert_rejects_stub_and_names_mistakes(nb01.check_reward_to_go, nb01.RTG_MISTAKES)
    assert not nb01.check_reward_to_go(lambda rewards, gamma: rewards)  # unregistered: no future at all


def test_softmax_score_checker():
    right = lambda logits, actions: torch.nn.functional.one_hot(actions, logits.shape[1]) - torch.softmax(logits, -1)  # noqa: E731
    assert nb01.check_softmax_score(right)
    assert_rejects_stub_and_names_mistakes(nb01.check_softmax_score, nb01.SCORE_MISTAKES)


def test_optimal_baseline_checker():
    assert nb01.check_optimal_baseline(nb01._solution_optimal_baseline)
    assert_rejects_stub_and_names_mistakes(nb01.check_optimal_baseline, nb01.BASELINE_MISTAKES)
    zeros = lambda theta, states, actions, rewards, mask, gamma: torch.zeros(theta.shape[0], dtype=torch.float64)  # noqa: E731
    assert not nb01.check_optimal_baseline(zeros)
    wrong_shape = lambda theta, states, actions, rewards, mask, gamma: torch.zeros(theta.shape, dtype=torch.float64)  # noqa: E731
    assert "shape" in nb01.check_optimal_baseline(wrong_shape).message


def test_solution_matches_the_library():
    """The exercise's reference (full score tensor) and ppo_lite.course.baselines (scatter-adds) are written independently."""
    for seed in range(4):
        mdp = tab.TabularMDP.random(5, 3, gamma=0.9, seed=seed)
        theta = torch.randn(5, 3, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
        ep = mdp.sample_episodes(theta, 200, torch.Generator().manual_seed(100 + seed))
        expected = baselines.optimal_state_baseline(mdp, theta, ep)
        got = nb01._solution_optimal_baseline(theta, *ep, mdp.gamma)
        assert torch.allclose(got, expected, rtol=1e-10, atol=1e-12)
