"""The import graph of the ppo_lite package, read from the source with ``ast`` (nothing is imported).

Every ``import``/``from ... import`` statement counts, at module level and inside functions alike (a lazy import
still ties two modules together); relative imports are resolved to absolute module names, and
``from pkg import x`` counts as importing the submodule ``pkg.x`` when there is one, else as importing ``pkg``.
Imports done by name at run time (``importlib.import_module``) are not seen. Three rules:

(a) no import cycle among ppo_lite modules (a package ``__init__`` importing its own submodules is an ordinary
    edge, so a submodule importing back from that ``__init__`` closes a cycle);
(b) a library module never imports a course module: the course is ``ppo_lite.plots*``, ``ppo_lite.widgets``,
    ``ppo_lite.experiments*``, ``ppo_lite.exercises*``, ``ppo_lite.course`` and ``ppo_lite.site*``; the library is
    everything else;
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
COURSE = ("plots", "widgets", "experiments", "exercises", "course", "site")  # the package's top-level course parts


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


def is_course(module: str, package: str = PACKAGE) -> bool:
    parts = module.split(".")
    return parts[0] == package and len(parts) > 1 and parts[1] in COURSE


def violations(sources: dict[str, Source], package: str = PACKAGE) -> dict[str, list[str]]:
    """The broken rules, one message per violation, under "cycles", "library_imports_course", "private_names"."""
    graph = build_graph(sources)
    return {
        "cycles": [f"import cycle among {component}: {' -> '.join(path)}" for component, path in import_cycles(graph)],
        "library_imports_course": [
            f"library module {m} imports course module {t}"
            for m in sorted(graph.edges) if not is_course(m, package)
            for t in sorted(graph.edges[m]) if is_course(t, package)
        ],
        "private_names": [f"{m} imports the private name {name} from {t}" for m, t, name in sorted(graph.private)],
    }


# -- the checker on synthetic packages: it reports what it must, and nothing else ---------------------------------
def _synthetic(files: dict[str, str]) -> dict[str, Source]:
    """In-memory sources keyed like paths: ``"ppo_lite/plots/__init__"`` is the package ``ppo_lite.plots``."""
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
    assert found["library_imports_course"] == [] and found["private_names"] == []


def test_checker_reports_a_submodule_importing_its_package_init():
    sources = _synthetic({
        "ppo_lite/__init__": "",
        "ppo_lite/plots/__init__": "from . import nb1\n",
        "ppo_lite/plots/nb1": "from . import save\n",  # save is a name defined in plots/__init__
    })
    assert violations(sources)["cycles"] == [
        "import cycle among ['ppo_lite.plots', 'ppo_lite.plots.nb1']: ppo_lite.plots -> ppo_lite.plots.nb1 -> ppo_lite.plots"]


def test_checker_reports_private_names_but_not_private_submodules():
    sources = _synthetic({
        "ppo_lite/__init__": "_cache = {}\n",
        "ppo_lite/trainer": "def _bar(): ...\ndef update(): ...\n",
        "ppo_lite/exercises/__init__": "from ._check import check\nfrom . import _check\n",  # a module named _check
        "ppo_lite/exercises/_check": "def check(): ...\n",
        "ppo_lite/batched": "from .trainer import _bar, update\nfrom . import _cache, __version__\n",
    })
    assert violations(sources)["private_names"] == [
        "ppo_lite.batched imports the private name _cache from ppo_lite",
        "ppo_lite.batched imports the private name _bar from ppo_lite.trainer",
    ]


def test_checker_reports_library_importing_course():
    sources = _synthetic({
        "ppo_lite/__init__": "",
        "ppo_lite/kl": "def k3(): ...\n",
        "ppo_lite/plots/__init__": "",
        "ppo_lite/plots/nb1": "from ..kl import k3\n",  # course importing library: fine
        "ppo_lite/widgets": "from .plots import nb1\n",  # course importing course: fine
        "ppo_lite/trainer": "def f():\n    import ppo_lite.plots.nb1\n",
    })
    assert violations(sources)["library_imports_course"] == [
        "library module ppo_lite.trainer imports course module ppo_lite.plots.nb1"]


def test_resolve_relative_imports():
    assert resolve("ppo_lite.plots.nb03", False, "tabular", 2) == "ppo_lite.tabular"
    assert resolve("ppo_lite.plots", True, None, 1) == "ppo_lite.plots"
    assert resolve("ppo_lite.plots", True, None, 2) == "ppo_lite"
    assert resolve("ppo_lite.kl", False, None, 1) == "ppo_lite"
    with pytest.raises(ValueError, match="beyond"):
        resolve("ppo_lite.kl", False, None, 2)


# -- the package itself -------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def found() -> dict[str, list[str]]:
    sources = package_sources()
    assert len(sources) > 30 and "ppo_lite.trainer" in sources and "ppo_lite.plots" in sources
    return violations(sources)


@pytest.mark.parametrize("rule", ["cycles", "library_imports_course", "private_names"])
def test_package_imports(found, rule):
    assert not found[rule], f"{len(found[rule])} violation(s) of {rule}:\n" + "\n".join(found[rule])
