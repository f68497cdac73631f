"""Notebook 10's checkers pass the reference and independent correct answers, report a stub as not attempted, and
catch (and name) the registered wrong answers."""
import json
import math
import subprocess
import sys
from pathlib import Path

import torch

from exercise_checks import assert_rejects_stub_and_names_mistakes
from ppo_lite.course import debugging
from ppo_lite.course.exercises import nb10
from ppo_lite.policies import gaussian_entropy

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "10_debugging.ipynb"


def test_solutions_pass_and_agree_with_the_library():
    assert nb10.check_weight_beyond(nb10._solution_weight_beyond)
    assert nb10.check_weight_beyond(lambda gamma, steps: torch.tensor(
        [debugging.discount_weight_beyond(float(g), int(t)) for g, t in zip(gamma, steps)], dtype=torch.float64))
    assert nb10.check_explained_variance(nb10._solution_explained_variance)
    assert nb10.check_explained_variance(  # written out by hand, an independent correct answer
        lambda values, returns: 1 - ((returns - values) - (returns - values).mean()).pow(2).sum()
        / (returns - returns.mean()).pow(2).sum())
    assert nb10.check_sigma_from_entropy(nb10._solution_sigma_from_entropy)
    assert nb10.check_sigma_from_entropy(lambda entropy, act_dim: torch.tensor(
        [debugging.gaussian_sigma(float(h), act_dim) for h in entropy], dtype=torch.float64))


def test_sigma_solution_inverts_the_policy_entropy():
    log_std = torch.tensor([[-2.0, 0.5, -0.1], [0.0, 0.0, 0.0]], dtype=torch.float64)
    sigma = nb10._solution_sigma_from_entropy(gaussian_entropy(log_std), 3)
    assert torch.allclose(sigma, log_std.mean(-1).exp(), rtol=1e-12)
    assert math.isclose(float(nb10._solution_weight_beyond(torch.tensor(0.99, dtype=torch.float64), torch.tensor(200.0, dtype=torch.float64))), 0.99**200, rel_tol=1e-6)


def test_stubs_are_not_attempted_and_mistakes_are_named():
    assert_rejects_stub_and_names_mistakes(nb10.check_weight_beyond, nb10.WEIGHT_BEYOND_MISTAKES)
    assert_rejects_stub_and_names_mistakes(nb10.check_explained_variance, nb10.EXPLAINED_VARIANCE_MISTAKES)
    assert_rejects_stub_and_names_mistakes(nb10.check_sigma_from_entropy, nb10.SIGMA_MISTAKES)


def test_unregistered_wrong_answers_fail_without_a_mistake_name():
    for checker, wrong in (
        (nb10.check_weight_beyond, lambda gamma, steps: 1 / (1 - gamma)),                         # the horizon instead
        (nb10.check_explained_variance, lambda values, returns: values.var() / (returns - values).var()),
        (nb10.check_sigma_from_entropy, lambda entropy, act_dim: entropy / act_dim),              # log sigma + const
    ):
        result = checker(wrong)
        assert not result and result.attempted and result.mistake is None


def test_no_public_solutions():
    assert not [n for n in dir(nb10) if n.startswith(("solution", "reference"))]


def _exercise_notebook(tmp_path, name, body):
    """Notebook 10's own exercise-1 cells (the stub cell with ``body`` in place of its ``raise`` line, and the
    checker cell as committed, with its committed output), as a notebook of their own."""
    nb = json.loads(NOTEBOOK.read_text())
    cells = [c for c in nb["cells"] if c["cell_type"] == "code"]
    stub = next(c for c in cells if "def weight_beyond(" in "".join(c["source"]))
    checker = next(c for c in cells if "check_weight_beyond(weight_beyond)" in "".join(c["source"]))
    assert "".join(checker["source"]).startswith("# NBVAL_IGNORE_OUTPUT") and ".require()" in "".join(checker["source"])
    source = "".join(stub["source"])
    assert "raise NotImplementedError" in source
    stub = dict(stub, source=source.replace("raise NotImplementedError  # your code here", body), outputs=[])
    path = tmp_path / f"{name}.ipynb"
    path.write_text(json.dumps(dict(nb, cells=[stub, checker])))
    return path


def test_the_notebooks_exercise_cell_passes_stub_and_right_answer_and_fails_a_wrong_one(tmp_path):
    """Notebook 10's exercise cell under ``pytest --nbval`` and ``--nbval-lax``: the unattempted stub passes, a right
    answer passes, a wrong one (the weight of the first T steps) fails, in both modes."""
    paths = {name: _exercise_notebook(tmp_path, name, body) for name, body in (
        ("stub", "raise NotImplementedError  # your code here"),
        ("right", "return gamma ** steps"),
        ("wrong", "return 1 - gamma ** steps"))}
    for mode in ("--nbval", "--nbval-lax"):
        run = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", mode, "-q", "-rf",
                              *map(str, paths.values())], capture_output=True, text=True, cwd=tmp_path, timeout=300)
        failed = {name for name, path in paths.items() if f"FAILED {path.name}" in run.stdout or f"FAILED {path}" in run.stdout}
        assert failed == {"wrong"}, (mode, run.stdout[-3000:])
