r"""``train(config) -> History``: rollout -> advantages -> minibatch epochs, repeated (notebook 06).

One *update* (iteration) of PPO:

1. :func:`~ppo_lite.rollout.collect_rollout`: ``num_steps`` steps of ``num_envs`` envs with
   :math:`\pi_{old}`; store :math:`\log\pi_{old}(a|s)` and :math:`V_{old}(s)`.
2. :func:`~ppo_lite.rollout.compute_advantages`: GAE(γ, λ) with the truncation bootstrap; targets
   :math:`\hat R = \hat A + V_{old}`.
3. :func:`update`: ``update_epochs`` passes over the batch in ``num_minibatches`` shuffled minibatches, each a
   gradient step on :math:`L = L^{\pi} + c_v L^{V} - c_H \hat{\mathbb E}[\mathcal H]`, where :math:`L^{\pi}` is the
   objective's loss (:mod:`ppo_lite.objectives`).
4. KL objectives: measure :math:`\mathrm{KL}(\pi_{old}\|\pi_{new})` (the :math:`k_3` estimator on the whole batch)
   and step the controller (β or η) once per update.
5. Read the figures back to the host once, check every loss and parameter is finite, log, checkpoint.

The trainer reads tensors back to the host only in step 5, in one transfer (and, when ``target_kl`` is set, once
per epoch of the update). Two KL settings that read alike: ``target_kl`` stops an update's epochs early when the
measured KL exceeds it (SB3 / Spinning Up), ``kl_target`` is the δ that PPO v1's controllers steer β or η towards.
"""
from __future__ import annotations

import contextlib
import os
import sys
import time
from dataclasses import dataclass
from glob import escape as glob_escape
from pathlib import Path
from typing import Any, Callable

import torch
from torch import Tensor

from . import objectives
from .checkpoint import check_writable, load_checkpoint, save_checkpoint
from .comm import LocalComm
from .config import PPOConfig, resolve_device, torch_threads
from .diagnostics import check_finite, explained_variance, global_mean, progress_bar, read_back
from .envs import VecEnv, make_env
from .interrupt import StopOnSignal, TrainingInterrupted
from .history import History
from .kl import AdaptiveBeta, DualDescent, kl_k3, make_kl_controller
from .normalize import ObsNormalizer, RewardScaler, normalize_advantages
from .optim import FlatAdam
from .policies import ActorCritic
from .rollout import collect_rollout, compute_advantages, flatten_rollout
from .runlog import RunLog

__all__ = ["train", "Trainer", "update"]

UPDATE_STATS = ("policy_loss", "value_loss", "entropy", "clip_frac", "grad_norm")
"""The per-gradient-step figures :func:`update` averages over an update."""


