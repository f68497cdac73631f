r"""A Gaussian's log-std collapsing early (notebook 10, section 11): ``python -m ppo_lite.experiments log_std``.

``ppo_lite``'s continuous head has a state-independent log-std, so the logged entropy is the log-std:
:math:`\bar\sigma = \exp(\mathcal H/d - \tfrac12(1 + \log 2\pi))` (:func:`ppo_lite.course.debugging.gaussian_sigma`).
The folklore (ikostrikov #214, PPO-PyTorch #23): updates that are too large shrink σ before the task is learned, and
an entropy bonus holds it up. This experiment tries to produce that collapse on Pendulum-v1 from the default wide
start (``log_std_init = 0``, σ = 1) with updates far larger than the defaults (10× the learning rate, 4× the epochs,
the rate held constant), with and without ``ent_coef = 0.01``; beside them the defaults, and a narrow start
(``log_std_init = −2``, σ ≈ 0.135) with and without the bonus. 10 seeds per arm, each arm's seeds as one batched
computation, scored by the deterministic evaluation return (:func:`ppo_lite.experiments.sweep.score_agents`), with
the entropy and KL of every update.

Writes ``figures/log_std.json`` (about 10 minutes on one CPU core).
"""
from __future__ import annotations

from typing import Any

from .stuck import run_main

COMMAND = "python -m ppo_lite.experiments log_std"
ENV_ID = "Pendulum-v1"
DEFAULT_STEPS = 40_960  # 20 updates of the classic-continuous rollout (16 envs x 128 steps): notebook 10's live budget
LARGE = {"lr": 1e-2, "update_epochs": 40, "anneal_lr": False}
"""Updates far larger than the defaults (lr 1e-3 annealed, 10 epochs): the setting that should collapse σ."""
ARMS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "large updates": LARGE,
    "large updates, ent_coef 0.01": {**LARGE, "ent_coef": 0.01},
    "log σ₀ = −2": {"log_std_init": -2.0},
    "log σ₀ = −2, ent_coef 0.01": {"log_std_init": -2.0, "ent_coef": 0.01},
}
SERIES = ("entropy", "approx_kl")


def main(argv: list[str]) -> int:
    return run_main("log_std", COMMAND, __doc__, ARMS, ENV_ID, DEFAULT_STEPS, SERIES, argv)
