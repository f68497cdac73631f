"""The learner's loop, run on the notebooks' own exercise cells (issue 26 point 2).

A learner opens a notebook, fills in an exercise stub and runs the README's test command. That command must stay
green for an untouched stub and for a right answer, and turn red for a wrong one, under strict ``pytest --nbval`` and
under ``--nbval-lax`` both. This file proves it for at least one exercise of every notebook 00-10: it reads the
committed ``.ipynb``, takes the exercise's stub cell and its checker cell (with their committed outputs, as the learner
has them) and the cells they need (the notebook's first code cell and every earlier cell that imports
``ppo_lite.course.exercises``), and writes one small notebook holding, for every exercise, the stub cell three times
-- as committed, with a right body, with a wrong body -- each followed by the checker cell. That notebook runs once
under ``--nbval`` and once under ``--nbval-lax`` (two pytest processes, side by side), and each cell's outcome is read
from the JUnit report: the checker cell must pass, pass, and fail with ``ExerciseFailed``.

The right bodies are written here from the exercises' formulas (apart from the checkers' references), the wrong
bodies make a usual mistake. The cells are found by what they do, not by index: the stub is the code cell defining
the function with a body that raises ``NotImplementedError``; the checker is the first code cell from the stub on that
calls a ``check_*`` function with it.
"""
from __future__ import annotations

import ast
import os
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
MODES = ("--nbval", "--nbval-lax")
ANSWERS = ("stub", "right", "wrong")
EXPECTED = {"stub": "passed", "right": "passed", "wrong": "failed"}


@dataclass(frozen=True)
class Exercise:
    notebook: str  # file name under notebooks/
    fn: str        # the function the stub defines
    right: str     # a body that answers the exercise
    wrong: str     # a body that makes a usual mistake

    @property
    def id(self) -> str:
        return f"{self.notebook[:2]}-{self.fn}"


