"""What every exercise checker must do with a stub and with each mistake it registers (shared by the per-notebook
exercise tests)."""


def stub(*args, **kwargs):
    raise NotImplementedError  # the notebook's unsolved exercise cell


def assert_rejects_stub_and_names_mistakes(checker, mistakes: dict) -> None:
    """``checker(stub)`` is "not attempted yet" (not a pass, not a failure message); each registered mistake's
    function is rejected, as an attempt, and the result names that mistake."""
    result = checker(stub)
    assert not result and not result.attempted and "NOT ATTEMPTED" in repr(result)
    assert mistakes, "a checker with a stub test should register its usual mistakes"
    for description, wrong in mistakes.items():
        result = checker(wrong)
        assert not result and result.attempted and result.mistake == description, (description, result)
