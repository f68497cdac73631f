r"""The clip range ε of PPO v2, swept (notebook 05): ``python -m ppo_lite.experiments clip_eps``.

For each ε in :data:`CLIP_EPS`, "none" (the unclipped surrogate, ``objective="surrogate"``) and "anneal" (ε
decayed linearly from 0.2 towards 0 over training, SB3 #1763 / baselines #710), train PPO on :data:`SEEDS` and
record per update: the smoothed return, the clip fraction and approximate KL the trainer logs, and how far the
probability ratio :math:`r = \pi_{new}/\pi_{old}` strays from 1 *after* the update's last epoch, on the update's
own batch:

.. math:: \max_i |r_i - 1|, \qquad \tfrac1B \textstyle\sum_i \mathbb 1[|r_i - 1| > \epsilon],

the latter split by the side of the band (:func:`band_excursion`): a sample outside the band on the side where the
clip stops its gradient (:math:`\hat A>0,\ r>1+\epsilon` or :math:`\hat A<0,\ r<1-\epsilon`: the clip did not keep
it in) or on the other side (:math:`\hat A>0,\ r<1-\epsilon` or :math:`\hat A<0,\ r>1+\epsilon`: pushed out by the
updates of *other* samples, against its own gradient, which the clip never zeroes). After training, every agent
gets a deterministic evaluation return (10 episodes on held-out env seeds, as the sweeps of notebooks 07 and 09).

Paired seeds: the agents of one setting train as one :class:`~ppo_lite.batched.BatchedTrainer` on the seed list
:data:`SEEDS`, whose initial weights, env resets and sampling stream depend on the seeds only, so seed s starts
from the same weights and collects the same first rollout under every setting (recorded as ``first_rollout``, a
checksum of its actions, and asserted by :func:`paired`). Settings differ from the first update on, by ε alone.

Each (task, setting) is one cell of ``figures/clip_eps.cells.jsonl``, written as it finishes; a rerun skips the
cells already there. ``figures/clip_eps.json`` (with provenance) is rebuilt from the log at the end, and
``python -m ppo_lite.experiments clip_eps`` then draws ``figures/clip_eps.png``.
"""
from __future__ import annotations

import argparse
import math
import time
import zlib
from typing import Any, Callable

import torch
from torch import Tensor

from ..batched import AgentDiverged, BatchedConfig, BatchedTrainer
from ..config import SOLVED_THRESHOLDS, PPOConfig
from ..evaluation import evaluate_agents
from . import STORED_STREAMS
from .stats import t_interval
from .sweep import EVAL_SEED
from ..trainer import Trainer

CLIP_EPS = (0.05, 0.1, 0.2, 0.3, 0.5)
LABELS = tuple(f"{e:g}" for e in CLIP_EPS) + ("none", "anneal")
BAND_FOR_NONE = 0.2
"""ε of the band against which the unclipped runs' ratio is measured (the default clip range)."""
DEFAULT_STEPS = {"CartPole-v1": 50_000, "Pendulum-v1": 100_000}
SEEDS = tuple(range(10))
EVAL_EPISODES = 10
COMMAND = "python -m ppo_lite.experiments clip_eps"
SERIES = ("ratio_max_dev", "frac_outside", "frac_outside_clipped_side", "frac_outside_free_side", "clip_eps")
"""What the sweep measures after every update, beside what the trainer logs."""


def setting(label: str) -> dict[str, Any]:
    """PPOConfig overrides of one sweep setting: ``"0.2"`` → clip ε = 0.2; ``"none"``; ``"anneal"``."""
    if label == "none":
        return {"objective": "surrogate", "clip_eps": BAND_FOR_NONE}
    if label == "anneal":
        return {"objective": "clip", "clip_eps": 0.2, "anneal_clip_eps": True}
    try:
        eps = float(label)
    except ValueError:
        raise ValueError(f"unknown setting {label!r}; use one of {LABELS} or a positive number") from None
    if not eps > 0:
        raise ValueError(f"clip ε must be > 0, got {label!r}")
    return {"objective": "clip", "clip_eps": eps}


