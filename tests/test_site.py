"""The course as a website (``python -m ppo_lite.course.site build``), checked as a learner reads it.

The site is built once for this module (``site`` fixture: every notebook as committed, nothing executed) into a
tmp folder and served from a local ``http.server``. Without a browser the tests check the files: a page per
notebook in course order with all its figures, the README's course map as the front page, the API reference with
links both ways between modules and notebooks, no asset from outside the site, no broken internal link. In headless
Chromium (Debian's, driven by Playwright as in ``tests/test_browser.py``; skipped where missing, failed under
``CI=true``) every page loads with no console error, no failed request and no request leaving localhost, its math is
typeset and its images load; the search page finds "GAE", "dual descent" and "clip fraction" on the notebooks that
teach them; notebook 05's clip-ε slider redraws in the page and the values it plots are those of
``ppo_lite.objectives.clipped_objective``.

Needs Sphinx, MyST-NB, sphinx-book-theme and sphinx-mathjax-offline (``requirements.txt``); without them the
tests are skipped, except under CI, where they fail.
"""
from __future__ import annotations

import json
import os
import re
import threading
import urllib.parse
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import torch

from ppo_lite.objectives import clipped_objective
from ppo_lite.course.site import sources
from test_browser import CHROMIUM_ARGS, PAGE_LOAD_S, REDRAW_S, _chromium, _skip_or_fail

REPO = Path(__file__).resolve().parent.parent
CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
SEARCHES = [("GAE", "02_advantages_gae"), ("dual descent", "04_ppo_v1_kl_dual"), ("clip fraction", "05_ppo_v2_clip")]
SLIDER_NOTEBOOK = "05_ppo_v2_clip"
# The themes call Sphinx APIs that Sphinx 9 deprecates for Sphinx 11; not this project's code.
pytestmark = pytest.mark.filterwarnings("ignore:.*is deprecated. Check CHANGES for Sphinx API modifications")


