r"""When PPO goes wrong (notebook 10): small runs of several settings over a few seeds, and the numbers that turn a
training figure into a reading.

Readings (derived in notebook 10):

- **Discount horizon.** :math:`H_\gamma = \sum_{t\ge 0}\gamma^t = 1/(1-\gamma)`; the share of the total discount
  weight that lies beyond step :math:`T` is :math:`\sum_{t\ge T}\gamma^t \big/ \sum_{t\ge 0}\gamma^t = \gamma^T`.
- **Explained variance.** :math:`\mathrm{EV} = 1 - \mathrm{Var}[\hat R - V]/\mathrm{Var}[\hat R]`, so the critic's
  residual standard deviation is :math:`\sqrt{1-\mathrm{EV}}` times the returns' own: EV = 0.75 leaves half the
  spread unexplained, EV = 0 is what the constant :math:`V = \bar R` scores, and EV < 0 means the residuals vary
  *more* than the returns: a constant would predict better.
- **Approximate KL as probability moves.** With :math:`r = \pi_{new}(a|s)/\pi_{old}(a|s)` on the sampled actions,
  :math:`k_3 = (r-1) - \log r = \tfrac12 (r-1)^2 + O((r-1)^3)`, so an update whose approximate KL is :math:`\kappa`
  moves the sampled actions' probabilities by :math:`\sqrt{2\kappa}` (root mean square): 20% at
  :math:`\kappa = 0.02`. If :math:`r - 1` were normal with that spread, the fraction moved by at least :math:`b`
  would be :math:`P(|r-1| \ge b) = \operatorname{erfc}\!\big(b / (2\sqrt{\kappa})\big)`; measured updates
  (:func:`probe_update`, :func:`fraction_moved`) say how far real ratios are from that.
- **Gaussian entropy.** A diagonal Gaussian over :math:`d` actions has
  :math:`\mathcal H = \sum_i \log\sigma_i + \tfrac d2 (1 + \log 2\pi)`, so the geometric mean of its standard
  deviations is :math:`\bar\sigma = \exp(\mathcal H/d - \tfrac12(1+\log 2\pi))`, and :math:`\mathcal H < 0` exactly
  when :math:`\bar\sigma < e^{-(1+\log 2\pi)/2} \approx 0.242` (:data:`NEGATIVE_ENTROPY_SIGMA`): a density, unlike
  a probability, can exceed 1, and a narrow one has negative differential entropy.

Runs, on top of the public trainers:

- :func:`run_arms` trains several settings ("arms") over the same seeds, arms that differ only in per-agent fields
  as one :mod:`ppo_lite.batched` computation;
- :func:`fork` continues a batched trainer's agents in a new batch with other settings (weights, Adam moments and
  normalizer statistics carried over);
- :func:`snapshot` and :func:`probe_update` take one agent, collect one fresh rollout and apply one update per
  setting from the same starting point, measuring the KL, the probability moves, the epochs done and how far the
  actor and critic moved;
- :func:`share_trunk` and :func:`train_shared_trunk` give an agent one hidden trunk for the actor and the critic
  (the library's own networks are separate);
- :func:`evaluate_without_obs_stats` scores agents as a reload that forgot the observation statistics would.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import torch
from torch import Tensor, nn
from torch.nn.utils import parameters_to_vector

from .. import objectives
from ..batched import AGENT_FIELDS, BatchedConfig, BatchedTrainer, train_batched
from ..config import PPOConfig, resolve_device
from ..envs import make_env
from ..evaluation import evaluate_agents
from ..history import History
from ..kl import kl_k3
from ..normalize import ObsNormalizer, PerAgentObsNormalizer, RewardScaler
from ..optim import FlatAdam
from ..policies import ActorCritic
from ..rollout import collect_rollout, compute_advantages, flatten_rollout
from ..normalize import normalize_advantages
from ..objectives import policy_loss
from ..trainer import Trainer, update

__all__ = [
    "NEGATIVE_ENTROPY_SIGMA", "effective_horizon", "discount_weight_beyond", "residual_std_fraction",
    "fraction_moved", "gaussian_fraction_moved", "gaussian_sigma", "first_reach", "fell_after_reaching",
    "run_arms", "from_snapshots", "fork", "AgentSnapshot", "snapshot", "probe_update", "share_trunk", "share_trunk_batched", "train_shared_trunk",
    "evaluate_without_obs_stats",
]

_GAUSS_CONST = 0.5 * (1.0 + math.log(2.0 * math.pi))
NEGATIVE_ENTROPY_SIGMA = math.exp(-_GAUSS_CONST)
r""":math:`e^{-(1+\log 2\pi)/2} \approx 0.2420`: a Gaussian whose σ is below this has negative differential entropy."""


# -- readings -------------------------------------------------------------------------------------------------
def _check_gamma(gamma: float, allow_one: bool) -> None:
    if isinstance(gamma, bool) or not isinstance(gamma, (int, float)) or not (0.0 <= gamma < 1.0 or (allow_one and gamma == 1.0)):
        allowed = "[0, 1]" if allow_one else "[0, 1) (γ = 1 has no finite horizon)"
        raise ValueError(f"gamma={gamma!r} is not allowed: must lie in {allowed}")


def effective_horizon(gamma: float) -> float:
    r""":math:`H_\gamma = \sum_{t\ge0}\gamma^t = 1/(1-\gamma)` steps: how far ahead the discounted return looks."""
    _check_gamma(gamma, allow_one=False)
    return 1.0 / (1.0 - gamma)


def discount_weight_beyond(gamma: float, steps: int) -> float:
    r"""Share of the discount weight beyond ``steps``: :math:`\sum_{t\ge T}\gamma^t / \sum_{t\ge0}\gamma^t = \gamma^T`.

    With γ = 0.99 and an episode cut at T = 200 steps, :math:`0.99^{200} = 13\%` of the weight lies past the time
    limit: the truncation bootstrap :math:`\gamma V(s_T)` has to supply it.
    """
    _check_gamma(gamma, allow_one=True)
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps={steps!r} is not allowed: must be a non-negative int")
    return float(gamma) ** steps


def residual_std_fraction(explained_variance: float) -> float:
    r""":math:`\sqrt{1 - \mathrm{EV}}`: the critic's residual std as a multiple of the returns' std (> 1 when EV < 0)."""
    if not isinstance(explained_variance, (int, float)) or not explained_variance <= 1.0:
        raise ValueError(f"explained_variance={explained_variance!r} is not allowed: must be a number <= 1")
    return math.sqrt(1.0 - explained_variance)


def fraction_moved(logp_new: Tensor, logp_old: Tensor, by: float = 0.1) -> Tensor:
    r"""Fraction of samples whose probability moved by at least ``by`` (relative): :math:`\hat{\mathbb E}[\,|r - 1| \ge b\,]`
    with :math:`r = e^{\log\pi_{new} - \log\pi_{old}}`. (At ``by = ε`` it is the clip fraction, counted after the update.)"""
    if not by > 0:
        raise ValueError(f"by={by!r} is not allowed: must be > 0 (a relative move such as 0.1 for 10%)")
    if logp_new.shape != logp_old.shape:
        raise ValueError(f"logp_new {tuple(logp_new.shape)} and logp_old {tuple(logp_old.shape)} must have one shape")
    return ((torch.exp(logp_new - logp_old) - 1.0).abs() >= by).float().mean()


def gaussian_fraction_moved(kl: float, by: float = 0.1) -> float:
    r"""The small-step model: if :math:`r - 1 \sim \mathcal N(0, 2\kappa)` (so that :math:`k_3 \approx \kappa`),
    :math:`P(|r-1| \ge b) = \operatorname{erfc}(b / (2\sqrt\kappa))`."""
    if not kl > 0:
        raise ValueError(f"kl={kl!r} is not allowed: must be > 0")
    if not by > 0:
        raise ValueError(f"by={by!r} is not allowed: must be > 0")
    return math.erfc(by / (2.0 * math.sqrt(kl)))


def gaussian_sigma(entropy: float, act_dim: int = 1) -> float:
    r"""Geometric-mean σ of a diagonal Gaussian from its entropy: :math:`\exp(\mathcal H/d - \tfrac12(1 + \log 2\pi))`
    (the inverse of :func:`ppo_lite.policies.gaussian_entropy`; the trainer logs :math:`\mathcal H` as ``entropy``)."""
    if isinstance(act_dim, bool) or not isinstance(act_dim, int) or act_dim < 1:
        raise ValueError(f"act_dim={act_dim!r} is not allowed: must be a positive int")
    if not math.isfinite(entropy):
        raise ValueError(f"entropy={entropy!r} is not allowed: must be finite")
    return math.exp(entropy / act_dim - _GAUSS_CONST)


def first_reach(history: History, threshold: float, last: int = 20) -> int | None:
    """Index of the first update whose smoothed return (mean of the last ``last`` episodes) is >= ``threshold``."""
    return next((i for i, r in enumerate(history.smoothed_returns(last)) if r >= threshold), None)


def fell_after_reaching(history: History, threshold: float, floor: float, last: int = 20) -> bool:
    """Whether the smoothed return, once it reached ``threshold``, later fell below ``floor`` (a collapse)."""
    start = first_reach(history, threshold, last)
    return start is not None and min(history.smoothed_returns(last)[start:]) < floor


# -- runs -----------------------------------------------------------------------------------------------------
def run_arms(
    base: PPOConfig, arms: Mapping[str, Mapping[str, Any]], seeds: Sequence[int], stop_after: int | None = None,
    progress: bool = False,
) -> dict[str, list[History]]:
    """Train each arm (a name and the :class:`PPOConfig` fields it changes from ``base``) with every seed.

    ``stop_after`` ends training after that many updates, on the learning-rate schedule of the full
    ``total_steps`` (so a short run is the beginning of the long one, not a compressed copy of it).
    Returns ``{arm: [History per seed]}``. Arms that differ from one another only in per-agent fields
    (:data:`ppo_lite.batched.AGENT_FIELDS`: lr, clip ε, entropy coefficient, λ, γ) train as one batched
    computation (:func:`ppo_lite.batched.train_batched`); each other combination of fields is a batch of its own.
    The batch's env stream is seeded from its whole seed list, so an arm's episodes depend on which arms share its
    batch (same distribution, other draws).
    """
    if not arms:
        raise ValueError("arms is empty: give at least one {name: {field: value}} entry")
    if not seeds or any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in seeds):
        raise ValueError(f"seeds={list(seeds)!r} is not allowed: give a non-empty list of non-negative ints")
    if stop_after is not None and (isinstance(stop_after, bool) or not isinstance(stop_after, int) or stop_after < 1):
        raise ValueError(f"stop_after={stop_after!r} is not allowed: give a positive number of updates, or None")
    stop = None if stop_after is None else (lambda update, histories: update >= stop_after)
    fields = {f for f in PPOConfig.__dataclass_fields__}
    groups: dict[tuple, list[str]] = {}
    for name, changes in arms.items():
        unknown = sorted(set(changes) - fields)
        if unknown:
            raise ValueError(f"arm {name!r} changes unknown PPOConfig fields {unknown}")
        shared = tuple(sorted((k, v) for k, v in changes.items() if k not in AGENT_FIELDS))
        groups.setdefault(shared, []).append(name)
    out: dict[str, list[History]] = {}
    for shared, names in groups.items():
        group_base = base.replace(**dict(shared))
        per_agent = {
            f: [arms[n].get(f, getattr(group_base, f)) for n in names for _ in seeds]
            for f in AGENT_FIELDS if any(f in arms[n] for n in names)
        }
        histories = train_batched(BatchedConfig(group_base, seeds=[s for _ in names for s in seeds], **per_agent),
                                  progress=progress, callback=stop)
        for i, n in enumerate(names):
            out[n] = histories[i * len(seeds):(i + 1) * len(seeds)]
    return {n: out[n] for n in arms}


def fork(trainer: BatchedTrainer, config: BatchedConfig, parents: Sequence[int]) -> BatchedTrainer:
    """A new :class:`~ppo_lite.batched.BatchedTrainer` for ``config`` whose agent j continues ``trainer``'s agent
    ``parents[j]``: its weights, Adam moments and step count, and its observation and reward statistics.

    The new batch starts its environments afresh (new episodes, a new stream), its histories empty and its update
    counter (and so the learning-rate schedule) at 0; KL-controller coefficients start from ``kl_coef_init``.
    ``config`` must describe the same task and network as ``trainer``'s (and ``len(parents)`` agents).
    """
    old = trainer.config.base
    for name in ("env_id", "hidden", "activation", "norm_obs", "scale_reward", "num_envs"):
        if getattr(config.base, name) != getattr(old, name):
            raise ValueError(f"fork: config.base.{name}={getattr(config.base, name)!r} differs from the parent batch's "
                             f"{getattr(old, name)!r}; a fork continues the same task and network")
    if len(parents) != config.num_agents:
        raise ValueError(f"fork: {len(parents)} parents for {config.num_agents} agents; give one parent per seed of config")
    K = trainer.config.num_agents
    for j, p in enumerate(parents):
        if isinstance(p, bool) or not isinstance(p, int) or not 0 <= p < K:
            raise ValueError(f"fork: parents[{j}]={p!r} is not an agent of the parent batch (0..{K - 1})")
    new = BatchedTrainer(config)
    new.load_agent_states([trainer.agent_state(p) for p in parents])
    return new


def from_snapshots(snapshots: Sequence["AgentSnapshot"], config: BatchedConfig) -> BatchedTrainer:
    """A :class:`~ppo_lite.batched.BatchedTrainer` for ``config`` whose agent j is ``snapshots[j]`` (:func:`snapshot`):
    its weights, Adam moments and observation and reward statistics, as :func:`fork` carries them over.

    Snapshots taken at different updates (each agent kept when it reached a threshold, say) have different Adam step
    counts and statistic counts, and a batch holds one of each: the largest is kept. Adam's step then differs from
    the one the agent's own count gives by the ratio of the bias corrections :math:`\\sqrt{1-\\beta_2^t}/(1-\\beta_1^t)`
    at the two counts: up to about 10% between agents kept 100 updates apart (CartPole: 20 steps per update).
    ``config`` must have ``len(snapshots)`` agents of the snapshots' task and network."""
    if len(snapshots) != config.num_agents:
        raise ValueError(f"from_snapshots: {len(snapshots)} snapshots for {config.num_agents} agents of config")
    for j, snap in enumerate(snapshots):
        for name in ("env_id", "hidden", "activation", "norm_obs", "scale_reward", "num_envs"):
            if getattr(snap.config, name) != getattr(config.base, name):
                raise ValueError(f"from_snapshots: snapshots[{j}].config.{name}={getattr(snap.config, name)!r} differs "
                                 f"from config.base's {getattr(config.base, name)!r}")
        if snap.optimizer_state is None:
            raise ValueError(f"from_snapshots: snapshots[{j}] has no Adam state to carry over")
    new = BatchedTrainer(config)
    new.load_agent_states([{
        "params": parameters_to_vector(snap.agent.parameters()).detach(), "step": int(snap.optimizer_state["step"]),
        "exp_avg": snap.optimizer_state["exp_avg"], "exp_avg_sq": snap.optimizer_state["exp_avg_sq"],
        "obs_mean": snap.obs_norm.rms.mean, "obs_var": snap.obs_norm.rms.var, "obs_count": snap.obs_norm.rms.count,
        "reward_mean": snap.reward_scaler.rms.mean, "reward_var": snap.reward_scaler.rms.var,
        "reward_count": snap.reward_scaler.rms.count,
    } for snap in snapshots])
    return new