EXERCISES = [
    Exercise("00_orientation.ipynb", "mean_last",
             "tail = list(returns)[-last:]\nreturn sum(tail) / len(tail) if tail else float('nan')",
             "return sum(returns) / len(returns) if returns else float('nan')   # every episode, not the last ones"),
    Exercise("01_policy_gradients.ipynb", "my_reward_to_go",
             "out, running = torch.zeros_like(rewards), 0.0\nfor t in reversed(range(len(rewards))):\n"
             "    running = rewards[t] + gamma * running\n    out[t] = running\nreturn out",
             "return rewards.flip(0).cumsum(0).flip(0)   # forgot the discount"),
    Exercise("02_advantages_gae.ipynb", "my_td_residuals",
             "return rewards + gamma * (1.0 - terminated.to(rewards.dtype)) * next_values - values",
             "return rewards + gamma * next_values - values   # bootstraps through termination"),
    Exercise("03_surrogate_trust_region.ipynb", "my_surrogate",
             "return (torch.exp(logp_new - logp_old) * advantages).mean()",
             "return (torch.exp(logp_old - logp_new) * advantages).mean()   # the ratio inverted"),
    Exercise("04_ppo_v1_kl_dual.ipynb", "my_k3",
             "log_r = logp_new - logp_old\nreturn torch.exp(log_r) - 1 - log_r",
             "return logp_old - logp_new   # k1, not k3"),
    Exercise("05_ppo_v2_clip.ipynb", "clip_frac",
             "r = torch.exp(logp_new - logp_old)\nreturn ((r - 1).abs() > eps).double().mean()",
             "r = torch.exp(logp_new - logp_old)\nreturn ((r - 1) > eps).double().mean()   # one side of the band"),
    Exercise("06_ppo_assembled.ipynb", "my_explained_variance",
             "return 1 - (returns - values).var() / returns.var()",
             "return 1 - values.var() / returns.var()   # the spread of V, not its error"),
    Exercise("06_ppo_assembled.ipynb", "my_clip_fraction",
             "return ((ratio - 1).abs() > clip_eps).double().mean()",
             "return ((ratio - 1) > clip_eps).double().mean()   # one side of the band"),
    Exercise("07_hacks_vs_objective.ipynb", "my_t_interval",
             "m, n = x.mean().item(), len(x)\nhalf = stats.student_t_quantile(0.975, n - 1) * x.std().item() / n ** 0.5\n"
             "return m, m - half, m + half",
             "m, n = x.mean().item(), len(x)\nhalf = 1.96 * x.std().item() / n ** 0.5   # the normal quantile\n"
             "return m, m - half, m + half"),
    Exercise("07_hacks_vs_objective.ipynb", "my_holm",
             "m = len(p)\norder = torch.argsort(p, stable=True)\n"
             "adjusted = torch.clamp((m - torch.arange(m, dtype=torch.float64)) * p[order], max=1.0).cummax(0).values\n"
             "out = torch.empty_like(p)\nout[order] = adjusted\nreturn out",
             "return torch.clamp(p * len(p), max=1.0)   # Bonferroni"),
    Exercise("07_hacks_vs_objective.ipynb", "my_config",
             "off = {'all on': (), 'all off': ablation.DETAILS}.get(setting, (setting[3:],))\n"
             "values = {'total_steps': ablation.TASKS[env_id], 'device': 'cpu'}\nfor d in off:\n"
             "    values.update(ablation.SWITCHES[d])\nreturn PPOConfig.for_env(env_id, objective=objective, **values)",
             "return ablation.config_for(env_id, objective, 'all on')   # ignored the setting"),
    Exercise("08_throw_gpus_at_it.ipynb", "my_fit_line",
             "n_bar, t_bar = envs.mean(), seconds.mean()\n"
             "b = ((envs - n_bar) * (seconds - t_bar)).sum() / ((envs - n_bar) ** 2).sum()\n"
             "return float(t_bar - b * n_bar), float(b)",
             "return 0.0, float((envs * seconds).sum() / (envs * envs).sum())   # a line through the origin"),
    Exercise("08_throw_gpus_at_it.ipynb", "my_amdahl_time",
             "return phase_seconds[~accelerated].sum() + phase_seconds[accelerated].sum() / speedup",
             "return phase_seconds.sum() / speedup   # every phase sped up"),
    Exercise("09_limits.ipynb", "my_shaping_reward",
             "return gamma * phi_next * (~terminated) - phi",
             "return gamma * phi_next - phi   # kept the potential after termination"),
    Exercise("09_limits.ipynb", "my_count_bonus",
             "return beta / counts.double().sqrt()",
             "return beta / counts.double()   # beta / n"),
    Exercise("09_limits.ipynb", "my_expected_max",
             "v, n = scores.sort().values, len(scores)\ni = torch.arange(1, n + 1, dtype=torch.float64)\n"
             "return float((v * ((i / n) ** k - ((i - 1) / n) ** k)).sum())",
             "return float(scores.sort(descending=True).values[:k].mean())   # the mean of the k best"),
    Exercise("10_debugging.ipynb", "weight_beyond",
             "return gamma ** steps",
             "return 1 - gamma ** steps   # the weight of the first T steps, not beyond"),
]


# -- finding the cells ------------------------------------------------------------------------------------------
def _tree(cell) -> ast.Module | None:
    try:
        return ast.parse(cell.source)
    except SyntaxError:  # IPython magics: not an exercise cell
        return None


def _stub_def(tree: ast.Module | None, fn: str) -> ast.FunctionDef | None:
    """The top-level ``def fn(...)`` whose body raises NotImplementedError, if the cell holds one."""
    for node in (tree.body if tree else []):
        if isinstance(node, ast.FunctionDef) and node.name == fn and any(
                isinstance(s, ast.Raise) and "NotImplementedError" in ast.unparse(s) for s in node.body):
            return node
    return None


def _calls_checker_with(tree: ast.Module | None, fn: str) -> bool:
    for node in ast.walk(tree) if tree else []:
        if isinstance(node, ast.Call):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name.startswith("check_") and any(isinstance(a, ast.Name) and a.id == fn for a in node.args):
                return True
    return False


