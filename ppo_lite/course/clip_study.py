r"""Notebook 05's small studies of the clipped objective (PPO v2), beside the measurements and the sweep of
:mod:`ppo_lite.experiments.clip_eps`.

- the clipped objective :math:`\min\big(r\hat A,\ \mathrm{clip}(r, 1-\epsilon, 1+\epsilon)\hat A\big)` and the surrogate
  :math:`r\hat A` against the ratio r for :math:`\hat A = \pm1`, with the flat (zero-gradient) parts marked
  (:func:`clip_objective_curves`, what the notebook's first figure draws);
- the notebook's setting of the ratio-per-epoch study (``EPOCH_STUDY``, the arguments of
  :func:`ppo_lite.experiments.clip_eps.ratio_per_epoch`), shared with ``ppo_lite.course.plots.nb05.save_key_figures``.

Nothing here imports matplotlib; the figures are in ``ppo_lite.course.plots.nb05``.
"""
from __future__ import annotations

import torch
from torch import Tensor

from ..objectives import clipped_objective

__all__ = ["EPOCH_STUDY", "clip_objective_curves"]

#: The ratio inside one update (notebook 05, section 5): CartPole-v1, seed 0, 10 ordinary updates first, then 20
#: epochs on one rollout with the clip range 0.2 (:func:`ppo_lite.experiments.clip_eps.ratio_per_epoch`).
EPOCH_STUDY = dict(env_id="CartPole-v1", seed=0, warmup_updates=10, epochs=20, clip_eps=0.2)


def clip_objective_curves(eps: float = 0.2, r_max: float = 2.5, points: int = 501) -> dict[str, Tensor]:
    r"""The per-sample objectives against the ratio :math:`r \in [0, r_{max}]` (``points`` values), for a good and a
    bad action (:math:`\hat A = +1` and :math:`-1`): ``r``, and per sign ``s`` in ``("+1", "-1")`` the surrogate
    ``surrogate_s`` :math:`= r\hat A`, the clipped objective ``clipped_s`` (:func:`ppo_lite.objectives.clipped_objective`)
    and ``flat_s``, the mask of its flat part (:math:`r > 1+\epsilon` for :math:`\hat A > 0`, :math:`r < 1-\epsilon`
    for :math:`\hat A < 0`: zero gradient there)."""
    if not 0 < eps < 1:
        raise ValueError(f"eps must lie strictly between 0 and 1, got {eps!r}")
    if not r_max > 1 + eps:
        raise ValueError(f"r_max must exceed 1 + eps = {1 + eps}, got {r_max!r}")
    r = torch.linspace(0.0, r_max, points, dtype=torch.float64)
    out = {"r": r}
    for name, sign in (("+1", 1.0), ("-1", -1.0)):
        adv = torch.full_like(r, sign)
        out[f"surrogate_{name}"] = r * adv
        out[f"clipped_{name}"] = clipped_objective(r, adv, eps)
        out[f"flat_{name}"] = (r > 1 + eps) if sign > 0 else (r < 1 - eps)
    return out
