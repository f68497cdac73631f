"""The clip-ε slider of notebook 05 works where learners use it: in JupyterLab, in a browser.

``pytest --nbval`` proves that the notebooks execute; it cannot see whether a widget renders and redraws. This test
takes the learner's path: it starts JupyterLab with the course launcher (``python -m ppo_lite.course``) on a
temporary copy of the notebooks (so nothing in the repository is modified), opens
``05_ppo_v2_clip.ipynb`` in headless Chromium driven by Playwright, runs all cells from the Run menu, waits for the
ε slider to render, moves it with the keyboard and checks that the plot's pixels changed and that no cell shows an
error. It prints the time from the key press to the redrawn plot, measured in the page with ``performance.now()``
(reported, not asserted: timing targets live in ``bench/``).

Needs Debian's Chromium and the ``playwright`` package (no browser download):
``apt-get install -y chromium && pip install playwright`` (or ``bash .ci/install_browser.sh``). Without them the
test is skipped, except under CI (``CI=true``), where it fails: there the browser test is part of the suite.

Screenshots land in the test's tmp folder; ``PPO_LITE_UPDATE_SCREENSHOT=1`` also writes
``figures/jupyterlab_clip_slider.png`` (the README's picture).
"""
from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = REPO / "notebooks"
NOTEBOOK = "05_ppo_v2_clip.ipynb"
FIRST_NOTEBOOK = "00_orientation.ipynb"  # the launcher refuses a folder without it
SCREENSHOT = REPO / "figures" / "jupyterlab_clip_slider.png"
INSTALL_HINT = "apt-get install -y chromium && pip install playwright  (or: bash .ci/install_browser.sh)"
# Debian's Chromium, headless, as root, on a machine that reaches no network but the package registries.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

# Bounded waits (seconds), generous for a loaded 2-core machine.
SERVER_START_S = 90
PAGE_LOAD_S = 90
RUN_ALL_S = 150
REDRAW_S = 30
SHUTDOWN_S = 30


def _chromium() -> str | None:
    found = shutil.which("chromium")
    if found:
        return found
    return "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None


