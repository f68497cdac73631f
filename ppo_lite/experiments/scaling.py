r"""Does PPO get faster when you throw hardware at it? (notebook 08): ``python -m ppo_lite.experiments scaling``.

Measures, on whatever device ``--device`` resolves to (``auto``: CUDA when there is one):

- ``throughput``: env steps/s of N envs under random actions, torch-native vs gymnasium ``SyncVectorEnv``;
- ``step_cost``: seconds per vector-env step against N, fitted as :math:`t(N) = a + bN`. With
  :math:`n_{ops}` tensor ops per step (counted with a dispatch-mode counter), :math:`a / n_{ops}` is the fixed cost
  of one op and :math:`N^* = a/b` the width below which a step is overhead-bound (its time hardly depends on N);
- ``profile``: where one PPO update's time goes, for several N: env stepping and policy forward inside
  :func:`~ppo_lite.rollout.collect_rollout`, the rest of the rollout, :func:`~ppo_lite.rollout.compute_advantages`
  (GAE), :func:`~ppo_lite.trainer.update`, and the trainer's bookkeeping (:mod:`ppo_lite.profiling`);
- ``time_to_target``: wall seconds, env steps and updates until the mean of the last 20 episodes reaches
  ``--target`` (CartPole's 475), against N, ``--seeds`` seeds, each run alone (one process, one thread), with a
  budget (``--max-steps``) that leaves every N room to get there. CartPole's defaults otherwise, except that the
  rollout of 32N samples is split into ``--minibatches`` minibatches at every N: the minibatch grows with N and an
  update is the same 20 × ``--minibatches`` gradient steps at every N;
- ``returns``: the algorithmic side: each N gets the same ``--fixed-steps`` env steps (so N times fewer updates at
  N times the envs), ``--return-seeds`` seeds, deterministic evaluation returns (on the CPU whatever ``--device``:
  the numbers, not the time, are what this piece measures);
- ``threads``: seconds per PPO gradient step at 1 and 2 torch threads, and whether one seed gives the same
  parameters at both thread counts;
- ``batched``: wall seconds to train K agents as one batched computation (:mod:`ppo_lite.batched`) and as K
  single-agent runs one after the other, both measured.

Every piece is one cell of ``figures/scaling.cells.jsonl``, written as it finishes with the 1-minute load average
before and after it (timings from a busy machine are inflated: measure on an idle one); a rerun skips the cells
already there. ``figures/scaling.json`` is rebuilt from the log at the end of every invocation; the entry point (``python -m ppo_lite.experiments scaling``) then draws ``scaling.png``.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import time
from typing import Any, Callable, Sequence

import torch
from torch import Tensor

from ..batched import BatchedConfig, BatchedTrainer
from ..config import SOLVED_THRESHOLDS, PPOConfig
from ..envs import make_env
from ..envs.base import VecEnv
from ..profiling import PhaseTimer, count_ops, profiled, sync
from ..trainer import Trainer, resolve_device, train
from . import add_sweep_arguments, compute_missing, open_cell_log, provenance_of_cells, regeneration_command

COMMAND = "python -m ppo_lite.experiments scaling"
ENV_ID = "CartPole-v1"
PHASES = ("env_step", "policy_forward", "rollout_other", "gae", "update", "bookkeeping")


# -- the profile of one update (the timers are ppo_lite.profiling's) --------------------------------------------
def profile_updates(config: PPOConfig, updates: int = 3, warmup: int = 1) -> dict[str, float]:
    """Mean seconds per update spent in each of :data:`PHASES` (after ``warmup`` untimed updates), plus ``total``.

    ``rollout_other`` is the rollout minus env steps and policy forwards (buffer writes, normalizers, the critic's one
    pass over the rollout); ``bookkeeping`` is the update's wall time minus every timed phase (KL, the read-back,
    logging). So the phases add up to ``total`` by construction; ``bookkeeping`` is small when the timed phases cover
    the update.
    """
    trainer = Trainer(config)
    try:
        for _ in range(warmup):
            trainer.run_update()
        timer = PhaseTimer(trainer.device)
        with profiled(trainer, timer):
            for _ in range(updates):
                with timer.phase("total"):
                    trainer.run_update()
    finally:
        trainer.env.close()
    s = {k: v / updates for k, v in timer.seconds.items()}
    out = {p: s.get(p, 0.0) for p in ("env_step", "policy_forward", "gae", "update")}
    out["rollout_other"] = s["rollout"] - out["env_step"] - out["policy_forward"]
    out["bookkeeping"] = s["total"] - s["rollout"] - out["gae"] - out["update"]
    out["total"] = s["total"]
    return out


# -- env stepping -------------------------------------------------------------------------------------------------
def _random_actions(env: VecEnv, gen: torch.Generator) -> Tensor:
    if env.is_discrete:
        return torch.randint(env.act_dim, (env.num_envs,), generator=gen, device=env.device)
    return torch.rand(env.num_envs, env.act_dim, generator=gen, device=env.device) * 2 - 1


def seconds_per_step(env_id: str, num_envs: int, backend: str, device: torch.device | str, steps: int = 200, repeats: int = 3) -> float:
    """Best of ``repeats`` timings of ``steps`` vector steps under random actions (drawn before the clock starts)."""
    device = torch.device(device)
    env = make_env(env_id, num_envs, device, backend, validate_actions=False)
    try:
        env.reset(seed=0)
        gen = torch.Generator(device=device).manual_seed(0)
        actions = [_random_actions(env, gen) for _ in range(steps)]
        best = float("inf")
        for _ in range(repeats):
            sync(device)
            t0 = time.perf_counter()
            for a in actions:
                env.step(a)
            sync(device)
            best = min(best, (time.perf_counter() - t0) / steps)
        return best
    finally:
        env.close()


def env_step_ops(env_id: str = ENV_ID, num_envs: int = 16) -> int:
    """ATen ops in one torch-native vector step (action checks off, as on CUDA)."""
    env = make_env(env_id, num_envs, "cpu", "torch", validate_actions=False)
    env.reset(seed=0)
    actions = _random_actions(env, torch.Generator().manual_seed(0))
    return count_ops(lambda: env.step(actions))


def fit_line(xs: Sequence[float], ys: Sequence[float]) -> tuple[float, float]:
    """Least-squares :math:`y = a + b x`; returns ``(a, b)``."""
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
    return my - b * mx, b


def amdahl_time(phase_seconds: Tensor, accelerated: Tensor, speedup: float) -> Tensor:
    r"""Time of an update whose ``accelerated`` phases run ``speedup`` times faster (Amdahl's law):
    :math:`T' = \sum_{p \notin A} t_p + \frac{1}{s}\sum_{p \in A} t_p` (``phase_seconds`` (P,), ``accelerated`` (P,) bool)."""
    if not speedup > 0:
        raise ValueError(f"speedup must be > 0, got {speedup}")
    return torch.where(accelerated, phase_seconds / speedup, phase_seconds).sum()


# -- training -----------------------------------------------------------------------------------------------------
def scaled_config(num_envs: int, seed: int, total_steps: int, minibatches: int, device: str = "cpu") -> PPOConfig:
    """CartPole's defaults with ``num_envs`` envs: the rollout is ``num_envs`` × 32 steps and is split into
    ``minibatches`` minibatches at every N, so the minibatch (``32·num_envs / minibatches`` samples) grows with N and
    an update takes the same ``update_epochs × minibatches`` gradient steps at every N."""
    return PPOConfig.for_env(ENV_ID, num_envs=num_envs, num_minibatches=minibatches, seed=seed, total_steps=total_steps,
                             device=device).validate()


def time_to_target(config: PPOConfig, target: float, max_seconds: float) -> dict[str, Any]:
    """Train until the mean of the last 20 episodes reaches ``target`` (or the budget or ``max_seconds`` ends).

    ``seconds``/``env_steps``/``updates``: when the target was reached (None if not); ``wall``: the run's own time."""
    t0 = time.perf_counter()
    reached: dict[str, float] = {}

    def stop(update: int, history) -> bool:
        if history.mean_return() >= target and len(history.episodes["return"]) >= 20:
            reached.update(seconds=time.perf_counter() - t0, env_steps=history["env_steps"][-1], updates=update + 1)
            return True
        return time.perf_counter() - t0 > max_seconds

    train(config, progress=False, callback=stop)
    return {"seconds": reached.get("seconds"), "env_steps": reached.get("env_steps"), "updates": reached.get("updates"),
            "wall": time.perf_counter() - t0}


def returns_at_fixed_steps(num_envs: int, seeds: Sequence[int], total_steps: int, minibatches: int,
                           episodes: int = 10) -> list[dict[str, Any]]:
    """The algorithmic side of scaling: every N gets the same ``total_steps`` env steps (so ``total_steps / 32N``
    updates); each seed's deterministic evaluation return and training curve (:func:`ppo_lite.experiments.sweep.score_agents`;
    the seeds train as one batched computation, which changes the time, not the numbers)."""
    from .sweep import score_agents

    base = scaled_config(num_envs, 0, total_steps, minibatches)
    return score_agents(base, list(seeds), episodes=episodes)


def gradient_step_seconds(batch: int, threads: int, steps: int = 20) -> float:
    """Seconds per gradient step of the trainer's own update (:func:`ppo_lite.trainer.update`: CartPole-v1's
    networks and loss, gradient clipping, :class:`~ppo_lite.optim.FlatAdam`) on one minibatch of ``batch`` samples,
    ``steps`` epochs of it, at ``threads`` (the best of three repeats). The batch is random, of a rollout's shape:
    the cost of a step does not depend on the values."""
    from ..trainer import update

    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        trainer = Trainer(PPOConfig.for_env(ENV_ID, device="cpu", seed=0))
        config = dataclasses.replace(trainer.config, num_minibatches=1, update_epochs=steps, target_kl=None)
        gen = torch.Generator().manual_seed(0)
        obs = torch.randn(batch, trainer.env.obs_dim, generator=gen)
        actions = torch.randint(2, (batch,), generator=gen)
        with torch.no_grad():
            logp, _, values = trainer.agent.evaluate(obs, actions)
        data = {"obs": obs, "actions": actions, "logp": logp, "values": values,
                "advantages": torch.randn(batch, generator=gen), "returns": values + torch.randn(batch, generator=gen)}
        best = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            update(trainer.agent, trainer.optimizer, data, config, trainer.generator)
            best = min(best, (time.perf_counter() - t0) / steps)
        return best
    finally:
        torch.set_num_threads(old)


def thread_reproducibility(updates: int = 3, threads: Sequence[int] = (1, 2)) -> dict[str, Any]:
    """Train one seed twice at ``threads[0]`` threads, then once at each other count.

    ``max_abs_param_diff[i]`` is the largest parameter difference between the run at ``threads[i]`` and the *first*
    run at ``threads[0]``: entry 0 compares two runs at the same thread count (0 when training is reproducible),
    the others show what another thread count's summation order does.
    """
    def train_params(n: int) -> Tensor:
        tr = Trainer(PPOConfig.for_env(ENV_ID, device="cpu", num_envs=64, total_steps=64 * 32 * updates, num_threads=n))
        try:
            tr.run(progress=False)
        finally:
            tr.env.close()
        return torch.nn.utils.parameters_to_vector(tr.agent.parameters()).detach().clone()

    ref = train_params(threads[0])
    diffs = [float((train_params(n) - ref).abs().max()) for n in threads]
    return {"threads": list(threads), "max_abs_param_diff": diffs, "updates": updates}


def batched_vs_sequential(agents: int, steps: int, repeats: int = 3, device: str = "cpu") -> dict[str, Any]:
    """Wall seconds to train ``agents`` CartPole agents (seeds 0..K-1) for ``steps`` env steps each on ``device``: as
    one batched computation (:func:`~ppo_lite.batched.train_batched`), and as K runs of :func:`~ppo_lite.trainer.train`
    one after another, **each measured** (construction included on both sides). Best of ``repeats`` for each side."""
    from ..batched import train_batched

    cfg = PPOConfig.for_env(ENV_ID, total_steps=steps, device=device)
    batched, sequential = float("inf"), float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        train_batched(BatchedConfig(base=cfg, seeds=list(range(agents))), progress=False)
        batched = min(batched, time.perf_counter() - t0)
        t0 = time.perf_counter()
        for seed in range(agents):
            train(cfg.replace(seed=seed), progress=False)
        sequential = min(sequential, time.perf_counter() - t0)
    return {"agents": agents, "steps": steps, "batched": batched, "sequential": sequential}


# -- the sweep: one cell per piece, written as it finishes ----------------------------------------------------------
def _pieces(ns: argparse.Namespace) -> list[tuple[str, dict[str, Any], Callable[[], dict[str, Any]]]]:
    """``(key, protocol, compute)`` of every cell of the sweep, in the order they run."""
    reps = 1 if ns.quick else 3
    device = str(resolve_device(ns.device))
    steps = {n: max(20, min(500, 2_000_000 // n)) for n in ns.step_envs}
    cells: list[tuple[str, dict[str, Any], Callable[[], dict[str, Any]]]] = []

    def throughput() -> dict[str, Any]:
        torch_s = [seconds_per_step(ENV_ID, n, "torch", device, steps[n], reps) for n in ns.step_envs]
        gym_s = [seconds_per_step(ENV_ID, n, "gymnasium", "cpu", max(20, 2000 // n), reps) for n in ns.gym_envs]
        ops = env_step_ops()
        a, b = fit_line(ns.step_envs, torch_s)
        return {"throughput": {"torch": {"envs": ns.step_envs, "seconds_per_step": torch_s},
                               "gymnasium": {"envs": ns.gym_envs, "seconds_per_step": gym_s}},
                "step_cost": {"ops_per_step": ops, "fixed_seconds": a, "seconds_per_env": b, "seconds_per_op": a / ops,
                              "overhead_bound_below": a / b}}

    cells.append(("throughput", {"device": device, "envs": ns.step_envs, "gym_envs": ns.gym_envs, "reps": reps}, throughput))
    cells.append(("profile", {"device": device, "envs": ns.envs, "minibatches": ns.minibatches, "reps": reps},
                  lambda: {"phases": [profile_updates(scaled_config(n, 0, 150_000, ns.minibatches, device), updates=reps)
                                      for n in ns.envs]}))
    for n in ns.envs:
        for seed in range(ns.seeds):
            protocol = {"config": scaled_config(n, seed, ns.max_steps, ns.minibatches, device).to_dict(),
                        "target": ns.target, "max_seconds": ns.max_seconds}
            cells.append((f"time_to_target/N={n}/seed={seed}", protocol,
                          lambda n=n, seed=seed: time_to_target(scaled_config(n, seed, ns.max_steps, ns.minibatches, device),
                                                                ns.target, ns.max_seconds)))
    for n in ns.envs:
        protocol = {"config": scaled_config(n, 0, ns.fixed_steps, ns.minibatches).to_dict(), "seeds": ns.return_seeds,
                    "episodes": ns.episodes}
        cells.append((f"returns/N={n}", protocol, lambda n=n: {"runs": returns_at_fixed_steps(
            n, range(ns.return_seeds), ns.fixed_steps, ns.minibatches, ns.episodes)}))
    grad_steps = 2 if ns.quick else 20
    cells.append(("threads", {"batch": [256, 4096], "threads": [1, 2], "steps": grad_steps, "reps": reps, "timed": "trainer.update"},
                  lambda: {"batch": [256, 4096],
                           "seconds": {str(t): [gradient_step_seconds(bs, t, steps=grad_steps) for bs in (256, 4096)] for t in (1, 2)},
                           "reproducibility": thread_reproducibility(updates=reps)}))
    for k in ns.agents:
        cells.append((f"batched/K={k}", {"agents": k, "steps": ns.agent_steps, "reps": reps, "device": device},
                      lambda k=k: batched_vs_sequential(k, ns.agent_steps, reps, device)))
    return cells


def assemble(done: dict[str, dict[str, Any]], ns: argparse.Namespace) -> dict[str, Any]:
    """The results file's data from the finished cells (a missing cell leaves its part out)."""
    data: dict[str, Any] = {"env_id": ENV_ID, "device": str(resolve_device(ns.device)), "target": ns.target,
                            "minibatches": ns.minibatches}
    if "throughput" in done:
        data.update(throughput=done["throughput"]["throughput"], step_cost=done["throughput"]["step_cost"])
    if "profile" in done:
        data["profile"] = {"envs": ns.envs, "phases": done["profile"]["phases"]}
    runs = [[done.get(f"time_to_target/N={n}/seed={s}") for s in range(ns.seeds)] for n in ns.envs]
    if any(r is not None for rs in runs for r in rs):
        keep = ("seconds", "env_steps", "updates", "wall", "load_before", "load_after")
        data["time_to_target"] = {"envs": ns.envs, "max_seconds": ns.max_seconds, "max_steps": ns.max_steps,
                                  "runs": [[{k: r[k] for k in keep} for r in rs if r is not None] for rs in runs]}
    ret = [(n, done.get(f"returns/N={n}")) for n in ns.envs]
    if any(c is not None for _, c in ret):
        data["returns"] = {"env_steps": ns.fixed_steps, "episodes": ns.episodes, "envs": [n for n, c in ret if c is not None],
                           "runs": [[{k: r[k] for k in ("seed", "eval_return", "final_train", "diverged", "curve_steps", "curve")}
                                     for r in c["runs"]] for _, c in ret if c is not None]}
    if "threads" in done:
        data["threads"] = {k: done["threads"][k] for k in ("batch", "seconds", "reproducibility")}
    bat = [done[f"batched/K={k}"] for k in ns.agents if f"batched/K={k}" in done]
    if bat:
        data["batched"] = {"agents": [c["agents"] for c in bat], "steps": ns.agent_steps,
                           "batched": [c["batched"] for c in bat], "sequential": [c["sequential"] for c in bat]}
    return data


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--envs", type=int, nargs="*", default=[4, 16, 64, 256, 1024], help="N for profile, time to target, returns")
    parser.add_argument("--step-envs", type=int, nargs="*", default=[1, 16, 256, 4096, 65536], help="N for env throughput")
    parser.add_argument("--gym-envs", type=int, nargs="*", default=[1, 16, 256], help="N for the gymnasium backend")
    parser.add_argument("--minibatches", type=int, default=1, help="minibatches per rollout at every N (the minibatch grows with N)")
    parser.add_argument("--seeds", type=int, default=5, help="seeds of each time-to-target N")
    parser.add_argument("--target", type=float, default=SOLVED_THRESHOLDS[ENV_ID])
    parser.add_argument("--max-steps", type=int, default=4_000_000, help="env-step budget of a time-to-target run (lr annealed over it)")
    parser.add_argument("--max-seconds", type=float, default=1200.0, help="safety limit of a time-to-target run")
    parser.add_argument("--fixed-steps", type=int, default=100_000, help="env steps of every N's returns cell")
    parser.add_argument("--return-seeds", type=int, default=10)
    parser.add_argument("--episodes", type=int, default=10, help="evaluation episodes per agent (returns cells)")
    parser.add_argument("--agents", type=int, nargs="*", default=[1, 4, 16, 64])
    parser.add_argument("--agent-steps", type=int, default=1280, help="env steps per agent in batched vs sequential")
    parser.add_argument("--quick", action="store_true", help="one timed repetition of each piece (for tests)")
    parser.add_argument("--max-cells", type=int, default=None, help="stop after computing this many cells")
    add_sweep_arguments(parser, "scaling")
    ns = parser.parse_args(argv)
    for name in ("envs", "step_envs", "gym_envs", "agents"):
        bad = [v for v in getattr(ns, name) if v < 1]
        if bad or not getattr(ns, name):
            raise SystemExit(f"--{name.replace('_', '-')} needs positive integers, got {getattr(ns, name)}")
    for n in ns.envs:
        if (32 * n) % ns.minibatches:
            raise SystemExit(f"--minibatches {ns.minibatches} does not divide the rollout of N = {n} (32·N = {32 * n})")
    if ns.seeds < 1 or ns.return_seeds < 2 or ns.max_seconds <= 0:
        raise SystemExit(f"--seeds must be >= 1, --return-seeds >= 2, --max-seconds > 0; got {ns.seeds}, "
                         f"{ns.return_seeds}, {ns.max_seconds}")
    from . import write_results

    def with_load(compute: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        load_before = os.getloadavg()[0]  # 1-min load average: the timings of a busy machine are inflated
        cell = compute()
        return {**cell, "load_before": load_before, "load_after": os.getloadavg()[0]}

    log = open_cell_log(ns)  # one torch thread, as every number here is measured
    t0 = time.perf_counter()
    pieces = _pieces(ns)
    compute_missing(log, [(key, protocol, lambda c=compute: with_load(c)) for key, protocol, compute in pieces],
                    ns.max_cells, "scaling", not ns.no_progress)
    done = {key: c for key, p, _ in pieces if (c := log.done(key, p)) is not None}
    missing = [key for key, _, _ in pieces if key not in done]
    data = assemble(done, ns) | {"complete": not missing, "missing": missing,
                                 "load_average": [min(c["load_before"] for c in done.values()), max(c["load_after"] for c in done.values())] if done else [],
                                 **provenance_of_cells(list(done.values()))}
    path = write_results(ns.name, data, time.perf_counter() - t0, regeneration_command(COMMAND, argv), outdir=ns.outdir)
    print(f"wrote {path}: {len(done)}/{len(pieces)} cells" + (f"; missing: {', '.join(missing)}" if missing else ""))
    return 0