def _imports_exercises(tree: ast.Module | None) -> bool:
    for node in ast.walk(tree) if tree else []:
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("ppo_lite.course.exercises"):
            return True
        if isinstance(node, ast.Import) and any(a.name.startswith("ppo_lite.course.exercises") for a in node.names):
            return True
    return False


def locate(nb, fn: str) -> tuple[list[int], int, int]:
    """(the cells the exercise needs, the stub cell, the checker cell) as indices into ``nb.cells``."""
    code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    trees = {i: _tree(nb.cells[i]) for i in code}
    stubs = [i for i in code if _stub_def(trees[i], fn)]
    if not stubs:
        raise LookupError(f"no code cell defines a stub {fn}(...) raising NotImplementedError")
    stub = stubs[0]
    checkers = [i for i in code if i >= stub and _calls_checker_with(trees[i], fn)]
    if not checkers:
        raise LookupError(f"no code cell from cell {stub} on calls a check_* function with {fn}")
    needed = [i for i in code if i < stub and (i == code[0] or _imports_exercises(trees[i]))]
    return needed, stub, checkers[0]


def with_body(source: str, fn: str, body: str) -> str:
    """``source`` with the body of its stub ``def fn`` replaced by ``body`` (what the learner types)."""
    node = _stub_def(ast.parse(source), fn)
    lines = source.split("\n")
    first, last = node.body[0].lineno - 1, node.body[-1].end_lineno
    indent = " " * node.body[0].col_offset
    return "\n".join(lines[:first] + textwrap.indent(body, indent).split("\n") + lines[last:])


# -- the combined notebook --------------------------------------------------------------------------------------
def _copy(cell, source: str | None = None, ignore_output: bool = False):
    """A code cell with ``cell``'s source (or ``source``) and committed outputs."""
    src = cell.source if source is None else source
    if ignore_output and "NBVAL_IGNORE_OUTPUT" not in src:
        src = "# NBVAL_IGNORE_OUTPUT\n" + src  # a supporting cell: only whether it runs matters here
    new = new_code_cell(src, outputs=cell.get("outputs", []), execution_count=cell.get("execution_count"))
    new.metadata = dict(cell.metadata)
    return new


def build(folder: Path) -> tuple[Path, dict, dict]:
    """Write ``folder/notebooks/exercise_cells.ipynb``; return it, the layout (exercise id -> its supporting cells'
    and, per answer, its stub and checker cells' indices) and the exercises that could not be located (id -> why)."""
    cells, layout, missing, done_setup = [], {}, {}, set()
    for ex in EXERCISES:
        nb = nbformat.read(NOTEBOOKS / ex.notebook, as_version=4)
        try:
            needed, stub, checker = locate(nb, ex.fn)
            bodies = {"stub": None, "right": ex.right, "wrong": ex.wrong}
            sources = {a: nb.cells[stub].source if b is None else with_body(nb.cells[stub].source, ex.fn, b)
                       for a, b in bodies.items()}
        except (LookupError, SyntaxError) as exc:
            missing[ex.id] = f"{ex.notebook}: {exc}"
            continue
        entry = {"setup": [], "answers": {}}
        if ex.notebook not in done_setup:  # a notebook's supporting cells run once, before its first exercise
            for i in needed:
                entry["setup"].append(len(cells))
                cells.append(_copy(nb.cells[i], ignore_output=True))
            done_setup.add(ex.notebook)
        for answer, source in sources.items():
            at = {"stub": len(cells)}
            cells.append(_copy(nb.cells[stub], source))
            if checker != stub:
                at["checker"] = len(cells)
                cells.append(_copy(nb.cells[checker]))
            else:
                at["checker"] = at["stub"]
            entry["answers"][answer] = at
        layout[ex.id] = entry
    out = new_notebook(cells=cells, metadata=nbformat.read(NOTEBOOKS / EXERCISES[0].notebook, as_version=4).metadata)
    (folder / "notebooks").mkdir(parents=True, exist_ok=True)
    for name in ("figures", "bench"):  # notebooks read ../figures and ../bench, as from the checkout
        if (ROOT / name).exists() and not (folder / name).exists():
            (folder / name).symlink_to(ROOT / name)
    path = folder / "notebooks" / "exercise_cells.ipynb"
    nbformat.write(out, path)
    return path, layout, missing


