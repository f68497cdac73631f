r"""The clip range ε of PPO v2, swept (notebook 05): ``python -m ppo_lite.experiments clip_eps``.

For each ε in :data:`CLIP_EPS`, "none" (the unclipped surrogate, ``objective="surrogate"``) and "anneal" (ε
decayed linearly from 0.2 towards 0 over training, SB3 #1763 / baselines #710), and each seed, train PPO and
record per update: the smoothed return, the clip fraction and approximate KL the trainer logs, and how far the
probability ratio :math:`r = \pi_{new}/\pi_{old}` strays from 1 *after* the update's last epoch,

.. math:: \max_i |r_i - 1| \quad\text{and}\quad \tfrac1B \textstyle\sum_i \mathbb 1[|r_i - 1| > \epsilon],

measured on the update's own batch. Writes ``figures/clip_eps.json`` (with provenance), from which
``python -m ppo_lite.experiments clip_eps`` then draws ``figures/clip_eps.png``.

The trainer is not changed: the ratio is measured by recording what :meth:`ActorCritic.act` returns during the
rollout (a pass-through wrapper on this one agent) and re-evaluating the log-probabilities after the update;
the annealed ε is set between updates through the ``callback`` hook.
"""
from __future__ import annotations

import argparse
import math
import time
from dataclasses import dataclass
from typing import Any, Callable

import torch
from torch import Tensor

from ..config import SOLVED_THRESHOLDS, PPOConfig
from ..history import History
from ..trainer import Trainer

CLIP_EPS = (0.05, 0.1, 0.2, 0.3, 0.5)
LABELS = tuple(f"{e:g}" for e in CLIP_EPS) + ("none", "anneal")
BAND_FOR_NONE = 0.2
"""ε of the band against which the unclipped runs' ratio is measured (the default clip range)."""
DEFAULT_STEPS = {"CartPole-v1": 50_000, "Pendulum-v1": 100_000}
COMMAND = "python -m ppo_lite.experiments clip_eps"


def setting(label: str) -> dict[str, Any]:
    """PPOConfig overrides of one sweep setting: ``"0.2"`` → clip ε = 0.2; ``"none"``; ``"anneal"``."""
    if label == "none":
        return {"objective": "surrogate", "clip_eps": BAND_FOR_NONE}
    if label == "anneal":
        return {"objective": "clip", "clip_eps": 0.2}
    try:
        eps = float(label)
    except ValueError:
        raise ValueError(f"unknown setting {label!r}; use one of {LABELS} or a positive number") from None
    if not eps > 0:
        raise ValueError(f"clip ε must be > 0, got {label!r}")
    return {"objective": "clip", "clip_eps": eps}


class RatioRecorder:
    r"""Records :math:`(s, a, \log\pi_{old}(a|s))` of each rollout step of one agent, so that after the update
    :meth:`ratio` gives :math:`r_i = \exp(\log\pi_{new}(a_i|s_i) - \log\pi_{old}(a_i|s_i))` on that batch.

    It wraps ``agent.sample`` (what the rollout calls) on this instance only and returns exactly what it
    returns: training is unchanged.
    """

    def __init__(self, agent: torch.nn.Module) -> None:
        self.agent = agent
        self._sample = agent.sample
        self.obs: list[Tensor] = []
        self.actions: list[Tensor] = []
        self.logp: list[Tensor] = []
        agent.sample = self._record  # instance attribute: shadows the method for this agent only

    def _record(self, obs: Tensor, *args: Any, **kwargs: Any) -> tuple[Tensor, Tensor]:
        action, logp = self._sample(obs, *args, **kwargs)
        self.obs.append(obs)
        self.actions.append(action)
        self.logp.append(logp)
        return action, logp

    @torch.no_grad()
    def ratio(self) -> Tensor:
        """Ratios of the current policy to the one that collected the recorded steps; clears the record."""
        if not self.obs:
            raise RuntimeError("RatioRecorder: no rollout steps recorded since the last call")
        obs, actions, logp_old = torch.cat(self.obs), torch.cat(self.actions), torch.cat(self.logp)
        self.obs, self.actions, self.logp = [], [], []
        logp_new, _ = self.agent.log_prob_entropy(obs, actions)
        return torch.exp(logp_new - logp_old)

    def detach(self) -> None:
        """Give the agent its own ``sample`` back."""
        del self.agent.sample


