r"""Exercises of notebook 00: reading a training History, and a second training run.

``check_mean_last`` and ``check_steps_to_threshold`` run the learner's function against the reference on random
inputs; ``check_second_run`` checks the learner's config for the second run, trains it and checks the result
against the CartPole-v1 criterion the course uses (``check_solved``).

The first agent the second run varies lives here too: its settings :data:`FIRST_AGENT` and the callback
:func:`stop_when_solved` that stops training on the course's criterion (notebook 00, section 6, and
``python -m ppo_lite.course.plots nb00``, which trains it again to draw its figure).
"""
from __future__ import annotations

import math
from typing import Callable, Sequence

import torch

from ...config import SOLVED_THRESHOLDS, PPOConfig
from ...history import History
from ._check import CheckResult, check

__all__ = [
    "FIRST_AGENT",
    "stop_when_solved",
    "check_mean_last",
    "check_steps_to_threshold",
    "check_second_run",
    "check_solved",
]


# ---------------------------------------------------------------------------------- the first agent (section 6)
# Notebook 00's first agent; exercise 3 runs it again with another seed and clip range (SECOND_RUN).
FIRST_AGENT = dict(env_id="CartPole-v1", seed=0, total_steps=100_000)


def stop_when_solved(threshold: float = SOLVED_THRESHOLDS["CartPole-v1"], last: int = 20) -> Callable[[int, History], bool]:
    """A ``train(..., callback=...)`` that stops once ``last`` episodes are complete and the mean of the last ``last``
    returns reaches ``threshold`` (CartPole-v1: 475 over 20 episodes, the criterion of :func:`check_solved`)."""
    def callback(update: int, history: History) -> bool:
        return len(history.episodes["return"]) >= last and history.mean_return(last) >= threshold
    return callback


# ---------------------------------------------------------------------------------------------- fixed cases first
def _fixed_then_random(cases: Sequence[dict], draw: Callable[[torch.Generator], dict]) -> Callable[[torch.Generator], dict]:
    """Inputs for :func:`check`: the fixed edge ``cases`` in order (trials 0, 1, ...), then random draws.

    A fresh one per check, so every call of a checker tries the same edge cases first: an answer that is wrong only
    on an edge (an empty list, an exact tie) is caught whatever the random draws."""
    queue = [dict(c) for c in cases]

    def make_inputs(gen: torch.Generator) -> dict:
        return queue.pop(0) if queue else draw(gen)
    return make_inputs


# ---------------------------------------------------------------------------------------------- 1. mean_last
def _solution_mean_last(returns: Sequence[float], last: int) -> float:
    r"""Mean of the last ``last`` episode returns, :math:`\frac1n\sum_{i=N-n+1}^{N} G_i` with :math:`n=\min(last, N)`;
    nan for no episodes, since the mean of nothing is undefined (what :meth:`ppo_lite.History.mean_return` computes)."""
    tail = list(returns)[-last:]
    return sum(tail) / len(tail) if tail else float("nan")


MEAN_LAST_CASES = [
    {"returns": [10.0, 20.0, 60.0], "last": 5},              # fewer episodes than `last`: the mean of all three, 30
    {"returns": [], "last": 3},                              # no episode at all: nan, not 0
    {"returns": [500.0, 8.0, 12.0, 40.0], "last": 3},        # more than `last`: the last three only, 20
    {"returns": [9.0, 11.0], "last": 2},                     # exactly `last`
    {"returns": [7.0, 100.0], "last": 1},                    # last = 1: the final return itself
]


def _returns_last(gen: torch.Generator) -> dict:
    n = int(torch.randint(0, 60, (1,), generator=gen))
    returns = (torch.rand(n, generator=gen, dtype=torch.float64) * 500.0).round().tolist()
    return {"returns": returns, "last": int(torch.randint(1, 30, (1,), generator=gen))}


def _zero_when_empty(returns, last):
    tail = list(returns)[-last:]
    return sum(tail) / len(tail) if tail else 0.0


MEAN_LAST_MISTAKES = {
    # First: on the empty list "always divided by `last`" returns 0 too; this one is the mistake that only errs there.
    "returned 0 for no episodes (the mean of no returns is undefined: nan)": _zero_when_empty,
    "always divided by `last`, also when fewer episodes were completed": lambda returns, last: sum(returns[-last:]) / last,
    "averaged the first `last` episodes, not the last ones":
        lambda returns, last: sum(returns[:last]) / len(returns[:last]) if returns else float("nan"),
    "averaged every episode, not the last `last`": lambda returns, last: sum(returns) / len(returns) if returns else float("nan"),
}


