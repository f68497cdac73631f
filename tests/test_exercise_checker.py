import importlib
import pkgutil

import pytest
import torch

from ppo_lite.course.exercises import ExerciseFailed, check


def _inputs(g):
    return {"x": torch.randn(4, generator=g)}


def test_checker_passes_the_reference_and_names_the_first_wrong_element():
    ref = lambda x: x.cumsum(0)  # noqa: E731
    assert check(ref, ref, _inputs)
    wrong = lambda x: x.cumsum(0) + (torch.arange(4) == 2) * 0.5  # noqa: E731
    result = check(wrong, ref, _inputs)
    assert not result and "index (2,)" in result.message


def test_checker_reports_nan_shape_and_exceptions_instead_of_crashing():
    ref = lambda x: 2 * x  # noqa: E731
    assert "got nan" in check(lambda x: x * float("nan"), ref, _inputs).message
    assert "shape (3,)" in check(lambda x: (2 * x)[:3], ref, _inputs).message
    assert "raised ZeroDivisionError" in check(lambda x: 1 / 0, ref, _inputs).message


def test_a_stub_is_not_attempted_and_does_not_count_as_passed():
    def stub(x):
        raise NotImplementedError  # your code here

    result = check(stub, lambda x: 2 * x, _inputs)
    assert not result and not result.attempted and repr(result).startswith("NOT ATTEMPTED")
    attempted_wrong = check(lambda x: 3 * x, lambda x: 2 * x, _inputs)
    assert attempted_wrong.attempted and repr(attempted_wrong).startswith("FAILED")


def test_a_known_mistake_is_named_and_an_unknown_one_is_not():
    ref = lambda x: x.cumsum(0)  # noqa: E731
    mistakes = {"forgot to accumulate": lambda x: x, "accumulated from the wrong end": lambda x: x.flip(0).cumsum(0).flip(0)}
    named = check(lambda x: x.flip(0).cumsum(0).flip(0), ref, _inputs, mistakes=mistakes)
    assert not named and named.mistake == "accumulated from the wrong end" and "wrong end" in named.message
    unknown = check(lambda x: x.cumsum(0) * 2, ref, _inputs, mistakes=mistakes)
    assert not unknown and unknown.mistake is None and "differs at index" in unknown.message
    assert check(ref, ref, _inputs, mistakes=mistakes)  # the reference is never mistaken for a mistake


def test_require_returns_for_a_stub_and_a_right_answer_and_raises_for_a_wrong_one(capsys):
    def stub(x):
        raise NotImplementedError  # your code here

    ref = lambda x: 2 * x  # noqa: E731
    assert check(stub, ref, _inputs).require() is None
    assert capsys.readouterr().out.startswith("NOT ATTEMPTED")
    assert check(ref, ref, _inputs).require() is None
    assert capsys.readouterr().out.startswith("PASSED")
    with pytest.raises(ExerciseFailed, match="^FAILED: .*differs at index") as raised:
        check(lambda x: 3 * x, ref, _inputs).require()
    assert isinstance(raised.value, AssertionError)  # a plain assert-style failure to pytest and nbval
    assert capsys.readouterr().out.startswith("FAILED")  # the verdict is printed before it raises
    # an answer that raises (not NotImplementedError) is an attempt, and wrong
    with pytest.raises(ExerciseFailed, match="raised ZeroDivisionError"):
        check(lambda x: 1 / 0, ref, _inputs).require()


def test_no_public_solution_or_reference_in_the_exercise_modules():
    """Solutions are private (issue 26 point 3): no module of ppo_lite.course.exercises has a public name (nor an
    ``__all__`` entry) starting with ``solution`` or ``reference``; tests reach the references as ``_solution_*`` /
    ``_reference_*``."""
    import ppo_lite.course.exercises as package

    public = {}
    for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        module = importlib.import_module(info.name)
        names = set(vars(module)) | set(getattr(module, "__all__", ()))
        bad = sorted(n for n in names if n.startswith(("solution", "reference")))
        if bad:
            public[info.name] = bad
    assert public == {}, f"public solutions: {public}"