def _outcomes(report: Path) -> dict[int, tuple[str, str]]:
    """Cell number -> (passed / failed / skipped, the failure text) from nbval's JUnit report."""
    out = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        name = case.get("name", "")
        if not name.startswith("Cell "):
            continue
        bad = case.find("failure") if case.find("failure") is not None else case.find("error")
        if bad is not None:
            out[int(name.split()[1])] = ("failed", (bad.get("message") or "") + (bad.text or ""))
        elif case.find("skipped") is not None:
            out[int(name.split()[1])] = ("skipped", "")
        else:
            out[int(name.split()[1])] = ("passed", "")
    return out


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("exercise_cells")
    path, layout, missing = build(folder)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    procs = {}
    for mode in MODES:  # both modes side by side: each is one kernel running the cells in order
        report = folder / f"report{mode.replace('-', '_')}.xml"
        procs[mode] = (report, subprocess.Popen(
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", mode, "--nbval-current-env", str(path),
             f"--junitxml={report}", "-q"],
            cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    results = {}
    for mode, (report, proc) in procs.items():
        log, _ = proc.communicate(timeout=600)
        assert report.exists(), f"pytest {mode} wrote no report:\n{log[-3000:]}"
        results[mode] = (_outcomes(report), log)
    return layout, missing, results


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("exercise", EXERCISES, ids=lambda e: e.id)
def test_stub_passes_right_answer_passes_wrong_answer_fails(runs, exercise, mode):
    layout, missing, results = runs
    assert exercise.id not in missing, missing.get(exercise.id)
    outcomes, log = results[mode]
    entry = layout[exercise.id]
    for i in entry["setup"]:
        assert outcomes.get(i, ("missing", ""))[0] == "passed", (
            f"{exercise.notebook}: a cell the exercise needs failed under {mode}: {outcomes.get(i)}")
    got = {}
    for answer, at in entry["answers"].items():
        if at["stub"] != at["checker"]:
            assert outcomes[at["stub"]][0] == "passed", (answer, outcomes[at["stub"]])
        got[answer] = outcomes[at["checker"]]
    assert {a: g[0] for a, g in got.items()} == EXPECTED, (
        f"{exercise.notebook} {exercise.fn} under pytest {mode}: "
        + "; ".join(f"{a}: {g[0]} {g[1][-600:]}" for a, g in got.items() if g[0] != EXPECTED[a]))
    # red because the checker said the answer is wrong, not because an output differed or something else broke
    assert "ExerciseFailed" in got["wrong"][1], got["wrong"][1][-1500:]


def test_cell_finder_and_body_replacement():
    """The finder picks the stub by what it defines and the checker by what it calls; the learner's body replaces the
    stub's body only (what follows the def in the same cell stays)."""
    nb = new_notebook(cells=[
        new_code_cell("import torch"),
        nbformat.v4.new_markdown_cell("text"),
        new_code_cell("from ppo_lite.course.exercises import nb06 as exercises"),
        new_code_cell("def my_fn(x):\n    return x   # not a stub"),
        new_code_cell("def my_fn(x):\n    raise NotImplementedError  # your code here\n\ndef other(y):\n    raise NotImplementedError"),
        new_code_cell("print(exercises.check_other(other))"),
        new_code_cell("# NBVAL_IGNORE_OUTPUT\nexercises.check_fn(my_fn).require()"),
    ])
    assert locate(nb, "my_fn") == ([0, 2], 4, 6)
    assert locate(nb, "other") == ([0, 2], 4, 5)
    new = with_body(nb.cells[4].source, "my_fn", "y = 2 * x\nreturn y")
    assert new == "def my_fn(x):\n    y = 2 * x\n    return y\n\ndef other(y):\n    raise NotImplementedError"
    with pytest.raises(LookupError):
        locate(nb, "missing")
