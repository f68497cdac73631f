r"""Train and score a group of agents as one batched computation: the unit of the sweeps of notebooks 07 and 09.

A sweep trains many (hyperparameters, seed) agents. Agents that share everything but the per-agent fields
(:data:`ppo_lite.batched.AGENT_FIELDS`: lr, clip ε, entropy coefficient, λ, γ) train side by side as one
:class:`~ppo_lite.batched.BatchedTrainer`; :func:`score_agents` trains such a group and scores every agent three ways
(Agarwal et al. 2021 and Andrychowicz et al. 2021 ask for evaluation returns, not training returns):

- ``eval_return``: the mean return of ``episodes`` *deterministic* evaluation episodes after training, on
  environment seeds no agent trained on (:func:`ppo_lite.evaluation.evaluate_agents`);
- ``auc``: the area under the learning curve, :math:`\frac1U \sum_{u=1}^{U} \bar R_u`, with :math:`\bar R_u` the mean
  return of the last 20 training episodes finished by update u (return units: how much was learned, how early);
- ``final_train``: the mean return of the last 20 training episodes (what the training curve shows at its end).

An agent whose training hits a non-finite figure stops, as every ppo_lite run does
(:class:`~ppo_lite.batched.AgentDiverged` names it); it is recorded ``diverged`` with no scores, and the rest of
its group trains again without it (with the shared stream of the stored studies their streams change with the
group, their distribution does not; with per-agent streams they are the same runs). The
caller decides what a diverged run counts as (the sweeps score it as a random policy: :func:`normalized_score` 0).
"""
from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

from ..batched import AGENT_FIELDS, AgentDiverged, BatchedConfig, BatchedTrainer
from ..config import SOLVED_THRESHOLDS, PPOConfig
from ..evaluation import evaluate_agents
from . import STORED_STREAMS

__all__ = ["EVAL_SEED", "area_under_curve", "score_agents", "normalized_score", "thin_curve"]

EVAL_SEED = 1_000_000
"""Seed of the evaluation envs: far from every training seed a sweep uses (0..999)."""


def area_under_curve(curve: Sequence[float]) -> float:
    r""":math:`\frac1U\sum_u \bar R_u` over the updates that have a smoothed return (nan when none has)."""
    xs = [v for v in curve if v == v]
    return sum(xs) / len(xs) if xs else float("nan")


def thin_curve(env_steps: Sequence[int], curve: Sequence[float], points: int) -> tuple[list[int], list[float | None]]:
    """``points`` evenly spaced samples of a per-update curve (the last update always kept), nan as None: what
    a results file stores of each learning curve."""
    n = len(curve)
    if n == 0:
        return [], []
    idx = sorted({min(n - 1, round(i * (n - 1) / max(1, points - 1))) for i in range(points)})
    return [int(env_steps[i]) for i in idx], [None if curve[i] != curve[i] else round(float(curve[i]), 2) for i in idx]


def normalized_score(score: float, env_id: str, random_return: float) -> float:
    r""":math:`(R - R_{random}) / (R_{solved} - R_{random})`: 0 is the uniform random policy, 1 the task's solved
    threshold (:data:`ppo_lite.config.SOLVED_THRESHOLDS`), so scores of different tasks can be pooled (rliable's
    human-normalized score, with "solved" for "human")."""
    if env_id not in SOLVED_THRESHOLDS:
        raise ValueError(f"no solved threshold for env_id={env_id!r}; known: {tuple(SOLVED_THRESHOLDS)}")
    return (score - random_return) / (SOLVED_THRESHOLDS[env_id] - random_return)


def score_agents(
    base: PPOConfig,
    seeds: Sequence[int],
    per_agent: Mapping[str, Sequence[float]] | None = None,
    episodes: int = 10,
    eval_seed: int = EVAL_SEED,
    curve_points: int = 40,
    series: Sequence[str] = (),
    streams: str = STORED_STREAMS,
) -> list[dict[str, Any]]:
    """Train ``len(seeds)`` agents of ``base`` (agent k: ``seeds[k]`` and ``per_agent[name][k]``) as one batched
    computation, then score each (module docstring). One record per agent, in input order: ``seed``, its
    per-agent values, ``eval_return``, ``eval_returns`` (the episodes), ``auc``, ``final_train``, ``diverged``
    (with ``diverged_at``, the trainer's message), a thinned learning curve (``curve_steps``, ``curve``), and
    with ``series`` (names the trainer logs per update, e.g. ``"approx_kl"``) ``updates``: those figures at every
    update, with ``env_steps`` and the smoothed ``return``, and ``steps_to_threshold`` (training return).
    ``streams``: the batch's random streams (:data:`ppo_lite.batched.STREAMS`); the stored studies' by default
    (:data:`ppo_lite.experiments.STORED_STREAMS`)."""
    per_agent = {k: [float(v) for v in vals] for k, vals in (per_agent or {}).items()}
    for name, vals in per_agent.items():
        if name not in AGENT_FIELDS:
            raise ValueError(f"per_agent field {name!r} is not allowed; per-agent fields: {AGENT_FIELDS}")
        if len(vals) != len(seeds):
            raise ValueError(f"per_agent[{name!r}] has {len(vals)} values for {len(seeds)} seeds")
    if not isinstance(episodes, int) or episodes < 1:
        raise ValueError(f"episodes must be a positive int, got {episodes!r}")
    records: list[dict[str, Any]] = [
        {"seed": int(s), **{name: vals[k] for name, vals in per_agent.items()}, "diverged": False} for k, s in enumerate(seeds)
    ]
    alive = list(range(len(seeds)))
    while alive:
        config = BatchedConfig(base=base, seeds=[int(seeds[k]) for k in alive], streams=streams,
                               **{name: [vals[k] for k in alive] for name, vals in per_agent.items()})
        trainer = BatchedTrainer(config)
        try:
            trainer.run(progress=False)
        except AgentDiverged as exc:
            lost = alive.pop(exc.agent)
            records[lost].update(diverged=True, diverged_at=str(exc), eval_return=None, eval_returns=None, auc=None,
                                 final_train=None, curve_steps=[], curve=[], **({"updates": None, "steps_to_threshold": None} if series else {}))
            trainer.env.close()
            continue
        try:
            returns = evaluate_agents(trainer, episodes=episodes, seed=eval_seed)
        finally:
            trainer.env.close()
        for j, k in enumerate(alive):
            history = trainer.histories[j]
            smoothed = history.smoothed_returns()
            steps, curve = thin_curve(history["env_steps"], smoothed, curve_points)
            records[k].update(
                eval_return=round(sum(returns[j]) / len(returns[j]), 3), eval_returns=[round(r, 2) for r in returns[j]],
                auc=_round(area_under_curve(smoothed)), final_train=_round(history.mean_return(20)),
                curve_steps=steps, curve=curve,
            )
            if series:
                updates = {name: [_significant(v) for v in history[name]] for name in series}
                updates.update(env_steps=[int(v) for v in history["env_steps"]], **{"return": [_round(v) for v in smoothed]})
                records[k].update(updates=updates, steps_to_threshold=history.steps_to_threshold(
                    SOLVED_THRESHOLDS.get(base.env_id, math.inf)))
        break
    return records


def _significant(v: float, digits: int = 6) -> float | None:
    """``v`` to ``digits`` significant digits (per-update figures such as a KL of 3e-4 keep their precision)."""
    return None if v != v or math.isinf(v) else float(f"{v:.{digits}g}")


def _round(v: float) -> float | None:
    return None if v != v or math.isinf(v) else round(float(v), 3)

