r"""The course as a website: ``python -m ppo_lite.course.site build`` renders every ``notebooks/NN_*.ipynb`` as committed
(outputs and figures included, nothing re-executed) with MyST-NB on Sphinx, the README's course map as the front
page, and an API reference of ``ppo_lite`` generated from its docstrings, into ``build/site/``.

Everything a page needs is in the folder (MathJax included, :mod:`ppo_lite.course.site.ext`): it renders without a
network, opened from disk or served by ``python -m ppo_lite.course.site serve``. Notebook 05's clip-ε slider is computed
in the page (``static/clip_slider.js``); its sweep slider shows frames drawn from the committed results.
:mod:`ppo_lite.course.site.sources` says what goes where; ``tests/test_site.py`` checks the result in headless Chromium.

A course module: it imports the library (and Sphinx); the library never imports it.
"""
from __future__ import annotations

import functools
import http.server
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from .sources import REPO, write_sources

__all__ = ["CONF_DIR", "DEFAULT_OUT", "build", "make_server"]

#: Where ``conf.py`` and the static files (the sliders' script, the stylesheet) live.
CONF_DIR = Path(__file__).resolve().parent
#: The default output folder (git-ignored, as all of ``build/``).
DEFAULT_OUT = REPO / "build" / "site"


def build(out: Path = DEFAULT_OUT, repo: Path = REPO, quiet: bool = True) -> dict[str, Any]:
    """Build the site into ``out`` (replacing what is there) from the sources of ``repo``. Returns the build's
    ``seconds`` (wall time), Sphinx's ``warnings`` (their messages, also printed as they come), the ``links``
    between notebooks and modules (:func:`ppo_lite.course.site.sources.course_links`) and the size of ``out`` in
    ``bytes`` and ``files``."""
    from sphinx.application import Sphinx
    from sphinx.util.docutils import docutils_namespace

    out = Path(out).resolve()
    if out.exists() and any(out.iterdir()) and not (out / ".buildinfo").is_file():
        raise ValueError(f"refusing to build the site into {out}: it holds files and no earlier build of a site "
                         "(no .buildinfo); give an empty or new folder")
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ppo_lite_site_") as tmp:
        # Sphinx builds in the temporary folder (MyST-NB writes its output images beside the output folder, in
        # ../jupyter_execute), then the site moves to ``out``.
        srcdir, doctrees, html = Path(tmp) / "src", Path(tmp) / "doctrees", Path(tmp) / "html"
        links = write_sources(srcdir, Path(repo))
        warnings = _Warnings()
        with docutils_namespace():
            app = Sphinx(str(srcdir), str(CONF_DIR), str(html), str(doctrees), "html",
                         status=None if quiet else sys.stdout, warning=warnings, freshenv=True)
            app.build()
        if app.statuscode:
            raise RuntimeError(f"Sphinx failed (status {app.statuscode}); its messages are above")
        if out.exists():
            shutil.rmtree(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(html, out)
    files = [p for p in out.rglob("*") if p.is_file()]
    return {"seconds": time.perf_counter() - start, "warnings": warnings.messages, "links": links,
            "bytes": sum(p.stat().st_size for p in files), "files": len(files)}


class _Warnings:
    """A stream for Sphinx's warnings: printed as they come, and kept."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def write(self, text: str) -> None:
        text = re.sub(r"\x1b\[[0-9;]*m", "", text)  # Sphinx's colours
        if text.strip():
            self.messages.append(text.strip())
        print(text, end="", file=sys.stderr)

    def flush(self) -> None:
        pass


def make_server(directory: Path = DEFAULT_OUT, port: int = 8000, host: str = "127.0.0.1") -> http.server.ThreadingHTTPServer:
    """An HTTP server for the built site (``port=0``: any free port; ``server.server_address`` says which)."""
    if not (Path(directory) / "index.html").is_file():
        raise ValueError(f"no built site in {directory} (no index.html): run python -m ppo_lite.course.site build first")
    handler = functools.partial(_QuietHandler, directory=str(directory))
    return http.server.ThreadingHTTPServer((host, port), handler)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args) -> None:  # noqa: A002 (the standard library's name)
        pass
