r"""K independent PPO agents trained as one batched computation (notebooks 08 and 09).

A hyperparameter search or a multi-seed study trains K agents that never exchange anything. Run one after the
other, each small PPO step pays PyTorch's per-op overhead K times; run as one computation, every op acts on all K
agents at once. Nothing is averaged across agents: agent k is the single-agent :func:`ppo_lite.train` with seed
``seeds[k]`` and its own hyperparameters, only computed side by side.

Layout. Every per-agent tensor carries a leading agent dimension K:

- parameters: one ``(K, P)`` matrix whose row k is agent k's parameter vector, in
  ``torch.nn.utils.parameters_to_vector(ActorCritic.parameters())`` order (a Gaussian head's ``log_std`` first,
  then the actor and critic layers); each layer is a ``(K, out, in)`` view of it. So :meth:`BatchedActorCritic.to_single` / :meth:`~BatchedActorCritic.from_singles` are one row copy, and
  the optimizer and the gradient-norm clip act on the whole matrix at once (a handful of ops per step, however
  many layers and agents);
- a linear layer is a batched matrix product, :math:`h^{(k)}_{out} = h^{(k)}_{in} W^{(k)\top} + b^{(k)}`, as one
  ``torch.baddbmm`` call. Measured on the 2-core CPU (one thread, forward and backward of both 64-64 MLPs, 256
  samples per agent): baddbmm 6.8 / 30 / 191 / 800 ms at K = 1 / 8 / 64 / 256, ``torch.func.vmap`` over
  ``functional_call`` 15 / 46 / 225 / 891 ms, a Python loop over K ``nn.Module``\ s 8.6 / 50 / 372 / 1332 ms.
  baddbmm is the fastest at small and medium K and reads as the formula; vmap would also hide the agent axis;
- environments: one vector env with K·N envs, agent k owning envs ``[kN, (k+1)N)`` (torch-native classic
  control, or the gymnasium backend), so :func:`ppo_lite.rollout.collect_rollout` runs unchanged;
- per-agent hyperparameters (``lr``, ``clip_eps``, ``ent_coef``, ``gamma``, ``gae_lambda``) are ``(K,)`` tensors
  broadcast in the loss, the GAE recursion and the optimizer; advantage normalization, observation and reward
  statistics, the gradient-norm clip, Adam's moments and the KL coefficient (β or η) are all per agent.

Every formula is the single-agent library's, called with a reduction over the sample axis (``dim=1``): the losses
(:func:`ppo_lite.objectives.ppo_loss`), advantage normalization (:mod:`ppo_lite.normalize`) and explained variance
(:mod:`ppo_lite.diagnostics`), GAE (:func:`ppo_lite.advantages.gae` with per-column γ and λ), Adam and the norm clip
(:class:`ppo_lite.optim.BatchedAdam`), the normalizers (:mod:`ppo_lite.normalize`). Only the loop is written again,
in :func:`batched_update`, next to :func:`ppo_lite.trainer.update` whose steps it mirrors.

The total loss is :math:`\sum_k L_k(\theta_k)`: agents share no parameter, so
:math:`\partial/\partial\theta_k \sum_j L_j = \partial L_k/\partial\theta_k`, and one backward pass gives every
agent exactly its own single-agent gradient.

What is shared, because it fixes the shapes or the loop: ``env_id``, ``num_envs``, ``num_steps``,
``update_epochs``, ``num_minibatches``, ``total_steps``, the network, ``objective``, ``device``, ``backend`` and the
boolean switches (``norm_adv``, ``norm_obs``, ``scale_reward``, ``clip_value``, ``anneal_lr``, ``anneal_clip_eps``), and every other
field of ``base`` (``vf_coef``, ``max_grad_norm``, ``adam_eps``, the KL target and step size, ...). Not supported:
``target_kl`` early stopping (agents would stop at different epochs).

Random streams. Each agent's initial weights equal the single-agent Trainer's for its seed exactly. With
``streams="per_agent"`` agent k also has the single-agent Trainer's streams for its seed: its envs
reset from a generator seeded ``seeds[k]`` (:meth:`ppo_lite.envs.VecEnv.reset_blocks`), its actions and minibatch
shuffles (``torch.randperm``) draw from another seeded ``seeds[k]``. So agent k draws the same random numbers
whatever the batch holds: one stored run can be trained again alone, a diverged agent dropped without changing the
others, and two arms with one seed meet the same first episodes. It costs K small draws where one would do (one per
agent for the actions and for each autoreset draw of a step): on the 2-core AMD EPYC CPU, CartPole, K = 1 / 8 / 64,
per-agent minus shared wall time was −6% / −4% / +2%, within the timing noise (``bench/bench_batched.py``; on a
GPU, K launches per draw would cost more: unmeasured). ``streams="shared"``, still the default, is the protocol of
everything computed before per-agent streams existed: the envs and sampling of the whole batch draw from one stream
seeded from the whole seed list (agent k then sees other episodes than alone, with the same distribution, and
reproduces only beside its batch-mates). The stored sweeps keep it so that ``--rerun`` and ``--max-cells 0`` still
match them; and notebook 10's five-run claims, re-executed under per-agent streams, do not all hold (two of them
flip with the draw), so the default changes once those claims rest on enough runs to survive another draw.
"""
from __future__ import annotations

