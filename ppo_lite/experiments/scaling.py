r"""Does PPO get faster when you throw hardware at it? (notebook 08): ``python -m ppo_lite.experiments scaling``.

Measures, on whatever device ``--device`` resolves to (``auto``: CUDA when there is one):

- ``throughput``: env steps/s of N envs under random actions, torch-native vs gymnasium ``SyncVectorEnv``;
- ``step_cost``: seconds per vector-env step against N, fitted as :math:`t(N) = a + bN`. With
  :math:`n_{ops}` tensor ops per step (counted with a dispatch-mode counter), :math:`a / n_{ops}` is the fixed cost
  of one op and :math:`N^* = a/b` the width below which a step is overhead-bound (its time hardly depends on N);
- ``profile``: where one PPO update's time goes, for several N: env stepping and policy forward inside
  :func:`~ppo_lite.rollout.collect_rollout`, the rest of the rollout, :func:`~ppo_lite.rollout.compute_advantages`
  (GAE), :func:`~ppo_lite.trainer.update`, and the trainer's bookkeeping (:mod:`ppo_lite.profiling`);
- ``time_to_target``: wall seconds and env steps until the mean of the last 20 episodes reaches ``--target``,
  against N (CartPole-v1 defaults otherwise), several seeds;
- ``threads``: seconds per PPO gradient step at 1 and 2 torch threads, and whether one seed gives the same
  parameters at both thread counts;
- ``batched``: seconds per update of K agents trained as one batched computation (:mod:`ppo_lite.batched`)
  against K single-agent updates one after the other.

Writes ``figures/scaling.json``; the entry point (``python -m ppo_lite.experiments scaling``) then draws ``scaling.png``.
"""
from __future__ import annotations

import argparse
import time
from typing import Any, Sequence

import torch
from torch import Tensor

from ..batched import BatchedConfig, BatchedTrainer
from ..config import PPOConfig
from ..envs import make_env
from ..envs.base import VecEnv
from ..profiling import PhaseTimer, count_ops, profiled, sync
from ..trainer import Trainer, resolve_device, train

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
def time_to_target(config: PPOConfig, target: float, max_seconds: float) -> dict[str, Any]:
    """Train until the mean of the last 20 episodes reaches ``target`` (or the budget or ``max_seconds`` ends)."""
    t0 = time.perf_counter()
    reached: dict[str, float] = {}

    def stop(update: int, history) -> bool:
        if history.mean_return() >= target and len(history.episodes["return"]) >= 20:
            reached.update(seconds=time.perf_counter() - t0, env_steps=history["env_steps"][-1])
            return True
        return time.perf_counter() - t0 > max_seconds

    train(config, progress=False, callback=stop)
    return {"seconds": reached.get("seconds"), "env_steps": reached.get("env_steps"), "wall": time.perf_counter() - t0}


def gradient_step_seconds(batch: int, threads: int, steps: int = 20) -> float:
    """Seconds per PPO gradient step (two 4-64-64 tanh MLPs, clipped loss, grad clip, Adam) at ``threads``."""
    from ..objectives import clipped_loss
    from ..policies import ActorCritic

    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        torch.manual_seed(0)
        net = ActorCritic(4, 2, True)
        opt = torch.optim.Adam(net.parameters(), lr=1e-3, fused=True)
        obs, actions = torch.randn(batch, 4), torch.randint(2, (batch,))
        adv, ret = torch.randn(batch), torch.randn(batch)
        with torch.no_grad():
            logp_old = net.log_prob_entropy(obs, actions)[0]
        best = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            for _ in range(steps):
                logp, _, value = net.evaluate(obs, actions)
                loss = clipped_loss(logp, logp_old, adv, 0.2) + 0.5 * ((value - ret) ** 2).mean()
                opt.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(net.parameters(), 0.5)
                opt.step()
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
    old = torch.get_num_threads()

    def train_params(n: int) -> Tensor:
        torch.set_num_threads(n)
        tr = Trainer(PPOConfig.for_env(ENV_ID, device="cpu", num_envs=64, total_steps=64 * 32 * updates))
        try:
            tr.run(progress=False)
        finally:
            tr.env.close()
        return torch.nn.utils.parameters_to_vector(tr.agent.parameters()).detach().clone()

    try:
        ref = train_params(threads[0])
        diffs = [float((train_params(n) - ref).abs().max()) for n in threads]
    finally:
        torch.set_num_threads(old)
    return {"threads": list(threads), "max_abs_param_diff": diffs, "updates": updates}


