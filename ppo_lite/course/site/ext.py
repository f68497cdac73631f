r"""The Sphinx extension behind the course website (``conf.py`` lists it).

- **MathJax offline.** The pages load MathJax 3 from the site's own ``_static/mathjax/``, copied from the files the
  ``sphinx-mathjax-offline`` package ships (only what the CHTML output of TeX needs, not its other bundles), so no
  page asks a CDN for anything.
- **Docstrings written for ``help()``.** A ``|x|`` in a docstring's prose is an absolute value, not a reST
  substitution: outside roles, literals, math and literal blocks it is escaped before docutils reads it.
- **From each API entry to its notebook (the d2l habit).** In the API pages every "notebook NN" of a docstring
  becomes a link to that notebook's page; a module-level function or class whose docstring names no notebook gets a
  line naming the notebooks that derive its module (from ``_links.json``, written by
  :func:`ppo_lite.course.site.sources.write_sources`).
"""
from __future__ import annotations

import importlib.metadata
import json
import re
import shutil
from pathlib import Path
from typing import Any

from docutils import nodes
from sphinx import addnodes
from sphinx.application import Sphinx

from .sources import NOTEBOOK_MENTION, escape_bars

__all__ = ["MATHJAX_PARTS", "mathjax_dir", "setup"]

#: What the site copies of MathJax: the TeX-to-CHTML bundle, its fonts, and the pieces it loads on demand (TeX
#: extensions such as \boldsymbol or \cancel, the context menu's accessibility and speech parts).
MATHJAX_PARTS = ("tex-chtml.js", "output/chtml", "input/tex/extensions", "a11y", "sre", "ui", "adaptors")
# Inside these a "notebook NN" is code, math or already a link: left alone.
_SKIP = (nodes.literal, nodes.literal_block, nodes.math, nodes.math_block, nodes.reference, nodes.raw,
         addnodes.pending_xref, addnodes.desc_signature)


def mathjax_dir() -> Path:
    """The MathJax 3 files of the ``sphinx-mathjax-offline`` package."""
    try:
        folder = Path(str(importlib.metadata.distribution("sphinx-mathjax-offline").locate_file(
            "sphinx-mathjax-offline/static/mathjax")))
    except importlib.metadata.PackageNotFoundError:
        raise RuntimeError("the site bundles MathJax from the package sphinx-mathjax-offline: "
                           "pip install -r requirements.txt") from None
    if not (folder / "tex-chtml.js").is_file():
        raise RuntimeError(f"sphinx-mathjax-offline has no tex-chtml.js under {folder}")
    return folder


def _finish(app: Sphinx, exception: Exception | None) -> None:
    """After a successful HTML build: copy MathJax in, and drop the theme's source maps (files for debugging its
    minified scripts in a browser's developer tools, a sixth of the site's size; no page loads them)."""
    if exception is not None or app.builder.format != "html":
        return
    for source_map in (Path(app.outdir) / "_static").rglob("*.map"):
        source_map.unlink()
    source, target = mathjax_dir(), Path(app.outdir) / "_static" / "mathjax"
    for part in MATHJAX_PARTS:
        if (source / part).is_dir():
            shutil.copytree(source / part, target / part, dirs_exist_ok=True)
        else:
            (target / part).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source / part, target / part)


def _links(app: Sphinx) -> dict[str, Any]:
    if not hasattr(app.env, "ppo_lite_links"):
        path = Path(app.srcdir) / "_links.json"
        app.env.ppo_lite_links = json.loads(path.read_text()) if path.is_file() else {"notebooks": {}, "modules": {}}
    return app.env.ppo_lite_links


def _escape_docstring_bars(app: Sphinx, what: str, name: str, obj: Any, options: Any, lines: list[str]) -> None:
    lines[:] = escape_bars(lines)


def _entry_course_line(app: Sphinx, what: str, name: str, obj: Any, options: Any, lines: list[str]) -> None:
    """A module-level function or class whose docstring names no notebook: a line naming its module's notebooks."""
    if what not in ("function", "class") or any(NOTEBOOK_MENTION.search(line) for line in lines):
        return
    module = getattr(obj, "__module__", None)
    if not module or name != f"{module}.{getattr(obj, '__qualname__', '')}" or "." in obj.__qualname__:
        return
    seen = _links(app)["modules"].get(module)
    derived = [stem[:2] for stem in seen["derived_in"]] if seen else []
    if len(derived) == 1:
        said = f"notebook {derived[0]} derives"
    elif derived:
        said = f"notebooks {', '.join(derived[:-1])} and {derived[-1]} derive"
    else:
        return
    lines += ["", f"*In the course:* {said} ``{module.removeprefix('ppo_lite.')}``."]  # linked by _link_mentions


def _link_mentions(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    """Every "notebook NN" in the text of an API page becomes a link to notebook NN's page."""
    if not docname.startswith("api/") or app.builder.format != "html":
        return
    stems = {entry["number"]: stem for stem, entry in _links(app)["notebooks"].items()}
    titles = {stem: entry["title"] for stem, entry in _links(app)["notebooks"].items()}
    for text in list(doctree.findall(nodes.Text)):
        parent = text.parent
        if parent is None or any(isinstance(a, _SKIP) for a in _ancestors(text)):
            continue
        value = str(text)
        pieces: list[nodes.Node] = []
        done = 0
        for mention in NOTEBOOK_MENTION.finditer(value):
            for number in re.finditer(r"\d\d", mention.group(0)):
                stem = stems.get(number.group(0))
                if stem is None:
                    continue
                start = mention.start() + number.start()
                pieces.append(nodes.Text(value[done:start]))
                uri = app.builder.get_relative_uri(docname, f"notebooks/{stem}")
                pieces.append(nodes.reference("", number.group(0), refuri=uri, internal=True, reftitle=titles[stem],
                                              classes=["ppo-notebook-link"]))
                done = start + 2
        if pieces:
            pieces.append(nodes.Text(value[done:]))
            parent.replace(text, pieces)


def _ancestors(node: nodes.Node):
    node = node.parent
    while node is not None:
        yield node
        node = node.parent


def setup(app: Sphinx) -> dict[str, Any]:
    # MathJax on every page, not only on those with math: the sidebar shows titles with math, "GAE(λ)".
    app.set_html_assets_policy("always")
    app.connect("autodoc-process-docstring", _escape_docstring_bars)
    app.connect("autodoc-process-docstring", _entry_course_line)
    app.connect("doctree-resolved", _link_mentions)
    app.connect("build-finished", _finish)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