import math
import time
import warnings
import zlib
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import torch
from torch import Tensor
from torch.nn.utils import parameters_to_vector, vector_to_parameters

from . import objectives
from .advantages import gae
from .config import PPOConfig, resolve_device, torch_threads
from .diagnostics import check_finite, explained_variance, progress_bar, read_back
from .envs import VecEnv, make_env
from .history import History
from .kl import kl_k3, make_kl_controller
from .normalize import PerAgentObsNormalizer, PerAgentRewardScaler, agent_major, normalize_advantages
from .optim import BatchedAdam
from .policies import ActorCritic
from .rollout import Rollout, collect_rollout

__all__ = [
    "AGENT_FIELDS", "STREAMS", "BatchedConfig", "AgentHyperparameters", "BatchedActorCritic",
    "batched_update", "per_agent_gae", "train_batched", "BatchedTrainer", "AgentDiverged",
]

AGENT_FIELDS = ("lr", "clip_eps", "ent_coef", "gae_lambda", "gamma")
"""PPOConfig fields that may differ from agent to agent."""
SUPPORTED_OBJECTIVES = ("clip", "surrogate", "pg", "kl_adaptive", "kl_dual")
STREAMS = ("per_agent", "shared")
"""How a batch's agents draw their random numbers (module docstring): each its own, or one stream for all."""


# -- configuration ---------------------------------------------------------------------------------------------
@dataclass
class BatchedConfig:
    """K agents: a shared ``base`` config, one seed per agent, and optional per-agent values of :data:`AGENT_FIELDS`.

    A field left ``None`` takes ``base``'s value for every agent. ``base.seed`` is not used (``seeds`` replaces it).
    ``update_epochs``, ``num_minibatches``, the rollout shape and the network must be shared (they are in ``base``).
    ``streams``: ``"per_agent"`` (each agent the random streams of its seed trained alone: use it for new work) or
    ``"shared"`` (one stream for the batch: the stored sweeps' protocol, the default); see the module docstring.
    """

    base: PPOConfig = field(default_factory=PPOConfig)
    seeds: list[int] = field(default_factory=lambda: [0])
    lr: list[float] | None = None
    clip_eps: list[float] | None = None
    ent_coef: list[float] | None = None
    gae_lambda: list[float] | None = None
    gamma: list[float] | None = None
    streams: str = "shared"  # "per_agent" for new work: see the module docstring for why it is not yet the default

    @property
    def num_agents(self) -> int:
        return len(self.seeds)

    def values(self, name: str) -> list[float]:
        """Per-agent values of ``name`` (one of :data:`AGENT_FIELDS`): the override list, or base's value K times."""
        if name not in AGENT_FIELDS:
            raise ValueError(f"{name!r} is not a per-agent field; per-agent fields: {AGENT_FIELDS}")
        given = getattr(self, name)
        return [float(v) for v in given] if given is not None else [float(getattr(self.base, name))] * self.num_agents

    def agent_config(self, k: int) -> PPOConfig:
        """The single-agent :class:`PPOConfig` that agent ``k`` trains with (what ``ppo_lite.train`` would take)."""
        return self.base.replace(seed=self.seeds[k], **{name: self.values(name)[k] for name in AGENT_FIELDS})

    def validate(self) -> "BatchedConfig":
        """Refuse bad values before any work starts, naming the field, the agent and what is allowed."""
        if not isinstance(self.base, PPOConfig):
            raise TypeError(f"BatchedConfig.base must be a PPOConfig, got {type(self.base).__name__}")
        if not isinstance(self.seeds, (list, tuple)) or len(self.seeds) == 0:
            raise ValueError(f"BatchedConfig.seeds={self.seeds!r} is not allowed: give a non-empty list of seeds, one per agent")
        for k, s in enumerate(self.seeds):
            if isinstance(s, bool) or not isinstance(s, int) or s < 0:
                raise ValueError(f"BatchedConfig.seeds[{k}]={s!r} is not allowed: seeds must be non-negative ints")
        for name in AGENT_FIELDS:
            given = getattr(self, name)
            if given is None:
                continue
            if not isinstance(given, (list, tuple)) or len(given) != self.num_agents:
                raise ValueError(
                    f"BatchedConfig.{name}={given!r} is not allowed: give None (base's value for all agents) or a "
                    f"list of {self.num_agents} values, one per seed"
                )
            for k, v in enumerate(given):
                if isinstance(v, bool) or not isinstance(v, (int, float)):
                    raise ValueError(f"BatchedConfig.{name}[{k}]={v!r} is not allowed: must be a number")
        if self.streams not in STREAMS:
            raise ValueError(f"BatchedConfig.streams={self.streams!r} is not allowed: use one of {STREAMS} (module docstring)")
        if self.base.target_kl is not None:
            raise ValueError(
                f"PPOConfig.target_kl={self.base.target_kl!r} is not supported by train_batched: early stopping would "
                "stop agents at different epochs; set target_kl=None (or train that config with ppo_lite.train)"
            )
        if self.base.objective not in SUPPORTED_OBJECTIVES:
            raise ValueError(f"PPOConfig.objective={self.base.objective!r} is not supported by train_batched; use one of {SUPPORTED_OBJECTIVES}")
        for k in range(self.num_agents):
            try:
                self.agent_config(k).validate()
            except ValueError as exc:
                raise ValueError(f"agent {k} (seed {self.seeds[k]}): {exc}") from None
        return self


