"""The import graph of the ppo_lite package, read from the source with ``ast`` (nothing is imported).

Every ``import``/``from ... import`` statement counts, at module level and inside functions alike (a lazy import
still ties two modules together); relative imports are resolved to absolute module names, and
``from pkg import x`` counts as importing the submodule ``pkg.x`` when there is one, else as importing ``pkg``.
Imports done by name at run time (``importlib.import_module``) are not seen. Three rules:

(a) no import cycle among ppo_lite modules (a package ``__init__`` importing its own submodules is an ordinary
    edge, so a submodule importing back from that ``__init__`` closes a cycle);
(b) the package has three floors, one folder each (``ppo_lite/`` the library, ``ppo_lite/experiments/`` the long
    experiments, ``ppo_lite/course/`` what only the notebooks use), and imports go down only: the library imports
    neither floor above it, the experiments import only the library. One entry point may reach up:
    ``ppo_lite.experiments.__main__`` (the command line) draws each results file's figure with
    ``ppo_lite.course.plots.experiment_figures`` after the experiment has written it;
(c) no module imports another module's underscore-private name (``from ppo_lite.x import _y`` where ``_y`` is not
    a submodule; dunder names such as ``__path__`` are not private), the own package's ``__init__`` included.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

import pytest

PACKAGE = "ppo_lite"
PACKAGE_DIR = Path(__file__).resolve().parents[1] / PACKAGE
FLOORS = {"library": 0, "experiments": 1, "course": 2}
#: (importer, imported) edges allowed to go up a floor: the experiments' command line draws their figures.
REACHES_UP = {("ppo_lite.experiments.__main__", "ppo_lite.course.plots.experiment_figures")}


@dataclass(frozen=True)
class Source:
    text: str
    is_package: bool  # an __init__.py: relative imports resolve from the module itself, not from its parent


@dataclass
class ImportGraph:
    edges: dict[str, set[str]] = field(default_factory=dict)  # module -> the ppo_lite modules it imports
    private: list[tuple[str, str, str]] = field(default_factory=list)  # (importer, imported module, _name)


def package_sources(root: Path = PACKAGE_DIR, package: str = PACKAGE) -> dict[str, Source]:
    """Every module of the package under ``root``, by absolute module name."""
    sources = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts = parts[:-1]
        sources[".".join([package, *parts])] = Source(path.read_text(), is_package)
    return sources


def resolve(importer: str, is_package: bool, module: str | None, level: int) -> str:
    """The absolute name of ``from <level dots><module> import ...`` written in module ``importer``."""
    if level == 0:
        return module or ""
    base = importer.split(".") if is_package else importer.split(".")[:-1]
    if level - 1 >= len(base):
        raise ValueError(f"{importer}: relative import beyond the top-level package (level {level})")
    base = base[: len(base) - (level - 1)]
    return ".".join(base + ([module] if module else []))


def build_graph(sources: dict[str, Source]) -> ImportGraph:
    """Edges between the modules of ``sources`` and the private names imported, from every import statement."""
    graph = ImportGraph(edges={name: set() for name in sources})
    for importer, src in sources.items():
        tree = ast.parse(src.text, filename=importer)
        for node in ast.walk(tree):  # ast.walk reaches imports inside functions, classes and if-blocks too
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name in sources:
                        graph.edges[importer].add(alias.name)
            elif isinstance(node, ast.ImportFrom):
                target = resolve(importer, src.is_package, node.module, node.level)
                for alias in node.names:
                    submodule = f"{target}.{alias.name}"
                    if submodule in sources:
                        graph.edges[importer].add(submodule)
                        continue
                    if target in sources:
                        graph.edges[importer].add(target)
                        name = alias.name
                        private = name.startswith("_") and not (name.startswith("__") and name.endswith("__"))
                        if private and target != importer:
                            graph.private.append((importer, target, name))
        graph.edges[importer].discard(importer)
    return graph


def _reachable(edges: dict[str, set[str]], start: str) -> set[str]:
    seen, stack = set(), [start]
    while stack:
        for nxt in edges.get(stack.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return seen


def _shortest_cycle(edges: dict[str, set[str]], start: str, within: set[str]) -> list[str]:
    """A shortest path start -> ... -> start through the modules in ``within`` (breadth first)."""
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for nxt in sorted(edges[node] & within):
                if nxt == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return [start, *reversed(path[:-1]), start]
                if nxt not in previous:
                    previous[nxt] = node
                    following.append(nxt)
        frontier = following
    raise AssertionError(f"{start} is on no cycle")


def import_cycles(graph: ImportGraph) -> list[tuple[list[str], list[str]]]:
    """Each group of mutually importing modules (a strongly connected component of more than one module), sorted,
    with one shortest cycle through its first module."""
    reach = {m: _reachable(graph.edges, m) for m in graph.edges}
    cycles, done = [], set()
    for module in sorted(graph.edges):
        if module in done or module not in reach[module]:
            continue
        component = {m for m in reach[module] if module in reach[m]}
        done |= component
        first = min(component)
        cycles.append((sorted(component), _shortest_cycle(graph.edges, first, component)))
    return cycles


def floor(module: str, package: str = PACKAGE) -> str:
    """The floor a module of ``package`` stands on: its folder below the package, or the library."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == package and parts[1] in ("experiments", "course") else "library"