# -- the sources, without building -----------------------------------------------------------------------------------
def test_notebooks_are_found_in_course_order_whatever_their_number(tmp_path):
    for name in ["10_debugging.ipynb", "02_b.ipynb", "notes.ipynb", "05_a.ipynb", "1_short.ipynb", "09_z.txt"]:
        (tmp_path / name).write_text("{}")
    assert [p.name for p in sources.course_notebooks(tmp_path)] == ["02_b.ipynb", "05_a.ipynb", "10_debugging.ipynb"]
    with pytest.raises(ValueError, match="no notebooks folder"):
        sources.course_notebooks(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no NN_"):
        sources.course_notebooks(tmp_path / "empty")


def test_course_table_is_read_from_the_readme():
    parts = sources.readme_parts((REPO / "README.md").read_text())
    rows = sources.course_table(parts["course"])
    by_name = {row.notebook: row for row in rows}
    assert parts["title"].startswith("ppo_lite")
    assert "00_orientation" in by_name and "05_ppo_v2_clip" in by_name
    assert "objectives" in by_name["05_ppo_v2_clip"].backed_by
    assert sources.resolve_module("objectives") == "ppo_lite.objectives"
    assert sources.resolve_module("experiments.clip_eps") == "ppo_lite.experiments.clip_eps"
    assert sources.resolve_module("ppo_lite.train") == "ppo_lite.trainer"  # a name the package exports
    assert sources.resolve_module("no_such_thing") is None
    with pytest.raises(ValueError, match="no line '## The course'"):
        sources.readme_parts("# title\n\n## Other\n")
    with pytest.raises(ValueError, match="no table"):
        sources.course_table("just prose\n")


def test_notebook_mentions_and_imports():
    assert sources.mentioned_notebooks("notebooks 01, 03, 04, 05; see notebook 09 and notebooks 07 and 08") == \
        ["01", "03", "04", "05", "07", "08", "09"]
    assert sources.mentioned_notebooks("notebooks 03/04, not 2 notebooks or notebook 5") == ["03", "04"]
    cells = ["%matplotlib inline\nfrom ppo_lite import PPOConfig\nfrom ppo_lite.course import tabular as tab\nimport ppo_lite.kl",
             "from ppo_lite.experiments import FIGURES, clip_eps as sweep\nfrom ppo_lite.objectives import ratio",
             "this is not python ("]
    notebook = {"cells": [{"cell_type": "code", "source": c} for c in cells] + [
        {"cell_type": "markdown", "source": "from ppo_lite import batched"}]}
    assert sources.notebook_imports(notebook) == {
        "ppo_lite.config", "ppo_lite.course.tabular", "ppo_lite.kl", "ppo_lite.experiments", "ppo_lite.experiments.clip_eps",
        "ppo_lite.objectives"}


def test_bars_in_docstring_prose_are_escaped_but_not_in_math_or_code():
    lines = ["mean of |r - 1| and :math:`|r-1|` and ``a|b``", "", ".. math::", "", "   |x|", "", "after |y|",
             "+---+---+", "| a | b |", ".. math:: |z|", "   + |w|", "Example::", "", "   f(|v|)", "end |u|"]
    assert sources.escape_bars(lines) == [
        "mean of \\|r - 1\\| and :math:`|r-1|` and ``a|b``", "", ".. math::", "", "   |x|", "", "after \\|y\\|",
        "+---+---+", "| a | b |", ".. math:: |z|", "   + |w|", "Example::", "", "   f(|v|)", "end \\|u\\|"]


def test_a_new_notebook_gets_a_page_and_a_row_before_the_readme_lists_it(tmp_path):
    """A notebook the README's table does not list yet (10_debugging, say) is on the front page and has a page."""
    (tmp_path / "notebooks").mkdir()
    readme = (REPO / "README.md").read_text().splitlines()
    (tmp_path / "README.md").write_text("\n".join(l for l in readme if not l.startswith("| `10_debugging`")) + "\n")  # not listed yet
    (tmp_path / "ppo_lite").symlink_to(REPO / "ppo_lite")
    for name, title in [("00_orientation", "00 — Orientation"), ("10_debugging", "10 — Debugging PPO")]:
        cells = [{"cell_type": "markdown", "metadata": {}, "source": f"# {title}\n"},
                 {"cell_type": "markdown", "metadata": {}, "source": '<a id="losses"></a>\n**Why?** See [§1](#losses), [x](#other)'},
                 {"cell_type": "code", "metadata": {}, "execution_count": 1, "outputs": [],
                  "source": "from ppo_lite.objectives import clip_fraction"}]
        (tmp_path / "notebooks" / f"{name}.ipynb").write_text(json.dumps({"cells": cells, "metadata": {},
                                                                          "nbformat": 4, "nbformat_minor": 5}))
    links = sources.write_sources(tmp_path / "src", tmp_path)
    assert list(links["notebooks"]) == ["00_orientation", "10_debugging"]
    front = (tmp_path / "src" / "index.md").read_text()
    assert "{doc}`10_debugging <notebooks/10_debugging>` | 10 — Debugging PPO |" in front
    assert "{doc}`01_policy_gradients" not in front and "`01_policy_gradients`" in front  # listed, but no page
    assert links["notebooks"]["10_debugging"]["uses"] == ["ppo_lite.objectives"]
    page = json.loads((tmp_path / "src" / "notebooks" / "10_debugging.ipynb").read_text())
    assert page["cells"][0]["source"].startswith("# 10") and "{py:mod}`objectives <ppo_lite.objectives>`" in \
        page["cells"][1]["source"]
    # JupyterLab's HTML anchors become site-wide targets named after the notebook, and the links follow them.
    assert page["cells"][2]["source"] == "\n(10_debugging-losses)=\n**Why?** See [§1](#10_debugging-losses), [x](#other)"
    with pytest.raises(ValueError, match="not empty"):
        sources.write_sources(tmp_path / "src", tmp_path)


# -- the built site ----------------------------------------------------------------------------------------------------
def _need_site_tools() -> None:
    for module in ("sphinx", "myst_nb", "sphinx_book_theme"):
        try:
            __import__(module)
        except ImportError:
            message = f"the site needs the package {module}: pip install -r requirements.txt"
            if CI:
                pytest.fail(message + " (CI builds the site)")
            pytest.skip(message)


@dataclass
class Site:
    out: Path
    built: dict[str, Any]
    notebooks: list[Path] = field(default_factory=list)

    def html(self, page: str) -> str:
        return (self.out / page).read_text()


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Site:
    _need_site_tools()
    from ppo_lite.course.site import build

    out = tmp_path_factory.mktemp("site") / "html"
    built = build(out)
    print(f"\nsite built in {built['seconds']:.1f} s: {built['files']} files, {built['bytes'] / 2**20:.1f} MiB, "
          f"{len(built['warnings'])} Sphinx warning(s)")
    return Site(out, built, sources.course_notebooks(REPO / "notebooks"))


class _Tags(HTMLParser):
    """Every start tag of a page, as (tag, attributes)."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, {k: v or "" for k, v in attrs}))


def _tags(html: str) -> list[tuple[str, dict[str, str]]]:
    parser = _Tags()
    parser.feed(html)
    return parser.tags


def _pages(site: Site) -> list[str]:
    """The site's pages (not the themes' template fragments that Sphinx copies into _static/)."""
    return sorted(str(p.relative_to(site.out)) for p in site.out.rglob("*.html") if p.parts[len(site.out.parts)] != "_static")


def test_a_page_per_notebook_in_course_order_with_every_figure(site):
    for path in site.notebooks:
        page = site.html(f"notebooks/{path.stem}.html")
        notebook = json.loads(path.read_text())
        figures = sum(1 for cell in notebook["cells"] for output in cell.get("outputs", [])
                      if {"image/png", "image/gif"} & set(output.get("data", {})))
        shown = [a["src"] for tag, a in _tags(page) if tag == "img" and "_images/" in a.get("src", "")]
        assert len(shown) == figures, f"{path.stem}: {len(shown)} images on the page, {figures} figure outputs"
        assert all((site.out / "notebooks" / src).resolve().is_file() for src in shown), path.stem
    # The site's navigation (the sidebar, then the course map) lists the notebooks in course order.
    linked = re.findall(r'href="notebooks/(\d\d_\w+)\.html"', site.html("index.html"))
    assert list(dict.fromkeys(linked)) == [p.stem for p in site.notebooks]


def test_front_page_is_the_readmes_course_map(site):
    rows = sources.course_table(sources.readme_parts((REPO / "README.md").read_text())["course"])
    page = site.html("index.html")
    table = page[page.index("<table"):page.index("</table>")]
    linked = re.findall(r'href="notebooks/(\d\d_\w+)\.html"', table)
    assert linked == [row.notebook for row in rows if (REPO / "notebooks" / f"{row.notebook}.ipynb").exists()] + [
        p.stem for p in site.notebooks if p.stem not in {row.notebook for row in rows}]
    assert 'href="api/ppo_lite.objectives.html#module-ppo_lite.objectives"' in table  # "backed by" links the API
    assert "the likelihood-ratio trick" in table


def test_api_reference_links_each_module_and_entry_to_its_notebooks(site):
    links = site.built["links"]
    for module in sources.api_modules(REPO / "ppo_lite"):
        page = site.html(f"api/{module}.html")
        assert f'id="module-{module}"' in page, module
        for stem in links["modules"][module]["derived_in"] + links["modules"][module]["used_in"]:
            assert f'href="../notebooks/{stem}.html"' in page, f"{module}'s page does not link notebook {stem}"
    # The d2l habit: the entry itself points to the notebook that derives it; its formula is typeset math.
    page = site.html("api/ppo_lite.objectives.html")
    entry = page[page.index('id="ppo_lite.objectives.clipped_objective"'):]
    entry = entry[:entry.index("</dd>")]
    assert 'href="../notebooks/05_ppo_v2_clip.html"' in entry
    assert '<span class="math' in entry and r"\mathrm{clip}" in entry
    # ... and each notebook page to the modules it derives and uses.
    for stem, entry in links["notebooks"].items():
        page = site.html(f"notebooks/{stem}.html")
        for module in entry["derives"] + entry["uses"]:
            assert f'href="../api/{module}.html#module-{module}"' in page, f"{stem} does not link {module}"
    assert "ppo_lite.objectives" in links["notebooks"]["05_ppo_v2_clip"]["derives"]


def test_no_asset_comes_from_outside_the_site_and_no_internal_link_is_broken(site):
    assets = {"script": "src", "img": "src", "iframe": "src", "source": "src", "video": "src", "audio": "src",
              "link": "href", "embed": "src"}
    outside, broken = [], []
    for name in _pages(site):
        for tag, attrs in _tags(site.html(name)):
            target = attrs.get(assets.get(tag, ""), "") if tag in assets else ""
            if target and re.match(r"^(https?:)?//", target) and not (tag == "link" and attrs.get("rel") == "canonical"):
                outside.append(f"{name}: <{tag}> {target}")
            href = attrs.get("href", "") if tag == "a" else target
            if href and not re.match(r"^([a-z]+:|//|#)", href):
                path = urllib.parse.unquote(href.split("#")[0].split("?")[0])
                if path and not (site.out / Path(name).parent / path).resolve().exists():
                    broken.append(f"{name}: {href}")
    for css in site.out.rglob("*.css"):
        outside += [f"{css.name}: {u}" for u in re.findall(r"url\(\s*['\"]?((?:https?:)?//[^)'\"]+)", css.read_text())]
    assert not outside, f"assets from outside the site: {outside[:10]}"
    assert not broken, f"internal links to missing files: {broken[:10]}"
    assert (site.out / "_static" / "mathjax" / "tex-chtml.js").is_file()
    assert 'src="../_static/mathjax/tex-chtml.js' in site.html(f"notebooks/{SLIDER_NOTEBOOK}.html")


def test_the_site_sources_build_without_warnings(site):
    """Warnings from the pages this package writes (front page, notebooks, API stubs) would be broken links or
    markup; warnings from the docstrings of other modules are printed by the build, not failed here."""
    ours = [w for w in site.built["warnings"] if re.search(r"(index\.md|notebooks/\d\d_\w+\.ipynb|api/\S+\.rst):", w)
            and "docstring of" not in w]
    assert not ours, "\n".join(ours)


# -- in the browser ----------------------------------------------------------------------------------------------------
@dataclass
class Browser:
    base: str
    context: Any  # one browser context for all pages: its cache spares each page reloading MathJax and the theme

    def open(self, path: str, wait_until: str = "load"):
        """A new page at ``path`` (loaded, unless ``wait_until`` says less), with what went wrong on it collected in ``page.problems``: console errors,
        uncaught exceptions, failed requests, HTTP errors and any request that would leave localhost (blocked)."""
        page = self.context.new_page()
        problems: list[str] = []
        host = urllib.parse.urlsplit(self.base).netloc

        def route(r):
            if urllib.parse.urlsplit(r.request.url).netloc == host:
                r.continue_()
            else:
                problems.append(f"request leaving the site: {r.request.url}")
                r.abort()

        page.route("**/*", route)
        page.set_default_timeout(PAGE_LOAD_S * 1000)
        page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
        page.on("requestfailed", lambda r: problems.append(f"failed request: {r.url} ({r.failure})"))
        page.on("response", lambda r: problems.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None)
        page.problems = problems
        page.goto(f"{self.base}/{path}", wait_until=wait_until)
        return page


@pytest.fixture(scope="module")
def browser(site):
    chromium = _chromium()
    if chromium is None:
        _skip_or_fail("Chromium is not installed (no `chromium` on PATH, no /usr/bin/chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _skip_or_fail("the Python package playwright is not installed")
    from ppo_lite.course.site import make_server

    server = make_server(site.out, port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with sync_playwright() as pw:
            chrome = pw.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
            try:
                yield Browser(f"http://127.0.0.1:{server.server_address[1]}",
                              chrome.new_context(viewport={"width": 1280, "height": 900}))
            finally:
                chrome.close()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=30)


# Waits for MathJax's first typesetting, then for every image (made eager, so none waits for scrolling).
_SETTLED = """async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) await MathJax.startup.promise;
  const images = [...document.images];
  images.forEach(img => { img.loading = 'eager'; });
  await Promise.all(images.map(img => img.decode().catch(() => null)));
  return {math: document.querySelectorAll('mjx-container').length,
          texErrors: [...document.querySelectorAll('mjx-merror')].map(e => e.textContent).slice(0, 5),
          unloaded: images.filter(img => !img.complete || img.naturalWidth === 0).map(img => img.src.slice(0, 120)),
          images: images.length};
}"""


PAGES_AT_ONCE = 4  # pages loading side by side: the browser's processes overlap their work (half the time here)


@pytest.mark.browser
def test_every_page_loads_cleanly_with_math_and_images(site, browser):
    checked, names = [], _pages(site)
    for start in range(0, len(names), PAGES_AT_ONCE):
        batch = [(name, browser.open(name, wait_until="commit")) for name in names[start:start + PAGES_AT_ONCE]]
        try:
            for name, page in batch:
                page.wait_for_load_state("load")
                state = page.evaluate(_SETTLED)
                page.wait_for_load_state("networkidle")
                assert not page.problems, f"{name}: {page.problems[:10]}"
                assert not state["unloaded"], f"{name}: images that did not load: {state['unloaded']}"
                assert not state["texErrors"], f"{name}: MathJax could not typeset: {state['texErrors']}"
                if name.startswith("notebooks/"):
                    assert state["math"] > 0, f"{name}: no typeset math"
                    assert state["images"] > 0, f"{name}: no images"
                checked.append(name)
        finally:
            for _, page in batch:
                page.close()
    assert checked == names and len(names) > len(site.notebooks)


@pytest.mark.browser
@pytest.mark.parametrize("term, notebook", SEARCHES)
def test_search_finds_the_notebook_that_teaches_a_term(browser, term, notebook):
    page = browser.open(f"search.html?q={urllib.parse.quote(term)}")
    try:
        page.wait_for_function("() => /Search finished/.test((document.querySelector('#search-results "
                               ".search-summary') || {}).textContent || '')")
        found = page.evaluate("() => [...document.querySelectorAll('#search-results ul.search li a')]"
                              ".map(a => a.getAttribute('href'))")
        notebooks = list(dict.fromkeys(href.split("#")[0] for href in found if href.startswith("notebooks/")))
        assert f"notebooks/{notebook}.html" in notebooks[:3], \
            f"search for {term!r}: {notebook} is not among the 3 best notebook pages found: {notebooks}"
        assert not page.problems, page.problems
    finally:
        page.close()


# The plotted curves, read back from the <svg>: polyline points through the axes in the svg's data-* attributes.
_PLOTTED = """(container) => [...container.querySelectorAll('svg.ppo-clip-plot')].map(svg => ({
  axes: Object.fromEntries(Object.entries(svg.dataset).map(([k, v]) => [k, parseFloat(v)])),
  clipped: svg.querySelector('.ppo-clipped').getAttribute('points'),
  surrogate: svg.querySelector('.ppo-surrogate').getAttribute('points'),
  low: parseFloat(svg.querySelector('.ppo-band-low').getAttribute('x1')),
  high: parseFloat(svg.querySelector('.ppo-band-high').getAttribute('x1'))}))"""
# Ratios at which the plotted objective is compared with ppo_lite.objectives (all on the page's grid k/200).
CHECK_R = [0.0, 0.5, 0.8, 0.9, 1.0, 1.1, 1.2, 1.25, 1.5, 2.0, 2.5]
TOLERANCE = 1e-4  # points are written to 1e-3 px; one px is ~0.015 in objective units, so reading back errs < 2e-5


def _check_plotted(plots: list[dict[str, Any]], eps: float) -> None:
    assert sorted(p["axes"]["sign"] for p in plots) == [-1.0, 1.0], plots
    for plot in plots:
        a = plot["axes"]
        sign = a["sign"]

        def data(points: str) -> torch.Tensor:
            xy = torch.tensor([[float(v) for v in p.split(",")] for p in points.split()], dtype=torch.float64)
            r = a["xMin"] + (xy[:, 0] - a["left"]) / a["width"] * (a["xMax"] - a["xMin"])
            y = a["yMax"] - (xy[:, 1] - a["top"]) / a["height"] * (a["yMax"] - a["yMin"])
            return torch.stack([r, y], 1)

        clipped, surrogate = data(plot["clipped"]), data(plot["surrogate"])
        for r in CHECK_R:
            k = int((clipped[:, 0] - r).abs().argmin())
            assert abs(clipped[k, 0] - r) < TOLERANCE, f"no plotted point at r = {r}"
            expected = float(clipped_objective(torch.tensor([r], dtype=torch.float64),
                                               torch.tensor([sign], dtype=torch.float64), eps)[0])
            assert abs(float(clipped[k, 1]) - expected) < TOLERANCE, \
                f"ε = {eps}, A = {sign:+.0f}, r = {r}: plotted {float(clipped[k, 1]):.5f}, ppo_lite.objectives {expected:.5f}"
            assert abs(float(surrogate[k, 1]) - r * sign) < TOLERANCE
        for x, edge in ((plot["low"], 1 - eps), (plot["high"], 1 + eps)):
            assert abs(a["xMin"] + (x - a["left"]) / a["width"] * (a["xMax"] - a["xMin"]) - edge) < TOLERANCE


@pytest.mark.browser
def test_clip_slider_redraws_the_objective_of_ppo_lite_objectives_in_the_page(browser, site):
    page = browser.open(f"notebooks/{SLIDER_NOTEBOOK}.html")
    try:
        slider = page.locator(".ppo-clip-slider")
        assert slider.count() == 1, "notebook 05's page has no clip-ε slider"
        page.wait_for_function("() => document.querySelector('.ppo-clip-slider').dataset.redraws === '1'")
        container = slider.element_handle()
        shown = lambda: float(slider.get_attribute("data-shown-eps"))  # noqa: E731
        assert shown() == 0.2
        first = page.evaluate(_PLOTTED, container)
        _check_plotted(first, 0.2)
        # A learner's move: focus the slider, one key press (one step of 0.01).
        slider.locator("input[type=range]").press("ArrowRight")
        page.wait_for_function("() => document.querySelector('.ppo-clip-slider').dataset.redraws === '2'",
                               timeout=REDRAW_S * 1000)
        assert abs(shown() - 0.21) < 1e-12 and slider.locator("output").text_content() == "0.21"
        moved = page.evaluate(_PLOTTED, container)
        assert [p["clipped"] for p in moved] != [p["clipped"] for p in first], "the plot did not change"
        _check_plotted(moved, shown())
        # Dragged elsewhere: the ends of the slider's range and a wide ε.
        for n, eps in enumerate(["0.05", "0.5", "0.8", "0.02"], start=3):
            page.evaluate("([el, v]) => { const i = el.querySelector('input'); i.value = v;"
                          " i.dispatchEvent(new Event('input', {bubbles: true})); }", [container, eps])
            page.wait_for_function(f"() => document.querySelector('.ppo-clip-slider').dataset.redraws === '{n}'",
                                   timeout=REDRAW_S * 1000)
            assert abs(shown() - float(eps)) < 1e-12, (shown(), eps)
            _check_plotted(page.evaluate(_PLOTTED, container), shown())
        # The sweep's slider shows the committed results' precomputed frames.
        frames = page.locator(".ppo-frames")
        assert frames.count() == 1
        before = (frames.get_attribute("data-shown-label"), frames.locator("img").get_attribute("src"))
        frames.locator("input[type=range]").press("ArrowRight")
        page.wait_for_function("(v) => document.querySelector('.ppo-frames').dataset.shownLabel !== v", arg=before[0])
        assert frames.locator("img").get_attribute("src") != before[1]
        assert frames.locator("img").evaluate("img => img.decode().then(() => img.naturalWidth)") > 0
        assert not page.problems, page.problems
    finally:
        page.close()