@dataclass
class AgentHyperparameters:
    """The per-agent values of :data:`AGENT_FIELDS` as ``(K,)`` float32 tensors on the device."""

    lr: Tensor
    clip_eps: Tensor
    ent_coef: Tensor
    gae_lambda: Tensor
    gamma: Tensor

    @classmethod
    def from_config(cls, config: BatchedConfig, device: torch.device | str = "cpu") -> "AgentHyperparameters":
        return cls(**{name: torch.tensor(config.values(name), dtype=torch.float32, device=device) for name in AGENT_FIELDS})


# -- the network -------------------------------------------------------------------------------------------------
_ACTIVATIONS = {"tanh": torch.tanh, "relu": torch.relu}


class BatchedActorCritic:
    r"""K copies of :class:`~ppo_lite.policies.ActorCritic` with stacked parameters.

    ``actor(x)`` and ``critic(x)`` map ``(K, B, obs_dim)`` to ``(K, B, ·)``; ``log_std`` is ``(K, 1, act_dim)``, so
    :class:`ActorCritic`'s own ``log_prob_entropy`` / ``evaluate`` / sampling code applies unchanged (the formulas
    of :mod:`ppo_lite.policies`, broadcast over the agent axis). :meth:`act` takes the env's flat ``(K·N, obs_dim)``
    observations, agent k's envs being rows ``[kN, (k+1)N)``.

    ``flat`` (K, P) holds all parameters and ``grad`` (K, P) all gradients; the per-layer tensors are leaf views
    of them, and each view's ``.grad`` is preset to the matching view of ``grad`` so backward accumulates straight
    into it (no per-layer concatenation before clipping and Adam). The device is fixed at construction.
    """

    def __init__(self, flat: Tensor, obs_dim: int, act_dim: int, discrete: bool, hidden: Sequence[int], activation: str) -> None:
        if activation not in _ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(_ACTIVATIONS)}, got {activation!r}")
        self.num_agents, self.obs_dim, self.act_dim, self.discrete = flat.shape[0], obs_dim, act_dim, discrete
        self.hidden, self.activation = tuple(hidden), activation
        self._act_fn = _ACTIVATIONS[activation]
        self.flat = flat.detach().clone()
        self.grad = torch.zeros_like(self.flat)
        self.shapes = _parameter_shapes(obs_dim, act_dim, discrete, self.hidden)
        if sum(math.prod(s) for s in self.shapes.values()) != self.flat.shape[1]:
            raise ValueError(f"flat has {self.flat.shape[1]} parameters per agent; this network needs {sum(math.prod(s) for s in self.shapes.values())}")
        self.params: dict[str, Tensor] = {}
        start = 0
        K = self.num_agents
        for name, shape in self.shapes.items():
            n = math.prod(shape)
            p = self.flat[:, start:start + n].view(K, *shape).requires_grad_(True)
            p.grad = self.grad[:, start:start + n].view(K, *shape)
            self.params[name] = p
            start += n
        depth = len(self.hidden) + 1
        self.actor_layers = [(self.params[f"actor.{2 * i}.weight"], self.params[f"actor.{2 * i}.bias"]) for i in range(depth)]
        self.critic_layers = [(self.params[f"critic.{2 * i}.weight"], self.params[f"critic.{2 * i}.bias"]) for i in range(depth)]

    @property
    def log_std(self) -> Tensor | None:
        """(K, 1, act_dim). Taken afresh at each use: a view kept from an earlier step would lose its gradient path
        once the optimizer has changed ``flat`` in place."""
        return None if self.discrete else self.params["log_std"].unsqueeze(1)

    # construction and export ---------------------------------------------------------------------------------
    @classmethod
    def from_singles(cls, nets: Sequence[ActorCritic], device: torch.device | str | None = None) -> "BatchedActorCritic":
        """Stack single-agent networks (all of one architecture); agent k is ``nets[k]``."""
        if len(nets) == 0:
            raise ValueError("from_singles needs at least one ActorCritic")
        first = nets[0]
        activation = _activation_name(first)
        for k, net in enumerate(nets):
            if (net.obs_dim, net.act_dim, net.discrete, net.hidden, _activation_name(net)) != (first.obs_dim, first.act_dim, first.discrete, first.hidden, activation):
                raise ValueError(f"nets[{k}] has another architecture than nets[0]; all agents of a batch share one network shape")
        flat = torch.stack([parameters_to_vector(net.parameters()).detach() for net in nets])
        if device is not None:
            flat = flat.to(device)
        return cls(flat, first.obs_dim, first.act_dim, first.discrete, first.hidden, activation)

    @classmethod
    def from_seeds(
        cls, seeds: Sequence[int], obs_dim: int, act_dim: int, discrete: bool, hidden: Sequence[int] = (64, 64),
        activation: str = "tanh", ortho_init: bool = True, log_std_init: float = 0.0, device: torch.device | str = "cpu",
    ) -> "BatchedActorCritic":
        """Agent k initialized exactly as :class:`ppo_lite.trainer.Trainer` does: ``torch.manual_seed(seeds[k])``,
        then ``ActorCritic(...)`` (on the CPU, moved to ``device``, as ``ActorCritic(...).to(device)`` does)."""
        nets = []
        for seed in seeds:
            torch.manual_seed(seed)
            nets.append(ActorCritic(obs_dim, act_dim, discrete, hidden, activation, ortho_init, log_std_init))
        return cls.from_singles(nets, device)

    def to_single(self, k: int) -> ActorCritic:
        """Agent ``k`` as a single-agent :class:`ActorCritic` on the same device."""
        if not 0 <= k < self.num_agents:
            raise IndexError(f"agent index {k} out of range for {self.num_agents} agents")
        net = ActorCritic(self.obs_dim, self.act_dim, self.discrete, self.hidden, self.activation, ortho_init=False).to(self.flat.device)
        vector_to_parameters(self.flat[k].detach().clone(), net.parameters())
        return net

    def parameters(self) -> list[Tensor]:
        return list(self.params.values())

    # forward ------------------------------------------------------------------------------------------------
    def _mlp(self, layers: list[tuple[Tensor, Tensor]], x: Tensor) -> Tensor:
        for i, (weight, bias) in enumerate(layers):
            if x.shape[0] == 1:
                # One agent: torch computes a batch of one by another kernel for some shapes (a 1-wide output goes
                # matrix-vector), which rounds differently. Computed as a batch of two (itself twice, the copy
                # dropped; its gradient is an exact 0), a lone agent gets the bits it gets beside others.
                x = torch.baddbmm(bias.unsqueeze(1).expand(2, -1, -1), x.expand(2, -1, -1),
                                  weight.transpose(1, 2).expand(2, -1, -1))[:1]
            else:
                x = torch.baddbmm(bias.unsqueeze(1), x, weight.transpose(1, 2))  # x W^T + b, for every agent at once
            if i < len(layers) - 1:
                x = self._act_fn(x)
        return x

    def actor(self, obs: Tensor) -> Tensor:
        """(K, B, obs_dim) -> (K, B, act_dim): logits, or Gaussian means."""
        return self._mlp(self.actor_layers, obs)

    def critic(self, obs: Tensor) -> Tensor:
        """(K, B, obs_dim) -> (K, B, 1)."""
        return self._mlp(self.critic_layers, obs)

    # Same formulas as the single-agent network, on (K, B, ·) tensors.
    value = ActorCritic.value
    log_prob_entropy = ActorCritic.log_prob_entropy
    evaluate = ActorCritic.evaluate

    @torch.no_grad()
    def sample(self, obs: Tensor, generator: torch.Generator | None = None, deterministic: bool = False) -> tuple[Tensor, Tensor]:
        """Flat ``(K·N, obs_dim)`` env observations -> flat (action, log-prob), sampled as ActorCritic.sample does."""
        per_agent = obs.reshape(self.num_agents, -1, obs.shape[-1])
        actions, logp = ActorCritic.sample(self, per_agent, generator, deterministic)
        return actions.flatten(0, 1), logp.reshape(-1)

    @torch.no_grad()
    def act(self, obs: Tensor, generator: torch.Generator | None = None, deterministic: bool = False) -> tuple[Tensor, Tensor, Tensor]:
        """Flat ``(K·N, obs_dim)`` env observations -> flat (action, log-prob, value), sampled as ActorCritic.act does."""
        actions, logp = self.sample(obs, generator, deterministic)
        return actions, logp, self.value(obs.reshape(self.num_agents, -1, obs.shape[-1])).reshape(-1)

    @torch.no_grad()
    def rollout_values(self, obs: Tensor) -> Tensor:
        """:math:`V(s)` for a ``(T, K·N, obs_dim)`` rollout -> ``(T, K·N)``: each agent's critic on its own envs."""
        return _time_major(self.value(agent_major(obs, self.num_agents)), obs.shape[0])


