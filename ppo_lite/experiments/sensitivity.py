r"""How sensitive is PPO to its hyperparameters? (notebook 09): ``python -m ppo_lite.experiments sensitivity``.

Two-parameter grids around the CartPole-v1 defaults (:meth:`PPOConfig.for_env`), several seeds per cell, each
agent trained for a fixed budget of env steps; the score of an agent is its *final return*, the mean undiscounted
return of its last 20 episodes (:meth:`History.mean_return`). Grids:

- ``lr_clip``: learning rate × clip ε; ``lam_gamma``: GAE λ × discount γ. Both are per-agent fields of
  :mod:`ppo_lite.batched`, so a whole grid (cells × seeds agents) trains as one batched computation;
- ``epochs_minibatches``: update epochs × minibatches per epoch. These fix the loop's shape, so each cell is its
  own batched run over the seeds.

Optional ``pendulum``: the SB3 #25 story, Pendulum-v1 with SB3's generic PPO defaults (n_steps 2048, batch 64,
10 epochs, lr 3e-4, γ 0.99, λ 0.95, no reward scaling) against this library's tuned classic-control defaults
(:data:`ppo_lite.config.FAMILY_DEFAULTS`), same budget and seeds.

How much of a grid is "good":

.. math:: \mathrm{good}(c) = \big[\max_{c'} \bar R_{c'} - \bar R_c \le \tau\,|\max_{c'} \bar R_{c'} - R_0|\big]

with :math:`\bar R_c` the seed-mean final return of cell c, :math:`R_0` the return of a random policy
(:data:`RANDOM_RETURN`) and τ = 0.1; :func:`good_fraction` is the fraction of cells that are good.
Writes ``figures/sensitivity.json``; the entry point (``python -m ppo_lite.experiments sensitivity``) then draws
``sensitivity.png``.
"""
from __future__ import annotations

import argparse
import math
import time
from typing import Any, Sequence

import torch

from ..batched import AGENT_FIELDS, BatchedConfig, train_batched
from ..config import PPOConfig

COMMAND = "python -m ppo_lite.experiments sensitivity"
GRIDS: dict[str, tuple[str, list[float], str, list[float]]] = {
    "lr_clip": ("lr", [1e-4, 1e-3, 1e-2], "clip_eps", [0.05, 0.2, 0.5]),
    "lam_gamma": ("gae_lambda", [0.5, 0.8, 0.95], "gamma", [0.9, 0.98, 0.999]),
    "epochs_minibatches": ("update_epochs", [4, 10, 20], "num_minibatches", [1, 4]),
}
RANDOM_RETURN = {"CartPole-v1": 22.0, "Pendulum-v1": -1230.0}
"""Mean return of the uniform random policy, rounded (notebook 09 measures both with the torch envs and checks them)."""
DEFAULT_STEPS = 20_480  # 80 updates of the CartPole default rollout (8 envs x 32 steps)
SB3_DEFAULTS_PENDULUM = dict(
    num_envs=1, num_steps=2048, update_epochs=10, num_minibatches=32, lr=3e-4, gamma=0.99, gae_lambda=0.95,
    anneal_lr=False, scale_reward=False,
)
"""SB3's generic PPO defaults (n_steps 2048, batch 64, 10 epochs, lr 3e-4, γ 0.99, λ 0.95) on Pendulum-v1."""


def good_fraction(cell_means: Sequence[float], random_return: float, tol: float = 0.1) -> float:
    r"""Fraction of cells with :math:`\max \bar R - \bar R_c \le \tau |\max \bar R - R_0|` (module docstring): the
    best cell always counts, a cell counts when it keeps 90% (τ = 0.1) of the best cell's gain over a random policy."""
    if not cell_means:
        raise ValueError("good_fraction needs at least one cell")
    if not 0.0 <= tol <= 1.0:
        raise ValueError(f"tol must lie in [0, 1], got {tol}")
    best = max(cell_means)
    return sum(best - m <= tol * abs(best - random_return) for m in cell_means) / len(cell_means)


