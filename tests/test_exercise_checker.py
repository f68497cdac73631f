import torch

from ppo_lite.exercises import check


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