@dataclass
class AgentSnapshot:
    """One agent, detached from its trainer: what one more rollout and update need."""

    config: PPOConfig
    """The agent's own single-agent config (its seed and per-agent values)."""
    agent: ActorCritic
    obs_norm: ObsNormalizer
    reward_scaler: RewardScaler
    optimizer_state: dict[str, Any] | None = None
    """Adam's moments and step (:meth:`ppo_lite.optim.FlatAdam.state_dict` layout), or None for fresh moments."""


def snapshot(trainer: BatchedTrainer | Trainer, k: int = 0) -> AgentSnapshot:
    """Agent ``k`` of a batched trainer (or the agent of a single-agent :class:`~ppo_lite.trainer.Trainer`), copied."""
    if isinstance(trainer, Trainer):
        scaler = RewardScaler(trainer.config.num_envs, trainer.config.gamma, trainer.config.scale_reward, device=trainer.device)
        scaler.load_state_dict(trainer.reward_scaler.state_dict())
        obs_norm = ObsNormalizer(trainer.agent.obs_dim, trainer.config.norm_obs, device=trainer.device)
        obs_norm.load_state_dict(trainer.obs_norm.state_dict())
        return AgentSnapshot(trainer.config, copy.deepcopy(trainer.agent), obs_norm, scaler, trainer.optimizer.state_dict())
    K = trainer.config.num_agents
    if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k < K:
        raise ValueError(f"snapshot: k={k!r} is not an agent of the batch (0..{K - 1})")
    cfg = trainer.config.agent_config(k)
    state = trainer.agent_state(k)
    obs_norm = ObsNormalizer(trainer.env.obs_dim, cfg.norm_obs, device=trainer.device)
    obs_norm.load_state_dict({"mean": state["obs_mean"], "var": state["obs_var"], "count": state["obs_count"]})
    scaler = RewardScaler(cfg.num_envs, cfg.gamma, cfg.scale_reward, device=trainer.device)
    scaler.load_state_dict({"rms": {"mean": state["reward_mean"], "var": state["reward_var"], "count": state["reward_count"]},
                            "returns": torch.zeros(cfg.num_envs, device=trainer.device)})
    adam = {"step": state["step"], "exp_avg": state["exp_avg"], "exp_avg_sq": state["exp_avg_sq"], "lr": cfg.lr}
    return AgentSnapshot(cfg, trainer.net.to_single(k), obs_norm, scaler, adam)