def ratio_excursion(r: Tensor, eps: float) -> tuple[float, float]:
    r""":math:`(\max_i |r_i - 1|,\ \text{fraction with } |r_i - 1| > \epsilon)`."""
    dev = (r - 1.0).abs()
    return float(dev.max()), float((dev > eps).float().mean())


def annealed_eps(eps0: float, update: int, num_updates: int) -> float:
    r"""Linear schedule :math:`\epsilon_k = \epsilon_0 (1 - k/K)` for update ``k`` of ``K`` (as the lr anneals)."""
    return eps0 * (1.0 - update / num_updates)


@dataclass
class RunResult:
    env_id: str
    label: str
    seed: int
    updates: dict[str, list[float]]
    final_return: float
    steps_to_threshold: float | None
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        def r(v: float) -> float | None:
            return None if v != v else round(v, 5)

        return {
            "env_id": self.env_id, "label": self.label, "seed": self.seed,
            "updates": {k: [r(v) for v in vs] for k, vs in self.updates.items()},
            "final_return": r(self.final_return), "steps_to_threshold": self.steps_to_threshold,
            "seconds": round(self.seconds, 2),
        }


def run_one(env_id: str, label: str, seed: int, total_steps: int | None = None, **overrides: Any) -> RunResult:
    """Train one setting of the sweep and measure the ratio after every update."""
    values = setting(label)
    values.update(overrides)
    if total_steps is not None:
        values["total_steps"] = total_steps
    cfg = PPOConfig.for_env(env_id, seed=seed, **values)
    t0 = time.perf_counter()
    trainer = Trainer(cfg)
    recorder = RatioRecorder(trainer.agent)
    extra: dict[str, list[float]] = {"ratio_max_dev": [], "frac_outside": [], "clip_eps": []}

    def after_update(k: int, history: History) -> bool:
        eps = trainer.config.clip_eps
        dev, outside = ratio_excursion(recorder.ratio(), eps)
        extra["ratio_max_dev"].append(dev)
        extra["frac_outside"].append(outside)
        extra["clip_eps"].append(eps)
        if label == "anneal":  # the next update (index k) clips at ε_k; update() reads config.clip_eps
            trainer.config = trainer.config.replace(clip_eps=annealed_eps(values["clip_eps"], k, cfg.num_updates))
        return False

    try:
        history = trainer.run(progress=False, callback=after_update)
    finally:
        recorder.detach()
        trainer.env.close()
    seconds = time.perf_counter() - t0
    updates = {k: list(history[k]) for k in ("env_steps", "approx_kl", "clip_frac")}
    updates["return"] = history.smoothed_returns()
    updates.update(extra)
    return RunResult(env_id, label, seed, updates, history.mean_return(20),
                     history.steps_to_threshold(SOLVED_THRESHOLDS.get(env_id, math.inf)), seconds)


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
    """One row per (env, setting): means over seeds of final return, max clip fraction, ratio excursion."""
    rows = []
    keys = sorted({(r["env_id"], r["label"]) for r in runs}, key=lambda k: (k[0], LABELS.index(k[1]) if k[1] in LABELS else 99))
    for env_id, label in keys:
        group = [r for r in runs if r["env_id"] == env_id and r["label"] == label]
        def mean(xs: list[float]) -> float:
            xs = [x for x in xs if x is not None]
            return sum(xs) / len(xs) if xs else float("nan")
        solved = [r["steps_to_threshold"] for r in group]
        rows.append({
            "env_id": env_id, "label": label, "seeds": len(group),
            "final_return": round(mean([r["final_return"] for r in group]), 1),
            "final_return_min": round(min(r["final_return"] for r in group), 1),
            "solved": sum(s is not None for s in solved),
            "steps_to_threshold": round(mean(solved)) if any(s is not None for s in solved) else None,
            "max_ratio_dev": round(mean([max(r["updates"]["ratio_max_dev"]) for r in group]), 3),
            "median_ratio_dev": round(mean([_median(r["updates"]["ratio_max_dev"]) for r in group]), 3),
            "mean_frac_outside": round(mean([mean(r["updates"]["frac_outside"]) for r in group]), 4),
            "mean_clip_frac": round(mean([mean(r["updates"]["clip_frac"]) for r in group]), 4),
            "max_approx_kl": round(mean([max(r["updates"]["approx_kl"]) for r in group]), 4),
            "seconds": round(mean([r["seconds"] for r in group]), 1),
        })
    return rows


