"""Long experiments behind the course's figures: ``python -m ppo_lite.experiments NAME [options]``.

Each experiment is a module here with ``main(argv: list[str]) -> int`` that runs its sweep and writes its data
(JSON, :func:`write_results`) under ``figures/``. The experiments import no plotting code: the entry point
(``__main__``) draws each results file's figure (PNG) beside it afterwards, with
``ppo_lite.course.plots.experiment_figures``. Notebooks run a small live version and plot the committed results.
"""
from __future__ import annotations

import importlib
import json
import os
import pkgutil
import platform
import time
from pathlib import Path
from typing import Any, Callable

from ..paths import figures_dir, repo_root

FIGURES = figures_dir()


#: Modules of this package that the experiments use but that are not experiments themselves (no ``main``).
SUPPORT_MODULES = ("stats", "sweep", "peers")


def available() -> list[str]:
    """The experiments ``python -m ppo_lite.experiments NAME`` runs: every public module but the support ones."""
    return sorted(m.name for m in pkgutil.iter_modules(__path__)
                  if not m.name.startswith("_") and m.name not in SUPPORT_MODULES)


_written_by_run: list[list[Path]] = []  # the ``written`` lists of the run() calls in progress, innermost last


def run(name: str, argv: list[str], written: list[Path] | None = None) -> int:
    """Run experiment ``name`` with command-line options ``argv`` (its ``main(argv)``); returns its exit code.

    With ``written``, the path of every results file the experiment writes (:func:`write_results`) is appended to
    it: the entry point draws their figures."""
    if name not in available():
        raise SystemExit(f"unknown experiment {name!r}; available: {', '.join(available())}")
    main = importlib.import_module(f"{__name__}.{name}").main
    if written is None:
        return main(argv)
    _written_by_run.append(written)
    try:
        return main(argv)
    finally:
        _written_by_run.pop()


def write_results(
    name: str,
    data: dict[str, Any],
    seconds: float,
    command: str,
    outdir: str | Path | None = None,
) -> Path:
    """Write ``<outdir>/<name>.json`` (``figures/`` by default) with the data plus provenance (command, wall time,
    machine, versions) and return its path. No figure: ``python -m ppo_lite.experiments`` draws ``<name>.png``
    from the file as written (what a notebook reads) once the experiment has finished."""
    import torch

    outdir = FIGURES if outdir is None else Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    path = outdir / f"{name}.json"
    meta = {
        "command": command,
        "git_commit": git_commit(),
        "wall_seconds": round(seconds, 1),
        "date": time.strftime("%Y-%m-%d"),
        "machine": cpu_name(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "python": platform.python_version(),
    }
    tmp = path.with_name(path.name + ".tmp")  # write, then rename: a stopped run never leaves half a file
    tmp.write_text(json.dumps({"meta": meta, **data}, indent=1))
    os.replace(tmp, path)
    for written in _written_by_run:
        written.append(path)
    return path


CODE_PATHS = ("ppo_lite", "bench", ":(exclude)bench/results", "pyproject.toml", "requirements.txt")
"""What makes a result: a results file is "+uncommitted" when these differ from HEAD (not the figures, notebooks or
benchmark tables, which a sweep or benchmark rewrites as it runs)."""


def git_commit() -> str:
    """The checkout's commit (``HEAD``), with ``+uncommitted`` when tracked code (:data:`CODE_PATHS`) differs from
    it; ``unknown`` outside a git checkout. Every results file records it, so it can be told which code made it."""
    import subprocess

    root = repo_root()
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", *CODE_PATHS], cwd=root,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+uncommitted" if dirty else "")


def cpu_name() -> str:
    """The CPU's model name from /proc/cpuinfo (``platform.processor()`` elsewhere)."""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"



#: PPOConfig fields added after cell logs were written, each with the value that reproduces the behaviour from
#: before it existed. A stored protocol without the field matches a protocol that has it at this value, so adding
#: a switch to the library does not invalidate every logged run; any other value is a different protocol.
NEUTRAL_NEW_FIELDS: dict[str, Any] = {"anneal_clip_eps": False, "num_threads": 1, "env_kwargs": {},  # every sweep runs at one thread
                                       "streams": "shared"}

#: The random-stream protocol (:data:`ppo_lite.batched.STREAMS`) every stored study was computed under: one stream
#: per batch, seeded from its seed list. The studies keep it so that their cell logs stay what their code computes
#: (``--max-cells 0``, ``--rerun``); a study recomputed afresh would pass ``"per_agent"``, under which one stored
#: run can be trained again alone (:func:`ppo_lite.experiments.corners.rerun_cell`).
STORED_STREAMS = "shared"


