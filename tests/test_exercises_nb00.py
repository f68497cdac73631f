"""Notebook 00's checkers pass the reference, say "not attempted" on a stub and catch the classic wrong answers."""
import pytest

from ppo_lite import PPOConfig
from ppo_lite.course.exercises import nb00
from ppo_lite.history import History
from exercise_checks import assert_rejects_stub_and_names_mistakes, stub




def test_nb00_mean_last():
    assert nb00.check_mean_last(nb00._solution_mean_last)
    assert nb00.check_mean_last(lambda returns, last: History(episodes={"env_steps": [], "return": list(returns), "length": []}).mean_return(last))
    assert_rejects_stub_and_names_mistakes(nb00.check_mean_last, nb00.MEAN_LAST_MISTAKES)
    assert not nb00.check_mean_last(lambda returns, last: max(returns[-last:], default=float("nan")))  # unregistered


def test_nb00_steps_to_threshold():
    assert nb00.check_steps_to_threshold(nb00._solution_steps_to_threshold)
    # The library's own History.steps_to_threshold (a running sum, written independently) agrees.
    library = lambda env_steps, returns, threshold, last: History(  # noqa: E731
        episodes={"env_steps": list(env_steps), "return": list(returns), "length": []}).steps_to_threshold(threshold, last)
    assert nb00.check_steps_to_threshold(library)
    assert_rejects_stub_and_names_mistakes(nb00.check_steps_to_threshold, nb00.STEPS_MISTAKES)
    assert not nb00.check_steps_to_threshold(lambda env_steps, returns, threshold, last: None)  # never "solved"


def test_nb00_mean_last_edge_cases_come_first():
    """Issue 26: the old checker accepted 0.0 for an empty list (no empty list was ever drawn)."""
    zero_for_empty = lambda returns, last: sum(returns[-last:]) / len(returns[-last:]) if returns else 0.0  # noqa: E731
    result = nb00.check_mean_last(zero_for_empty)
    assert not result and result.attempted and result.mistake.startswith("returned 0 for no episodes")
    raises_on_empty = lambda returns, last: sum(returns[-last:]) / len(returns[-last:])  # noqa: E731
    result = nb00.check_mean_last(raises_on_empty)
    assert not result and result.attempted and "ZeroDivisionError" in result.message
    # The fixed cases' answers, from the definition (mean of the last min(last, N); nan for none), not the reference.
    assert [c["last"] for c in nb00.MEAN_LAST_CASES] == [5, 3, 3, 2, 1]
    expected = [30.0, float("nan"), 20.0, 10.0, 100.0]
    for case, want in zip(nb00.MEAN_LAST_CASES, expected):
        got = nb00._solution_mean_last(**case)
        assert got == want or (want != want and got != got), (case, got)
    assert any(not c["returns"] for c in nb00.MEAN_LAST_CASES)


def test_nb00_steps_to_threshold_edge_cases_come_first():
    """Issue 26: the old checker accepted `>` for `>=` (no exact tie was ever drawn) and never drew an empty run."""
    strict = lambda env_steps, returns, threshold, last: next(  # noqa: E731
        (env_steps[i] for i in range(last - 1, len(returns)) if sum(returns[i - last + 1:i + 1]) / last > threshold), None)
    result = nb00.check_steps_to_threshold(strict)
    assert not result and result.attempted and result.mistake.startswith("compared with `>`")
    crashes_on_empty = lambda env_steps, returns, threshold, last: (  # noqa: E731
        nb00._solution_steps_to_threshold(env_steps, returns, threshold, last) if returns else env_steps[-1])
    result = nb00.check_steps_to_threshold(crashes_on_empty)
    assert not result and result.attempted and "IndexError" in result.message
    zero_for_empty = lambda env_steps, returns, threshold, last: (  # noqa: E731
        nb00._solution_steps_to_threshold(env_steps, returns, threshold, last) if returns else 0.0)
    assert not nb00.check_steps_to_threshold(zero_for_empty)
    # The tie case: first reached (>=) at episode 2, whose end is 100 + 300 + 300 = 700 env steps.
    tie = nb00.STEPS_CASES[0]
    assert tie["returns"][1:3] == [tie["threshold"]] * 2 and tie["last"] == 2
    assert nb00._solution_steps_to_threshold(**tie) == 700.0 and strict(**tie) == 1100.0
    assert any(not c["returns"] for c in nb00.STEPS_CASES)


def test_nb00_second_run_config():
    cfg = PPOConfig.for_env("CartPole-v1", seed=0, total_steps=100_000)
    assert nb00.check_second_run(nb00._solution_second_run_config, cfg, train_it=False)
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
    result = nb00.check_second_run(nb00._solution_second_run_config, cfg)
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


def test_nb00_stop_when_solved():
    stop = nb00.stop_when_solved(threshold=475.0, last=20)
    steps = [100.0 * (i + 1) for i in range(30)]
    assert stop(0, _history([20.0] * 10 + [500.0] * 20, steps))                # the last 20 reach 475
    assert not stop(0, _history([20.0] * 11 + [490.0] * 19, steps))            # one short episode: mean 466.5
    assert not stop(0, _history([500.0] * 19, steps[:19]))                      # fewer than 20 episodes: never solved
    assert stop(0, _history([20.0] * 10 + [475.0] * 20, steps))                # a mean equal to the threshold reaches it
    default = nb00.stop_when_solved()
    assert default(0, _history([20.0] * 10 + [500.0] * 20, steps)) and not default(0, _history([474.0] * 30, steps))