def batched_vs_sequential(agents: Sequence[int], updates: int = 3, device: str = "auto") -> dict[str, Any]:
    """Seconds per update: K agents as one batch, and K single-agent updates one after another (K × one agent)."""
    cfg = PPOConfig.for_env(ENV_ID, device=device)
    single = Trainer(cfg)
    single.run_update()  # warm-up
    t0 = time.perf_counter()
    for _ in range(updates):
        single.run_update()
    one = (time.perf_counter() - t0) / updates
    single.env.close()
    out = {"agents": list(agents), "batched": [], "sequential": [], "one_agent": one}
    for k in agents:
        bt = BatchedTrainer(BatchedConfig(base=cfg, seeds=list(range(k))))
        bt.run_update()
        sync(bt.device)
        t0 = time.perf_counter()
        for _ in range(updates):
            bt.run_update()
        sync(bt.device)
        out["batched"].append((time.perf_counter() - t0) / updates)
        out["sequential"].append(k * one)
        bt.env.close()
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--envs", type=int, nargs="*", default=[4, 16, 64, 256], help="N for profile and time-to-target")
    parser.add_argument("--step-envs", type=int, nargs="*", default=[1, 16, 256, 4096, 65536], help="N for env throughput")
    parser.add_argument("--gym-envs", type=int, nargs="*", default=[1, 16, 256], help="N for the gymnasium backend")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--target", type=float, default=300.0)
    parser.add_argument("--max-steps", type=int, default=150_000)
    parser.add_argument("--max-seconds", type=float, default=60.0)
    parser.add_argument("--agents", type=int, nargs="*", default=[1, 4, 16])
    parser.add_argument("--quick", action="store_true", help="one timed repetition of each piece (for tests)")
    args = parser.parse_args(argv)
    reps = 1 if args.quick else 3
    from tqdm.auto import tqdm

    from . import write_results

    torch.set_num_threads(1)
    t0 = time.perf_counter()
    device = resolve_device(args.device)
    data: dict[str, Any] = {"env_id": ENV_ID, "device": str(device), "target": args.target}
    steps = {n: max(20, min(500, 2_000_000 // n)) for n in args.step_envs}
    data["throughput"] = {
        "torch": {"envs": args.step_envs, "seconds_per_step": [seconds_per_step(ENV_ID, n, "torch", device, steps[n]) for n in tqdm(args.step_envs, desc="torch env")]},
        "gymnasium": {"envs": args.gym_envs, "seconds_per_step": [seconds_per_step(ENV_ID, n, "gymnasium", "cpu", max(20, 2000 // n)) for n in tqdm(args.gym_envs, desc="gym env")]},
    }
    ops = env_step_ops()
    a, b = fit_line(args.step_envs, data["throughput"]["torch"]["seconds_per_step"])
    data["step_cost"] = {"ops_per_step": ops, "fixed_seconds": a, "seconds_per_env": b, "seconds_per_op": a / ops, "overhead_bound_below": a / b}
    data["profile"] = {"envs": args.envs, "phases": [profile_updates(PPOConfig.for_env(ENV_ID, num_envs=n, device=args.device), updates=reps) for n in tqdm(args.envs, desc="profile")]}
    runs = []
    for n in tqdm(args.envs, desc="time to target"):
        runs.append([time_to_target(PPOConfig.for_env(ENV_ID, num_envs=n, seed=s, total_steps=args.max_steps, device=args.device), args.target, args.max_seconds)
                     for s in range(args.seeds)])
    data["time_to_target"] = {"envs": args.envs, "runs": runs, "max_seconds": args.max_seconds, "max_steps": args.max_steps}
    data["threads"] = {"batch": [256, 4096], "seconds": {str(t): [gradient_step_seconds(bs, t, steps=2 if args.quick else 20) for bs in (256, 4096)] for t in (1, 2)},
                       "reproducibility": thread_reproducibility(updates=reps)}
    data["batched"] = batched_vs_sequential(args.agents, updates=reps, device=args.device)
    path = write_results("scaling", data, time.perf_counter() - t0, " ".join([COMMAND, *argv]))
    print(f"wrote {path} ({time.perf_counter() - t0:.0f} s)")
    return 0
