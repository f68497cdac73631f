r"""Actor-critic networks with a categorical (Discrete) or diagonal-Gaussian (Box) policy head.

Separate actor and critic MLPs (CleanRL's layout; no shared trunk, so the value loss cannot disturb the policy
features). Log-probabilities and entropies are written out rather than taken from ``torch.distributions``: the
formulas stay visible, and the hot loop skips distribution-argument validation.

Categorical, logits :math:`z`:  :math:`\log\pi(a|s) = z_a - \log\sum_b e^{z_b}`,
:math:`\mathcal H = -\sum_a \pi_a \log\pi_a`.

Diagonal Gaussian, mean :math:`\mu_\theta(s)`, state-independent log-std :math:`\log\sigma`:
:math:`\log\pi(a|s) = \sum_i \big[-\tfrac12 ((a_i-\mu_i)/\sigma_i)^2 - \log\sigma_i - \tfrac12\log 2\pi\big]`,
:math:`\mathcal H = \sum_i \big[\log\sigma_i + \tfrac12 (1 + \log 2\pi)\big]` (can be negative).

Orthogonal initialization (``ortho_init=True``): hidden layers with gain √2, policy head 0.01 (initial policy
near uniform / near zero mean), value head 1.0, biases 0 (ikostrikov #199; Engstrom et al. 2020).
"""
from __future__ import annotations

import math
from typing import Callable, Sequence

import torch
from torch import Tensor, nn

__all__ = ["mlp", "ActorCritic", "draw", "categorical_log_prob", "categorical_entropy", "gaussian_log_prob", "gaussian_entropy"]

_LOG_2PI = math.log(2.0 * math.pi)
ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU}


