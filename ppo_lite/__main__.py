"""Command line: ``python -m ppo_lite train ...`` and ``python -m ppo_lite evaluate run.pt``.

Argument parsing only; the work is done by :func:`ppo_lite.train` and :func:`ppo_lite.evaluate`. Every
:class:`~ppo_lite.config.PPOConfig` field is an option (``--clip-eps 0.1``, ``--no-norm-adv``, ...); fields
left out take the per-family defaults of ``PPOConfig.for_env``.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import re
import sys
import time
import typing


from .config import OBJECTIVES, PPOConfig
from .interrupt import TrainingInterrupted


def _field_type(f: dataclasses.Field) -> type | None:
    hints = typing.get_type_hints(PPOConfig)
    return hints[f.name]


def field_docs() -> dict[str, str]:
    """Each PPOConfig field's docstring (the string literal under it in config.py): the one text the API docs and
    the CLI's help share."""
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(PPOConfig))
    body = tree.body[0].body
    docs = {}
    for node, after in zip(body, body[1:]):
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and isinstance(after, ast.Expr) \
                and isinstance(after.value, ast.Constant) and isinstance(after.value.value, str):
            docs[node.target.id] = " ".join(after.value.value.replace("``", "").split())
    return docs


# The two KL settings read alike and do different things: say which is which where a user meets them.
_HELP = {
    "target_kl": "early stopping, any objective: end an update's epochs once the approximate KL of the last "
                 "minibatch exceeds this ('none' = never). Not --kl-target.",
    "kl_target": "the KL per update that PPO v1's controllers steer beta or eta towards (objectives kl_adaptive, "
                 "kl_dual). Not --target-kl.",
    "kl_dual_lr": "dual step size alpha_eta of eta <- max(0, eta + alpha_eta (KL - kl_target)) (kl_dual)",
}
_NOT_OPTIONS = ("env_id", "env_kwargs", "extra", "num_threads")  # --env, --env-kwargs, --threads


def flag(name: str) -> str:
    """The command-line option of PPOConfig field ``name``."""
    return {"env_id": "--env", "num_threads": "--threads"}.get(name, "--" + name.replace("_", "-"))


def _add_config_options(parser: argparse.ArgumentParser) -> None:
    docs, default = field_docs(), PPOConfig()
    for f in dataclasses.fields(PPOConfig):
        if f.name in _NOT_OPTIONS:
            continue
        hint = _field_type(f)
        args = typing.get_args(hint)
        text = _HELP.get(f.name) or docs.get(f.name) or f.name.replace("_", " ")
        shown = "%s" % (" ".join(map(str, default.hidden)) if f.name == "hidden" else getattr(default, f.name))
        # argparse formats help with %: escape it; defaults depend on the env, so show CartPole's and where to see others
        help_text = (text + f" [CartPole-v1: {shown}]").replace("%", "%%")
        names = [flag(f.name)] + (["--steps"] if f.name == "total_steps" else [])
        if hint is bool or f.name == "validate_actions":
            parser.add_argument(*names, dest=f.name, action=argparse.BooleanOptionalAction, default=None, help=help_text)
        elif f.name == "hidden":
            parser.add_argument(*names, dest=f.name, type=int, nargs="+", default=None, metavar="WIDTH", help=help_text)
        elif f.name == "objective":
            parser.add_argument(*names, dest=f.name, choices=OBJECTIVES, default=None, help=help_text)
        else:
            base = next((a for a in args if a is not type(None)), hint) if args else hint
            if type(None) in args:
                help_text += " ('none' turns it off)"
                base = str  # a number or 'none', read in _overrides_from_args
            parser.add_argument(*names, dest=f.name, type=base if base in (int, float, str) else str, default=None,
                                metavar=f.name.upper(), help=help_text)