def config_record(config: Any) -> dict[str, Any]:
    """A :class:`~ppo_lite.config.PPOConfig` as a results file records it: its fields, less the free-form ``extra``
    (and ``env_kwargs`` when empty: no experiment sets it, and the files written before it existed stay the same)."""
    return {k: v for k, v in config.to_dict().items() if k != "extra" and not (k == "env_kwargs" and not v)}


def same_protocol(stored: Any, wanted: Any) -> bool:
    """Whether a logged cell's ``stored`` protocol is ``wanted`` (as JSON: tuples and lists alike), a dict key
    missing from ``stored`` allowed where ``wanted`` has it at its :data:`NEUTRAL_NEW_FIELDS` value."""
    stored, wanted = json.loads(json.dumps(stored)), json.loads(json.dumps(wanted))

    def same(a: Any, b: Any) -> bool:
        if isinstance(a, dict) and isinstance(b, dict):
            for k in set(a) | set(b):
                if k in a and k in b:
                    if not same(a[k], b[k]):
                        return False
                elif not (k in b and k in NEUTRAL_NEW_FIELDS and b[k] == NEUTRAL_NEW_FIELDS[k]):
                    return False
            return True
        if isinstance(a, list) and isinstance(b, list):
            return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
        return a == b

    return same(stored, wanted)


class CellLog:
    """An append-only JSON-lines file of a sweep's finished cells: the sweep writes each cell the moment it finishes
    and, run again, skips the cells already there, so a stopped session loses at most the cell in progress.

    Each line is one cell: its ``key`` (a string naming the cell), its ``protocol`` (everything that determines
    its result: configs, grids, seeds), the ``git_commit`` and ``date`` it was computed at, and its data. A cell
    whose stored protocol differs from the one asked for now is computed again (the newer line wins). Several
    processes may append to one log (each line is one ``write`` on a file opened for appending).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._parsed: tuple[tuple[int, int], dict[str, dict[str, Any]]] | None = None  # (size, mtime) -> cells

    def cells(self) -> dict[str, dict[str, Any]]:
        """The latest line of every key (an unreadable last line, from a killed writer, is ignored).

        The parse is kept while the file's size and modification time stay the same: a sweep asks once per cell,
        and re-reading a log of thousands of lines for each was most of a resumed sweep's start-up time. An append
        by this or another process changes the size, so it is always seen."""
        if not self.path.exists():
            return {}
        stat = self.path.stat()
        signature = (stat.st_size, stat.st_mtime_ns)
        if self._parsed is not None and self._parsed[0] == signature:
            return dict(self._parsed[1])
        out: dict[str, dict[str, Any]] = {}
        for line in self.path.read_text().splitlines():
            if not line.strip():
                continue
            try:
                cell = json.loads(line)
            except json.JSONDecodeError:
                continue
            out[cell["key"]] = cell
        self._parsed = (signature, out)
        return dict(out)

    def done(self, key: str, protocol: dict[str, Any]) -> dict[str, Any] | None:
        """The stored cell ``key`` if it was computed with ``protocol`` (compared as JSON, :func:`same_protocol`),
        else None."""
        cell = self.cells().get(key)
        if cell is None or not same_protocol(cell["protocol"], protocol):
            return None
        return cell

    def append(self, key: str, protocol: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        cell = {"key": key, "protocol": protocol, "git_commit": git_commit(), "date": time.strftime("%Y-%m-%d %H:%M"),
                "machine": cpu_name(), **data}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as fh:
            fh.write(json.dumps(cell) + "\n")
        return cell


def provenance_of_cells(cells: list[dict[str, Any]]) -> dict[str, Any]:
    """What a results file built from logged cells says of where they come from: the commits (and a note when
    there are several, or uncommitted code), machines and dates of its cells."""
    commits = sorted({c["git_commit"] for c in cells})
    note = ""
    if len(commits) > 1:
        note = f"the cells of this file come from {len(commits)} commits: {', '.join(commits)}"
    if any(c.endswith("+uncommitted") for c in commits):
        note = (note + "; " if note else "") + "some cells were computed with uncommitted changes"
    return {"cell_commits": commits, "cell_machines": sorted({c["machine"] for c in cells}),
            "cell_dates": [min(c["date"] for c in cells), max(c["date"] for c in cells)] if cells else [],
            "provenance_note": note}


def open_cell_log(ns: Any) -> CellLog:
    """The cell log of a sweep parsed with :func:`add_sweep_arguments`: ``<outdir>/<name>.cells.jsonl``, emptied first
    with ``--fresh``. Sets torch to one thread, as every sweep's numbers are measured."""
    import torch

    torch.set_num_threads(1)
    log = CellLog((FIGURES if ns.outdir is None else Path(ns.outdir)) / f"{ns.name}.cells.jsonl")
    if ns.fresh and log.path.exists():
        log.path.unlink()
    return log


