import torch

from ppo_lite.course.exercises import check


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
