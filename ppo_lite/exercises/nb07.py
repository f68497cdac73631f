r"""Exercises of notebook 07: the Student-t interval of a mean, and the leave-one-out config builder.

Each ``check_*`` runs the learner's function against the reference on random inputs with
:func:`ppo_lite.exercises.check` and returns a :class:`~ppo_lite.exercises.CheckResult`.
"""
from __future__ import annotations

import math
from typing import Callable

import torch
from torch import Tensor

from ..config import PPOConfig
from ..experiments import ablation
from ._check import CheckResult, check

__all__ = ["reference_t_interval", "reference_config", "check_t_interval", "check_leave_one_out", "CONFIG_FIELDS"]

CONFIG_FIELDS = ("norm_adv", "clip_value", "norm_obs", "scale_reward", "ortho_init", "anneal_lr", "max_grad_norm",
                 "ent_coef", "num_minibatches", "update_epochs", "objective_is_clip", "total_steps")
"""The PPOConfig fields the leave-one-out checker compares (``max_grad_norm`` None compares as nan)."""


def reference_t_interval(x: Tensor) -> tuple[float, float, float]:
    r"""Mean and 95% interval :math:`\bar x \pm t_{0.975,n-1}\, s/\sqrt n` (:func:`ppo_lite.experiments.ablation.t_interval`)."""
    return ablation.t_interval(x.tolist())


def reference_config(env_id: str, objective: str, setting: str) -> PPOConfig:
    """The sweep's config of one cell (:func:`ppo_lite.experiments.ablation.config_for`)."""
    return ablation.config_for(env_id, objective, setting)


def _as_tuple(cfg: PPOConfig) -> tuple[float, ...]:
    def num(v) -> float:
        return math.nan if v is None else float(v)

    return tuple(num(getattr(cfg, f)) for f in CONFIG_FIELDS[:-2]) + (float(cfg.objective == "clip"), float(cfg.total_steps))


def _t_inputs(gen: torch.Generator) -> dict:
    n = int(torch.randint(2, 12, (1,), generator=gen))
    return {"x": torch.randn(n, generator=gen, dtype=torch.float64) * 50 + 200}


def _cell_inputs(gen: torch.Generator) -> dict:
    names = ablation.settings()
    envs, objs = list(ablation.TASKS), list(ablation.OBJECTIVES)
    pick = lambda xs: xs[int(torch.randint(0, len(xs), (1,), generator=gen))]  # noqa: E731
    return {"env_id": pick(envs), "objective": pick(objs), "setting": pick(names)}


def check_t_interval(fn: Callable[[Tensor], tuple[float, float, float]]) -> CheckResult:
    """Check ``fn(x)`` returns ``(mean, low, high)`` of the 95% Student-t interval of the mean of ``x``."""
    return check(fn, reference_t_interval, _t_inputs, name="t_interval", rtol=1e-4, atol=1e-3)


def check_leave_one_out(fn: Callable[[str, str, str], PPOConfig]) -> CheckResult:
    """Check ``fn(env_id, objective, setting)`` builds the sweep's config: every detail on except those
    ``setting`` turns off (``"all on"``, ``"no <detail>"``, ``"all off"``), compared field by field."""
    return check(lambda **kw: _as_tuple(fn(**kw)), lambda **kw: _as_tuple(reference_config(**kw)), _cell_inputs,
                 name="leave_one_out", trials=40)
