"""Argument checks with clear errors, shared by the course's tabular studies (:mod:`ppo_lite.course.surrogate_study`,
:mod:`ppo_lite.course.trpo`, :mod:`ppo_lite.course.kl_constrained`): each raises a ValueError that names the bad
argument and what is allowed, before any work starts."""
from __future__ import annotations

import math

from torch import Tensor

from .tabular import TabularMDP

__all__ = ["check_positive", "check_count", "check_thetas"]


def check_positive(name: str, value: float) -> None:
    """Raise a ValueError naming ``name`` unless ``value`` is a finite number > 0 (a step size, a KL bound δ)."""
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")


def check_count(name: str, value: int, minimum: int = 1) -> None:
    """Raise a ValueError naming ``name`` unless ``value`` is an int >= ``minimum`` (steps, samples, epochs)."""
    if not (isinstance(value, int) and value >= minimum):
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")


def check_thetas(mdp: TabularMDP, **thetas: Tensor) -> None:
    """Raise a ValueError naming the argument unless each logit table has the shape (S, A) of ``mdp``."""
    for name, theta in thetas.items():
        if tuple(theta.shape) != (mdp.num_states, mdp.num_actions):
            raise ValueError(f"{name} must have shape {(mdp.num_states, mdp.num_actions)}, got {tuple(theta.shape)}")

