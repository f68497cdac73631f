"""Answer checkers for the notebooks' exercises: ``check(learner_fn, reference_fn, make_inputs)``.

Each notebook's checkers live in their own module (``nb01``, ``nb02``, ...) and call :func:`check`.
"""
from ._check import CheckResult, ExerciseFailed, check

__all__ = ["check", "CheckResult", "ExerciseFailed"]