def check_mean_last(fn: Callable[[Sequence[float], int], float]) -> CheckResult:
    """Check ``fn(returns, last)``: first on :data:`MEAN_LAST_CASES` (fewer episodes than ``last``, none at all --
    the answer is nan --, more, exactly ``last``, ``last = 1``), then on 40 random lists, some short or empty."""
    return check(fn, _solution_mean_last, _fixed_then_random(MEAN_LAST_CASES, _returns_last), name="mean_last",
                 trials=len(MEAN_LAST_CASES) + 40, mistakes=MEAN_LAST_MISTAKES)


# ---------------------------------------------------------------------------------------------- 2. steps_to_threshold
def _solution_steps_to_threshold(env_steps: Sequence[float], returns: Sequence[float], threshold: float,
                                last: int) -> float | None:
    r"""The env step count at which the mean of the last ``last`` completed episodes first reaches ``threshold``:
    :math:`\min\{\text{env\_steps}_i : i \ge last-1,\ \frac1{last}\sum_{j=i-last+1}^{i} G_j \ge \text{threshold}\}`,
    None if it never does (what :meth:`ppo_lite.History.steps_to_threshold` computes). "Reaches" is ``>=``: a
    window whose mean equals the threshold counts. A window needs ``last`` full episodes: a lucky first episode does
    not count as solved, fewer than ``last`` episodes (an empty run included) never do."""
    for i in range(last - 1, len(returns)):
        if sum(returns[i - last + 1:i + 1]) / last >= threshold:
            return env_steps[i]
    return None


def _steps(returns: list[float]) -> list[float]:
    """Each episode ends after as many env steps as its (CartPole) return: the cumulative sum."""
    out, total = [], 0.0
    for r in returns:
        total += r
        out.append(total)
    return out


_TIE = [100.0, 300.0, 300.0, 400.0, 400.0, 100.0]
STEPS_CASES = [
    # An exact tie: the window (300, 300) has mean 300 = threshold, first reached at episode 2 (>=); a strict `>`
    # answers episode 3, the last crossing episode 4.
    {"env_steps": _steps(_TIE), "returns": _TIE, "threshold": 300.0, "last": 2},
    {"env_steps": [], "returns": [], "threshold": 200.0, "last": 3},                         # an empty run: None
    {"env_steps": [500.0, 1000.0], "returns": [500.0, 500.0], "threshold": 475.0, "last": 3},  # fewer than `last`: None
    # A lucky first episode: one 500 is no window of 3; the window (200, 250, 300) reaches 250 at episode 4.
    {"env_steps": _steps([500.0, 10.0, 200.0, 250.0, 300.0]), "returns": [500.0, 10.0, 200.0, 250.0, 300.0],
     "threshold": 250.0, "last": 3},
    # Never reached: the best window of 2 has mean 299.5.
    {"env_steps": _steps([299.0, 300.0, 299.0]), "returns": [299.0, 300.0, 299.0], "threshold": 300.0, "last": 2},
]


def _episodes_threshold(gen: torch.Generator) -> dict:
    n = int(torch.randint(0, 80, (1,), generator=gen))
    # Returns that trend upward with noise, like a learning curve; a few runs start with a lucky high episode.
    trend = torch.linspace(0.0, 1.0, n, dtype=torch.float64) if n else torch.zeros(0, dtype=torch.float64)
    returns = (500.0 * trend + 150.0 * torch.randn(n, generator=gen, dtype=torch.float64)).clamp(8.0, 500.0).round()
    if n and torch.rand((), generator=gen) < 0.3:
        returns[0] = 500.0
    steps = torch.cumsum(returns, 0)  # each episode ends after as many steps as its (CartPole) return
    return {"env_steps": steps.tolist(), "returns": returns.tolist(),
            "threshold": float(torch.randint(150, 480, (1,), generator=gen)), "last": int(torch.randint(2, 25, (1,), generator=gen))}


def _none_as_nan(fn: Callable[..., float | None]) -> Callable[..., float]:
    """The checker compares numbers: "never reached" (None) is compared as nan."""
    def wrapped(**inputs):
        out = fn(**inputs)
        return math.nan if out is None else out
    return wrapped


def _first_partial_window(env_steps, returns, threshold, last):
    for i in range(len(returns)):
        window = returns[max(0, i - last + 1):i + 1]
        if sum(window) / len(window) >= threshold:
            return env_steps[i]
    return None


def _single_episode(env_steps, returns, threshold, last):
    return next((s for s, r in zip(env_steps, returns) if r >= threshold), None)


def _index_not_steps(env_steps, returns, threshold, last):
    for i in range(last - 1, len(returns)):
        if sum(returns[i - last + 1:i + 1]) / last >= threshold:
            return float(i)
    return None


def _strict(env_steps, returns, threshold, last):
    for i in range(last - 1, len(returns)):
        if sum(returns[i - last + 1:i + 1]) / last > threshold:
            return env_steps[i]
    return None


def _last_crossing(env_steps, returns, threshold, last):
    hits = [env_steps[i] for i in range(last - 1, len(returns)) if sum(returns[i - last + 1:i + 1]) / last >= threshold]
    return hits[-1] if hits else None