def band_excursion(r: Tensor, advantages: Tensor, eps: float, center: bool = True) -> dict[str, Tensor]:
    r"""How the ratios ``r`` of one batch (last axis: samples; leading axes: agents) lie against the band
    :math:`[1-\epsilon, 1+\epsilon]`:

    - ``max_dev`` :math:`\max_i |r_i - 1|`, ``frac_outside`` :math:`\frac1B\sum_i \mathbb 1[|r_i-1|>\epsilon]`;
    - ``frac_clipped_side``: the share with :math:`\hat A_i>0,\ r_i>1+\epsilon` or :math:`\hat A_i<0,\ r_i<1-\epsilon`,
      where :math:`\min(r\hat A, \mathrm{clip}(r)\hat A)` has zero gradient: the clip should have stopped them;
    - ``frac_free_side``: :math:`\hat A_i>0,\ r_i<1-\epsilon` or :math:`\hat A_i<0,\ r_i>1+\epsilon`, where the
      objective is :math:`r\hat A` and its gradient pulls the sample back toward the band.

    The sign of :math:`\hat A` is the one the loss sees: with advantage normalization (``center``), that of
    :math:`\hat A_i - \bar A` (the batch mean; the trainer centres each minibatch, whose mean is close to it).
    """
    a = advantages - advantages.mean(-1, keepdim=True) if center else advantages
    above, below = r > 1 + eps, r < 1 - eps
    clipped_side = ((a > 0) & above) | ((a < 0) & below)
    free_side = ((a > 0) & below) | ((a < 0) & above)
    return {"max_dev": (r - 1).abs().amax(-1), "frac_outside": (above | below).float().mean(-1),
            "frac_clipped_side": clipped_side.float().mean(-1), "frac_free_side": free_side.float().mean(-1)}


def ratio_excursion(r: Tensor, eps: float) -> tuple[float, float]:
    r""":math:`(\max_i |r_i - 1|,\ \text{fraction with } |r_i - 1| > \epsilon)` of one batch of ratios."""
    m = band_excursion(r, torch.zeros_like(r), eps, center=False)
    return float(m["max_dev"]), float(m["frac_outside"])


def rollout_checksum(actions: Tensor) -> int:
    """CRC-32 of one agent's first-rollout actions (continuous ones rounded to 1e-3): equal across settings iff the
    seed collected the same first rollout (the pairing :func:`paired` checks)."""
    a = actions if not actions.is_floating_point() else torch.round(actions * 1000)
    return zlib.crc32(a.to(torch.int64).cpu().numpy().tobytes())


def _after_update_measure(batch: dict[str, Tensor], logp_new: Tensor, eps: float, center: bool) -> dict[str, Tensor]:
    """The :data:`SERIES` of one update from its batch and the log-probabilities after the update."""
    m = band_excursion(torch.exp(logp_new - batch["logp"]), batch["advantages"], eps, center)
    return {"ratio_max_dev": m["max_dev"], "frac_outside": m["frac_outside"],
            "frac_outside_clipped_side": m["frac_clipped_side"], "frac_outside_free_side": m["frac_free_side"]}


