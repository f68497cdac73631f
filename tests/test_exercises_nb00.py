"""Notebook 00's checkers pass the reference, say "not attempted" on a stub and catch the classic wrong answers."""
import pytest

from ppo_lite import PPOConfig
from ppo_lite.course.exercises import nb00
from ppo_lite.history import History
from exercise_checks import assert_rejects_stub_and_names_mistakes, stub




def test_nb00_mean_last():
    assert nb00.check_mean_last(nb00.solution_mean_last)
    assert nb00.check_mean_last(lambda returns, last: History(episodes={"env_steps": [], "return": list(returns), "length": []}).mean_return(last))
    assert_rejects_stub_and_names_mistakes(nb00.check_mean_last, nb00.MEAN_LAST_MISTAKES)
    assert not nb00.check_mean_last(lambda returns, last: max(returns[-last:], default=float("nan")))  # unregistered


def test_nb00_steps_to_threshold():
    assert nb00.check_steps_to_threshold(nb00.solution_steps_to_threshold)
    # The library's own History.steps_to_threshold (a running sum, written independently) agrees.
    library = lambda env_steps, returns, threshold, last: History(  # noqa: E731
        episodes={"env_steps": list(env_steps), "return": list(returns), "length": []}).steps_to_threshold(threshold, last)
    assert nb00.check_steps_to_threshold(library)
    assert_rejects_stub_and_names_mistakes(nb00.check_steps_to_threshold, nb00.STEPS_MISTAKES)
    assert not nb00.check_steps_to_threshold(lambda env_steps, returns, threshold, last: None)  # never "solved"


def test_nb00_second_run_config():
    cfg = PPOConfig.for_env("CartPole-v1", seed=0, total_steps=100_000)
    assert nb00.check_second_run(nb00.solution_second_run_config, cfg, train_it=False)
    result = nb00.check_second_run(stub, cfg)
    assert not result and not result.attempted and "NOT ATTEMPTED" in repr(result)
    assert nb00.check_second_run(lambda c: c, cfg).mistake == "returned the first run's config unchanged"
    assert nb00.check_second_run(lambda c: c.replace(clip_eps=0.3), cfg).mistake == "kept the first run's seed"
    assert nb00.check_second_run(lambda c: c.replace(seed=1), cfg).mistake == "kept the first run's clip_eps"
    fresh = nb00.check_second_run(lambda c: PPOConfig(seed=1, clip_eps=0.3, total_steps=123), cfg)
    assert not fresh and fresh.mistake.startswith("changed fields other than")
    assert "expected a PPOConfig" in nb00.check_second_run(lambda c: c.to_dict(), cfg).message


@pytest.mark.slow
def test_nb00_second_run_trains():
    cfg = PPOConfig.for_env("CartPole-v1", seed=0, total_steps=100_000)
    result = nb00.check_second_run(nb00.solution_second_run_config, cfg)
    assert result and "seed 1" in result.message


def _history(returns, steps):
    h = History()
    h.log_episodes(steps, returns, [r for r in returns])
    h.log_update(env_steps=steps[-1])
    return h


def test_nb00_check_solved():
    solved = _history([20.0] * 10 + [500.0] * 20, [100.0 * (i + 1) for i in range(30)])
    assert nb00.check_solved(solved)
    unsolved = _history([20.0] * 10 + [400.0] * 20, [100.0 * (i + 1) for i in range(30)])
    result = nb00.check_solved(unsolved)
    assert not result and "400.0" in result.message
    assert not nb00.check_solved(History())
    assert not nb00.check_solved([500.0] * 20)