STEPS_MISTAKES = {
    "counted windows of fewer than `last` episodes (a lucky first episode is not solved)": _first_partial_window,
    "compared single episodes with the threshold, not the mean of the last `last`": _single_episode,
    "returned the episode index, not the env step count": _index_not_steps,
    "returned the last time the mean was above the threshold, not the first": _last_crossing,
    "compared with `>`: a mean equal to the threshold reaches it (`>=`)": _strict,
}


def check_steps_to_threshold(fn: Callable[[Sequence[float], Sequence[float], float, int], float | None]) -> CheckResult:
    """Check ``fn(env_steps, returns, threshold, last)``: first on :data:`STEPS_CASES` (an exact tie, which ``>=``
    reaches and ``>`` does not; an empty run; fewer episodes than ``last``; a lucky first episode; a curve that never
    gets there), then on 40 random learning curves (some never reach the threshold, some start with a lucky
    episode, some are empty)."""
    return check(_none_as_nan(fn), _none_as_nan(_solution_steps_to_threshold),
                 _fixed_then_random(STEPS_CASES, _episodes_threshold),
                 name="steps_to_threshold", trials=len(STEPS_CASES) + 40, mistakes={k: _none_as_nan(f) for k, f in STEPS_MISTAKES.items()})


# ---------------------------------------------------------------------------------------------- 3. a second run
SECOND_RUN = dict(seed=1, clip_eps=0.3)


def _solution_second_run_config(cfg: PPOConfig) -> PPOConfig:
    """The first agent's config with another seed and another clip range, everything else kept."""
    return cfg.replace(**SECOND_RUN)


def check_second_run(make_config: Callable[[PPOConfig], PPOConfig], cfg: PPOConfig, train_it: bool = True,
                     threshold: float = 475.0, last: int = 20) -> CheckResult:
    """``make_config(cfg)`` must return ``cfg`` with ``seed=1`` and ``clip_eps=0.3`` and every other field unchanged.
    With ``train_it`` the checker then trains it (stopping once solved) and applies :func:`check_solved`."""
    try:
        new = make_config(cfg)
    except NotImplementedError:
        return CheckResult(False, "second_run: not attempted yet (the function still raises NotImplementedError)", attempted=False)
    except Exception as exc:
        return CheckResult(False, f"second_run: your function raised {type(exc).__name__}: {exc}")
    if not isinstance(new, PPOConfig):
        return CheckResult(False, f"second_run: expected a PPOConfig, got {type(new).__name__}")
    if new is cfg or new.to_dict() == cfg.to_dict():
        return CheckResult(False, "second_run: your config is the first run's: nothing was changed",
                           mistake="returned the first run's config unchanged")
    wanted = cfg.replace(**SECOND_RUN).to_dict()
    got = new.to_dict()
    wrong = {k: (got[k], wanted[k]) for k in wanted if got[k] != wanted[k]}
    if wrong:
        names = ", ".join(f"{k}={g!r} (expected {w!r})" for k, (g, w) in wrong.items())
        mistake = None
        if set(wrong) - set(SECOND_RUN):
            mistake = "changed fields other than seed and clip_eps (e.g. a fresh PPOConfig without the per-family defaults)"
        elif "seed" in wrong:
            mistake = "kept the first run's seed"
        elif "clip_eps" in wrong:
            mistake = "kept the first run's clip_eps"
        return CheckResult(False, f"second_run: {names}" + (f" — {mistake}" if mistake else ""), mistake=mistake)
    if not train_it:
        return CheckResult(True, "second_run: the config is right (not trained)")
    from ... import train

    return check_solved(train(new, progress=False, callback=stop_when_solved(threshold, last)), threshold, last, seed=new.seed)


def check_solved(history: History, threshold: float = 475.0, last: int = 20, seed: int | None = None) -> CheckResult:
    """Did the run reach ``threshold`` as the mean of the last ``last`` episodes, and does its History say so
    consistently (``steps_to_threshold`` set and not after the last logged step)?"""
    if not isinstance(history, History):
        return CheckResult(False, f"expected a ppo_lite.History (what train() returns), got {type(history).__name__}")
    if len(history) == 0:
        return CheckResult(False, "the History is empty: train() ran no update")
    mean = history.mean_return(last)
    steps = history.steps_to_threshold(threshold, last)
    who = "" if seed is None else f"seed {seed}: "
    if not mean >= threshold:
        return CheckResult(False, f"{who}mean return of the last {last} episodes is {mean:.1f} < {threshold}: train longer "
                                  f"(more total_steps) or stop with a callback only once it is reached")
    if steps is None or steps > history["env_steps"][-1]:
        return CheckResult(False, f"{who}steps_to_threshold is {steps}, inconsistent with the final mean {mean:.1f}")
    return CheckResult(True, f"{who}reached {threshold} (mean of last {last} episodes) at {steps:,.0f} env steps")