def update(
    agent: ActorCritic,
    optimizer: FlatAdam,
    batch: dict[str, Tensor],
    config: PPOConfig,
    generator: torch.Generator,
    kl_coef: Tensor | None = None,
    comm: LocalComm | None = None,
    clip_eps: float | None = None,
) -> dict[str, Tensor]:
    """Minibatch epochs over one flattened batch. Returns device tensors (means over the gradient steps taken).

    ``clip_eps``: this update's clip range (``config.clip_eps_at(k)``); None reads ``config.clip_eps``.

    With ``comm`` (several processes), gradients are averaged before clipping and stepping, and advantage
    statistics and the early-stopping KL are pooled, so every process takes the same steps.
    """
    comm = comm or LocalComm()
    clip_eps = config.clip_eps if clip_eps is None else clip_eps
    B = batch["obs"].shape[0]
    mb = B // config.num_minibatches
    dev = batch["obs"].device
    # One minibatch is the whole batch, the same at every epoch: normalize its advantages once and skip the
    # shuffle (a mean does not depend on the order). Saves ~10 ops per gradient step (CartPole's defaults).
    whole_batch = config.num_minibatches == 1
    if whole_batch and config.norm_adv:
        batch = dict(batch, advantages=normalize_advantages(batch["advantages"], comm))
    sums = torch.zeros(len(UPDATE_STATS), device=dev)
    steps = 0
    epochs_done = 0
    value_clip = config.value_clip_eps if config.clip_value else None
    for epoch in range(config.update_epochs):
        perm = None if whole_batch else torch.randperm(B, generator=generator, device=generator.device).to(dev)
        for start in range(0, B, mb):
            minibatch = batch if whole_batch else {k: v[perm[start:start + mb]] for k, v in batch.items()}
            logp, entropy, value = agent.evaluate(minibatch["obs"], minibatch["actions"])
            adv = minibatch["advantages"]
            if config.norm_adv and not whole_batch:
                adv = normalize_advantages(adv, comm)
            logp_old = minibatch["logp"]
            loss, pi_loss, v_loss, ent = objectives.ppo_loss(
                config.objective, logp, logp_old, adv, entropy, value, minibatch["returns"], minibatch["values"],
                clip_eps=clip_eps, vf_coef=config.vf_coef, ent_coef=config.ent_coef, value_clip_eps=value_clip,
                kl_coef=kl_coef)

            optimizer.zero_grad()
            loss.backward()
            comm.sync_gradients(agent.parameters())
            if config.max_grad_norm is not None:
                grad_norm = optimizer.clip_grad_norm(config.max_grad_norm)
            else:
                grad_norm = torch.zeros((), device=dev)
            optimizer.step()

            with torch.no_grad():
                clip_frac = objectives.clip_fraction(torch.exp(logp - logp_old), clip_eps)
                sums += torch.stack([pi_loss, v_loss, ent, clip_frac, grad_norm])  # order of UPDATE_STATS
            steps += 1
        epochs_done += 1
        if config.target_kl is not None:
            # Early stop (SB3 / Spinning Up): measured on this epoch's last minibatch, before its step.
            # One host read per epoch; only when target_kl is set.
            if global_mean(kl_k3(logp.detach(), logp_old), comm).item() > config.target_kl:
                break
    out = dict(zip(UPDATE_STATS, (sums / steps).unbind()))
    out["epochs"] = torch.tensor(float(epochs_done))
    return out


EVAL_SEED = 500_000_000
"""Periodic evaluations reset their envs with ``EVAL_SEED + config.seed``: episodes no training env starts from."""


@dataclass
class _Counters:
    update: int = 0
    env_steps: int = 0