def _parameter_shapes(obs_dim: int, act_dim: int, discrete: bool, hidden: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
    """ActorCritic's parameter names and shapes in ``parameters()`` order (read off a meta-device instance, so no
    memory is allocated and the global random stream is not touched)."""
    with torch.device("meta"):
        template = ActorCritic(obs_dim, act_dim, discrete, hidden, ortho_init=False)
    return {name: tuple(p.shape) for name, p in template.named_parameters()}


def _activation_name(net: ActorCritic) -> str:
    return "relu" if any(isinstance(m, torch.nn.ReLU) for m in net.actor) else "tanh"


def _time_major(x: Tensor, steps: int) -> Tensor:
    """(K, T·N) -> (T, K·N), the inverse of :func:`ppo_lite.normalize.agent_major`."""
    K, TN = x.shape
    return x.reshape(K, steps, TN // steps).transpose(0, 1).reshape(steps, -1)


def per_agent_gae(
    rewards: Tensor, values: Tensor, next_values: Tensor, terminated: Tensor, truncated: Tensor,
    gammas: Sequence[float], lambdas: Sequence[float],
) -> Tensor:
    r"""GAE(γ_k, λ_k) on (T, K·N) tensors, agent k owning columns ``[kN, (k+1)N)``.

    :math:`\hat A_t = \delta_t + \gamma_k\lambda_k (1 - \text{done}_t) \hat A_{t+1}` with
    :math:`\delta_t = r_t + \gamma_k (1-\text{term}_t) V(s'_{t+1}) - V(s_t)` (notebook 02): :func:`ppo_lite.advantages.gae`
    with a γ and λ per column (plain numbers when all agents share them).
    """
    if len(set(gammas)) == 1 and len(set(lambdas)) == 1:
        return gae(rewards, values, next_values, terminated, truncated, gammas[0], lambdas[0])
    n = rewards.shape[1] // len(gammas)
    gamma = torch.tensor(gammas, dtype=rewards.dtype, device=rewards.device).repeat_interleave(n)
    lam = torch.tensor(lambdas, dtype=rewards.dtype, device=rewards.device).repeat_interleave(n)
    return gae(rewards, values, next_values, terminated, truncated, gamma, lam)


# -- the update --------------------------------------------------------------------------------------------------
def batched_update(
    net: BatchedActorCritic,
    optimizer: BatchedAdam,
    batch: dict[str, Tensor],
    config: PPOConfig,
    hp: AgentHyperparameters,
    generator: torch.Generator | Sequence[torch.Generator],
    kl_coef: Tensor | None = None,
    perms: Tensor | None = None,
) -> dict[str, Tensor]:
    """:func:`ppo_lite.trainer.update` for K agents at once; ``batch`` holds (K, B, ...) tensors.

    ``config`` gives the shared settings (epochs, minibatches, vf_coef, max_grad_norm, ...), ``hp`` the per-agent
    ones, ``kl_coef`` (K,) the KL objectives' β or η. Each agent shuffles its own batch every epoch: with one
    generator per agent, agent k by ``torch.randperm`` on its own (the single-agent trainer's shuffle); with one
    shared generator, by the argsort of a (K, B) uniform draw. ``perms`` (epochs, K, B), if given, fixes the shuffles.
    Returns (K,) device tensors: means over the gradient steps.
    """
    K, B = batch["obs"].shape[:2]
    dev = batch["obs"].device
    mb = B // config.num_minibatches
    rows = torch.arange(K, device=dev).unsqueeze(1)
    clip_eps, ent_coef = hp.clip_eps.unsqueeze(1), hp.ent_coef
    coef = None if kl_coef is None else kl_coef.reshape(K)
    value_clip = config.value_clip_eps if config.clip_value else None
    # As trainer.update: one minibatch is the whole batch, the same at every epoch, so no shuffle and the advantages
    # are normalized once (each agent's own statistics).
    whole_batch = config.num_minibatches == 1
    if whole_batch and config.norm_adv:
        batch = dict(batch, advantages=normalize_advantages(batch["advantages"], dim=1))
    sums = {k: torch.zeros(K, device=dev) for k in ("policy_loss", "value_loss", "entropy", "clip_frac", "grad_norm")}
    steps = 0
    for epoch in range(config.update_epochs):
        if whole_batch:
            perm = None
        elif perms is not None:
            perm = perms[epoch].to(dev)
        elif isinstance(generator, (list, tuple)):  # each agent's own stream, as trainer.update shuffles
            perm = torch.stack([torch.randperm(B, generator=g, device=g.device) for g in generator]).to(dev)
        else:  # one stream: an independent shuffle per agent by the argsort of uniform noise
            perm = torch.rand(K, B, generator=generator, device=generator.device).argsort(1).to(dev)
        for start in range(0, B, mb):
            if whole_batch:
                minibatch = batch
            else:
                idx = perm[:, start:start + mb]
                minibatch = {k: v[rows, idx] for k, v in batch.items()}
            logp, entropy, value = net.evaluate(minibatch["obs"], minibatch["actions"])
            adv = minibatch["advantages"]
            if config.norm_adv and not whole_batch:
                adv = normalize_advantages(adv, dim=1)
            logp_old = minibatch["logp"]
            loss, pi_loss, v_loss, ent = objectives.ppo_loss(  # (K,) each
                config.objective, logp, logp_old, adv, entropy, value, minibatch["returns"], minibatch["values"],
                clip_eps=clip_eps, vf_coef=config.vf_coef, ent_coef=ent_coef, value_clip_eps=value_clip, kl_coef=coef, dim=1)

            optimizer.zero_grad()
            with warnings.catch_warnings():
                # Layer grads are strided views of net.grad (rows of length P); torch warns that such a layout may
                # be slower for DDP buckets. It is what lets clipping and Adam run as single ops on (K, P).
                warnings.filterwarnings("ignore", message="grad and param do not obey the gradient layout contract")
                loss.sum().backward()  # agents share no parameter: row k of net.grad is dL_k/dθ_k
            if config.max_grad_norm is not None:
                grad_norm = optimizer.clip_grad_norm(config.max_grad_norm)
            else:
                grad_norm = torch.zeros(K, device=dev)
            optimizer.step()

            with torch.no_grad():
                sums["policy_loss"] += pi_loss.detach()
                sums["value_loss"] += v_loss.detach()
                sums["entropy"] += ent.detach()
                sums["clip_frac"] += objectives.clip_fraction(torch.exp(logp - logp_old), clip_eps, dim=1)
                sums["grad_norm"] += grad_norm
            steps += 1
    out = {k: v / steps for k, v in sums.items()}
    out["epochs"] = torch.full((K,), float(config.update_epochs), device=dev)
    return out


# -- the training loop -----------------------------------------------------------------------------------------
class AgentDiverged(FloatingPointError):
    """Training stopped because agent ``agent`` (an index into the batch) hit a non-finite figure; the message says
    which and where. A sweep can drop that agent and train the rest again (:mod:`ppo_lite.experiments.sweep`)."""

    def __init__(self, message: str, agent: int) -> None:
        super().__init__(message)
        self.agent = agent


def _stream_seed(seeds: Sequence[int]) -> int:
    """One seed for the batch's shared env and sampling stream (``streams="shared"``), a fixed function of the
    whole seed list."""
    return zlib.crc32(repr([int(s) for s in seeds]).encode())


class BatchedTrainer:
    """Owns the state of K agents; :meth:`run` trains them. Most users call :func:`train_batched`."""

    def __init__(self, config: BatchedConfig, env_wrapper: Callable[[VecEnv], VecEnv] | None = None) -> None:
        """``env_wrapper``: applied to the K·N-env vector env before its first reset (a reward shaping or an
        exploration bonus, :mod:`ppo_lite.envs.exploration`); the wrapped env is what the agents train on."""
        config.validate()
        self.config = config
        base = config.base
        K, N = config.num_agents, base.num_envs
        self.device = resolve_device(base.device)
        self.env: VecEnv = make_env(base.env_id, K * N, self.device, base.backend, base.validate_actions,
                                       **base.env_kwargs)
        if env_wrapper is not None:
            self.env = env_wrapper(self.env)
        self.net = BatchedActorCritic.from_seeds(
            config.seeds, self.env.obs_dim, self.env.act_dim, self.env.is_discrete, base.hidden, base.activation,
            base.ortho_init, base.log_std_init, device=self.device,
        )
        self.hp = AgentHyperparameters.from_config(config, self.device)
        # The learning rates in float64, as the single-agent trainer's Python floats (BatchedAdam rounds as Adam does).
        self.base_lr = torch.tensor(config.values("lr"), dtype=torch.float64, device=self.device)
        self.base_clip_eps = torch.tensor(config.values("clip_eps"), dtype=torch.float64, device=self.device)  # likewise
        self.optimizer = BatchedAdam(self.net.flat, self.net.grad, self.base_lr.clone(), eps=base.adam_eps)
        # As Trainer: the envs and the sampling each from a generator seeded with the agent's seed (or, "shared",
        # both from one generator seeded from the seed list). `generator` is what rollout and update draw from.
        self.generator: torch.Generator | list[torch.Generator]
        if config.streams == "per_agent":
            self.stream_seed = None
            self.generator = [torch.Generator(device=self.device).manual_seed(int(s)) for s in config.seeds]
        else:
            self.stream_seed = _stream_seed(config.seeds)
            self.generator = torch.Generator(device=self.device).manual_seed(self.stream_seed)
        self.obs_norm = PerAgentObsNormalizer(K, self.env.obs_dim, base.norm_obs, self.device)
        self.reward_scaler = PerAgentRewardScaler(K, N, self.hp.gamma, base.scale_reward, self.device)
        self.controller = make_kl_controller(base, self.device)
        if self.controller is not None:  # one β or η per agent; the controllers' rules are elementwise
            self.controller.coef = torch.full((K,), float(base.kl_coef_init), device=self.device)
        self.histories = [History() for _ in range(K)]
        self.updates_done = 0
        self.last_batch: dict[str, Tensor] | None = None  # the last update's batch (run_update)
        if config.streams == "per_agent":
            self.obs = self.env.reset_blocks([int(s) for s in config.seeds])
        else:
            self.obs = self.env.reset(seed=self.stream_seed)
        self.obs_norm.update(self.obs)

    def run(self, progress: bool = True, callback: Callable[[int, list[History]], bool | None] | None = None) -> list[History]:
        """Train every agent for ``base.total_steps`` env steps; ``callback(update, histories)`` returning True stops."""
        cfg = self.config.base
        bar = progress_bar(progress, total=cfg.num_updates, initial=self.updates_done, desc=f"{cfg.env_id} x{self.config.num_agents}")
        with torch_threads(cfg.num_threads):
            while self.updates_done < cfg.num_updates:
                t0 = time.perf_counter()
                self.run_update()
                seconds = time.perf_counter() - t0
                for h in self.histories:
                    h.log_update(time=seconds, sps=cfg.batch_size / max(seconds, 1e-9))  # each agent's own env steps/s
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(ret=f"{sum(h.mean_return() for h in self.histories) / len(self.histories):.1f}", refresh=False)
                if callback is not None and callback(self.updates_done, self.histories):
                    break
        if bar is not None:
            bar.close()
        return self.histories

    # -- one agent's learnt state, out and in ----------------------------------------------------------------------
    def agent_state(self, k: int) -> dict[str, Any]:
        """Agent ``k``'s learnt state, copied: its weights (the flat parameter row), Adam's moments and step count,
        its observation and reward statistics. What :meth:`load_agent_states` takes back, here or in another batch
        of the same task and network (notebook 10 continues agents under other settings this way)."""
        K = self.config.num_agents
        if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k < K:
            raise ValueError(f"agent_state: k={k!r} is not an agent of the batch (0..{K - 1})")
        obs, rew = self.obs_norm.rms, self.reward_scaler.rms
        return {
            "params": self.net.flat[k].detach().clone(), "step": int(self.optimizer.step_count),
            "exp_avg": self.optimizer.exp_avg[k].clone(), "exp_avg_sq": self.optimizer.exp_avg_sq[k].clone(),
            "obs_mean": obs.mean[k, 0].clone(), "obs_var": obs.var[k, 0].clone(), "obs_count": obs.count,
            "reward_mean": rew.mean[k].clone(), "reward_var": rew.var[k].clone(), "reward_count": rew.count,
        }

    def load_agent_states(self, states: Sequence[dict[str, Any]]) -> None:
        """Agent j continues ``states[j]`` (:meth:`agent_state`'s layout): weights, Adam moments, observation and
        reward statistics. The batch keeps one Adam step count and one statistics count, so it takes the largest of
        the states' (equal when they come from one batch); the discounted returns the reward scaler tracks start at
        0, as a fresh episode's. Call it before the first update."""
        K = self.config.num_agents
        if len(states) != K:
            raise ValueError(f"load_agent_states: {len(states)} states for {K} agents")
        P = self.net.flat.shape[1]
        for j, state in enumerate(states):
            if state["params"].shape != (P,):
                raise ValueError(f"load_agent_states: states[{j}] holds {tuple(state['params'].shape)} parameters, "
                                 f"this batch's network {P}: not the same network")
        dev = self.device
        with torch.no_grad():  # the layers are views of flat: one copy per agent moves every weight
            self.net.flat.copy_(torch.stack([s["params"] for s in states]).to(dev))
            self.optimizer.exp_avg.copy_(torch.stack([s["exp_avg"] for s in states]).to(dev))
            self.optimizer.exp_avg_sq.copy_(torch.stack([s["exp_avg_sq"] for s in states]).to(dev))
        self.optimizer.step_count = max(int(s["step"]) for s in states)
        stacked = {key: torch.stack([torch.as_tensor(s[key]) for s in states]).to(dev)
                   for key in ("obs_mean", "obs_var", "reward_mean", "reward_var")}
        self.obs_norm.load_state_dict({"mean": stacked["obs_mean"][:, None], "var": stacked["obs_var"][:, None],
                                       "count": max(s["obs_count"] for s in states)})
        self.reward_scaler.load_state_dict({
            "rms": {"mean": stacked["reward_mean"].reshape(K), "var": stacked["reward_var"].reshape(K),
                    "count": max(s["reward_count"] for s in states)},
            "returns": torch.zeros_like(self.reward_scaler.discounted_return),
        })

    def _advantages(self, rollout: Rollout) -> tuple[Tensor, Tensor]:
        """GAE per agent and value targets, in the rollout's (T, K·N) layout."""
        T = rollout.rewards.shape[0]
        K = self.config.num_agents
        with torch.no_grad():
            next_values = self.net.rollout_values(rollout.next_obs)
        adv = per_agent_gae(
            rollout.rewards, rollout.values, next_values, rollout.terminated, rollout.truncated,
            self.config.values("gamma"), self.config.values("gae_lambda"),
        )
        return adv, adv + rollout.values

    def run_update(self) -> None:
        """One update of every agent (the single-agent :meth:`ppo_lite.trainer.Trainer.run_update`, batched)."""
        cfg, K = self.config.base, self.config.num_agents
        u = self.updates_done
        frac = 1.0 - u / cfg.num_updates if cfg.anneal_lr else 1.0
        self.optimizer.lr.copy_(self.base_lr * frac)
        if cfg.anneal_clip_eps:  # the clip range of update u: ε (1 - u/U), as PPOConfig.clip_eps_at
            self.hp.clip_eps.copy_(self.base_clip_eps * (1.0 - u / cfg.num_updates))

        rollout, self.obs = collect_rollout(self.env, self.net, self.obs, cfg.num_steps, self.obs_norm, self.reward_scaler, self.generator)
        advantages, returns = self._advantages(rollout)
        batch = {
            "obs": agent_major(rollout.obs, K), "actions": agent_major(rollout.actions, K),
            "logp": agent_major(rollout.logp, K), "values": agent_major(rollout.values, K),
            "advantages": agent_major(advantages, K), "returns": agent_major(returns, K),
        }
        self.last_batch = batch  # a reference until the next update, as Trainer.last_batch (agent-major: (K, B, ...))
        kl_coef = None if self.controller is None else self.controller.coef
        stats = batched_update(self.net, self.optimizer, batch, cfg, self.hp, self.generator, kl_coef)
        with torch.no_grad():
            logp_new, _ = self.net.log_prob_entropy(batch["obs"], batch["actions"])
            approx_kl = kl_k3(logp_new, batch["logp"]).mean(1)
            ev = explained_variance(batch["values"], batch["returns"], dim=1)
        if self.controller is not None:
            self.controller.update(approx_kl)
        self.obs_norm.update(rollout.raw_obs)
        self.reward_scaler.update(rollout.tracked_returns)

        # The one read-back of this update: per-agent figures and the rollout's episode ends, in one tensor.
        figures = dict(stats, approx_kl=approx_kl, explained_variance=ev)
        figures["kl_coef"] = self.controller.coef if self.controller is not None else torch.full((K,), float("nan"), device=self.device)
        figures["finite_obs"] = torch.isfinite(agent_major(rollout.raw_obs, K)).flatten(1).all(1)
        figures["finite_rewards"] = torch.isfinite(agent_major(rollout.rewards, K)).all(1)
        figures["finite_params"] = torch.isfinite(self.net.flat).all(1)
        T, KN = rollout.rewards.shape
        per_agent, dones, ep_ret, ep_len = read_back(figures, rollout.dones, rollout.episode_return, rollout.episode_length, K)
        for k in range(K):
            try:
                check_finite(self._where(u, k), {name: values[k] for name, values in per_agent.items()})
            except FloatingPointError as exc:
                raise AgentDiverged(str(exc), k) from None

        n = KN // K
        ended = dones.nonzero()  # rows (k, t, env), sorted by agent, then step: the single-agent logging order
        counts = torch.bincount(ended[:, 0], minlength=K).tolist()
        steps = (u * cfg.batch_size + (ended[:, 1] + 1) * n).tolist()
        rets = ep_ret[ended[:, 0], ended[:, 1], ended[:, 2]].tolist()
        lens = ep_len[ended[:, 0], ended[:, 1], ended[:, 2]].tolist()
        self.updates_done += 1
        start = 0
        for k, h in enumerate(self.histories):
            s, r, l = steps[start:start + counts[k]], rets[start:start + counts[k]], lens[start:start + counts[k]]
            start += counts[k]
            h.log_episodes(s, r, l)
            h.log_update(
                update=self.updates_done, env_steps=self.updates_done * cfg.batch_size, lr=self.config.values("lr")[k] * frac,
                episode_return_mean=sum(r) / len(r) if r else float("nan"),
                episode_length_mean=sum(l) / len(l) if l else float("nan"), episodes=len(r),
                **{name: values[k] for name, values in per_agent.items() if not name.startswith("finite_")},
            )

    def _where(self, update_index: int, k: int) -> str:
        hp = {name: self.config.values(name)[k] for name in AGENT_FIELDS}
        return f"update {update_index + 1}, agent {k} (seed {self.config.seeds[k]}, {hp}) of a batch of {self.config.num_agents}"


def train_batched(
    config: BatchedConfig, progress: bool = True, callback: Callable[[int, list[History]], bool | None] | None = None,
) -> list[History]:
    """Train ``config.num_agents`` independent PPO agents in one batched computation; one :class:`History` per agent.

    Agent k's history has the single-agent trainer's figures (episode returns, losses, approx_kl, clip_frac,
    explained variance, lr, sps); ``sps`` counts that agent's own env steps (the batch's aggregate is K times it).
    ``callback(update, histories)`` runs after each update; returning True stops all agents.
    """
    trainer = BatchedTrainer(config)
    try:
        return trainer.run(progress=progress, callback=callback)
    finally:
        trainer.env.close()