def _parse_env_kwargs(items: list[str] | None) -> dict[str, typing.Any]:
    """``KEY=VALUE`` pairs; each VALUE read as JSON (numbers, true/false, null, lists), else kept as a string."""
    out: dict[str, typing.Any] = {}
    for item in items or []:
        key, eq, value = item.partition("=")
        if not eq or not key.isidentifier():
            raise ValueError(f"--env-kwargs takes KEY=VALUE pairs, got {item!r}")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def _overrides_from_args(ns: argparse.Namespace) -> dict[str, typing.Any]:
    """The PPOConfig settings the command line gives explicitly (every option left out is absent)."""
    overrides = {}
    for f in dataclasses.fields(PPOConfig):
        if f.name in ("env_id", "extra", "env_kwargs"):
            continue
        value = getattr(ns, f.name, None)
        if value is None:
            continue
        if f.name == "hidden":
            value = tuple(value)
        overrides[f.name] = value
    for name in ("max_grad_norm", "target_kl"):
        if isinstance(overrides.get(name), str):
            text = overrides[name].strip().lower()
            try:
                overrides[name] = None if text == "none" else float(text)
            except ValueError:
                raise ValueError(f"{flag(name)} takes a number or 'none', got {overrides[name]!r}") from None
    if getattr(ns, "no_grad_clip", False):
        overrides["max_grad_norm"] = None
    if getattr(ns, "no_target_kl", False):
        overrides["target_kl"] = None
    if ns.env_kwargs is not None:
        overrides["env_kwargs"] = _parse_env_kwargs(ns.env_kwargs)
    return overrides


def _config_from_args(ns: argparse.Namespace) -> tuple[PPOConfig, dict[str, tuple]]:
    """The run's config, and (on resume) the settings that differ from the checkpoint's: name -> (saved, new).

    A new run: the env's defaults (``PPOConfig.for_env``), then the options given. A resumed run: the checkpoint's
    own settings, then the options given (``--env`` may be left out; given, it must be the checkpoint's)."""
    overrides = _overrides_from_args(ns)
    minibatch_size = ns.minibatch_size
    if ns.resume:
        from .checkpoint import load_checkpoint

        saved = PPOConfig.from_dict(load_checkpoint(ns.resume)["config"])
        if ns.env is not None and ns.env != saved.env_id:
            raise ValueError(f"--resume {ns.resume}: the checkpoint was trained on {saved.env_id!r}, not --env {ns.env!r} "
                             "(leave --env out to continue it)")
        config = saved.replace(**overrides)
        if minibatch_size is not None:
            config = config.replace(num_minibatches=_minibatches(config, minibatch_size))
        changed = {f.name: (getattr(saved, f.name), getattr(config, f.name)) for f in dataclasses.fields(PPOConfig)
                   if getattr(saved, f.name) != getattr(config, f.name)}
        return config.validate(), changed
    env_kwargs = overrides.pop("env_kwargs", None)
    config = PPOConfig.for_env(ns.env or "CartPole-v1", env_kwargs=env_kwargs, **overrides)
    if minibatch_size is not None:
        config = config.replace(num_minibatches=_minibatches(config, minibatch_size))
    return config.validate(), {}


def _minibatches(config: PPOConfig, minibatch_size: int) -> int:
    """``--minibatch-size M`` as the number of minibatches of one rollout (``num_minibatches``)."""
    batch = config.batch_size
    if minibatch_size < 1 or batch % minibatch_size:
        raise ValueError(f"--minibatch-size {minibatch_size} does not divide a rollout of --num-envs x --num-steps = "
                         f"{config.num_envs} x {config.num_steps} = {batch} transitions; divisors: "
                         f"{[d for d in range(1, batch + 1) if batch % d == 0][:24]}")
    return batch // minibatch_size