def probe_update(snap: AgentSnapshot, settings: Sequence[Mapping[str, Any]], seed: int = 0) -> list[dict[str, float]]:
    r"""One fresh rollout of ``snap``'s policy (``num_envs`` × ``num_steps``, envs reset with ``seed``), then, for each
    setting (a dict of :class:`PPOConfig` fields: ``lr``, ``target_kl``, ``vf_coef``, ``max_grad_norm``, ...), one
    :func:`ppo_lite.trainer.update` of a copy of the agent from the same weights and Adam state.

    Each row: ``approx_kl`` (:math:`k_3` over the batch after the update); for a discrete policy ``rare`` (the fraction
    of samples whose action had :math:`\pi_{old}(a|s) < 1/2`) and ``rare_kl_share`` (their share of the summed
    :math:`k_3`); ``moved_10`` / ``moved_20`` (fraction of
    sampled actions whose probability moved by ≥ 10% / 20%, :func:`fraction_moved`), ``epochs`` done, ``actor_step``
    and ``critic_step`` (Euclidean norm of each network's parameter change; parameters the two share count in
    both), and, at the starting weights, ``policy_grad`` and ``value_grad``: the norms of
    :math:`\nabla L^\pi` and :math:`\nabla(c_v L^V)` over the actor's parameters (the critic's own head and
    hidden layers are not the actor's, unless a trunk is shared).
    """
    if not settings:
        raise ValueError("settings is empty: give at least one {field: value} dict (e.g. {'lr': 1e-3})")
    cfg = snap.config
    device = resolve_device(cfg.device)
    env = make_env(cfg.env_id, cfg.num_envs, device, cfg.backend, cfg.validate_actions, **cfg.env_kwargs)
    try:
        generator = torch.Generator(device=device).manual_seed(seed)
        scaler = copy.deepcopy(snap.reward_scaler)
        rollout, _ = collect_rollout(env, snap.agent, env.reset(seed=seed), cfg.num_steps, snap.obs_norm, scaler, generator)
    finally:
        env.close()
    rows = []
    for changes in settings:
        run_cfg = cfg.replace(**changes).validate()
        advantages, returns = compute_advantages(rollout, snap.agent, run_cfg.gamma, run_cfg.gae_lambda)
        batch = flatten_rollout(rollout, advantages, returns)
        agent = copy.deepcopy(snap.agent)
        policy_grad, value_grad = _loss_gradient_norms(agent, batch, run_cfg)
        optimizer = FlatAdam(agent, lr=run_cfg.lr, eps=run_cfg.adam_eps)
        if snap.optimizer_state is not None:
            optimizer.load_state_dict(dict(snap.optimizer_state, lr=run_cfg.lr))
        actor_before = parameters_to_vector(agent.actor.parameters()).detach().clone()
        critic_before = parameters_to_vector(agent.critic.parameters()).detach().clone()
        stats = update(agent, optimizer, batch, run_cfg, torch.Generator(device=device).manual_seed(seed))
        with torch.no_grad():
            logp_new, _ = agent.log_prob_entropy(batch["obs"], batch["actions"])
            k3 = kl_k3(logp_new, batch["logp"])
            rare = batch["logp"] < math.log(0.5)  # a discrete policy's less likely actions (none for a Gaussian's densities)
            rows.append({
                "approx_kl": float(k3.mean()),
                "rare": float(rare.float().mean()) if snap.agent.discrete else math.nan,
                "rare_kl_share": float(k3[rare].sum() / k3.sum().clamp_min(1e-30)) if snap.agent.discrete else math.nan,
                "moved_10": float(fraction_moved(logp_new, batch["logp"], 0.1)),
                "moved_20": float(fraction_moved(logp_new, batch["logp"], 0.2)),
                "epochs": float(stats["epochs"]),
                "actor_step": float((parameters_to_vector(agent.actor.parameters()) - actor_before).norm()),
                "critic_step": float((parameters_to_vector(agent.critic.parameters()) - critic_before).norm()),
                "policy_grad": policy_grad, "value_grad": value_grad,
            })
    return rows