def run_one(env_id: str, label: str, seed: int, total_steps: int | None = None, **overrides: Any) -> dict[str, Any]:
    """Train one setting with the single-agent :class:`~ppo_lite.trainer.Trainer` (notebook 05's live run) and
    measure the ratio after every update on that update's batch (``Trainer.last_batch``). Returns
    ``{"updates": per-update series, "final_return", "steps_to_threshold", "seconds"}``."""
    values = setting(label)
    values.update(overrides)
    if total_steps is not None:
        values["total_steps"] = total_steps
    cfg = PPOConfig.for_env(env_id, seed=seed, **values)
    t0 = time.perf_counter()
    trainer = Trainer(cfg)
    extra: dict[str, list[float]] = {name: [] for name in SERIES}

    def after_update(k: int, history: Any) -> bool:
        eps, batch = cfg.clip_eps_at(k - 1), trainer.last_batch  # the clip range of the update just done
        with torch.no_grad():
            logp_new, _ = trainer.agent.log_prob_entropy(batch["obs"], batch["actions"])
        for name, v in _after_update_measure(batch, logp_new, eps, cfg.norm_adv).items():
            extra[name].append(float(v))
        extra["clip_eps"].append(eps)
        return False

    try:
        history = trainer.run(progress=False, callback=after_update)
    finally:
        trainer.env.close()
    updates = {k: list(history[k]) for k in ("env_steps", "approx_kl", "clip_frac")}
    updates["return"] = history.smoothed_returns()
    updates.update(extra)
    return {"updates": updates, "final_return": history.mean_return(20),
            "steps_to_threshold": history.steps_to_threshold(SOLVED_THRESHOLDS.get(env_id, math.inf)),
            "seconds": time.perf_counter() - t0}


def _r(v: float) -> float | None:
    return None if v != v or math.isinf(v) else float(f"{v:.5g}")


def run_cell(env_id: str, label: str, seeds: tuple[int, ...] = SEEDS, total_steps: int | None = None,
             episodes: int = EVAL_EPISODES) -> dict[str, Any]:
    """Train one setting on every seed as one batched computation, measuring the ratio after each update; then
    evaluate every agent. Returns the cell: ``runs`` (one per seed, the results file's run format) and
    ``seconds``. A diverging agent (:class:`~ppo_lite.batched.AgentDiverged`) is recorded ``diverged`` and the
    rest train again without it (their pairing with the other settings is then lost: ``paired_batch`` False)."""
    values = setting(label)
    if total_steps is None:
        total_steps = DEFAULT_STEPS.get(env_id, 100_000)
    base = PPOConfig.for_env(env_id, total_steps=total_steps, **values)
    t0 = time.perf_counter()
    alive, diverged = list(seeds), {}
    while True:
        trainer = BatchedTrainer(BatchedConfig(base=base, seeds=alive, streams=STORED_STREAMS))
        K = len(alive)
        series: dict[str, list[list[float]]] = {name: [[] for _ in range(K)] for name in SERIES}
        first: list[int] = []

        def after_update(u: int, histories: Any) -> bool:
            batch = trainer.last_batch
            eps = float(trainer.hp.clip_eps[0])
            with torch.no_grad():
                logp_new, _ = trainer.net.log_prob_entropy(batch["obs"], batch["actions"])
            measured = {name: v.tolist() for name, v in _after_update_measure(batch, logp_new, eps, base.norm_adv).items()}
            measured["clip_eps"] = [eps] * K
            for name, vs in measured.items():
                for k in range(K):
                    series[name][k].append(vs[k])
            if u == 1:
                first.extend(rollout_checksum(batch["actions"][k]) for k in range(K))
            return False

        try:
            histories = trainer.run(progress=False, callback=after_update)
            returns = evaluate_agents(trainer, episodes=episodes, seed=EVAL_SEED)
        except AgentDiverged as exc:
            diverged[alive.pop(exc.agent)] = str(exc)
            if not alive:
                raise RuntimeError(f"{env_id} {label}: every agent diverged") from exc
            continue
        finally:
            trainer.env.close()
        break
    runs = []
    for k, seed in enumerate(alive):
        h = histories[k]
        updates = {name: [_r(v) for v in h[name]] for name in ("approx_kl", "clip_frac")}
        updates["env_steps"] = list(h["env_steps"])
        updates["return"] = [_r(v) for v in h.smoothed_returns()]
        updates.update({name: [_r(v) for v in series[name][k]] for name in SERIES})
        runs.append({
            "env_id": env_id, "label": label, "seed": seed, "updates": updates, "final_return": _r(h.mean_return(20)),
            "steps_to_threshold": h.steps_to_threshold(SOLVED_THRESHOLDS.get(env_id, math.inf)),
            "eval_return": round(sum(returns[k]) / episodes, 3), "eval_returns": [round(x, 2) for x in returns[k]],
            "first_rollout": first[k], "diverged": False,
        })
    runs += [{"env_id": env_id, "label": label, "seed": s, "diverged": True, "diverged_at": why} for s, why in diverged.items()]
    runs.sort(key=lambda r: r["seed"])
    return {"runs": runs, "paired_batch": not diverged, "seconds": round(time.perf_counter() - t0, 1)}