def violations(sources: dict[str, Source], package: str = PACKAGE) -> dict[str, list[str]]:
    """The broken rules, one message per violation, under "cycles", "imports_up", "private_names"."""
    graph = build_graph(sources)
    return {
        "cycles": [f"import cycle among {component}: {' -> '.join(path)}" for component, path in import_cycles(graph)],
        "imports_up": [
            f"{floor(m, package)} module {m} imports {floor(t, package)} module {t}"
            for m in sorted(graph.edges) for t in sorted(graph.edges[m])
            if FLOORS[floor(t, package)] > FLOORS[floor(m, package)] and (m, t) not in REACHES_UP
        ],
        "private_names": [f"{m} imports the private name {name} from {t}" for m, t, name in sorted(graph.private)],
    }


# -- the checker on synthetic packages: it reports what it must, and nothing else ---------------------------------
def _synthetic(files: dict[str, str]) -> dict[str, Source]:
    """In-memory sources keyed like paths: ``"ppo_lite/course/__init__"`` is the package ``ppo_lite.course``."""
    sources = {}
    for path, text in files.items():
        is_package = path.endswith("/__init__")
        sources[path.removesuffix("/__init__").replace("/", ".")] = Source(text, is_package)
    return sources


def test_checker_reports_a_cycle_through_a_function_level_import():
    sources = _synthetic({
        "ppo_lite/__init__": "from .a import f\n",
        "ppo_lite/a": "from .b import g\n\ndef f():\n    return g()\n",
        "ppo_lite/b": "def g():\n    from . import a  # lazy, but still a cycle\n    return a\n",
        "ppo_lite/c": "from ppo_lite.a import f\n",
    })
    found = violations(sources)
    assert found["cycles"] == ["import cycle among ['ppo_lite.a', 'ppo_lite.b']: ppo_lite.a -> ppo_lite.b -> ppo_lite.a"]
    assert found["imports_up"] == [] and found["private_names"] == []


def test_checker_reports_a_submodule_importing_its_package_init():
    sources = _synthetic({
        "ppo_lite/__init__": "",
        "ppo_lite/course/__init__": "",
        "ppo_lite/course/plots/__init__": "from . import nb1\n",
        "ppo_lite/course/plots/nb1": "from . import save\n",  # save is a name defined in plots/__init__
    })
    assert violations(sources)["cycles"] == [
        "import cycle among ['ppo_lite.course.plots', 'ppo_lite.course.plots.nb1']: ppo_lite.course.plots -> ppo_lite.course.plots.nb1 -> ppo_lite.course.plots"]