def run_grid(
    name: str, base: PPOConfig, seeds: Sequence[int], grid: tuple[str, list[float], str, list[float]] | None = None,
) -> dict[str, Any]:
    """Train every (row value, column value, seed) of one grid; return ``{"final": [[[...seeds] cols] rows], ...}``."""
    row_name, rows, col_name, cols = grid or GRIDS[name]
    final = [[[math.nan] * len(seeds) for _ in cols] for _ in rows]
    if row_name in AGENT_FIELDS and col_name in AGENT_FIELDS:
        cells = [(i, j) for i in range(len(rows)) for j in range(len(cols))]
        agents = [(i, j, s) for i, j in cells for s in seeds]
        per_agent = {row_name: [rows[i] for i, _, _ in agents], col_name: [cols[j] for _, j, _ in agents]}
        histories = train_batched(BatchedConfig(base=base, seeds=[s for _, _, s in agents], **per_agent), progress=False)
        for (i, j, s), h in zip(agents, histories):
            final[i][j][list(seeds).index(s)] = h.mean_return()
    else:
        for i, rv in enumerate(rows):
            for j, cv in enumerate(cols):
                cfg = base.replace(**{row_name: _as_type(base, row_name, rv), col_name: _as_type(base, col_name, cv)})
                histories = train_batched(BatchedConfig(base=cfg, seeds=list(seeds)), progress=False)
                for k, h in enumerate(histories):
                    final[i][j][k] = h.mean_return()
    means = [sum(v) / len(v) for row in final for v in row]
    return {"row": row_name, "rows": rows, "col": col_name, "cols": cols, "final": final,
            "good_fraction": good_fraction(means, RANDOM_RETURN.get(base.env_id, 0.0))}


def _as_type(base: PPOConfig, name: str, value: float) -> int | float:
    return int(value) if isinstance(getattr(base, name), int) else float(value)


def pendulum_story(steps: int, seeds: Sequence[int]) -> dict[str, Any]:
    """Final returns of Pendulum-v1 with SB3's generic defaults vs this library's tuned defaults (SB3 #25)."""
    out = {}
    for label, overrides in (("sb3_defaults", SB3_DEFAULTS_PENDULUM), ("tuned", {})):
        cfg = PPOConfig.for_env("Pendulum-v1", total_steps=steps, device="auto", **overrides)
        histories = train_batched(BatchedConfig(base=cfg, seeds=list(seeds)), progress=False)
        out[label] = {"final": [h.mean_return() for h in histories], "config": {k: v for k, v in cfg.to_dict().items() if k != "extra"}}
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS, help="env steps per CartPole agent")
    parser.add_argument("--seeds", type=int, default=2, help="seeds per cell")
    parser.add_argument("--grids", nargs="*", default=list(GRIDS), choices=list(GRIDS))
    parser.add_argument("--pendulum-steps", type=int, default=0, help="Pendulum budget per agent (0: skip the story)")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args(argv)
    if args.seeds < 1 or args.steps < 256:
        raise SystemExit(f"--seeds must be >= 1 and --steps >= 256, got {args.seeds}, {args.steps}")
    from tqdm.auto import tqdm

    from . import write_results

    torch.set_num_threads(1)
    t0 = time.perf_counter()
    seeds = list(range(args.seeds))
    base = PPOConfig.for_env("CartPole-v1", total_steps=args.steps, device=args.device)
    data: dict[str, Any] = {"env_id": base.env_id, "steps": args.steps, "seeds": seeds, "random_return": RANDOM_RETURN,
                            "base": {k: v for k, v in base.to_dict().items() if k != "extra"}, "grids": {}}
    for name in tqdm(args.grids, desc="sensitivity grids"):
        t = time.perf_counter()
        data["grids"][name] = run_grid(name, base, seeds)
        data["grids"][name]["seconds"] = round(time.perf_counter() - t, 1)
    if args.pendulum_steps:
        t = time.perf_counter()
        data["pendulum"] = pendulum_story(args.pendulum_steps, seeds)
        data["pendulum"]["steps"] = args.pendulum_steps
        data["pendulum"]["seconds"] = round(time.perf_counter() - t, 1)
    command = " ".join([COMMAND, *argv])
    path = write_results("sensitivity", data, time.perf_counter() - t0, command)
    print(f"wrote {path} ({time.perf_counter() - t0:.0f} s)")
    return 0