def mlp(in_dim: int, hidden: Sequence[int], out_dim: int, activation: str = "tanh") -> nn.Sequential:
    """``in -> hidden[0] -> ... -> out`` with ``activation`` between layers (none after the last)."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
    layers: list[nn.Module] = []
    last = in_dim
    for width in hidden:
        layers += [nn.Linear(last, width), ACTIVATIONS[activation]()]
        last = width
    layers.append(nn.Linear(last, out_dim))
    return nn.Sequential(*layers)


def _orthogonal_init(net: nn.Sequential, head_gain: float) -> None:
    linears = [m for m in net if isinstance(m, nn.Linear)]
    for i, layer in enumerate(linears):
        nn.init.orthogonal_(layer.weight, gain=head_gain if i == len(linears) - 1 else math.sqrt(2.0))
        nn.init.zeros_(layer.bias)


def categorical_log_prob(logits: Tensor, actions: Tensor, log_probs: Tensor | None = None) -> Tensor:
    r""":math:`\log\pi(a|s) = z_a - \operatorname{logsumexp}(z)`; pass ``log_probs`` (the log-softmax) if computed."""
    if log_probs is None:
        log_probs = torch.log_softmax(logits, dim=-1)
    return log_probs.gather(-1, actions.long().unsqueeze(-1)).squeeze(-1)


def categorical_entropy(log_probs: Tensor) -> Tensor:
    r""":math:`\mathcal H = -\sum_a \pi_a \log \pi_a`, from the log-probabilities (the log-softmax of the logits)."""
    return -(log_probs.exp() * log_probs).sum(-1)


def gaussian_log_prob(mean: Tensor, log_std: Tensor, actions: Tensor) -> Tensor:
    r""":math:`\sum_i -\tfrac12 z_i^2 - \log\sigma_i - \tfrac12\log 2\pi`, with :math:`z = (a - \mu)/\sigma`."""
    z = (actions - mean) * torch.exp(-log_std)
    return (-0.5 * z.pow(2) - log_std - 0.5 * _LOG_2PI).sum(-1)


def gaussian_entropy(log_std: Tensor) -> Tensor:
    r""":math:`\sum_i \log\sigma_i + \tfrac12(1 + \log 2\pi)`."""
    return (log_std + 0.5 * (1.0 + _LOG_2PI)).sum(-1)


def draw(fn: Callable[..., Tensor], like: Tensor, generator: torch.Generator | Sequence[torch.Generator] | None) -> Tensor:
    """``fn`` (``torch.rand`` or ``torch.randn``) noise of ``like``'s shape, dtype and device, from ``generator``.

    A sequence of K generators draws row k of ``like``'s leading (agent) axis from generator k: each agent of a batch
    gets exactly the numbers it would draw alone (:mod:`ppo_lite.batched`), at the price of K small draws."""
    if isinstance(generator, (list, tuple)):
        return torch.stack([fn(like.shape[1:], generator=g, device=like.device, dtype=like.dtype) for g in generator])
    return fn(like.shape, generator=generator, device=like.device, dtype=like.dtype)


class ActorCritic(nn.Module):
    """Policy :math:`\\pi_\\theta(a|s)` and value :math:`V_\\phi(s)` as two MLPs.

    ``discrete=True``: ``act_dim`` logits. ``discrete=False``: ``act_dim`` means plus a learned log-std vector.
    """

    def __init__(
        self,
        obs_dim: int,
        act_dim: int,
        discrete: bool,
        hidden: Sequence[int] = (64, 64),
        activation: str = "tanh",
        ortho_init: bool = True,
        log_std_init: float = 0.0,
    ) -> None:
        super().__init__()
        if obs_dim < 1 or act_dim < 1:
            raise ValueError(f"obs_dim and act_dim must be >= 1, got {obs_dim} and {act_dim}")
        self.obs_dim, self.act_dim, self.discrete = obs_dim, act_dim, discrete
        self.hidden = tuple(int(h) for h in hidden)
        self.actor = mlp(obs_dim, self.hidden, act_dim, activation)
        self.critic = mlp(obs_dim, self.hidden, 1, activation)
        self.log_std = None if discrete else nn.Parameter(torch.full((act_dim,), float(log_std_init)))
        if ortho_init:
            _orthogonal_init(self.actor, head_gain=0.01)
            _orthogonal_init(self.critic, head_gain=1.0)

    def value(self, obs: Tensor) -> Tensor:
        return self.critic(obs).squeeze(-1)

    @torch.no_grad()
    def rollout_values(self, obs: Tensor) -> Tensor:
        """:math:`V(s)` for a whole ``(T, N, obs_dim)`` rollout in one batched pass -> ``(T, N)``."""
        return self.value(obs.reshape(-1, obs.shape[-1])).reshape(obs.shape[:-1])

    def log_prob_entropy(self, obs: Tensor, actions: Tensor) -> tuple[Tensor, Tensor]:
        """:math:`\\log\\pi_\\theta(a|s)` and :math:`\\mathcal H[\\pi_\\theta(\\cdot|s)]` for stored actions."""
        out = self.actor(obs)
        if self.discrete:
            log_probs = torch.log_softmax(out, dim=-1)  # shared by both terms: one softmax per forward
            return categorical_log_prob(out, actions, log_probs), categorical_entropy(log_probs)
        log_std = self.log_std.expand_as(out)
        return gaussian_log_prob(out, log_std, actions), gaussian_entropy(log_std)

    def evaluate(self, obs: Tensor, actions: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Log-prob, entropy and value, for the update phase."""
        logp, entropy = self.log_prob_entropy(obs, actions)
        return logp, entropy, self.value(obs)

    @torch.no_grad()
    def sample(self, obs: Tensor, generator: torch.Generator | None = None, deterministic: bool = False) -> tuple[Tensor, Tensor]:
        """Sample :math:`a \\sim \\pi_\\theta(\\cdot|s)`; return (action, log-prob). The critic is not run.

        Discrete sampling uses the Gumbel-max trick, :math:`a = \\arg\\max_b (z_b + g_b)` with
        :math:`g = -\\log(-\\log U)`: one fused tensor expression, no host sync, seeded by ``generator`` (one
        stream, or one per row of a leading agent axis: :func:`draw`). ``deterministic=True`` takes the mode
        (argmax logits / the mean).
        """
        out = self.actor(obs)
        if self.discrete:
            if deterministic:
                actions = out.argmax(-1)
            else:
                u = draw(torch.rand, out, generator)
                actions = (out - torch.log(-torch.log(u.clamp_min(1e-20)))).argmax(-1)
            return actions, categorical_log_prob(out, actions)
        log_std = self.log_std.expand_as(out)
        if deterministic:
            actions = out
        else:
            noise = draw(torch.randn, out, generator)
            actions = out + noise * torch.exp(log_std)
        return actions, gaussian_log_prob(out, log_std, actions)

    @torch.no_grad()
    def act(self, obs: Tensor, generator: torch.Generator | None = None, deterministic: bool = False) -> tuple[Tensor, Tensor, Tensor]:
        """:meth:`sample` and the value: (action, log-prob, :math:`V(s)`)."""
        actions, logp = self.sample(obs, generator, deterministic)
        return actions, logp, self.value(obs)