def _median(xs: list[float]) -> float:
    s = sorted(xs)
    return s[len(s) // 2]


def format_table(rows: list[dict[str, Any]]) -> str:
    """Markdown table of :func:`summarize`'s rows."""
    head = "| env | ε | final return (mean / min of seeds) | solved | steps to threshold | max |r−1| | median per-update max |r−1| | mean frac. outside band | mean clip frac | max KL |"
    lines = [head, "|" + "---|" * 10]
    for r in rows:
        steps = "—" if r["steps_to_threshold"] is None else f"{r['steps_to_threshold']:,}"
        lines.append(
            f"| {r['env_id']} | {r['label']} | {r['final_return']:.1f} / {r['final_return_min']:.1f} | {r['solved']}/{r['seeds']} | {steps} | "
            f"{r['max_ratio_dev']:.3f} | {r['median_ratio_dev']:.3f} | {r['mean_frac_outside']:.4f} | {r['mean_clip_frac']:.4f} | {r['max_approx_kl']:.4f} |"
        )
    return "\n".join(lines)


def sweep(envs: list[str], labels: list[str], seeds: int, steps: dict[str, int], progress: bool = True,
          on_run: Callable[[RunResult], None] | None = None) -> list[dict[str, Any]]:
    """All (env, setting, seed) runs, in order; ``on_run`` sees each result as it finishes."""
    from tqdm.auto import tqdm

    jobs = [(e, lab, s) for e in envs for lab in labels for s in range(seeds)]
    runs = []
    for env_id, label, seed in tqdm(jobs, desc="clip_eps sweep", unit="run", disable=not progress):
        result = run_one(env_id, label, seed, steps[env_id])
        if on_run is not None:
            on_run(result)
        runs.append(result.to_dict())
    return runs


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.splitlines()[0])
    parser.add_argument("--envs", nargs="+", default=["CartPole-v1"], help="env ids (Pendulum-v1 also works)")
    parser.add_argument("--labels", nargs="+", default=list(LABELS), help=f"settings, among {LABELS}")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=None, help="env steps per run (default: per env)")
    parser.add_argument("--name", default="clip_eps", help="output name under figures/")
    parser.add_argument("--no-progress", action="store_true")
    ns = parser.parse_args(argv)
    for label in ns.labels:
        try:
            setting(label)  # refuse a bad label before any training
        except ValueError as exc:
            raise SystemExit(f"error: {exc}") from None
    if ns.seeds < 1:
        raise SystemExit(f"--seeds must be >= 1, got {ns.seeds}")
    torch.set_num_threads(1)
    steps = {e: ns.steps or DEFAULT_STEPS.get(e, 100_000) for e in ns.envs}
    t0 = time.perf_counter()
    runs = sweep(ns.envs, ns.labels, ns.seeds, steps, progress=not ns.no_progress,
                 on_run=lambda r: print(f"{r.env_id} {r.label} seed {r.seed}: return {r.final_return:.1f} "
                                        f"max|r-1| {max(r.updates['ratio_max_dev']):.3f} ({r.seconds:.0f} s)", flush=True))
    seconds = time.perf_counter() - t0
    rows = summarize(runs)
    argv_s = " ".join(argv)
    from . import write_results

    path = write_results(ns.name, {"steps": steps, "labels": ns.labels, "seeds": ns.seeds, "summary": rows, "runs": runs},
                         seconds, f"{COMMAND} {argv_s}".strip())
    print(format_table(rows))
    print(f"wrote {path} in {seconds:.0f} s")
    return 0