def ratio_per_epoch(env_id: str = "CartPole-v1", seed: int = 0, warmup_updates: int = 10, epochs: int = 20,
                    clip_eps: float = 0.2, objectives: tuple[str, ...] = ("clip", "surrogate")) -> dict[str, dict[str, list[float]]]:
    r"""Inside one update: :math:`\max_i|r_i-1|` and the fraction outside :math:`[1-\epsilon, 1+\epsilon]` on the
    whole batch at the start of each epoch (before its gradient step), then after the last one.

    Trains ``warmup_updates`` ordinary updates first (so the policy is mid-training), collects one rollout, and
    from that same state runs the library's :func:`ppo_lite.trainer.update` one epoch at a time for each objective.
    """
    import copy

    from ..rollout import collect_rollout, compute_advantages, flatten_rollout
    from ..trainer import update  # the trainer's own minibatch epochs

    cfg = PPOConfig.for_env(env_id, seed=seed, clip_eps=clip_eps)
    trainer = Trainer(cfg)
    try:
        trainer.run(stop_after=warmup_updates, progress=False)
        rollout, trainer.obs = collect_rollout(trainer.env, trainer.agent, trainer.obs, cfg.num_steps,
                                               trainer.obs_norm, trainer.reward_scaler, trainer.generator)
    finally:
        trainer.env.close()
    advantages, returns = compute_advantages(rollout, trainer.agent, cfg.gamma, cfg.gae_lambda)
    batch = flatten_rollout(rollout, advantages, returns)
    start = copy.deepcopy((trainer.agent.state_dict(), trainer.optimizer.state_dict(), trainer.generator.get_state()))
    results = {}
    for objective in objectives:
        trainer.agent.load_state_dict(start[0])
        # a copy: load_state_dict keeps the given state tensors, which Adam then updates in place
        trainer.optimizer.load_state_dict(copy.deepcopy(start[1]))
        trainer.generator.set_state(start[2])
        one_epoch = cfg.replace(update_epochs=1, objective=objective)
        out: dict[str, list[float]] = {"max_dev": [], "frac_outside": [], "clip_frac": []}
        for epoch in range(epochs + 1):
            with torch.no_grad():
                logp, _ = trainer.agent.log_prob_entropy(batch["obs"], batch["actions"])
            dev, outside = ratio_excursion(torch.exp(logp - batch["logp"]), clip_eps)
            out["max_dev"].append(dev)
            out["frac_outside"].append(outside)
            if epoch < epochs:
                stats = update(trainer.agent, trainer.optimizer, batch, one_epoch, trainer.generator)
                out["clip_frac"].append(float(stats["clip_frac"]))
        results[objective] = out
    return results