class CellBudget:
    """How many cells one invocation may still compute (``--max-cells``; None: no limit)."""

    def __init__(self, max_cells: int | None) -> None:
        self.max_cells, self.computed = max_cells, 0

    def exhausted(self) -> bool:
        return self.max_cells is not None and self.computed >= self.max_cells


def default_cell_line(key: str, cell: dict[str, Any]) -> str | None:
    """The line printed for a computed cell that has ``runs`` and ``seconds``: the mean evaluation return of its
    runs that did not diverge (None, nothing printed, for other cells)."""
    if "runs" not in cell or "seconds" not in cell:
        return None
    evals = [r["eval_return"] for r in cell["runs"] if not r.get("diverged")]
    return f"{key}: eval {sum(evals) / max(1, len(evals)):.1f} over {len(evals)} seeds ({cell['seconds']:.0f} s)"


def compute_cell(log: CellLog, key: str, protocol: dict[str, Any], compute: Callable[[], dict[str, Any]],
                 budget: CellBudget, describe: Callable[[str, dict[str, Any]], str | None] = default_cell_line,
                 ) -> dict[str, Any] | None:
    """The one step every resumable sweep takes: the logged cell ``key`` if the log has it for ``protocol``; else,
    while ``budget`` lasts, ``compute()`` it, append it to the log the moment it is done and print ``describe``'s
    line; None once the budget is spent."""
    done = log.done(key, protocol)
    if done is not None:
        return done
    if budget.exhausted():
        return None
    cell = log.append(key, protocol, compute())
    budget.computed += 1
    line = describe(key, cell)
    if line:
        print(line, flush=True)
    return cell


def compute_missing(log: CellLog, cells: list[tuple[str, dict[str, Any], Any]], max_cells: int | None, desc: str,
                    progress: bool = True, describe: Callable[[str, dict[str, Any]], str | None] = default_cell_line,
                    ) -> int:
    """Compute, in order, each ``(key, protocol, compute)`` whose key the log lacks for that protocol
    (:func:`compute_cell`), stopping after ``max_cells``. Returns how many were computed."""
    from tqdm.auto import tqdm

    budget = CellBudget(max_cells)
    for key, protocol, compute in tqdm(cells, desc=desc, unit="cell", disable=not progress):
        if compute_cell(log, key, protocol, compute, budget, describe) is None:
            break
    return budget.computed


def add_sweep_arguments(parser: Any, name: str) -> None:
    """The options every resumable sweep takes: ``--name`` (of its files under figures/), ``--outdir``, ``--fresh``
    (discard its cell log) and ``--no-progress``."""
    parser.add_argument("--name", default=name, help="output name under figures/")
    parser.add_argument("--outdir", default=None, help="write here instead of figures/ (tests)")
    parser.add_argument("--fresh", action="store_true", help="discard the cell log and start over")
    parser.add_argument("--no-progress", action="store_true")


def refuse_unknown(kind: str, given: list[str], allowed: Any) -> None:
    """Stop before any work if one of ``given`` is not ``allowed``, naming it and what is."""
    for value in given:
        if value not in allowed:
            raise SystemExit(f"unknown {kind} {value!r}; use some of {tuple(allowed)}")


def regeneration_command(command: str, argv: list[str], flags: tuple[str, ...] = ("--no-progress",),
                         options: tuple[str, ...] = ("--max-cells", "--max-rows")) -> str:
    """The command a resumable sweep's results file records: ``command`` with ``argv`` less what does not change
    the results (progress bars, how many cells this invocation computed). Run as recorded, it resumes the log and
    completes the file."""
    kept, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a in flags:
            continue
        elif a in options:
            skip = True
        elif not any(a.startswith(o + "=") for o in options):
            kept.append(a)
    return " ".join([command, *kept])