def _loss_gradient_norms(agent: ActorCritic, batch: dict[str, Tensor], config: PPOConfig) -> tuple[float, float]:
    r""":math:`\lVert\nabla_{\theta_\pi} L^\pi\rVert` and :math:`\lVert\nabla_{\theta_\pi}(c_v L^V)\rVert` over the actor's
    parameters :math:`\theta_\pi`, on the whole batch at the current weights (the second is 0 unless a trunk is shared)."""
    params = list(agent.actor.parameters())
    logp, _, value = agent.evaluate(batch["obs"], batch["actions"])
    adv = normalize_advantages(batch["advantages"]) if config.norm_adv else batch["advantages"]
    pi_loss = policy_loss(config.objective, logp, batch["logp"], adv, config.clip_eps, torch.tensor(config.kl_coef_init))
    v_loss = config.vf_coef * objectives.value_loss(value, batch["returns"], batch["values"], config.value_clip_eps if config.clip_value else None)
    norms = []
    for loss in (pi_loss, v_loss):
        grads = torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True)
        norms.append(float(torch.sqrt(sum((g.pow(2).sum() for g in grads if g is not None), torch.zeros(())))))
    return norms[0], norms[1]


def share_trunk(agent: ActorCritic) -> ActorCritic:
    """Give ``agent`` one trunk: its critic's hidden layers are replaced by the actor's (two heads on shared
    features, as in the PPO paper's Atari network), in place; returns ``agent``.

    Both losses then reach the trunk, and ``vf_coef`` sets how much each one steers it. Build the optimizer
    after this call (:class:`~ppo_lite.optim.FlatAdam` collects each shared tensor once). The parameters appear
    under both the actor's and the critic's names in ``state_dict()``, so the library's checkpoint loaders, which
    build separate networks, do not restore the sharing.
    """
    if not isinstance(agent, ActorCritic):
        raise TypeError(f"share_trunk takes a ppo_lite ActorCritic, got {type(agent).__name__}")
    trunk = nn.Sequential(*list(agent.actor)[:-1])
    agent.actor = nn.Sequential(trunk, agent.actor[-1])
    agent.critic = nn.Sequential(trunk, agent.critic[-1])
    return agent