def summarize(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (env, setting), over its seeds: evaluation return (mean, 95% t-interval), final training return,
    seeds solved (training return reached the threshold), ratio excursion and its split by side, clip fraction and
    the largest KL per update. Diverged runs count in ``diverged`` and nowhere else."""
    rows = []
    keys = sorted({(r["env_id"], r["label"]) for r in runs}, key=lambda k: (k[0], LABELS.index(k[1]) if k[1] in LABELS else 99))
    for env_id, label in keys:
        everyone = [r for r in runs if r["env_id"] == env_id and r["label"] == label]
        group = [r for r in everyone if not r.get("diverged")]

        def mean(xs: list[float | None]) -> float:
            xs = [x for x in xs if x is not None]
            return sum(xs) / len(xs) if xs else float("nan")

        def per_run(name: str, reduce: Callable[[list[float]], float]) -> float:
            return mean([reduce([v for v in r["updates"][name] if v is not None]) for r in group])

        evals = [r["eval_return"] for r in group if r.get("eval_return") is not None]
        ev_mean, ev_lo, ev_hi = t_interval(evals) if len(evals) >= 2 else (mean(evals), float("nan"), float("nan"))
        solved = [r["steps_to_threshold"] for r in group]
        rows.append({
            "env_id": env_id, "label": label, "seeds": len(group), "diverged": len(everyone) - len(group),
            "eval_return": round(ev_mean, 1), "eval_return_ci": [round(ev_lo, 1), round(ev_hi, 1)],
            "final_return": round(mean([r["final_return"] for r in group]), 1),
            "final_return_min": round(min(r["final_return"] for r in group), 1),
            "solved": sum(s is not None for s in solved),
            "steps_to_threshold": round(mean(solved)) if any(s is not None for s in solved) else None,
            "max_ratio_dev": round(per_run("ratio_max_dev", max), 3),
            "median_ratio_dev": round(per_run("ratio_max_dev", _median), 3),
            "mean_frac_outside": round(per_run("frac_outside", mean), 4),
            "mean_frac_clipped_side": round(per_run("frac_outside_clipped_side", mean), 4) if group and "frac_outside_clipped_side" in group[0]["updates"] else None,
            "mean_frac_free_side": round(per_run("frac_outside_free_side", mean), 4) if group and "frac_outside_free_side" in group[0]["updates"] else None,
            "mean_clip_frac": round(per_run("clip_frac", mean), 4),
            "max_approx_kl": round(per_run("approx_kl", max), 4),
        })
    return rows


def _median(xs: list[float]) -> float:
    s = sorted(xs)
    return s[len(s) // 2]


def paired(runs: list[dict[str, Any]]) -> dict[str, bool]:
    """Per task: did every seed collect the same first rollout under every setting (``first_rollout`` equal)?"""
    out: dict[str, bool] = {}
    for env_id in sorted({r["env_id"] for r in runs}):
        by_seed: dict[int, set[int]] = {}
        for r in runs:
            if r["env_id"] == env_id and not r.get("diverged"):
                by_seed.setdefault(r["seed"], set()).add(r["first_rollout"])
        out[env_id] = bool(by_seed) and all(len(v) == 1 for v in by_seed.values())
    return out


def format_table(rows: list[dict[str, Any]]) -> str:
    """Markdown table of :func:`summarize`'s rows."""
    head = ("| env | ε | eval return (95% CI) | final train return (mean / min) | solved | steps to threshold | "
            "median per-update max |r−1| | frac. outside band: clipped side / other side | mean clip frac | max KL |")
    lines = [head, "|" + "---|" * 10]

    def num(v: float | None, fmt: str) -> str:
        return "—" if v is None else format(v, fmt)

    for r in rows:
        steps = "—" if r["steps_to_threshold"] is None else f"{r['steps_to_threshold']:,}"
        lo, hi = r.get("eval_return_ci", [None, None])
        lines.append(
            f"| {r['env_id']} | {r['label']} | {num(r.get('eval_return'), '.1f')} [{num(lo, '.1f')}, {num(hi, '.1f')}] | "
            f"{r['final_return']:.1f} / {r['final_return_min']:.1f} | {r['solved']}/{r['seeds']} | {steps} | "
            f"{r['median_ratio_dev']:.3f} | {num(r.get('mean_frac_clipped_side'), '.4f')} / {num(r.get('mean_frac_free_side'), '.4f')} | "
            f"{r['mean_clip_frac']:.4f} | {r['max_approx_kl']:.4f} |"
        )
    return "\n".join(lines)


def cell_protocol(env_id: str, label: str, steps: int, seeds: list[int], episodes: int) -> dict[str, Any]:
    """Everything that fixes a cell's result: its full config, seeds and evaluation."""
    config = PPOConfig.for_env(env_id, total_steps=steps, **setting(label)).to_dict()
    config.pop("anneal_clip_eps")  # the label names the schedule ("anneal"), as it did before PPOConfig had the field
    return {"config": config, "label": label, "seeds": seeds, "episodes": episodes, "eval_seed": EVAL_SEED}


def main(argv: list[str]) -> int:
    from . import add_sweep_arguments, compute_missing, open_cell_log, provenance_of_cells, regeneration_command, write_results

    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.splitlines()[0])
    parser.add_argument("--envs", nargs="+", default=list(DEFAULT_STEPS), help="env ids (default: CartPole-v1, Pendulum-v1)")
    parser.add_argument("--labels", nargs="+", default=list(LABELS), help=f"settings, among {LABELS} or any ε > 0")
    parser.add_argument("--seeds", type=int, default=len(SEEDS), help="seeds 0..N-1, the same for every setting")
    parser.add_argument("--steps", type=int, default=None, help="env steps per run (default: per env)")
    parser.add_argument("--episodes", type=int, default=EVAL_EPISODES, help="evaluation episodes per run")
    parser.add_argument("--max-cells", type=int, default=None, help="stop after computing this many cells")
    add_sweep_arguments(parser, "clip_eps")
    ns = parser.parse_args(argv)
    for label in ns.labels:
        try:
            setting(label)  # refuse a bad label before any training
        except ValueError as exc:
            raise SystemExit(f"error: {exc}") from None
    if ns.seeds < 2:
        raise SystemExit(f"--seeds must be >= 2 (intervals need two values), got {ns.seeds}")
    if ns.episodes < 1:
        raise SystemExit(f"--episodes must be >= 1, got {ns.episodes}")
    steps = {e: ns.steps or DEFAULT_STEPS.get(e, 100_000) for e in ns.envs}
    seeds = list(range(ns.seeds))
    try:
        protocols = {(e, lab): cell_protocol(e, lab, steps[e], seeds, ns.episodes) for e in ns.envs for lab in ns.labels}
    except ValueError as exc:  # an unknown env id or a budget below one rollout, before any training
        raise SystemExit(f"error: {exc}") from None
    log = open_cell_log(ns)
    t0 = time.perf_counter()
    compute_missing(log, [(f"{e}/{lab}", p, lambda e=e, lab=lab: run_cell(e, lab, tuple(seeds), steps[e], ns.episodes))
                          for (e, lab), p in protocols.items()], ns.max_cells, "clip_eps sweep", not ns.no_progress)

    cells = [c for (e, lab), p in protocols.items() if (c := log.done(f"{e}/{lab}", p)) is not None]
    runs = [r for c in cells for r in c["runs"]]
    rows = summarize(runs) if runs else []
    data = {"steps": steps, "labels": ns.labels, "seeds": ns.seeds, "episodes": ns.episodes,
            "complete": len(cells) == len(protocols), "cells_done": len(cells), "cells_expected": len(protocols),
            "paired": paired(runs) if runs else {}, "paired_batches": all(c["paired_batch"] for c in cells),
            "compute_seconds": round(sum(c["seconds"] for c in cells), 1), **provenance_of_cells(cells),
            "summary": rows, "runs": runs}
    path = write_results(ns.name, data, time.perf_counter() - t0, regeneration_command(COMMAND, argv), outdir=ns.outdir)
    if rows:
        print(format_table(rows))
    print(f"wrote {path}: {len(cells)}/{len(protocols)} cells; first rollouts paired across settings: {data['paired']}")
    return 0