def _name_flags(message: str) -> str:
    """Errors name the option the user typed: ``PPOConfig.total_steps=...`` -> ``--total-steps=...``."""
    return re.sub(r"PPOConfig\.(\w+)=", lambda m: f"{flag(m.group(1))}=", message)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ppo_lite", description=__doc__.splitlines()[0],
        epilog="python -m ppo_lite train --help lists every setting; --print-config shows the resolved settings "
               "of an env without training.")
    sub = parser.add_subparsers(dest="command", required=True)

    p_train = sub.add_parser(
        "train", help="train an agent",
        description="Train PPO. Settings left out take the env's defaults (PPOConfig.for_env: shown in brackets for "
                    "CartPole-v1; --env ID --print-config shows any env's); on --resume they keep the checkpoint's.",
        epilog="Ctrl-C or SIGTERM stops at the end of the update in progress and writes the --save checkpoint "
               "(a second one stops at once). Your own env: --env mypkg.envs:MyEnv (a gymnasium.Env subclass, a "
               "factory, or a module that registers an id), with --env-kwargs KEY=VALUE ...")
    p_train.add_argument("--env", default=None, metavar="ID",
                         help="gymnasium id, or module:Name of your own env (a class, a factory, or a module that "
                              "registers Name) [CartPole-v1; on --resume, the checkpoint's]")
    p_train.add_argument("--env-kwargs", nargs="+", default=None, metavar="KEY=VALUE",
                         help="keyword arguments for the env's constructor (VALUE read as JSON, else a string); "
                              "max_episode_steps=N adds a time limit")
    p_train.add_argument("--minibatch-size", type=int, default=None, metavar="M",
                         help="transitions per minibatch, instead of --num-minibatches (must divide num_envs*num_steps)")
    p_train.add_argument("--save", default=None, metavar="PATH", help="checkpoint path (written atomically)")
    p_train.add_argument("--save-every", type=int, default=0, metavar="K",
                         help="also checkpoint every K updates [0: only at the end]; needs --save")
    p_train.add_argument("--keep-checkpoints", type=int, default=0, metavar="N",
                         help="with --save-every: also keep the last N checkpoints as STEM_u000123.pt beside PATH [0: none]")
    p_train.add_argument("--eval-every", type=int, default=0, metavar="K",
                         help="every K updates, evaluate the deterministic policy on --eval-episodes fresh episodes "
                              "and keep the best as STEM_best.pt beside PATH; needs --save")
    p_train.add_argument("--eval-episodes", type=int, default=10, metavar="E", help="episodes per --eval-every evaluation [10]")
    p_train.add_argument("--log-dir", default=None, metavar="DIR", help="write TensorBoard event files and progress.csv here")
    p_train.add_argument("--resume", default=None, metavar="PATH",
                         help="continue this checkpoint with its own settings; options given override them")
    p_train.add_argument("--threads", dest="num_threads", type=int, default=None,
                         help="torch CPU threads while training [1: the fast choice for PPO's small networks]")
    p_train.add_argument("--print-config", action="store_true", help="print the resolved settings and exit")
    p_train.add_argument("--no-progress", action="store_true", help="no progress bar")
    p_train.add_argument("--no-grad-clip", action="store_true", help="turn gradient-norm clipping off")
    p_train.add_argument("--no-target-kl", action="store_true", help="turn KL early stopping off")
    _add_config_options(p_train)

    p_eval = sub.add_parser("evaluate", help="evaluate a checkpoint (deterministic returns; a video)",
                            formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p_eval.add_argument("checkpoint")
    p_eval.add_argument("--episodes", type=int, default=20, help="episodes, each on its own env")
    p_eval.add_argument("--stochastic", action="store_true", help="sample actions instead of taking the mode")
    p_eval.add_argument("--seed", type=int, default=12345, help="seeds the evaluation envs")
    p_eval.add_argument("--device", default="cpu", help="cpu, cuda or cuda:K")
    p_eval.add_argument("--video", default=None, help="also record deterministic episodes into this .gif or .mp4")
    p_eval.add_argument("--video-episodes", type=int, default=1, help="episodes in the video")

    ns = parser.parse_args(argv)
    try:
        if ns.command == "train":
            return _train(ns)
        return _evaluate(ns)
    except (ValueError, FileNotFoundError, FloatingPointError, TypeError) as exc:
        print(f"error: {_name_flags(str(exc))}", file=sys.stderr)
        return 2
    except TrainingInterrupted as exc:
        print(f"stopped: {exc}", file=sys.stderr)
        return 130 if exc.signal_name == "SIGINT" else 143
    except KeyboardInterrupt as exc:
        print(f"stopped at once ({exc or 'interrupted'}); the last checkpoint written, if any, is unchanged", file=sys.stderr)
        return 130


def _check_train_args(ns: argparse.Namespace) -> None:
    """Command-line mistakes refused before anything is built."""
    if ns.num_threads is not None and ns.num_threads < 1:
        raise ValueError(f"--threads must be >= 1, got {ns.num_threads}")
    for name in ("save_every", "keep_checkpoints", "eval_every"):
        value = getattr(ns, name)
        if value < 0:
            raise ValueError(f"--{name.replace('_', '-')} must be >= 0, got {value}")
        if value and not ns.save:
            raise ValueError(f"--{name.replace('_', '-')} {value} needs --save PATH (where the checkpoints go)")
    if ns.keep_checkpoints and not ns.save_every:
        raise ValueError("--keep-checkpoints needs --save-every K (how often a numbered checkpoint is written)")
    if ns.eval_episodes < 1:
        raise ValueError(f"--eval-episodes must be >= 1, got {ns.eval_episodes}")
    if ns.minibatch_size is not None and ns.num_minibatches is not None:
        raise ValueError("give --minibatch-size or --num-minibatches, not both")


def _summary(config: PPOConfig, resumed_at: int, changed: dict[str, tuple]) -> str:
    """The start-up line: what will run, and on resume what differs from the checkpoint."""
    u = config.num_updates
    what = (f"{config.env_id} {config.objective}: {config.num_updates * config.batch_size:,} env steps = {u} updates "
            f"of {config.num_envs} envs x {config.num_steps} steps, {config.update_epochs} epochs x "
            f"{config.num_minibatches} minibatches of {config.minibatch_size}, lr {config.lr:g}"
            f"{' annealed' if config.anneal_lr else ''}, seed {config.seed}")
    if resumed_at:
        what = f"resuming at update {resumed_at}/{u}; " + what
        what += "; changed from the checkpoint: " + (", ".join(f"{flag(k)} {a!r} -> {b!r}" for k, (a, b) in changed.items())
                                                     if changed else "nothing")
    return what


def _train(ns: argparse.Namespace) -> int:
    from . import distributed
    from .checkpoint import check_writable
    from .trainer import Trainer

    _check_train_args(ns)
    config, changed = _config_from_args(ns)
    if ns.log_std_init is not None and _is_discrete(config):
        raise ValueError(f"--log-std-init sets a Gaussian policy's initial log sigma; {config.env_id} has discrete actions")
    if ns.print_config:
        for name, value in config.to_dict().items():
            print(f"{flag(name):<22} {value!r}")
        return 0
    if ns.total_steps is not None and config.total_steps % config.batch_size:  # a number the user typed
        print(f"note: {flag('total_steps')} {config.total_steps:,} is not a whole number of rollouts of "
              f"{config.batch_size} transitions: training runs {config.num_updates} updates = "
              f"{config.num_updates * config.batch_size:,} env steps", file=sys.stderr)
    if distributed.launched_by_torchrun():  # each process is one rank of a data-parallel job; rank 0 reports
        t0 = time.perf_counter()
        history = distributed.train_from_env(config, save_path=ns.save, save_every=ns.save_every, resume_from=ns.resume,
                                             progress=not ns.no_progress, log_dir=ns.log_dir)
        if not distributed.is_main_process():
            return 0
        steps_before = 0
    else:
        if ns.save:
            check_writable(ns.save)
        trainer = Trainer(config, resume_from=ns.resume)
        steps_before = trainer.counters.env_steps
        print(_summary(config, trainer.counters.update, changed), file=sys.stderr)
        t0 = time.perf_counter()
        try:
            history = trainer.run(save_path=ns.save, save_every=ns.save_every, progress=not ns.no_progress,
                                  log_dir=ns.log_dir, keep_checkpoints=ns.keep_checkpoints, eval_every=ns.eval_every,
                                  eval_episodes=ns.eval_episodes)
        finally:
            trainer.env.close()
    seconds = time.perf_counter() - t0
    new_steps = history["env_steps"][-1] - steps_before  # a resumed run's speed counts the steps it trained
    solved = history.steps_to_threshold(475) if config.env_id.startswith("CartPole") else None
    print(
        f"{config.env_id} {config.objective} seed={config.seed}: {new_steps:,.0f} env steps in "
        f"{seconds:.1f} s ({new_steps / seconds:,.0f} steps/s)"
        + (f", {history['env_steps'][-1]:,.0f} in all" if steps_before else "")
        + f", mean return of the last 20 episodes {history.mean_return(20):.1f}"
        + (f", reached 475 at step {solved:.0f}" if solved is not None else "")
        + (f"; saved {ns.save}" if ns.save else "")
    )
    return 0


def _is_discrete(config: PPOConfig) -> bool:
    from .config import env_family

    family = env_family(config.env_id, config.env_kwargs)
    return family in ("classic_discrete", "discrete")


def _evaluate(ns: argparse.Namespace) -> int:
    from .evaluation import evaluate, record_video_check

    # Refused before the evaluation runs: a video that could not be written would waste it.
    if ns.episodes < 1:
        raise ValueError(f"--episodes must be >= 1, got {ns.episodes}")
    if ns.video:
        if not ns.video.lower().endswith((".gif", ".mp4")):
            raise ValueError(f"--video must end in .gif or .mp4, got {ns.video!r}")
        if ns.video_episodes < 1:
            raise ValueError(f"--video-episodes must be >= 1, got {ns.video_episodes}")
        record_video_check(ns.checkpoint, ns.video)
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