def _skip_or_fail(why: str) -> None:
    message = f"{why}; install it with: {INSTALL_HINT}"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{message} (CI runs the browser test: .ci/run must call .ci/install_browser.sh)")
    pytest.skip(message)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _processes() -> dict[int, tuple[int, str]]:
    """pid -> (process group, command line) of every live (non-zombie) process, read from /proc."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()  # after "pid (comm) ": state ppid pgrp ...
        if fields[0] == "Z":
            continue
        found[int(entry)] = (int(fields[2]), cmdline)
    return found


class Lab:
    """A JupyterLab server started by the course launcher on a copy of the notebooks, and what it left behind."""

    def __init__(self, tmp_path: Path) -> None:
        self.root = tmp_path / "notebooks"
        self.root.mkdir()
        for name in (FIRST_NOTEBOOK, NOTEBOOK):
            shutil.copy2(NOTEBOOKS / name, self.root / name)
        self.runtime_dir = tmp_path / "jupyter-runtime"  # kernels' connection files
        self.profile_dir = tmp_path / "chromium-profile"  # the browser's fresh --user-data-dir
        self.port = _free_port()
        self.token = secrets.token_hex(24)
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = tmp_path / "jupyterlab.log"
        settings = tmp_path / "lab-user-settings"
        # No "official Jupyter news?" toast over the screenshot, and no update check (there is no network).
        notification = settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
        notification.parent.mkdir(parents=True)
        notification.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
        env = dict(os.environ,
                   JUPYTER_RUNTIME_DIR=str(self.runtime_dir),
                   JUPYTER_CONFIG_DIR=str(tmp_path / "jupyter-config"),  # no user config (passwords, themes)
                   PYTHONUNBUFFERED="1")
        cmd = [sys.executable, "-m", "ppo_lite.course", "--notebooks", str(self.root),
               "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={self.port}",
               "--ServerApp.port_retries=0", f"--IdentityProvider.token={self.token}",
               f"--LabApp.user_settings_dir={settings}", f"--LabApp.workspaces_dir={tmp_path / 'lab-workspaces'}"]
        self.log = open(self.log_path, "wb")
        # Its own process group, so that teardown can signal JupyterLab and anything it started.
        self.proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        self.kernel_pids: set[int] = set()
        self.leftovers: dict[int, str] = {}

    def log_tail(self, chars: int = 3000) -> str:
        self.log.flush()
        return self.log_path.read_text(errors="replace")[-chars:]

    def api(self, path: str, method: str = "GET", timeout: float = 10):
        request = urllib.request.Request(f"{self.url}{path}", method=method,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read()
            return json.loads(body) if body else None

    def wait_ready(self) -> float:
        start = time.monotonic()
        while time.monotonic() - start < SERVER_START_S:
            if self.proc.poll() is not None:
                pytest.fail(f"JupyterLab exited with {self.proc.returncode} while starting:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/api/status?token={self.token}", timeout=5) as response:
                    if response.status == 200:
                        return time.monotonic() - start
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.25)
        pytest.fail(f"JupyterLab did not answer /api/status within {SERVER_START_S} s:\n{self.log_tail()}")

    def processes(self) -> dict[int, str]:
        """Live processes of the server's group, kernels (their connection files lie in this test's runtime dir)
        and this test's Chromium (its profile folder): what this test started, and nothing else."""
        markers = (f"{self.runtime_dir}{os.sep}", f"--user-data-dir={self.profile_dir}")
        return {pid: cmd for pid, (pgrp, cmd) in _processes().items() if pid != os.getpid()
                and (pgrp == self.proc.pid or pid in self.kernel_pids or any(m in cmd for m in markers))}

    def shutdown(self) -> None:
        """Kernels first (through the API), then the server's process group: SIGTERM, wait, SIGKILL if needed."""
        self.kernel_pids |= {pid for pid, cmd in self.processes().items() if "ipykernel" in cmd}
        if self.proc.poll() is None:
            try:
                for kernel in self.api("/api/kernels"):
                    self.api(f"/api/kernels/{kernel['id']}", method="DELETE", timeout=SHUTDOWN_S)
            except (OSError, ValueError):
                pass  # the server may be broken; the signals below still end it
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.proc.wait(timeout=SHUTDOWN_S)
                break
            except subprocess.TimeoutExpired:
                continue
        self.proc.wait(timeout=SHUTDOWN_S)
        # Kernels run in sessions of their own: the server stops them on SIGTERM; give them a bounded while.
        deadline = time.monotonic() + SHUTDOWN_S
        while self.processes() and time.monotonic() < deadline:
            time.sleep(0.2)
        self.leftovers = self.processes()
        for pid in self.leftovers:  # never leave them running, even though the test then fails
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.log.close()


