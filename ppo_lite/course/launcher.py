"""Open the course: ``python -m ppo_lite.course`` starts JupyterLab on ``notebooks/`` at ``00_orientation.ipynb``.

Everything the notebooks need comes from ``pip install -r requirements.txt`` (JupyterLab 4, ipywidgets 8 and its
JupyterLab extension ``jupyterlab_widgets`` 3, ipykernel, matplotlib). Before it starts JupyterLab the launcher
checks that the widget packages are there and of matching major versions — a mismatch otherwise shows up only
in the browser, as "Error displaying widget" under every slider of notebooks 05 and later.

Arguments the launcher does not know are passed to JupyterLab unchanged::

    python -m ppo_lite.course                          # opens the browser at 00_orientation.ipynb
    python -m ppo_lite.course --no-browser --port 8890 # JupyterLab's own options pass through
    python -m ppo_lite.course --notebooks DIR          # serve another copy of the notebooks

``--allow-root`` is added only when running as root (JupyterLab refuses to start as root without it; CI and
containers run as root). Importing this module imports nothing beyond the standard library.
"""
from __future__ import annotations

import argparse
import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

from ..paths import notebooks_dir

__all__ = ["FIRST_NOTEBOOK", "default_notebooks_dir", "check_widgets", "build_command", "main"]

#: The notebook the course opens at.
FIRST_NOTEBOOK = "00_orientation.ipynb"

#: ipywidgets major version -> the jupyterlab_widgets major version whose JupyterLab extension renders it.
_WIDGETS_LAB_MAJOR = {8: 3, 7: 1}


def default_notebooks_dir() -> Path:
    """The course's ``notebooks/`` folder: beside the ``ppo_lite`` package in the repository checkout."""
    return notebooks_dir()


def _major(version: str) -> int:
    return int(version.split(".")[0])


def check_widgets() -> list[str]:
    """Problems that would stop the notebooks' sliders from rendering in JupyterLab ([] when there are none).

    ipywidgets (kernel side) and jupyterlab_widgets (the JupyterLab extension
    ``@jupyter-widgets/jupyterlab-manager``) must both be installed, with majors that belong together
    (ipywidgets 8 with jupyterlab_widgets 3).
    """
    versions: dict[str, str] = {}
    problems = []
    for name in ("jupyterlab", "ipywidgets", "jupyterlab_widgets", "ipykernel"):
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            problems.append(f"{name} is not installed")
    if "ipywidgets" in versions and "jupyterlab_widgets" in versions:
        want = _WIDGETS_LAB_MAJOR.get(_major(versions["ipywidgets"]))
        if want is not None and _major(versions["jupyterlab_widgets"]) != want:
            problems.append(f"ipywidgets {versions['ipywidgets']} needs jupyterlab_widgets {want}.x, "
                            f"found {versions['jupyterlab_widgets']}")
    return problems


def build_command(notebooks_dir: Path, extra_args: list[str], python: str = sys.executable,
                  as_root: bool | None = None) -> list[str]:
    """The JupyterLab command line: served from ``notebooks_dir``, opening :data:`FIRST_NOTEBOOK`.

    ``--allow-root`` is added when ``as_root`` (default: the effective user id is 0) and not already given;
    ``extra_args`` come last, so an option given there (``--port``, ``--no-browser``, ...) is JupyterLab's.
    """
    if as_root is None:
        as_root = hasattr(os, "geteuid") and os.geteuid() == 0
    cmd = [python, "-m", "jupyterlab",
           f"--ServerApp.root_dir={notebooks_dir}",
           # Where the browser lands (also the address JupyterLab prints with --no-browser).
           f"--LabApp.default_url=/lab/tree/{FIRST_NOTEBOOK}"]
    if as_root and "--allow-root" not in extra_args:
        cmd.append("--allow-root")
    return cmd + list(extra_args)


def main(argv: list[str] | None = None) -> int:
    """Check the widget packages, then run JupyterLab on the notebooks (returns JupyterLab's exit status)."""
    parser = argparse.ArgumentParser(
        allow_abbrev=False,  # never mistake a JupyterLab option (--notebook-dir, ...) for one of ours
        prog="python -m ppo_lite.course",
        description="Open the ppo_lite course in JupyterLab at notebooks/00_orientation.ipynb. "
                    "Options not listed here (--no-browser, --port 8890, ...) are passed to JupyterLab.")
    parser.add_argument("--notebooks", type=Path, default=None, metavar="DIR",
                        help="folder to serve (default: the repository's notebooks/)")
    parser.add_argument("--print-command", action="store_true",
                        help="print the JupyterLab command line and exit without starting it")
    args, extra = parser.parse_known_args(argv)
    notebooks_dir = (args.notebooks or default_notebooks_dir()).resolve()
    if not (notebooks_dir / FIRST_NOTEBOOK).is_file():
        parser.error(f"{notebooks_dir / FIRST_NOTEBOOK} not found: --notebooks must name the course's notebooks/ "
                     "folder (run from a checkout of the repository, installed with `pip install -r requirements.txt`)")
    problems = check_widgets()
    if problems:
        print("ppo_lite.course: the notebooks' widgets would not render:\n  - " + "\n  - ".join(problems)
              + "\nFix: pip install -r requirements.txt", file=sys.stderr)
        return 2
    cmd = build_command(notebooks_dir, extra)
    if args.print_command:
        print(subprocess.list2cmdline(cmd))
        return 0
    print(f"ppo_lite.course: starting JupyterLab on {notebooks_dir} (Ctrl+C to stop)", flush=True)
    if os.name == "posix":
        # Become JupyterLab: Ctrl+C, its "Shutdown this Jupyter server (y/[n])?" prompt and SIGTERM reach it
        # directly, and it shuts its kernels down itself.
        os.execv(cmd[0], cmd)
    # Elsewhere JupyterLab runs as a child; Ctrl+C reaches it too, and the launcher just waits for it.
    with subprocess.Popen(cmd) as proc:
        while True:
            try:
                return proc.wait()
            except KeyboardInterrupt:
                continue

if __name__ == "__main__":
    sys.exit(main())
