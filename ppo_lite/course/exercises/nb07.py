r"""Exercises of notebook 07: the Student-t interval of a mean, Holm's adjusted p-values, and the leave-one-out
config builder.

Each ``check_*`` runs the learner's function against the reference on random inputs with
:func:`ppo_lite.course.exercises.check` and returns a :class:`~ppo_lite.course.exercises.CheckResult`; the usual mistakes are
registered, so a wrong answer that makes one is told which.
"""
from __future__ import annotations

import math
from typing import Callable

import torch
from torch import Tensor

from ...experiments import stats
from ...config import PPOConfig
from ...experiments import ablation
from ._check import CheckResult, check

__all__ = [
    "check_t_interval", "check_holm", "check_leave_one_out", "CONFIG_FIELDS", "T_INTERVAL_MISTAKES", "HOLM_MISTAKES", "LEAVE_ONE_OUT_MISTAKES",
]

CONFIG_FIELDS = ("norm_adv", "clip_value", "norm_obs", "scale_reward", "ortho_init", "anneal_lr", "max_grad_norm",
                 "ent_coef", "num_minibatches", "update_epochs", "lr", "objective_is_clip", "total_steps")
"""The PPOConfig fields the leave-one-out checker compares (``max_grad_norm`` None compares as nan)."""


def _reference_t_interval(x: Tensor) -> tuple[float, float, float]:
    r"""Mean and 95% interval :math:`\bar x \pm t_{0.975,n-1}\, s/\sqrt n` (:func:`ppo_lite.experiments.stats.t_interval`)."""
    return stats.t_interval(x.tolist())


def _reference_holm(p: Tensor) -> Tensor:
    r"""Holm's adjusted p-values (:func:`ppo_lite.experiments.stats.holm`): sorted, :math:`\tilde p_{(i)} = \max_{j\le i}
    \min(1, (m-j+1) p_{(j)})`, returned in the input's order."""
    return torch.tensor(stats.holm(p.tolist()), dtype=torch.float64)


def _reference_config(env_id: str, objective: str, setting: str) -> PPOConfig:
    """The sweep's config of one cell (:func:`ppo_lite.experiments.ablation.config_for`)."""
    return ablation.config_for(env_id, objective, setting)


# -- the usual mistakes ---------------------------------------------------------------------------------------
def _normal_quantile_interval(x: Tensor) -> tuple[float, float, float]:
    m, s = x.mean().item(), x.std().item()
    half = 1.96 * s / math.sqrt(len(x))
    return m, m - half, m + half


def _population_std_interval(x: Tensor) -> tuple[float, float, float]:
    m, s = x.mean().item(), x.std(unbiased=False).item()
    half = stats.student_t_quantile(0.975, len(x) - 1) * s / math.sqrt(len(x))
    return m, m - half, m + half


T_INTERVAL_MISTAKES: dict[str, Callable[..., tuple[float, float, float]]] = {
    "used the normal quantile 1.96 instead of Student's t with n - 1 degrees of freedom": _normal_quantile_interval,
    "used the population std (divide by n) instead of the sample std (n - 1)": _population_std_interval,
}


def _bonferroni(p: Tensor) -> Tensor:
    return torch.clamp(p * len(p), max=1.0)


def _holm_without_running_max(p: Tensor) -> Tensor:
    m = len(p)
    order = torch.argsort(p, stable=True)
    adjusted = torch.clamp((m - torch.arange(m, dtype=torch.float64)) * p[order], max=1.0)
    out = torch.empty_like(p)
    out[order] = adjusted
    return out


HOLM_MISTAKES: dict[str, Callable[[Tensor], Tensor]] = {
    "multiplied every p-value by m (Bonferroni), not by m - rank + 1": _bonferroni,
    "forgot the running maximum: adjusted p-values must not decrease along the sorted order": _holm_without_running_max,
}


def _all_off_drops_epochs(env_id: str, objective: str, setting: str) -> PPOConfig:
    cfg = ablation.config_for(env_id, objective, setting)
    return cfg.replace(update_epochs=1) if setting == ablation.ALL_OFF else cfg


def _all_on_turns_every_detail_on(env_id: str, objective: str, setting: str) -> PPOConfig:
    cfg = ablation.config_for(env_id, objective, setting)
    if setting == ablation.ALL_ON:
        return cfg.replace(clip_value=True, norm_obs=True, scale_reward=True, ent_coef=0.01)
    return cfg


LEAVE_ONE_OUT_MISTAKES: dict[str, Callable[[str, str, str], PPOConfig]] = {
    "'all off' also dropped the epochs (then every objective is the same policy gradient)": _all_off_drops_epochs,
    "'all on' turned on details the tuned defaults do not use (it must be the defaults)": _all_on_turns_every_detail_on,
}


# -- inputs and checkers --------------------------------------------------------------------------------------
def _as_tuple(cfg: PPOConfig) -> tuple[float, ...]:
    def num(v) -> float:
        return math.nan if v is None else float(v)

    return tuple(num(getattr(cfg, f)) for f in CONFIG_FIELDS[:-2]) + (float(cfg.objective == "clip"), float(cfg.total_steps))


def _t_inputs(gen: torch.Generator) -> dict:
    n = int(torch.randint(2, 12, (1,), generator=gen))
    return {"x": torch.randn(n, generator=gen, dtype=torch.float64) * 50 + 200}


def _holm_inputs(gen: torch.Generator) -> dict:
    m = int(torch.randint(2, 12, (1,), generator=gen))
    p = torch.rand(m, generator=gen, dtype=torch.float64) ** 3  # many small p-values, as in a family of real effects
    return {"p": p}


def _cell_inputs(gen: torch.Generator) -> dict:
    pick = lambda xs: xs[int(torch.randint(0, len(xs), (1,), generator=gen))]  # noqa: E731
    env_id = pick(list(ablation.TASKS))
    return {"env_id": env_id, "objective": pick(list(ablation.OBJECTIVES)), "setting": pick(ablation.settings(env_id))}


def check_t_interval(fn: Callable[[Tensor], tuple[float, float, float]]) -> CheckResult:
    """Check ``fn(x)`` returns ``(mean, low, high)`` of the 95% Student-t interval of the mean of ``x``."""
    return check(fn, _reference_t_interval, _t_inputs, name="t_interval", rtol=1e-4, atol=1e-3,
                 mistakes=T_INTERVAL_MISTAKES)


def check_holm(fn: Callable[[Tensor], Tensor]) -> CheckResult:
    """Check ``fn(p)`` returns Holm's adjusted p-values of the family ``p``, in the input's order."""
    return check(fn, _reference_holm, _holm_inputs, name="holm", trials=40, rtol=1e-9, atol=1e-12, mistakes=HOLM_MISTAKES)


def check_leave_one_out(fn: Callable[[str, str, str], PPOConfig]) -> CheckResult:
    """Check ``fn(env_id, objective, setting)`` builds the sweep's config: the task's tuned defaults, less the
    details ``setting`` turns off (``"all on"``, ``"no <detail>"``, ``"all off"``, which keeps the epochs and
    minibatches), compared field by field."""
    return check(lambda **kw: _as_tuple(fn(**kw)), lambda **kw: _as_tuple(_reference_config(**kw)), _cell_inputs,
                 name="leave_one_out", trials=40,
                 mistakes={d: (lambda f: (lambda **kw: _as_tuple(f(**kw))))(f) for d, f in LEAVE_ONE_OUT_MISTAKES.items()})