class Trainer:
    """Owns the training state; :meth:`run` trains. Most users call :func:`train`."""

    def __init__(self, config: PPOConfig, resume_from: str | Path | None = None, comm: LocalComm | None = None,
                 env_wrapper: Callable[[VecEnv], VecEnv] | None = None) -> None:
        """``env_wrapper``: applied to the vector env before its first reset (a reward shaping or an exploration bonus
        from :mod:`ppo_lite.envs.exploration`, as :class:`~ppo_lite.batched.BatchedTrainer` takes it), so nothing
        swaps the env of a built trainer from outside."""
        config.validate()
        self.comm = comm or LocalComm()
        # Each process steps its own envs with its own sampling stream, seeded from the run's seed and its rank.
        self.rank_seed = config.seed + 1_000_003 * self.comm.rank
        checkpoint = load_checkpoint(resume_from) if resume_from is not None else None
        if checkpoint is not None:
            _check_compatible(config, PPOConfig.from_dict(checkpoint["config"]), resume_from)
        self.config = config
        self.device = resolve_device(config.device)
        torch.manual_seed(config.seed)  # network initialization
        self.env: VecEnv = make_env(config.env_id, config.num_envs, self.device, config.backend, config.validate_actions,
                                       **config.env_kwargs)
        if env_wrapper is not None:
            self.env = env_wrapper(self.env)
        self.agent = ActorCritic(
            self.env.obs_dim, self.env.act_dim, self.env.is_discrete, config.hidden, config.activation,
            config.ortho_init, config.log_std_init,
        ).to(self.device)
        self.optimizer = FlatAdam(self.agent, lr=config.lr, eps=config.adam_eps)
        self.comm.broadcast_module(self.agent)
        self.generator = torch.Generator(device=self.device).manual_seed(self.rank_seed)
        self.obs_norm = ObsNormalizer(self.env.obs_dim, config.norm_obs, device=self.device)
        self.reward_scaler = RewardScaler(config.num_envs, config.gamma, config.scale_reward, device=self.device)
        self.controller: AdaptiveBeta | DualDescent | None = make_kl_controller(config, self.device)
        self.history = History()
        self.counters = _Counters()
        self.last_batch: dict[str, Tensor] | None = None  # the last update's flattened batch (run_update)
        self.timer = None  # hook for a ppo_lite.profiling.PhaseTimer: times each update's phases (notebook 08)
        if checkpoint is None:
            self.obs = self.env.reset(seed=self.rank_seed)
            self.obs_norm.update(self.obs, self.comm)
        else:
            self._load(checkpoint)

    # -- checkpoints ---------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "config": self.config.to_dict(),
            "agent": self.agent.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "obs_norm": self.obs_norm.state_dict(),
            "reward_scaler": self.reward_scaler.state_dict(),
            "controller": None if self.controller is None else self.controller.state_dict(),
            "generator": self.generator.get_state(),
            # None when the envs cannot be snapshotted (Box2D, ...): the rest still resumes (see _load).
            "env": self.env.state_dict() if self.env.snapshot_unsupported() is None else None,
            "env_note": self.env.snapshot_unsupported() or "",
            "obs": self.obs.cpu(),
            "counters": {"update": self.counters.update, "env_steps": self.counters.env_steps},
            "history": self.history.state_dict(),
            "net": {"obs_dim": self.env.obs_dim, "act_dim": self.env.act_dim, "discrete": self.env.is_discrete,
                    **self._action_bounds()},
        }

    def _action_bounds(self) -> dict[str, Tensor]:
        """A Box action space's bounds, so that a loaded agent clips its actions without making the env."""
        space = self.env.single_action_space
        if self.env.is_discrete:
            return {}
        return {"action_low": torch.as_tensor(space.low, dtype=torch.float32),
                "action_high": torch.as_tensor(space.high, dtype=torch.float32)}

    def save(self, path: str | Path) -> Path:
        return save_checkpoint(self.state_dict(), path)

    def _load(self, ckpt: dict[str, Any]) -> None:
        self.agent.load_state_dict(ckpt["agent"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.obs_norm.load_state_dict(ckpt["obs_norm"])
        self.reward_scaler.load_state_dict(ckpt["reward_scaler"])
        if self.controller is not None:
            self.controller.load_state_dict(ckpt["controller"])
        self.generator.set_state(ckpt["generator"])
        if ckpt.get("env") is not None:
            self.env.load_state_dict(ckpt["env"])
            self.obs = ckpt["obs"].to(self.device)
        else:  # the checkpoint could not hold the envs: restart them, everything else continues as saved
            self.obs = self.env.reset(seed=self.rank_seed + 7919 * ckpt["counters"]["update"])
            if self.comm.is_main:
                print(f"note: the checkpoint holds no environment state ({ckpt.get('env_note') or 'not saved'}); "
                      "the environments restart from a fresh reset, so this resumed run is not bit-identical to an "
                      "uninterrupted one", file=sys.stderr)
        self.counters = _Counters(**ckpt["counters"])
        self.history = History.from_state_dict(ckpt["history"])

    # -- the loop ------------------------------------------------------------------------------------------
    def run(
        self,
        save_path: str | Path | None = None,
        save_every: int = 0,
        stop_after: int | None = None,
        progress: bool = True,
        callback: Callable[[int, History], bool | None] | None = None,
        log_dir: str | Path | None = None,
        keep_checkpoints: int = 0,
        eval_every: int = 0,
        eval_episodes: int = 10,
    ) -> History:
        """Train until ``config.total_steps`` (or ``stop_after`` updates in total); return the history.

        ``save_path``: checkpoint written every ``save_every`` updates (0: only at the end), at the end, and at a
        Ctrl-C/SIGTERM stop (then :class:`~ppo_lite.interrupt.TrainingInterrupted` is raised).
        ``keep_checkpoints``: also keep the last N periodic checkpoints, as ``STEM_u000123.pt`` beside ``save_path``.
        ``eval_every``: every K updates, evaluate the deterministic policy on ``eval_episodes`` fresh episodes (the
        same seeds each time, apart from the training seeds), log it in ``history.evaluations`` and keep the best
        policy so far as ``STEM_best.pt`` when ``save_path`` is given (Stable-Baselines3's ``EvalCallback``).
        ``callback(update, history)`` runs after each update; returning True stops training.
        ``log_dir``: TensorBoard event files and ``progress.csv`` of every update (:mod:`ppo_lite.runlog`).
        """
        for name, value in (("save_every", save_every), ("keep_checkpoints", keep_checkpoints), ("eval_every", eval_every)):
            if not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be an int >= 0, got {value!r}")
        if not isinstance(eval_episodes, int) or eval_episodes < 1:
            raise ValueError(f"eval_episodes must be a positive int, got {eval_episodes!r}")
        if keep_checkpoints and not (save_path and save_every):
            raise ValueError("keep_checkpoints needs save_path and save_every (when numbered checkpoints are written)")
        self._keep, self._eval = keep_checkpoints, (eval_every, eval_episodes)
        cfg = self.config
        if save_path is not None and self.comm.is_main:
            self._check_can_save(save_path)
        # A resumed run's logs may hold updates its checkpoint does not (a crash after them): the log drops them.
        resumed_at = (self.counters.update, self.counters.env_steps) if self.counters.update else None
        run_log = RunLog(log_dir, resumed_at=resumed_at) if log_dir is not None and self.comm.is_main else None
        # Under torchrun SIGTERM keeps its default: it is how torchrun ends the ranks of a job one of which failed.
        stop = StopOnSignal(announce=self.comm.is_main, signals=StopOnSignal.SIGNALS if self.comm.world_size == 1
                            else ("SIGINT",))
        last = cfg.num_updates if stop_after is None else min(cfg.num_updates, stop_after)
        try:
            with torch_threads(cfg.num_threads), stop:
                self._train_loop(save_path, save_every, last, progress, callback, run_log, stop)
        finally:
            if run_log is not None:
                run_log.close()
        if stop.signal_name is not None and self.counters.update < last:
            raise TrainingInterrupted(stop.signal_name, self.counters.update, last, self.counters.env_steps,
                                      Path(save_path) if save_path is not None else None, self.history)
        return self.history

    def _train_loop(
        self, save_path: str | Path | None, save_every: int, last: int, progress: bool,
        callback: Callable[[int, History], bool | None] | None, run_log: RunLog | None, stop: StopOnSignal,
    ) -> None:
        cfg = self.config
        bar = progress_bar(progress and self.comm.is_main, total=last, initial=self.counters.update, desc=f"{cfg.env_id} {cfg.objective}")
        while self.counters.update < last:
            t0 = time.perf_counter()
            self.run_update()
            self._log_time(time.perf_counter() - t0)
            if run_log is not None:
                run_log.write(self.history)
            k = self.counters.update
            if bar is not None:
                bar.update(1)
                bar.set_postfix(ret=f"{self.history.mean_return():.1f}", refresh=False)
            if save_path is not None and save_every and k % save_every == 0 and self.comm.is_main:
                self._save_periodic(save_path)
            if self._eval[0] and (k % self._eval[0] == 0 or k == last) and self.comm.is_main:
                self._evaluate_and_keep_best(save_path)
            if callback is not None and callback(k, self.history):
                break
            if self._agreed(stop.signal_name is not None):
                break
        if bar is not None:
            bar.close()
        if save_path is not None and self.comm.is_main:
            self.save(save_path)

    def _save_periodic(self, save_path: str | Path) -> None:
        """The checkpoint under its fixed name, and with ``keep_checkpoints`` a numbered copy (the oldest beyond
        the last N deleted)."""
        state = self.state_dict()
        save_checkpoint(state, save_path)
        if not self._keep:
            return
        path = Path(save_path)
        save_checkpoint(state, path.with_name(f"{path.stem}_u{self.counters.update:06d}{path.suffix}"))
        numbered = sorted(path.parent.glob(f"{glob_escape(path.stem)}_u[0-9][0-9][0-9][0-9][0-9][0-9]{path.suffix}"))
        for old in numbered[:-self._keep]:
            old.unlink()

    def _evaluate_and_keep_best(self, save_path: str | Path | None) -> None:
        from .agent import Agent
        from .evaluation import evaluate

        episodes = self._eval[1]
        returns = evaluate(Agent.from_trainer(self), episodes=episodes, seed=EVAL_SEED + self.config.seed,
                           device=str(self.device), backend=self.config.backend)
        mean = sum(returns) / episodes
        std = (sum((r - mean) ** 2 for r in returns) / episodes) ** 0.5
        best = max(self.history.evaluations.get("return_mean", [float("-inf")]))
        self.history.log_evaluation(update=self.counters.update, env_steps=self.counters.env_steps, return_mean=mean,
                                    return_std=std)
        if save_path is not None and mean > best:
            path = Path(save_path)
            save_checkpoint(self.state_dict(), path.with_name(f"{path.stem}_best{path.suffix}"))

    def _agreed(self, flag: bool) -> bool:
        """``flag`` on any process -> True on every process (a signal may reach one rank of a torchrun job only)."""
        if self.comm.world_size == 1:
            return flag
        return bool(self.comm.all_reduce_min(torch.tensor([0.0 if flag else 1.0], device=self.device))[0] == 0)

    def _check_can_save(self, path: str | Path) -> None:
        """Before any training: refuse a checkpoint path that cannot be written, and say up front when the
        checkpoint will not hold the environments' state (it still holds everything else)."""
        check_writable(path)
        reason = self.env.snapshot_unsupported()
        if reason is not None:
            print(f"note: {reason}; the checkpoint will hold everything else (weights, optimizer, normalizers, "
                  "controller, random streams, counters, history) and a resumed run restarts the environments",
                  file=sys.stderr)

    def _phase(self, name: str) -> contextlib.AbstractContextManager:
        return contextlib.nullcontext() if self.timer is None else self.timer.phase(name)

    def run_update(self) -> None:
        """One PPO update: rollout, advantages, minibatch epochs, KL and controller, one read-back, logging."""
        cfg = self.config
        k = self.counters.update
        lr = cfg.lr_at(k)
        self.optimizer.lr = lr

        with self._phase("rollout"):
            try:
                rollout, self.obs = collect_rollout(
                    self.env, self.agent, self.obs, cfg.num_steps, self.obs_norm, self.reward_scaler, self.generator
                )
            except ValueError as exc:  # an env's refusal (a non-finite observation, a bad action): say when
                raise ValueError(f"update {k + 1}, rollout: {exc}") from None
        with self._phase("gae"):
            advantages, returns = compute_advantages(rollout, self.agent, cfg.gamma, cfg.gae_lambda)
        batch = flatten_rollout(rollout, advantages, returns)
        # Kept (a reference, no copy) until the next update, for measurements on the batch the update trained on
        # (the ratio after the update in ppo_lite.experiments.clip_eps).
        self.last_batch = batch
        kl_coef = None if self.controller is None else self.controller.coef
        with self._phase("update"):
            stats = update(self.agent, self.optimizer, batch, cfg, self.generator, kl_coef, self.comm, cfg.clip_eps_at(k))
        with torch.no_grad():
            logp_new, _ = self.agent.log_prob_entropy(batch["obs"], batch["actions"])
            approx_kl = global_mean(kl_k3(logp_new, batch["logp"]), self.comm)
            ev = explained_variance(batch["values"], batch["returns"], self.comm)
        if self.controller is not None:
            self.controller.update(approx_kl)
        # Statistics for the next rollout, frozen while it runs.
        self.obs_norm.update(rollout.raw_obs.reshape(-1, self.env.obs_dim), self.comm)
        self.reward_scaler.update(rollout.tracked_returns, self.comm)

        figures = dict(stats, approx_kl=approx_kl, explained_variance=ev)
        finite = torch.stack([torch.isfinite(rollout.raw_obs).all(), torch.isfinite(rollout.rewards).all()]).float()
        finite = self.comm.all_reduce_min(finite)  # every process stops together
        figures["finite_obs"], figures["finite_rewards"] = finite[0], finite[1]
        figures["finite_params"] = torch.isfinite(self.optimizer.params).all()  # every parameter, in one flat buffer
        figures["kl_coef"] = self.controller.coef if self.controller is not None else torch.tensor(float("nan"))
        T, N = rollout.rewards.shape
        # The one read-back of this update: the figures and the rollout's episode ends, in one transfer.
        per_agent, dones, ep_return, ep_length = read_back(figures, rollout.dones, rollout.episode_return, rollout.episode_length)
        figures_host = {name: values[0] for name, values in per_agent.items()}
        dones, ep_return, ep_length = dones.reshape(T * N), ep_return.reshape(T * N), ep_length.reshape(T * N)
        check_finite(f"update {k + 1}", figures_host)
        for name in ("finite_obs", "finite_rewards", "finite_params"):
            del figures_host[name]

        ended = dones.nonzero().squeeze(-1)  # row-major over (t, n): step t of env n is index t * N + n
        world = self.comm.world_size
        steps_at_end = self.comm.gather_floats((self.counters.env_steps + (ended // N + 1) * N * world).tolist())
        ep_returns = self.comm.gather_floats(ep_return[ended].tolist())
        ep_lengths = self.comm.gather_floats(ep_length[ended].tolist())

        self.counters.update += 1
        self.counters.env_steps += cfg.batch_size * world
        self.history.log_episodes(steps_at_end, ep_returns, ep_lengths)
        self.history.log_update(
            update=self.counters.update,
            env_steps=self.counters.env_steps,
            lr=lr,
            episode_return_mean=sum(ep_returns) / len(ep_returns) if ep_returns else float("nan"),
            episode_length_mean=sum(ep_lengths) / len(ep_lengths) if ep_lengths else float("nan"),
            episodes=len(ep_returns),
            **figures_host,
        )

    def _log_time(self, seconds: float) -> None:
        self.history.log_update(time=seconds, sps=self.config.batch_size * self.comm.world_size / max(seconds, 1e-9))


def train(
    config: "PPOConfig | Any" = None,
    *,
    save_path: str | Path | None = None,
    save_every: int = 0,
    resume_from: str | Path | None = None,
    stop_after: int | None = None,
    progress: bool = True,
    callback: Callable[[int, History], bool | None] | None = None,
    comm: LocalComm | None = None,
    log_dir: str | Path | None = None,
) -> History:
    """Train PPO (or one of its ablations, ``config.objective``) and return the per-update :class:`History`.

    ``config``: a :class:`PPOConfig`, or an env (a gymnasium id, ``"module:Name"``, a ``gymnasium.Env`` subclass or
    a factory: ``PPOConfig.for_env(env)``'s defaults); ``None`` with ``resume_from`` continues the checkpoint's run
    with its own settings.
    ``resume_from``: continue a checkpoint written by an earlier run (a config given must match its env, network,
    number of envs and objective; its other settings, ``total_steps`` included, apply from the next update).
    ``save_path``: checkpoint written at the end, every ``save_every`` updates, and when Ctrl-C or SIGTERM stops
    the run at an update boundary (:mod:`ppo_lite.interrupt`; then :class:`TrainingInterrupted` is raised).
    ``log_dir``: write TensorBoard event files and ``progress.csv`` there (:mod:`ppo_lite.runlog`).
    ``comm``: how this process reaches the others of a ``torchrun`` job (:mod:`ppo_lite.distributed`);
    ``None`` trains in this process alone.
    """
    if config is None:
        if resume_from is None:
            raise ValueError("train() needs a config (or an env), or resume_from= a checkpoint to continue")
        config = PPOConfig.from_dict(load_checkpoint(resume_from)["config"])
    elif not isinstance(config, PPOConfig):
        config = PPOConfig.for_env(config)
    trainer = Trainer(config, resume_from=resume_from, comm=comm)
    try:
        return trainer.run(save_path=save_path, save_every=save_every, stop_after=stop_after, progress=progress,
                           callback=callback, log_dir=log_dir)
    finally:
        trainer.env.close()


# -- helpers -----------------------------------------------------------------------------------------------
def _check_compatible(config: PPOConfig, saved: PPOConfig, path) -> None:
    for name in ("env_id", "hidden", "activation", "num_envs", "objective"):
        if getattr(config, name) != getattr(saved, name):
            raise ValueError(
                f"checkpoint {str(path)!r} was made for {name}={getattr(saved, name)!r}, "
                f"but this run has {name}={getattr(config, name)!r}"
            )
