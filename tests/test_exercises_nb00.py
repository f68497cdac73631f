"""Notebook 00's checkers pass the reference and catch the classic wrong answers."""
from ppo_lite.exercises import nb00
from ppo_lite.history import History


def test_nb00_mean_last():
    assert nb00.check_mean_last(nb00.reference_mean_last)
    assert nb00.check_mean_last(lambda returns, last: History(episodes={"env_steps": [], "return": list(returns), "length": []}).mean_return(last))
    result = nb00.check_mean_last(lambda returns, last: sum(returns[-last:]) / last)  # wrong with < last episodes
    assert not result
    assert not nb00.check_mean_last(lambda returns, last: sum(returns[:last]) / max(1, len(returns[:last])))


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