@pytest.fixture
def chromium() -> str:
    """Debian's Chromium and the playwright package, or a skip (a failure under CI) saying how to install them."""
    path = _chromium()
    if path is None:
        _skip_or_fail("Chromium is not installed (no `chromium` on PATH, no /usr/bin/chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _skip_or_fail("the Python package playwright is not installed")
    return path


@pytest.fixture
def lab(chromium, tmp_path):
    if not Path("/proc/self/stat").exists():
        pytest.skip("the process checks read /proc (Linux)")
    server = Lab(tmp_path)
    try:
        server.wait_ready()
        yield server
    finally:
        server.shutdown()
    assert server.proc.returncode is not None and not Path(f"/proc/{server.proc.pid}").exists(), \
        f"JupyterLab (pid {server.proc.pid}) is still there after shutdown"
    assert not server.leftovers, f"processes left behind after JupyterLab shut down (killed now): {server.leftovers}"


# In-page probes (JavaScript), kept here so that the test reads as the learner's steps.
EPS_SLIDER = ".widget-slider:has-text('ε')"  # an ipywidgets slider whose label names ε

_CELLS_STATE = """() => {
  const cells = [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell')];
  const prompts = cells.map(c => (c.querySelector('.jp-InputPrompt') || {}).textContent || '');
  const panel = '.jp-NotebookPanel:not(.lm-mod-hidden) ';
  const indicator = document.querySelector(panel + '.jp-Notebook-ExecutionIndicator');
  const name = document.querySelector(panel + '.jp-Toolbar-kernelName');
  return {cells: cells.length, prompts, kernel: indicator ? indicator.getAttribute('data-status') : null,
          kernelName: name ? name.textContent.trim() : null};
}"""

_ARM_REDRAW_TIMER = """(img) => {
  const probe = window.__redraw = {old: img.src, key: null, src: null, shown: null};
  document.addEventListener('keydown', () => { if (probe.key === null) probe.key = performance.now(); },
                            {capture: true, once: true});
  const observer = new MutationObserver(() => {
    if (probe.src !== null || img.src === probe.old) return;
    probe.src = performance.now();
    observer.disconnect();
    img.decode().catch(() => null).then(() => requestAnimationFrame(() => { probe.shown = performance.now(); }));
  });
  observer.observe(img, {attributes: true, attributeFilter: ['src']});
}"""

_SLIDERS = """() => [...document.querySelectorAll('.widget-slider')].map(s => ({
  label: (s.querySelector('.widget-label') || {}).textContent, readout: (s.querySelector('.widget-readout') || {}).textContent,
  focused: s.contains(document.activeElement)}))"""

_IMAGE_BYTES = """async (img) => {
  if (!img.complete || img.naturalWidth === 0) throw new Error('the plot image is not rendered');
  const blob = await (await fetch(img.src)).blob();
  return await new Promise((ok, fail) => { const r = new FileReader(); r.onload = () => ok(r.result);
                                           r.onerror = fail; r.readAsDataURL(blob); });
}"""

_ERRORS_SHOWN = """() => {
  const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
  const found = [];
  for (const out of panel.querySelectorAll('[data-mime-type="application/vnd.jupyter.stderr"]')) {
    const text = out.textContent;
    if (/Traceback|Error/.test(text)) found.push(text.slice(0, 2000));
  }
  for (const out of panel.querySelectorAll('.jp-OutputArea-output')) {
    if (/Error displaying widget|Error rendering/.test(out.textContent)) found.push(out.textContent.slice(0, 500));
  }
  return found;
}"""


def _pixels_changed(before: bytes, after: bytes) -> int:
    """How many pixels differ between two PNG images (PIL if installed, else 'the bytes differ' as 0/1)."""
    try:
        from PIL import Image, ImageChops
    except ImportError:
        return int(before != after)
    import io

    a = Image.open(io.BytesIO(before)).convert("RGB")
    b = Image.open(io.BytesIO(after)).convert("RGB")
    if a.size != b.size:
        return a.size[0] * a.size[1]
    return sum(ImageChops.difference(a, b).convert("L").histogram()[17:])  # pixels that moved by more than 16/255


def test_clip_slider_redraws_in_jupyterlab(chromium, lab, tmp_path):
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    # The launcher's landing page is the first notebook.
    request = urllib.request.Request(f"{lab.url}/?token={lab.token}")
    opener = urllib.request.build_opener(type("NoRedirect", (urllib.request.HTTPRedirectHandler,),
                                              {"redirect_request": lambda *a, **k: None}))
    try:
        opener.open(request, timeout=10)
        landing = None
    except urllib.error.HTTPError as redirect:
        landing = redirect.headers.get("Location")
    assert landing and landing.split("?")[0].endswith(f"/lab/tree/{FIRST_NOTEBOOK}"), landing

    console: list[str] = []
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(lab.profile_dir), executable_path=chromium, headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 900})
        try:
            page = context.pages[0] if context.pages else context.new_page()
            page.set_default_timeout(PAGE_LOAD_S * 1000)
            page.on("console", lambda m: console.append(f"{m.type}: {m.text}") if m.type in ("error", "warning") else None)
            page.on("pageerror", lambda e: console.append(f"pageerror: {e}"))

            def wait_until(js: str, seconds: float, what: str) -> None:
                """Bounded poll of a condition in the page, accepting JupyterLab's "Select Kernel" dialog whenever
                it shows (it can, when the kernel specs load late on a busy machine); on time-out, fail saying
                what the page showed."""
                deadline = time.monotonic() + seconds
                while True:
                    select_kernel = page.locator(".jp-Dialog", has_text="Select Kernel")
                    if select_kernel.count():
                        select_kernel.locator(".jp-mod-accept").click()
                    try:
                        page.wait_for_function(js, timeout=500)
                        return
                    except PlaywrightTimeout:
                        if time.monotonic() > deadline:
                            break
                page.screenshot(path=str(tmp_path / "timeout.png"))
                pytest.fail(f"no {what} within {seconds} s; cells: {page.evaluate(_CELLS_STATE)}; "
                            f"sliders: {page.evaluate(_SLIDERS)}; redraw probe: {page.evaluate('window.__redraw')}; "
                            f"errors shown: "
                            f"{page.evaluate(_ERRORS_SHOWN)}; console: {console[-10:]}; screenshot: "
                            f"{tmp_path / 'timeout.png'}\nJupyterLab log:\n{lab.log_tail(1500)}")

            def menu(name: str, item: str) -> None:
                """Click a menu of JupyterLab's menu bar, then one of its items (by the labels a learner reads)."""
                page.locator("#jp-MainMenu .lm-MenuBar-item").get_by_text(name, exact=True).click()
                page.locator(".lm-Menu .lm-Menu-itemLabel").get_by_text(item, exact=True).click()

            # 1. Open the notebook, as a learner does from the file browser or a link.
            page.goto(f"{lab.url}/lab/tree/{NOTEBOOK}?token={lab.token}", wait_until="domcontentloaded")
            page.wait_for_selector(".jp-NotebookPanel .jp-CodeCell", state="attached")
            # Started and idle: the toolbar names the kernel ("No Kernel" reads idle too, before it starts).
            wait_until(f"""() => {{ const s = ({_CELLS_STATE})();
                    return s.kernel === 'idle' && s.kernelName && s.kernelName.startsWith('Python'); }}""",
                       PAGE_LOAD_S, "started, idle Python kernel")

            # 2. Run → Run All Cells. Cleared prompts first, so that "done" means numbered by this kernel.
            menu("Edit", "Clear Outputs of All Cells")
            t_run = time.monotonic()
            menu("Run", "Run All Cells")
            wait_until(f"""() => {{ const s = ({_CELLS_STATE})();
                    return s.kernel === 'idle' && s.prompts.every(p => !p.includes('*'))
                           && s.prompts.some(p => /\\[\\d+\\]/.test(p)); }}""", RUN_ALL_S, "end of Run All")
            run_all_s = time.monotonic() - t_run
            errors = page.evaluate(_ERRORS_SHOWN)
            assert not errors, f"cells show errors after Run All:\n" + "\n---\n".join(errors)
            state = page.evaluate(_CELLS_STATE)
            assert all("[" in p and "*" not in p and any(ch.isdigit() for ch in p) for p in state["prompts"]), \
                f"not every code cell ran: prompts {state['prompts']}"

            # 3. The ε sliders rendered, each in an explorer: a VBox of controls above its own plot (an <img>).
            explorers = page.locator(".widget-vbox").filter(has=page.locator(EPS_SLIDER))
            explorers.first.wait_for(state="visible", timeout=REDRAW_S * 1000)
            assert page.locator(".jp-OutputArea-output", has_text="Error displaying widget").count() == 0

            def plot_shot(explorer, name: str) -> bytes:
                """The PNG the explorer's <img> shows (the bytes behind its blob: URL, so that the comparison is
                exact and not disturbed by scrolling), after checking that it is rendered; a screenshot of it, scrolled
                to the middle of the window, is saved for people."""
                page.evaluate("(el) => el.scrollIntoView({block: 'center'})", explorer.element_handle())
                img = explorer.locator("img").first
                img.screenshot(path=str(tmp_path / f"{name}.png"))
                data_url = img.evaluate(_IMAGE_BYTES)
                assert data_url.startswith("data:image/png;base64,"), f"{name}: the plot is not a PNG: {data_url[:80]}"
                return base64.b64decode(data_url.split(",", 1)[1])

            def press(explorer, key: str, what: str) -> float:
                """Press a key on the slider's focused handle; ms from the key press to the redrawn plot shown."""
                page.evaluate(_ARM_REDRAW_TIMER, explorer.locator("img").first.element_handle())
                explorer.locator(EPS_SLIDER).first.locator(".noUi-handle").first.press(key)
                wait_until("() => window.__redraw.shown !== null", REDRAW_S, f"redrawn plot after {what}")
                probe = page.evaluate("window.__redraw")
                return probe["shown"] - probe["key"]

            # 4. Move each ε slider with the keyboard and back; time each key press to its redrawn plot.
            latencies_ms: list[list[float]] = []
            moves, mismatched = [], []
            for k in range(explorers.count()):
                explorer = explorers.nth(k)
                readout = explorer.locator(EPS_SLIDER).first.locator(".widget-readout")
                value = readout.text_content().strip()
                shown_first = plot_shot(explorer, f"plot{k}_first")
                if k == 0:
                    page.screenshot(path=str(tmp_path / "jupyterlab_before.png"))
                steps = 3 if k == 0 else 1
                times = [press(explorer, "ArrowRight", f"ArrowRight {i + 1} on ε slider {k}") for i in range(steps)]
                moved_to = readout.text_content().strip()
                assert moved_to != value, f"ε slider {k}: the readout did not move from {value}"
                moved = plot_shot(explorer, f"plot{k}_moved")
                if k == 0:
                    page.screenshot(path=str(tmp_path / "jupyterlab_after.png"))
                changed = _pixels_changed(shown_first, moved)
                assert changed > 0, f"ε slider {k}: {value} -> {moved_to} left the plot's pixels unchanged"
                times += [press(explorer, "ArrowLeft", f"ArrowLeft {i + 1} on ε slider {k}") for i in range(steps)]
                assert readout.text_content().strip() == value, f"ε slider {k}: back to {readout.text_content().strip()}, not {value}"
                back = plot_shot(explorer, f"plot{k}_back")
                latencies_ms.append(times)
                moves.append(f"slider {k}: ε {value} -> {moved_to}, {changed} plot pixels changed")
                if _pixels_changed(shown_first, back):
                    mismatched.append(k)

            errors = page.evaluate(_ERRORS_SHOWN)
            assert not errors, f"cells show errors after moving the sliders:\n" + "\n---\n".join(errors)
            widget_console = [m for m in console if "widget" in m.lower() or "model" in m.lower()]
            assert not widget_console, f"the browser console reports widget errors: {widget_console}"
            # The kernel and the browser are processes this test sees, so "nothing left behind" means something.
            ours = lab.processes().values()
            assert any("ipykernel" in cmd for cmd in ours) and any("chromium" in cmd for cmd in ours), list(ours)
        finally:
            context.close()

    if os.environ.get("PPO_LITE_UPDATE_SCREENSHOT") == "1":
        SCREENSHOT.parent.mkdir(exist_ok=True)
        shutil.copyfile(tmp_path / "jupyterlab_after.png", SCREENSHOT)
    print(f"\nRun All: {run_all_s:.1f} s; " + "; ".join(moves))
    for k, times in enumerate(latencies_ms):
        print(f"ε slider {k}: key press -> redrawn plot shown (in the browser, performance.now()): "
              + ", ".join(f"{ms:.0f}" for ms in times) + f" ms; median {statistics.median(times):.0f} ms")
    print(f"screenshots: {tmp_path}")
    assert not mismatched, (
        f"ε slider(s) {mismatched}: after Run All the plot did not show the slider's value — moving the slider away "
        "and back gave a different plot than the one first shown (a later cell changed the explorer behind the "
        "slider's back?); compare plot<k>_first.png and plot<k>_back.png in " + str(tmp_path))
    if console:
        print("browser console (errors/warnings):\n  " + "\n  ".join(console[:20]))
