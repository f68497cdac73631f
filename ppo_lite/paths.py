"""Where the checkout's folders are: the one resolver for the repository root, ``figures/`` and ``notebooks/``.

``ppo_lite`` is installed editable from its checkout (``pip install -r requirements.txt``), so the repository root
is the folder above the package. Set ``PPO_LITE_ROOT`` to point the experiments, the site and the course launcher at
another checkout or copy (its ``figures/`` and ``notebooks/`` are then read and written instead).
"""
from __future__ import annotations

import os
from pathlib import Path

__all__ = ["repo_root", "figures_dir", "notebooks_dir"]


def repo_root() -> Path:
    """The repository root: ``$PPO_LITE_ROOT`` when set, else the folder that holds the ``ppo_lite`` package."""
    override = os.environ.get("PPO_LITE_ROOT")
    return Path(override).resolve() if override else Path(__file__).resolve().parents[1]


def figures_dir() -> Path:
    """Where the experiments write their results files and figures (``<root>/figures``)."""
    return repo_root() / "figures"


def notebooks_dir() -> Path:
    """The course's notebooks (``<root>/notebooks``)."""
    return repo_root() / "notebooks"
