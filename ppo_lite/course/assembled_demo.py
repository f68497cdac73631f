"""Notebook 06's live demonstration and the committed results it reads (PPO assembled).

- :func:`lr_demo`: the learning-rate demonstration of section 3, the same seed trained with a sane and a far too
  high constant learning rate (settings ``LR_DEMO``), whose four diagnostics the notebook reads;
- :func:`load_results`: the committed results of ``python -m ppo_lite.experiments assembled``
  (``figures/assembled.json``), PPO v1 against PPO v2 on ten seeds.

Both are shared with ``ppo_lite.course.plots.nb06.save_key_figures`` so that its PNGs are the notebook's figures.
Nothing here imports matplotlib.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..config import PPOConfig
from ..experiments import FIGURES
from ..history import History
from ..trainer import train

__all__ = ["LR_DEMO", "lr_demo", "load_results"]

LR_DEMO = dict(env_id="CartPole-v1", total_steps=6_144, seed=0, lrs=(1e-3, 3e-2))
"""The notebook's learning-rate demonstration: same seed, a sane and a far too high learning rate."""


def lr_demo(seed: int | None = None) -> dict[str, History]:
    """Train the notebook's learning-rate demonstration (``LR_DEMO``; about 10 s per run on an idle core): one run per
    learning rate, constant (no annealing), on CPU, keyed ``"lr=0.001"``, ``"lr=0.03"``. ``seed`` replaces
    ``LR_DEMO["seed"]`` (to try another seed)."""
    seed = LR_DEMO["seed"] if seed is None else seed
    out = {}
    for lr in LR_DEMO["lrs"]:
        cfg = PPOConfig.for_env(LR_DEMO["env_id"], seed=seed, total_steps=LR_DEMO["total_steps"], lr=lr,
                                anneal_lr=False, device="cpu")
        out[f"lr={lr:g}"] = train(cfg, progress=False)
    return out


def load_results(path: Path | None = None) -> dict[str, Any]:
    """The committed results of ``python -m ppo_lite.experiments assembled`` (``figures/assembled.json`` by default)."""
    return json.loads(Path(path or FIGURES / "assembled.json").read_text())