def share_trunk_batched(trainer: BatchedTrainer) -> BatchedTrainer:
    r""":func:`share_trunk` for every agent of a :class:`~ppo_lite.batched.BatchedTrainer`, in place; returns it.

    Each agent's critic reads the actor's hidden layers (its own head on the actor's features). The critic's own
    hidden weights stay in the parameter matrix but no loss reaches them: their gradient is 0, so Adam never moves
    them (its step is :math:`\hat m/(\sqrt{\hat v}+\epsilon) = 0`) and the gradient norm that the clip reads is the
    shared network's. (The library's batched network has no switch for this; the course does it here, on top.)
    """
    if not isinstance(trainer, BatchedTrainer):
        raise TypeError(f"share_trunk_batched takes a BatchedTrainer, got {type(trainer).__name__}")
    net = trainer.net
    net.critic_layers = net.actor_layers[:-1] + net.critic_layers[-1:]
    return trainer


def train_shared_trunk(config: PPOConfig, seeds: Sequence[int], progress: bool = False,
                       callback=None) -> list[History]:
    """Train one agent per seed with a shared trunk (:func:`share_trunk_batched`), as one batched computation.

    Each agent's network is initialized as the single-agent :class:`~ppo_lite.trainer.Trainer` does for its seed,
    then its critic reads the actor's hidden layers; ``vf_coef`` and the rest come from ``config``."""
    if not seeds:
        raise ValueError("seeds is empty: give at least one seed")
    trainer = share_trunk_batched(BatchedTrainer(BatchedConfig(config, seeds=list(seeds))))
    try:
        return trainer.run(progress=progress, callback=callback)
    finally:
        trainer.env.close()


def evaluate_without_obs_stats(trainer: BatchedTrainer, episodes: int = 10, seed: int = 1_000_000) -> list[list[float]]:
    """:func:`ppo_lite.evaluation.evaluate_agents` as a reload that kept the weights but not the observation
    statistics would score it: a fresh normalizer (mean 0, variance 1), so the network sees raw observations.
    (Stable-Baselines3's ``VecNormalize`` trap: its statistics live in the wrapper, saved and loaded apart from
    the model.)"""
    if not trainer.config.base.norm_obs:
        raise ValueError("evaluate_without_obs_stats: this batch does not normalize observations (norm_obs=False), "
                         "so there are no statistics to forget")
    forgetful = copy.copy(trainer)  # shares the network and config; only the normalizer is replaced
    forgetful.obs_norm = PerAgentObsNormalizer(trainer.config.num_agents, trainer.env.obs_dim, True, trainer.device)
    return evaluate_agents(forgetful, episodes=episodes, seed=seed)
