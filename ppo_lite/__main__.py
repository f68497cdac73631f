"""Command line: ``python -m ppo_lite train ...`` and ``python -m ppo_lite evaluate run.pt``.

Argument parsing only; the work is done by :func:`ppo_lite.train` and :func:`ppo_lite.evaluate`. Every
:class:`~ppo_lite.config.PPOConfig` field is an option (``--clip-eps 0.1``, ``--no-norm-adv``, ...); fields
left out take the per-family defaults of ``PPOConfig.for_env``.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import time
import typing


from .config import OBJECTIVES, PPOConfig


def _field_type(f: dataclasses.Field) -> type | None:
    hints = typing.get_type_hints(PPOConfig)
    return hints[f.name]


# The two KL settings read alike and do different things: say which is which where a user meets them.
_HELP = {
    "target_kl": "early stopping, any objective: end an update's epochs once the approximate KL of the last "
                 "minibatch exceeds this ('none' = never). Not --kl-target.",
    "kl_target": "the KL per update that PPO v1's controllers steer beta or eta towards (objectives kl_adaptive, "
                 "kl_dual). Not --target-kl.",
    "kl_dual_lr": "dual step size alpha_eta of eta <- max(0, eta + alpha_eta (KL - kl_target)) (kl_dual)",
}


def _add_config_options(parser: argparse.ArgumentParser) -> None:
    for f in dataclasses.fields(PPOConfig):
        if f.name in ("env_id", "extra", "num_threads"):  # num_threads is --threads
            continue
        flag = "--" + f.name.replace("_", "-")
        hint = _field_type(f)
        args = typing.get_args(hint)
        if hint is bool:
            parser.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction, default=None)
        elif f.name == "hidden":
            parser.add_argument(flag, dest=f.name, type=int, nargs="+", default=None, help="hidden layer widths")
        elif f.name == "objective":
            parser.add_argument(flag, dest=f.name, choices=OBJECTIVES, default=None)
        elif f.name == "validate_actions":
            parser.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction, default=None)
        else:
            base = next((a for a in args if a is not type(None)), hint) if args else hint
            parser.add_argument(flag, dest=f.name, type=base if base in (int, float, str) else str, default=None,
                                help=_HELP.get(f.name, "'none' turns it off" if type(None) in args else None))


def _config_from_args(ns: argparse.Namespace) -> PPOConfig:
    overrides = {}
    for f in dataclasses.fields(PPOConfig):
        if f.name in ("env_id", "extra"):
            continue
        value = getattr(ns, f.name, None)
        if value is None:
            continue
        if f.name == "hidden":
            value = tuple(value)
        overrides[f.name] = value
    if getattr(ns, "no_grad_clip", False):
        overrides["max_grad_norm"] = None
    if getattr(ns, "no_target_kl", False):
        overrides["target_kl"] = None
    return PPOConfig.for_env(ns.env, **overrides).validate()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ppo_lite", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p_train = sub.add_parser("train", help="train an agent")
    p_train.add_argument("--env", default="CartPole-v1", help="gymnasium env id")
    p_train.add_argument("--steps", dest="total_steps", type=int, default=None, help="total env steps")
    p_train.add_argument("--save", default=None, help="checkpoint path (written atomically)")
    p_train.add_argument("--save-every", type=int, default=0, help="also checkpoint every K updates")
    p_train.add_argument("--log-dir", default=None, help="write TensorBoard event files and progress.csv here")
    p_train.add_argument("--resume", default=None, help="continue from this checkpoint")
    p_train.add_argument("--threads", dest="num_threads", type=int, default=None,
                         help="torch CPU threads while training (default 1: the fast choice for PPO's small networks)")
    p_train.add_argument("--no-progress", action="store_true")
    p_train.add_argument("--no-grad-clip", action="store_true", help="turn gradient-norm clipping off")
    p_train.add_argument("--no-target-kl", action="store_true", help="turn KL early stopping off")
    _add_config_options(p_train)

    p_eval = sub.add_parser("evaluate", help="evaluate a checkpoint")
    p_eval.add_argument("checkpoint")
    p_eval.add_argument("--episodes", type=int, default=20)
    p_eval.add_argument("--stochastic", action="store_true", help="sample actions instead of taking the mode")
    p_eval.add_argument("--seed", type=int, default=12345)
    p_eval.add_argument("--device", default="cpu")
    p_eval.add_argument("--video", default=None, help="also record deterministic episodes into this .gif or .mp4")
    p_eval.add_argument("--video-episodes", type=int, default=1)

    ns = parser.parse_args(argv)
    try:
        if ns.command == "train":
            return _train(ns)
        return _evaluate(ns)
    except (ValueError, FileNotFoundError, FloatingPointError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _train(ns: argparse.Namespace) -> int:
    from . import distributed
    from .trainer import train

    for name in ("max_grad_norm", "target_kl"):
        value = getattr(ns, name, None)
        if isinstance(value, str):
            setattr(ns, name, None if value.lower() == "none" else float(value))
    if ns.num_threads is not None and ns.num_threads < 1:
        raise ValueError(f"--threads must be >= 1, got {ns.num_threads}")
    config = _config_from_args(ns)
    t0 = time.perf_counter()
    # Under torchrun each process is one rank of a data-parallel job (ppo_lite.distributed); rank 0 reports.
    run = distributed.train_from_env if distributed.launched_by_torchrun() else train
    history = run(config, save_path=ns.save, save_every=ns.save_every, resume_from=ns.resume, progress=not ns.no_progress,
                  log_dir=ns.log_dir)
    seconds = time.perf_counter() - t0
    if not distributed.is_main_process():
        return 0
    solved = history.steps_to_threshold(475) if config.env_id.startswith("CartPole") else None
    print(
        f"{config.env_id} {config.objective} seed={config.seed}: {history['env_steps'][-1]:.0f} env steps in "
        f"{seconds:.1f} s ({history['env_steps'][-1] / seconds:,.0f} steps/s), "
        f"mean return of the last 20 episodes {history.mean_return(20):.1f}"
        + (f", reached 475 at step {solved:.0f}" if solved is not None else "")
        + (f"; saved {ns.save}" if ns.save else "")
    )
    return 0


def _evaluate(ns: argparse.Namespace) -> int:
    from .evaluation import evaluate

    if ns.video and not ns.video.lower().endswith((".gif", ".mp4")):  # refuse before the evaluation runs
        raise ValueError(f"--video must end in .gif or .mp4, got {ns.video!r}")
    returns = evaluate(ns.checkpoint, episodes=ns.episodes, deterministic=not ns.stochastic, seed=ns.seed, device=ns.device)
    mean = sum(returns) / len(returns)
    std = (sum((r - mean) ** 2 for r in returns) / len(returns)) ** 0.5
    kind = "stochastic" if ns.stochastic else "deterministic"
    print(f"{ns.checkpoint}: {kind} return over {len(returns)} episodes: {mean:.1f} ± {std:.1f} (min {min(returns):.1f}, max {max(returns):.1f})")
    if ns.video:
        from .evaluation import record_video

        video = record_video(ns.checkpoint, ns.video, episodes=ns.video_episodes, seed=ns.seed, deterministic=not ns.stochastic)
        print(f"video: {ns.video} ({video['frames']} frames, {video['bytes'] / 1024:.0f} KB, "
              f"mean return {video['mean_return']:.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
