"""``PPOConfig``: every hyperparameter and every implementation detail of the trainer as one switch.

Notebook 06 reads the trainer against these fields; notebook 07 ablates the boolean ones. ``validate()``
refuses bad values before any work starts, naming the value and what is allowed. ``PPOConfig.for_env(env_id)``
returns the documented per-family defaults (see :data:`FAMILY_DEFAULTS`).
"""
from __future__ import annotations

import contextlib
import dataclasses
import difflib
import math
import re
from dataclasses import dataclass, field
from typing import Any, Iterator

OBJECTIVES = ("clip", "kl_adaptive", "kl_dual", "surrogate", "pg")
DEVICES = ("auto", "cpu", "cuda")


@dataclass
class PPOConfig:
    """Hyperparameters of :func:`ppo_lite.train`.

    The field defaults are the classic-discrete family's (``FAMILY_DEFAULTS["classic_discrete"]``, CartPole-v1):
    ``PPOConfig()`` equals ``PPOConfig.for_env("CartPole-v1")`` (tested). The KL controllers of :mod:`ppo_lite.kl`
    take their defaults from here too.
    """

    # --- task and run -------------------------------------------------------------------------------------
    env_id: str = "CartPole-v1"
    """The env: a gymnasium id, ``module:Id`` (gymnasium's syntax: import ``module``, make ``Id``), or ``module:Name``
    naming your own ``gymnasium.Env`` subclass or factory (Box observations; Discrete or Box actions).
    ``PPOConfig.for_env`` also takes the class or factory itself (:mod:`ppo_lite.envs.spec`)."""
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments for the env's constructor (through ``gymnasium.make``: ``max_episode_steps`` adds a time
    limit). With any, the gymnasium backend is used (the torch-native envs take none)."""
    objective: str = "clip"
    """Policy objective: ``clip`` (PPO v2), ``kl_adaptive`` (PPO v1, adaptive β), ``kl_dual`` (PPO v1, dual
    descent on η), ``surrogate`` (importance-weighted, unconstrained) or ``pg`` (vanilla policy gradient)."""
    total_steps: int = 150_000
    """Environment steps (summed over all envs) to train for."""
    seed: int = 0
    """Seeds the network's initialization, the envs' resets and the action sampling: one seed, one run."""
    device: str = "auto"
    """``auto`` takes CUDA when available; ``cpu``; ``cuda`` or ``cuda:K``."""
    num_threads: int | None = 1
    """torch CPU threads while training (set by ``train``/``Trainer.run`` and restored after); ``None`` leaves torch's
    own setting (one per core). One thread is the fast choice for PPO's small networks on a CPU: more threads cost
    more in synchronisation than they save (``bench/bench_threads.py``)."""
    backend: str = "auto"
    """Environments: ``torch`` (batched tensors on the device, classic control), ``gymnasium``, or ``auto``."""

    # --- rollout --------------------------------------------------------------------------------------------
    num_envs: int = 8
    """Parallel environments; one rollout holds ``num_envs * num_steps`` transitions."""
    num_steps: int = 32
    """Steps per env per rollout (T)."""
    gamma: float = 0.98
    """Discount γ ∈ [0, 1]."""
    gae_lambda: float = 0.8
    """GAE λ ∈ [0, 1]."""

    # --- update ---------------------------------------------------------------------------------------------
    update_epochs: int = 20
    """Passes over each rollout."""
    num_minibatches: int = 1
    """Minibatches per epoch; must divide ``num_envs * num_steps``."""
    lr: float = 1e-3
    """Adam's learning rate α (annealed to 0 with ``anneal_lr``)."""
    adam_eps: float = 1e-5
    """Adam's ε (CleanRL's and SB3's 1e-5, not torch's 1e-8)."""
    anneal_lr: bool = True
    """Linearly anneal the learning rate to 0 over training."""
    clip_eps: float = 0.2
    """PPO-clip ε > 0 (``clip`` objective)."""
    anneal_clip_eps: bool = False
    """Linearly anneal the clip range to 0 over training, as ``anneal_lr`` does the learning rate (the PPO paper's
    Atari runs; notebook 05 measures it)."""
    clip_value: bool = False
    """Clip the value update to ±``value_clip_eps`` around the rollout-time value (PPO2 baselines)."""
    value_clip_eps: float = 0.2
    """The range of ``clip_value``."""
    vf_coef: float = 0.5
    """Value-loss coefficient c_v in L = L^π + c_v L^V − c_H H."""
    ent_coef: float = 0.0
    """Entropy bonus coefficient (≥ 0)."""
    max_grad_norm: float | None = 0.5
    """Clip the global gradient norm to this value; ``None`` turns gradient clipping off."""
    norm_adv: bool = True
    """Normalize advantages to zero mean and unit std per minibatch."""
    target_kl: float | None = None
    """Early stopping, any objective: stop the epochs of an update once the approximate KL of its last minibatch
    exceeds this; ``None`` = never. (Not ``kl_target``, which is what PPO v1's β/η controllers aim at.)"""

    # --- KL objectives (PPO v1) ----------------------------------------------------------------------------
    kl_target: float = 0.01
    """The KL the PPO v1 controllers steer towards: d_targ of the adaptive-β rule, δ of the dual-descent
    constraint KL ≤ δ (``kl_adaptive``, ``kl_dual``). (Not ``target_kl``, the early-stopping threshold.)"""
    kl_coef_init: float = 1.0
    """Initial β or η."""
    kl_dual_lr: float = 50.0
    """Dual step size α_η in η ← max(0, η + α_η (KL − δ))."""

    # --- normalization and network --------------------------------------------------------------------------
    norm_obs: bool = False
    """Normalize observations with running mean/std (statistics updated once per rollout)."""
    scale_reward: bool = False
    """Divide rewards by the running std of the discounted return."""
    ortho_init: bool = True
    """Orthogonal init (√2 hidden, 0.01 policy head, 1.0 value head)."""
    hidden: tuple[int, ...] = (64, 64)
    """Hidden layer widths of the actor and of the critic (two separate MLPs)."""
    activation: str = "tanh"
    """``tanh`` or ``relu``."""
    log_std_init: float = 0.0
    """Initial log σ of the Gaussian head (Box actions)."""

    # --- hooks for the fast path ----------------------------------------------------------------------------
    validate_actions: bool | None = None
    """Check action values in the env (a device sync per step); ``None`` = on for CPU, off on CUDA."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Free-form notes carried into checkpoints (not used by the trainer)."""

    # -----------------------------------------------------------------------------------------------------
    @property
    def batch_size(self) -> int:
        return self.num_envs * self.num_steps

    @property
    def minibatch_size(self) -> int:
        return self.batch_size // self.num_minibatches

    @property
    def num_updates(self) -> int:
        return max(1, self.total_steps // self.batch_size)

    @classmethod
    def for_env(cls, env: Any, *, tuned: bool = True, env_kwargs: dict[str, Any] | None = None,
                **overrides: Any) -> "PPOConfig":
        """Per-family defaults for ``env`` (see :data:`FAMILY_DEFAULTS`), then the task's own tuned settings
        (:data:`ENV_DEFAULTS`; skipped with ``tuned=False``, which gives the family's generic settings), then
        ``overrides``.

        ``env``: a gymnasium id, ``"module:Id"``, ``"module:Name"`` of your own env, a ``gymnasium.Env`` subclass or
        a zero-argument callable returning an env (recorded as ``"module:QualName"`` when importable; see
        :mod:`ppo_lite.envs.spec`). ``env_kwargs`` go to the env's constructor. An env ppo_lite has no tuned settings
        for gets its family's (CleanRL's discrete or continuous defaults), chosen from its action space."""
        from .envs.spec import env_id_of

        unknown = sorted(set(overrides) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise ValueError(f"PPOConfig.for_env: unknown settings {unknown}"
                             + "".join(f" (did you mean {close[0]!r}?)" for close in
                                       (difflib.get_close_matches(u, [f.name for f in dataclasses.fields(cls)], 1)
                                        for u in unknown) if close))
        env_id = env_id_of(env)
        env_kwargs = dict(env_kwargs or {})
        values = dict(FAMILY_DEFAULTS[env_family(env_id, env_kwargs)])
        if tuned:
            values.update(ENV_DEFAULTS.get(env_id, {}))
        values.update(overrides)
        return cls(env_id=env_id, env_kwargs=env_kwargs, **values)

    def replace(self, **changes: Any) -> "PPOConfig":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["hidden"] = list(self.hidden)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "PPOConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown PPOConfig fields {sorted(unknown)}")
        d = dict(d)
        if "hidden" in d:
            d["hidden"] = tuple(d["hidden"])
        return cls(**d)

    def lr_at(self, update: int) -> float:
        r"""The learning rate of update ``update`` (0-based): :math:`\alpha (1 - k/K)` with ``anneal_lr``, else α."""
        return self.lr * (1.0 - update / self.num_updates) if self.anneal_lr else self.lr

    def clip_eps_at(self, update: int) -> float:
        r"""The clip range of update ``update`` (0-based): :math:`\epsilon (1 - k/K)` with ``anneal_clip_eps``, else ε."""
        return self.clip_eps * (1.0 - update / self.num_updates) if self.anneal_clip_eps else self.clip_eps

    def validate(self) -> "PPOConfig":
        """Raise ``ValueError`` naming the first bad field and what is allowed; return self when all are good."""
        def bad(name: str, allowed: str) -> ValueError:
            return ValueError(f"PPOConfig.{name}={getattr(self, name)!r} is not allowed: {allowed}")

        if not isinstance(self.env_id, str) or not self.env_id:
            raise bad("env_id", "must be a gymnasium id or 'module:Name' string; pass an env class or factory to "
                                "PPOConfig.for_env(...), which records it as one")
        if not isinstance(self.env_kwargs, dict) or any(not isinstance(k, str) for k in self.env_kwargs):
            raise bad("env_kwargs", "must be a dict of keyword arguments (str keys) for the env's constructor")
        for f in dataclasses.fields(self):  # nan or inf slips past every comparison below: refuse it by name
            value = getattr(self, f.name)
            if isinstance(value, float) and not math.isfinite(value):
                raise bad(f.name, "must be a finite number")
        if self.objective not in OBJECTIVES:
            raise bad("objective", f"use one of {OBJECTIVES}")
        for name in ("total_steps", "num_envs", "num_steps", "update_epochs", "num_minibatches"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise bad(name, "must be a positive integer")
        for name in ("gamma", "gae_lambda"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
                raise bad(name, "must lie in [0, 1]")
        if not self.clip_eps > 0:
            raise bad("clip_eps", "must be > 0 (typical 0.1 to 0.3)")
        if not self.value_clip_eps > 0:
            raise bad("value_clip_eps", "must be > 0")
        if not self.lr > 0:
            raise bad("lr", "must be > 0")
        if not self.adam_eps > 0:
            raise bad("adam_eps", "must be > 0")
        if self.vf_coef < 0 or self.ent_coef < 0:
            raise bad("vf_coef" if self.vf_coef < 0 else "ent_coef", "must be >= 0")
        if self.max_grad_norm is not None and not self.max_grad_norm > 0:
            raise bad("max_grad_norm", "must be > 0, or None to turn gradient clipping off")
        if self.target_kl is not None and not self.target_kl > 0:
            raise bad("target_kl", "must be > 0, or None to turn early stopping off")
        if not self.kl_target > 0:
            raise bad("kl_target", "must be > 0")
        if not self.kl_coef_init >= 0:
            raise bad("kl_coef_init", "must be >= 0")
        if not self.kl_dual_lr > 0:
            raise bad("kl_dual_lr", "must be > 0")
        if self.batch_size % self.num_minibatches != 0:
            raise ValueError(
                f"PPOConfig: a rollout of num_envs*num_steps = {self.num_envs}*{self.num_steps} = {self.batch_size} "
                f"transitions does not split into num_minibatches={self.num_minibatches} equal minibatches; "
                f"choose num_minibatches among the divisors of {self.batch_size}"
            )
        if self.total_steps < self.batch_size:
            raise ValueError(
                f"PPOConfig.total_steps={self.total_steps} is smaller than one rollout "
                f"(num_envs*num_steps = {self.batch_size}); raise total_steps or shrink the rollout"
            )
        if not self.hidden or any(not isinstance(h, int) or h <= 0 for h in self.hidden):
            raise bad("hidden", "must be a non-empty tuple of positive layer widths")
        if self.activation not in ("tanh", "relu"):
            raise bad("activation", "use 'tanh' or 'relu'")
        from .envs import BACKENDS

        if self.backend not in BACKENDS:
            raise bad("backend", f"use one of {BACKENDS}")
        dev = str(self.device)
        if not (dev in DEVICES or re.fullmatch(r"cuda:\d+", dev)):
            raise bad("device", "use 'auto', 'cpu', 'cuda' or 'cuda:K'")
        if self.num_threads is not None and (not isinstance(self.num_threads, int) or isinstance(self.num_threads, bool)
                                             or self.num_threads < 1):
            raise bad("num_threads", "must be a positive integer, or None to keep torch's own thread count")
        return self


# Per-family defaults. Sources: rl-baselines3-zoo's tuned CartPole/Pendulum settings and CleanRL's
# continuous-control defaults, then adjusted so each family trains fast on a small CPU (bench/ measures them).
FAMILY_DEFAULTS: dict[str, dict[str, Any]] = {
    # CartPole, Acrobot, MountainCar: small batches, many epochs, no entropy bonus (zoo's CartPole settings);
    # Acrobot and MountainCar adjust them in ENV_DEFAULTS.
    "classic_discrete": dict(
        num_envs=8, num_steps=32, gamma=0.98, gae_lambda=0.8, update_epochs=20, num_minibatches=1,
        lr=1e-3, anneal_lr=True, clip_eps=0.2, ent_coef=0.0, total_steps=150_000,
    ),
    # Pendulum, MountainCarContinuous: short horizon discount, reward scaling, larger batches.
    "classic_continuous": dict(
        num_envs=16, num_steps=128, gamma=0.95, gae_lambda=0.95, update_epochs=10, num_minibatches=8,
        lr=1e-3, anneal_lr=True, clip_eps=0.2, ent_coef=0.0, scale_reward=True, norm_obs=False,
        total_steps=200_000,
    ),
    # Everything else with Box actions (MuJoCo-style): CleanRL's ppo_continuous_action defaults.
    "continuous": dict(
        num_envs=1, num_steps=2048, gamma=0.99, gae_lambda=0.95, update_epochs=10, num_minibatches=32,
        lr=3e-4, anneal_lr=True, clip_eps=0.2, ent_coef=0.0, norm_obs=True, scale_reward=True,
        clip_value=True, total_steps=1_000_000,
    ),
    # Everything else with Discrete actions: CleanRL's ppo.py defaults.
    "discrete": dict(
        num_envs=4, num_steps=128, gamma=0.99, gae_lambda=0.95, update_epochs=4, num_minibatches=4,
        lr=2.5e-4, anneal_lr=True, clip_eps=0.2, ent_coef=0.01, clip_value=True, total_steps=500_000,
    ),
}
SOLVED_THRESHOLDS: dict[str, float] = {
    "CartPole-v1": 475.0, "Acrobot-v1": -100.0, "Pendulum-v1": -200.0, "LunarLanderContinuous-v3": 200.0,
    "MountainCar-v0": -110.0, "LunarLander-v3": 200.0,
}
"""Mean return of the last 20 episodes at which the course calls a task solved (CartPole's 475, MountainCar's −110
and LunarLander's 200 are gymnasium's ``reward_threshold``; the others are the usual ones of the zoo and CleanRL
reports)."""
# rl-baselines3-zoo's LunarLander-v2 settings (hyperparams/ppo.yml; v3 is the same task with bug fixes): 16 envs x
# 1024 steps, minibatches of 64, 4 epochs, γ 0.999, λ 0.98, entropy 0.01, SB3's constant lr 3e-4, no value clipping.
_ZOO_LUNAR_LANDER = dict(
    num_envs=16, num_steps=1024, num_minibatches=256, update_epochs=4, gamma=0.999, gae_lambda=0.98, ent_coef=0.01,
    lr=3e-4, anneal_lr=False, clip_value=False, norm_obs=False, scale_reward=False, total_steps=1_000_000,
)
# rl-baselines3-zoo's MountainCar-v0 settings (hyperparams/ppo.yml): normalized observations and rewards, 16 envs x 16
# steps, γ 0.99, λ 0.98, 4 epochs, no entropy bonus; the rest SB3's PPO defaults (minibatches of 64, i.e. 4 per
# rollout of 256; constant lr 3e-4; no value clipping); the zoo's budget, 1M steps. The family's generic settings
# (CartPole's) solve 1 of 5 seeds at 1M steps, these 5 of 5 at the zoo's −110 (notebook 06 §5, the benchmark).
_ZOO_MOUNTAIN_CAR = dict(
    num_envs=16, num_steps=16, gae_lambda=0.98, gamma=0.99, update_epochs=4, num_minibatches=4, lr=3e-4,
    anneal_lr=False, ent_coef=0.0, norm_obs=True, scale_reward=True, clip_value=False, total_steps=1_000_000,
)
ENV_DEFAULTS: dict[str, dict[str, Any]] = {
    "Acrobot-v1": dict(gamma=0.99, gae_lambda=0.94, norm_obs=True, total_steps=300_000),
    "MountainCar-v0": _ZOO_MOUNTAIN_CAR,
    "LunarLander-v3": _ZOO_LUNAR_LANDER,
    "LunarLanderContinuous-v3": _ZOO_LUNAR_LANDER,
}
_CLASSIC_DISCRETE = ("CartPole-v1", "CartPole-v0", "Acrobot-v1", "MountainCar-v0")
_CLASSIC_CONTINUOUS = ("Pendulum-v1", "MountainCarContinuous-v0")


def resolve_device(device: str):
    """A config's ``device`` as a ``torch.device``: ``auto`` -> CUDA when available, else CPU; ``cuda`` without a
    GPU is refused."""
    import torch  # here, not at the top: reading and validating a config needs no torch

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise ValueError(f"device={device!r} is not a device: use 'auto', 'cpu', 'cuda' or 'cuda:K' (K a GPU index)") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} asked for, but torch sees no CUDA GPU; use device='cpu' or 'auto'")
    return dev


@contextlib.contextmanager
def torch_threads(num_threads: int | None) -> Iterator[None]:
    """Run the block with ``torch.set_num_threads(num_threads)`` and restore the previous count after (``None``:
    leave it as it is). What ``PPOConfig.num_threads`` does around training."""
    import torch

    if num_threads is None:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(num_threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def env_family(env_id: str, env_kwargs: dict[str, Any] | None = None) -> str:
    """Which :data:`FAMILY_DEFAULTS` entry applies to ``env_id`` (made with ``env_kwargs``, for its action space,
    when it is none of the classic tasks)."""
    if env_id in _CLASSIC_DISCRETE:
        return "classic_discrete"
    if env_id in _CLASSIC_CONTINUOUS:
        return "classic_continuous"
    from .envs.deep_sea import deep_sea_size

    if deep_sea_size(env_id) is not None:  # ppo_lite's own exploration task (notebook 09): CartPole's small batches
        return "classic_discrete"
    import gymnasium as gym

    from .envs import check_env_id
    from .envs.base import make_gymnasium_env

    check_env_id(env_id)
    # A missing optional dependency: one line naming the package, no traceback.
    env = make_gymnasium_env(env_id, **(env_kwargs or {}))
    try:
        return "discrete" if isinstance(env.action_space, gym.spaces.Discrete) else "continuous"
    finally:
        env.close()