def test_checker_reports_private_names_but_not_private_submodules():
    sources = _synthetic({
        "ppo_lite/__init__": "_cache = {}\n",
        "ppo_lite/trainer": "def _bar(): ...\ndef update(): ...\n",
        "ppo_lite/course/exercises/__init__": "from ._check import check\nfrom . import _check\n",  # a module named _check
        "ppo_lite/course/exercises/_check": "def check(): ...\n",
        "ppo_lite/batched": "from .trainer import _bar, update\nfrom . import _cache, __version__\n",
    })
    assert violations(sources)["private_names"] == [
        "ppo_lite.batched imports the private name _cache from ppo_lite",
        "ppo_lite.batched imports the private name _bar from ppo_lite.trainer",
    ]


def test_checker_reports_imports_that_go_up_a_floor():
    sources = _synthetic({
        "ppo_lite/__init__": "",
        "ppo_lite/kl": "def k3(): ...\n",
        "ppo_lite/experiments/__init__": "",
        "ppo_lite/experiments/sweep": "from ..kl import k3\n",  # experiments importing the library: fine
        "ppo_lite/experiments/ablation": "from ..course.plots import nb1\n",  # experiments importing the course
        "ppo_lite/experiments/__main__": "from ..course.plots import experiment_figures\n",  # the one allowed reach
        "ppo_lite/course/__init__": "",
        "ppo_lite/course/plots/__init__": "",
        "ppo_lite/course/plots/nb1": "from ...kl import k3\nfrom ...experiments import sweep\n",  # course: anything
        "ppo_lite/course/plots/experiment_figures": "",
        "ppo_lite/course/widgets": "from .plots import nb1\n",  # course importing course: fine
        "ppo_lite/trainer": "def f():\n    import ppo_lite.course.plots.nb1\n    from .experiments import sweep\n",
    })
    assert violations(sources)["imports_up"] == [
        "experiments module ppo_lite.experiments.ablation imports course module ppo_lite.course.plots.nb1",
        "library module ppo_lite.trainer imports course module ppo_lite.course.plots.nb1",
        "library module ppo_lite.trainer imports experiments module ppo_lite.experiments.sweep",
    ]


def test_resolve_relative_imports():
    assert resolve("ppo_lite.course.plots.nb03", False, "tabular", 2) == "ppo_lite.course.tabular"
    assert resolve("ppo_lite.course.plots", True, None, 1) == "ppo_lite.course.plots"
    assert resolve("ppo_lite.course.plots", True, None, 2) == "ppo_lite.course"
    assert resolve("ppo_lite.course.plots", True, None, 3) == "ppo_lite"
    assert resolve("ppo_lite.kl", False, None, 1) == "ppo_lite"
    with pytest.raises(ValueError, match="beyond"):
        resolve("ppo_lite.kl", False, None, 2)


# -- the package itself -------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def found() -> dict[str, list[str]]:
    sources = package_sources()
    assert len(sources) > 30 and "ppo_lite.trainer" in sources and "ppo_lite.course.plots" in sources
    return violations(sources)


@pytest.mark.parametrize("rule", ["cycles", "imports_up", "private_names"])
def test_package_imports(found, rule):
    assert not found[rule], f"{len(found[rule])} violation(s) of {rule}:\n" + "\n".join(found[rule])


def test_library_trains_without_the_floors_above_it_or_their_dependencies():
    """``pip install .`` gives the library alone (pyproject's ``dependencies``): it must import and train with the
    experiments' and the course's packages (scipy, matplotlib, ipywidgets, ...) absent. A subprocess blocks them."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "for name in ('scipy', 'matplotlib', 'ipywidgets', 'IPython', 'sphinx', 'nbval'):\n"
        "    sys.modules[name] = None  # import of a blocked package raises ImportError\n"
        "import torch; torch.set_num_threads(1)\n"
        "from ppo_lite import PPOConfig, train\n"
        "h = train(PPOConfig.for_env('CartPole-v1', total_steps=512, device='cpu', seed=0), progress=False)\n"
        "assert len(h) == 2, len(h)\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('ppo_lite.') and m.split('.')[1] in ('course', 'experiments'))\n"
        "assert not loaded, loaded\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip().endswith("ok"), out.stderr[-2000:]
