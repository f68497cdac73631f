r"""Tiny tabular MDPs with exact values and exact policy gradients (notebooks 01, 02, 03).

Everything here is float64 and exact up to a linear solve, so the Monte Carlo estimators of the course can be
checked against the true answer rather than against our own code.

Notation. :math:`P[s, a, s'] = p(s'|s,a)`, :math:`R[s, a] = \mathbb E[r|s,a]`, start distribution :math:`\mu_0`,
discount :math:`\gamma`. A *terminal* state is absorbing with zero reward: an episode ends when it enters one,
and its value is 0. The linear algebra uses the transition matrix with the terminal states cut out,

.. math:: \tilde P_\pi[s, s'] = \sum_a \pi(a|s) P[s, a, s'] \,[s \notin \mathcal T]\,[s' \notin \mathcal T],

so :math:`I - \gamma \tilde P_\pi` is invertible even at :math:`\gamma = 1` as long as every policy reaches a
terminal state (every MDP made here does).

Policies are softmax over per-state logits :math:`\theta \in \mathbb R^{S\times A}`:
:math:`\pi_\theta(a|s) = e^{\theta_{sa}} / \sum_b e^{\theta_{sb}}`, so
:math:`\partial \log\pi(a|s) / \partial\theta_{s'b} = [s'=s]([b=a] - \pi(b|s))`.
"""
from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from ..advantages import gae

__all__ = [
    "TabularMDP",
    "Episodes",
    "Transitions",
    "make_small_mdp",
    "ESTIMATORS",
    "policy",
    "score_function",
]

ESTIMATORS = ("total_return", "reward_to_go", "baseline")
_DTYPE = torch.float64


def policy(theta: Tensor) -> Tensor:
    r"""Softmax policy :math:`\pi_\theta(a|s) = \mathrm{softmax}(\theta_{s,:})_a`, shape (S, A)."""
    if theta.dim() != 2:
        raise ValueError(f"theta must be (num_states, num_actions) logits, got shape {tuple(theta.shape)}")
    return torch.softmax(theta, dim=-1)


def score_function(theta: Tensor, states: Tensor, actions: Tensor) -> Tensor:
    r"""Score :math:`\nabla_\theta \log\pi_\theta(a|s)` for a batch of (s, a) pairs, shape (..., S, A).

    For a softmax policy the gradient lives in row s only: :math:`e_a - \pi(\cdot|s)` (notebook 01).
    """
    pi = policy(theta.detach())
    S, A = pi.shape
    row = torch.nn.functional.one_hot(actions.long(), A).to(_DTYPE) - pi[states.long()]
    out = torch.zeros(*states.shape, S, A, dtype=_DTYPE)
    out.scatter_(-2, states.long()[..., None, None].expand(*states.shape, 1, A), row.unsqueeze(-2))
    return out


class Episodes(NamedTuple):
    """Padded Monte Carlo episodes, all shaped (E, T). ``mask[e, t]`` is 1 where step t of episode e happened."""

    states: Tensor
    actions: Tensor
    rewards: Tensor
    mask: Tensor


class Transitions(NamedTuple):
    """Transitions laid out (T, E) as :mod:`ppo_lite.advantages` expects; see :meth:`TabularMDP.sample_transitions`."""

    states: Tensor
    actions: Tensor
    rewards: Tensor
    next_states: Tensor
    terminated: Tensor
    truncated: Tensor
    mask: Tensor


class TabularMDP:
    r"""A finite MDP :math:`(P, R, \mu_0, \gamma)` with absorbing, zero-reward terminal states.

    ``P`` (S, A, S) rows sum to 1; ``R`` (S, A); ``mu0`` (S,) with no mass on terminal states;
    ``terminal`` (S,) bool. Terminal states' rows of ``P`` and ``R`` are ignored (treated as absorbing, reward 0).
    """

    def __init__(self, P: Tensor, R: Tensor, mu0: Tensor, gamma: float, terminal: Tensor) -> None:
        P, R, mu0 = (torch.as_tensor(x, dtype=_DTYPE) for x in (P, R, mu0))
        terminal = torch.as_tensor(terminal, dtype=torch.bool)
        if P.dim() != 3 or P.shape[0] != P.shape[2]:
            raise ValueError(f"P must have shape (S, A, S), got {tuple(P.shape)}")
        S, A, _ = P.shape
        if R.shape != (S, A) or mu0.shape != (S,) or terminal.shape != (S,):
            raise ValueError(
                f"with P of shape {(S, A, S)} expected R {(S, A)}, mu0 {(S,)}, terminal {(S,)}; got "
                f"R {tuple(R.shape)}, mu0 {tuple(mu0.shape)}, terminal {tuple(terminal.shape)}"
            )
        if (P < 0).any() or not torch.allclose(P.sum(-1), torch.ones(S, A, dtype=_DTYPE), atol=1e-9):
            raise ValueError("P must hold probabilities: non-negative, each P[s, a, :] summing to 1")
        if (mu0 < 0).any() or abs(mu0.sum().item() - 1.0) > 1e-9:
            raise ValueError(f"mu0 must be a probability vector, got sum {mu0.sum().item():.6g}")
        if (mu0[terminal] > 0).any():
            raise ValueError("mu0 puts mass on a terminal state: episodes would end before they start")
        if not 0.0 <= gamma <= 1.0:
            raise ValueError(f"gamma must lie in [0, 1], got {gamma}")
        self.P, self.R, self.mu0, self.gamma, self.terminal = P, R, mu0, float(gamma), terminal
        self.num_states, self.num_actions = S, A
        live = (~terminal).to(_DTYPE)
        # Cut terminal states out of the dynamics once, so every solve below is the episodic (absorbing) one.
        self._P_live = P * live[:, None, None] * live[None, None, :]
        self._R_live = R * live[:, None]

    # ----------------------------------------------------------------------------------------- factories
    @classmethod
    def random(
        cls, num_states: int, num_actions: int, gamma: float, seed: int, terminate_prob: float = 0.1
    ) -> "TabularMDP":
        r"""A random MDP: the last state is terminal, every other (s, a) reaches it with probability at least
        ``terminate_prob`` (so episodes end, mean length ≤ 1/terminate_prob), the rest of :math:`P(\cdot|s,a)` is
        Dirichlet(1) over the live states, rewards :math:`R \sim \mathcal N(0, 1)`, :math:`\mu_0` uniform on live states.
        """
        if num_states < 2 or num_actions < 1:
            raise ValueError(f"need num_states >= 2 and num_actions >= 1, got {num_states} and {num_actions}")
        if not 0.0 < terminate_prob <= 1.0:
            raise ValueError(f"terminate_prob must lie in (0, 1], got {terminate_prob}")
        gen = torch.Generator().manual_seed(seed)
        live = num_states - 1
        dirichlet = -torch.log(torch.rand(num_states, num_actions, live, generator=gen, dtype=_DTYPE))
        dirichlet = dirichlet / dirichlet.sum(-1, keepdim=True)
        P = torch.zeros(num_states, num_actions, num_states, dtype=_DTYPE)
        P[:, :, :live] = (1.0 - terminate_prob) * dirichlet
        P[:, :, live] = terminate_prob
        R = torch.randn(num_states, num_actions, generator=gen, dtype=_DTYPE)
        mu0 = torch.zeros(num_states, dtype=_DTYPE)
        mu0[:live] = 1.0 / live
        terminal = torch.zeros(num_states, dtype=torch.bool)
        terminal[live] = True
        return cls(P, R, mu0, gamma, terminal)

    # ----------------------------------------------------------------------------------------- exact answers
    def _check_theta(self, theta: Tensor) -> None:
        if tuple(theta.shape) != (self.num_states, self.num_actions):
            raise ValueError(
                f"theta must have shape {(self.num_states, self.num_actions)} (states, actions), got {tuple(theta.shape)}"
            )

    def policy(self, theta: Tensor) -> Tensor:
        r""":math:`\pi_\theta(a|s)`, shape (S, A)."""
        self._check_theta(theta)
        return policy(theta)

    def policy_dynamics(self, theta: Tensor) -> tuple[Tensor, Tensor]:
        r""":math:`\tilde P_\pi = \sum_a \pi(a|s)\tilde P[s,a,:]` (S, S) and :math:`r_\pi = \sum_a \pi(a|s) R[s,a]` (S,)."""
        pi = self.policy(theta)
        return torch.einsum("sa,sat->st", pi, self._P_live), (pi * self._R_live).sum(-1)

    def values(self, theta: Tensor) -> Tensor:
        r"""Exact :math:`V^\pi = (I - \gamma \tilde P_\pi)^{-1} r_\pi`, shape (S,); 0 on terminal states."""
        P_pi, r_pi = self.policy_dynamics(theta)
        eye = torch.eye(self.num_states, dtype=_DTYPE)
        return torch.linalg.solve(eye - self.gamma * P_pi, r_pi)

    def q_values(self, theta: Tensor) -> Tensor:
        r""":math:`Q^\pi(s,a) = R(s,a) + \gamma \sum_{s'} \tilde P(s'|s,a) V^\pi(s')`, shape (S, A)."""
        return self._R_live + self.gamma * self._P_live @ self.values(theta)

    def advantages(self, theta: Tensor) -> Tensor:
        r""":math:`A^\pi(s,a) = Q^\pi(s,a) - V^\pi(s)`, shape (S, A); :math:`\sum_a \pi(a|s) A(s,a) = 0`."""
        return self.q_values(theta) - self.values(theta)[:, None]

    def objective(self, theta: Tensor) -> Tensor:
        r""":math:`J(\theta) = \mathbb E_{s_0\sim\mu_0}[V^\pi(s_0)] = \mu_0^\top V^\pi` (differentiable in θ)."""
        return self.mu0 @ self.values(theta)

    def discounted_visitation(self, theta: Tensor) -> Tensor:
        r"""Unnormalized discounted visitation :math:`d_\pi^\top = \mu_0^\top (I - \gamma\tilde P_\pi)^{-1}`:
        :math:`d_\pi(s) = \sum_t \gamma^t \Pr(s_t = s)`, shape (S,)."""
        P_pi, _ = self.policy_dynamics(theta)
        eye = torch.eye(self.num_states, dtype=_DTYPE)
        return torch.linalg.solve((eye - self.gamma * P_pi).T, self.mu0)

    def exact_policy_gradient(self, theta: Tensor) -> Tensor:
        r"""Policy-gradient theorem in closed form (notebook 01), shape (S, A):

        .. math:: \nabla_\theta J = \sum_s d_\pi(s) \sum_a \nabla_\theta\pi(a|s)\, Q^\pi(s,a),
                  \qquad \frac{\partial J}{\partial\theta_{sa}} = d_\pi(s)\,\pi(a|s)\,A^\pi(s,a) \text{ (softmax).}
        """
        theta = theta.detach()
        return self.discounted_visitation(theta)[:, None] * self.policy(theta) * self.advantages(theta)

    def gae_expectation(self, theta: Tensor, value_estimate: Tensor, lam: float) -> Tensor:
        r"""Exact :math:`\mathbb E[\hat A^{\mathrm{GAE}(\gamma,\lambda)}_t \mid s_t=s, a_t=a]` with an imperfect
        value function :math:`\hat V` (its terminal entries are ignored: terminal value is 0), notebook 02.

        With :math:`D(s,a) = R(s,a) + \gamma \sum_{s'}\tilde P(s'|s,a)\hat V(s') - \hat V(s)` (mean TD residual) and
        :math:`\bar\delta_\pi(s) = \sum_a \pi(a|s) D(s,a)`,

        .. math:: \mathbb E[\hat A_t|s,a] = D(s,a) + \gamma\lambda\, \tilde P(\cdot|s,a)^\top
                  (I - \gamma\lambda\tilde P_\pi)^{-1}\bar\delta_\pi .

        At λ = 1 this is :math:`Q^\pi(s,a) - \hat V(s)`; with :math:`\hat V = V^\pi` it is :math:`A^\pi(s,a)` for every λ.
        """
        if not 0.0 <= lam <= 1.0:
            raise ValueError(f"lam must lie in [0, 1], got {lam}")
        v_hat = torch.as_tensor(value_estimate, dtype=_DTYPE) * (~self.terminal).to(_DTYPE)
        if v_hat.shape != (self.num_states,):
            raise ValueError(f"value_estimate must have shape {(self.num_states,)}, got {tuple(v_hat.shape)}")
        D = self._R_live + self.gamma * self._P_live @ v_hat - v_hat[:, None]
        D = D * (~self.terminal).to(_DTYPE)[:, None]
        P_pi, _ = self.policy_dynamics(theta)
        pi = self.policy(theta)
        eye = torch.eye(self.num_states, dtype=_DTYPE)
        future = torch.linalg.solve(eye - self.gamma * lam * P_pi, (pi * D).sum(-1))
        return D + self.gamma * lam * self._P_live @ future

    # ----------------------------------------------------------------------------------------- sampling
    def sample_episodes(
        self, theta: Tensor, num_episodes: int, generator: torch.Generator, max_steps: int = 1000
    ) -> Episodes:
        r"""Run ``num_episodes`` episodes of :math:`\pi_\theta` in parallel from :math:`s_0 \sim \mu_0` until each
        enters a terminal state. Rewards are the expected rewards :math:`R(s_t, a_t)` (the only randomness is in
        actions and transitions). Returns padded (E, T) tensors; T is the longest episode.

        An episode still running after ``max_steps`` steps raises: a cut episode would bias every Monte Carlo
        estimate here, and these MDPs end quickly.
        """
        if num_episodes < 1 or max_steps < 1:
            raise ValueError(f"num_episodes and max_steps must be >= 1, got {num_episodes} and {max_steps}")
        states, actions, rewards, _, masks, alive = self._rollout(theta, num_episodes, generator, max_steps)
        if alive.any():
            raise RuntimeError(
                f"{int(alive.sum())} of {num_episodes} episodes did not terminate within max_steps={max_steps}; "
                "raise max_steps"
            )
        return Episodes(states, actions, rewards, masks)

    def _rollout(self, theta: Tensor, E: int, generator: torch.Generator, max_steps: int) -> tuple[Tensor, ...]:
        """E episodes in parallel for at most ``max_steps`` steps: (E, T) states, actions, rewards, next states,
        masks, and which episodes were still running at the end (E,)."""
        pi = self.policy(theta.detach())
        state = torch.multinomial(self.mu0.expand(E, -1), 1, generator=generator).squeeze(-1)
        alive = torch.ones(E, dtype=torch.bool)
        columns: list[tuple[Tensor, ...]] = []
        for _ in range(max_steps):
            action = torch.multinomial(pi[state], 1, generator=generator).squeeze(-1)
            next_state = torch.multinomial(self.P[state, action], 1, generator=generator).squeeze(-1)
            columns.append((
                torch.where(alive, state, 0), torch.where(alive, action, 0),
                torch.where(alive, self.R[state, action], 0.0), torch.where(alive, next_state, 0), alive.to(_DTYPE),
            ))
            alive = alive & ~self.terminal[next_state]
            state = next_state
            if not alive.any():
                break
        return (*(torch.stack(col, dim=1) for col in zip(*columns)), alive)

    def sample_transitions(
        self, theta: Tensor, num_episodes: int, generator: torch.Generator, time_limit: int
    ) -> Transitions:
        r"""Episodes cut by a time limit, laid out as (T, E) transitions in the conventions of
        :mod:`ppo_lite.advantages` (notebook 02): ``terminated[t]`` when :math:`s'_{t+1}` is terminal,
        ``truncated[t]`` when the limit cut the episode at step t. Padded steps have ``mask`` 0 and are marked
        terminated so nothing flows across them.
        """
        if num_episodes < 1 or time_limit < 1:
            raise ValueError(f"num_episodes and time_limit must be >= 1, got {num_episodes} and {time_limit}")
        states, actions, rewards, next_states, masks, alive = self._rollout(theta, num_episodes, generator, time_limit)
        live = masks.bool()
        terminated = live & self.terminal[next_states]
        truncated = torch.zeros_like(live)
        if live.shape[1] == time_limit:
            truncated[:, -1] = alive
        terminated = terminated | ~live
        return Transitions(*(x.T.contiguous() for x in (states, actions, rewards, next_states, terminated, truncated, masks)))

    def gae(self, transitions: Transitions, value_estimate: Tensor, lam: float, bootstrap_truncation: bool = True) -> Tensor:
        r"""GAE(γ, λ) advantages (T, E) of sampled transitions under a value table :math:`\hat V` (S,), computed by
        :func:`ppo_lite.advantages.gae` (notebook 02). Terminal states' values count as 0.
        ``bootstrap_truncation=False`` reproduces the time-limit-as-terminal treatment (CleanRL, PureJaxRL).
        """
        v_hat = torch.as_tensor(value_estimate, dtype=_DTYPE) * (~self.terminal).to(_DTYPE)
        tr = transitions
        terminated = tr.terminated if bootstrap_truncation else tr.terminated | tr.truncated
        return gae(tr.rewards, v_hat[tr.states], v_hat[tr.next_states], terminated, tr.truncated, self.gamma, lam)

    def discounted_rewards_to_go(self, episodes: Episodes) -> Tensor:
        r""":math:`G_t = \sum_{t' \ge t} \gamma^{t'-t} r_{t'}` for every step of every episode, (E, T)."""
        out = torch.zeros_like(episodes.rewards)
        running = torch.zeros(episodes.rewards.shape[0], dtype=_DTYPE)
        for t in range(episodes.rewards.shape[1] - 1, -1, -1):
            running = episodes.rewards[:, t] + self.gamma * running
            out[:, t] = running
        return out

    def reinforce_gradient_samples(self, theta: Tensor, episodes: Episodes, estimator: str) -> Tensor:
        r"""One policy-gradient estimate per episode, shape (E, S, A) (notebook 01). All three are unbiased:

        .. math:: \hat g = \sum_t \gamma^t\, \nabla_\theta\log\pi_\theta(a_t|s_t)\, \Psi_t, \qquad
                  \Psi_t = \begin{cases} G_0 = \sum_{t'} \gamma^{t'} r_{t'} \;/\; \gamma^t & \texttt{total\_return} \\
                  G_t = \sum_{t'\ge t}\gamma^{t'-t} r_{t'} & \texttt{reward\_to\_go} \\
                  G_t - V^\pi(s_t) & \texttt{baseline}\end{cases}

        i.e. ``total_return`` is :math:`\sum_t \nabla\log\pi(a_t|s_t)\, G_0` (every action credited with the whole
        discounted return, past rewards included). The :math:`\gamma^t` factor is the discounting of
        :math:`J = \mathbb E[\sum_t \gamma^t r_t]`: dropping it (as deep-RL code does) estimates a different vector.
        ``baseline`` subtracts the *exact* state value :math:`V^\pi(s_t)` — a state-only baseline, so by
        :math:`\mathbb E_{a\sim\pi}[\nabla\log\pi(a|s)] = 0` it adds no bias and it is the natural reference for
        the learned critic of later notebooks.
        """
        if estimator not in ESTIMATORS:
            raise ValueError(f"estimator must be one of {ESTIMATORS}, got {estimator!r}")
        self._check_theta(theta)
        states, actions, _, mask = episodes
        T = states.shape[1]
        discount = self.gamma ** torch.arange(T, dtype=_DTYPE)
        rtg = self.discounted_rewards_to_go(episodes)
        if estimator == "total_return":
            weights = rtg[:, :1].expand(-1, T)  # γ^t · (G_0 / γ^t) = G_0 at every step
        else:
            psi = rtg if estimator == "reward_to_go" else rtg - self.values(theta.detach())[states]
            weights = discount * psi
        return self.weighted_score_sums(theta, states, actions, weights * mask)

    def weighted_score_sums(self, theta: Tensor, states: Tensor, actions: Tensor, weights: Tensor) -> Tensor:
        r""":math:`\sum_t w_{e,t} \nabla_\theta\log\pi_\theta(a_{e,t}|s_{e,t})` per episode e, shape (E, S, A);
        inputs (E, T). Padded steps must carry weight 0."""
        # Sum w_t (e_{s_t a_t} - e_{s_t} ⊗ π(·|s_t)) by scatter-adds: never builds the (E, T, S, A) score tensor.
        E, S, A = states.shape[0], self.num_states, self.num_actions
        chosen = torch.zeros(E, S * A, dtype=_DTYPE).scatter_add_(1, states * A + actions, weights)
        per_state = torch.zeros(E, S, dtype=_DTYPE).scatter_add_(1, states, weights)
        return chosen.view(E, S, A) - per_state[:, :, None] * self.policy(theta.detach())[None]

    def reinforce_gradient(self, theta: Tensor, episodes: Episodes, estimator: str) -> Tensor:
        r"""Monte Carlo policy gradient: the mean over episodes of :meth:`reinforce_gradient_samples`, (S, A)."""
        return self.reinforce_gradient_samples(theta, episodes, estimator).mean(0)


def make_small_mdp(gamma: float = 0.9, slip: float = 0.1) -> TabularMDP:
    r"""A 5-state corridor: ``pit | 1 | 2 | 3 | goal``. States 0 (pit) and 4 (goal) are terminal; the start is
    state 2. Action 0 = left, 1 = right; with probability ``slip`` the agent moves the other way. Entering the
    goal pays +1, the pit −1, every other step 0. Optimal policy: always go right (from state 2 it reaches the
    goal in 2 steps when nothing slips).
    """
    if not 0.0 <= slip < 0.5:
        raise ValueError(f"slip must lie in [0, 0.5), got {slip}")
    S, A = 5, 2
    P = torch.zeros(S, A, S, dtype=_DTYPE)
    R = torch.zeros(S, A, dtype=_DTYPE)
    entry_reward = torch.tensor([-1.0, 0.0, 0.0, 0.0, 1.0], dtype=_DTYPE)
    for s in range(S):
        if s in (0, S - 1):
            P[s, :, s] = 1.0  # absorbing
            continue
        for a, step in ((0, -1), (1, +1)):
            P[s, a, s + step] += 1.0 - slip
            P[s, a, s - step] += slip
            R[s, a] = P[s, a] @ entry_reward
    mu0 = torch.zeros(S, dtype=_DTYPE)
    mu0[2] = 1.0
    terminal = torch.tensor([True, False, False, False, True])
    return TabularMDP(P, R, mu0, gamma, terminal)


# ------------------------------------------------------------------------------------------------------------
# Experiments of notebooks 01 and 02, on top of the exact answers above.


def gradient_error_vs_episodes(
    mdp: TabularMDP, theta: Tensor, estimator: str, episode_counts: list[int], repeats: int, generator: torch.Generator
) -> Tensor:
    r""":math:`\|\hat g_n - \nabla J\|_2` for the Monte Carlo estimator averaged over n episodes, for each n in
    ``episode_counts`` and ``repeats`` independent runs: shape (len(episode_counts), repeats) (notebook 01).
    Each run draws max(n) episodes and reads off the running mean at every n (nested prefixes)."""
    if not episode_counts or min(episode_counts) < 1 or repeats < 1:
        raise ValueError(f"need episode counts >= 1 and repeats >= 1, got {episode_counts} and {repeats}")
    exact = mdp.exact_policy_gradient(theta)
    n_max = max(episode_counts)
    errors = torch.empty(len(episode_counts), repeats, dtype=_DTYPE)
    for r in range(repeats):
        samples = mdp.reinforce_gradient_samples(theta, mdp.sample_episodes(theta, n_max, generator), estimator)
        running = samples.cumsum(0)
        for i, n in enumerate(episode_counts):
            errors[i, r] = torch.linalg.vector_norm(running[n - 1] / n - exact)
    return errors


def expected_gae_gradient(mdp: TabularMDP, theta: Tensor, value_estimate: Tensor, lam: float) -> Tensor:
    r"""Exact :math:`\mathbb E[\hat g_\lambda]` of :math:`\hat g_\lambda = \sum_t \gamma^t \nabla\log\pi(a_t|s_t)\hat A^{\lambda}_t`
    (notebook 02): :math:`d(s)\,\pi(b|s)\,(\bar A(s,b) - \sum_a \pi(a|s)\bar A(s,a))` with
    :math:`\bar A = \mathbb E[\hat A^\lambda|s,a]` from :meth:`TabularMDP.gae_expectation`. A state-only error in
    :math:`\bar A` cancels, which is why λ = 1 is unbiased whatever :math:`\hat V` is."""
    mean_adv = mdp.gae_expectation(theta, value_estimate, lam)
    pi = mdp.policy(theta.detach())
    centred = mean_adv - (pi * mean_adv).sum(-1, keepdim=True)
    return mdp.discounted_visitation(theta)[:, None] * pi * centred


def gae_gradient_samples(
    mdp: TabularMDP, theta: Tensor, transitions: Transitions, value_estimate: Tensor, lam: float
) -> Tensor:
    r"""Per-episode :math:`\hat g_\lambda = \sum_t \gamma^t \nabla\log\pi(a_t|s_t)\hat A^{\mathrm{GAE}(\lambda)}_t`, (E, S, A)."""
    adv = mdp.gae(transitions, value_estimate, lam) * transitions.mask
    discount = mdp.gamma ** torch.arange(adv.shape[0], dtype=_DTYPE)[:, None]
    return mdp.weighted_score_sums(theta, transitions.states.T, transitions.actions.T, (discount * adv).T)


def gae_bias_variance(
    mdp: TabularMDP, theta: Tensor, value_estimate: Tensor, lams: list[float], num_episodes: int,
    generator: torch.Generator, max_steps: int = 1000,
) -> dict[str, Tensor]:
    r"""Bias and variance of the GAE(λ) policy gradient for each λ (notebook 02), all shaped (len(lams),):

    - ``bias2``: :math:`\|\mathbb E[\hat g_\lambda] - \nabla J\|^2`, exact (:func:`expected_gae_gradient`);
    - ``variance``: :math:`\mathbb E\|\hat g_\lambda - \mathbb E\hat g_\lambda\|^2` of a one-episode estimate, measured
      on ``num_episodes`` episodes (the same episodes for every λ);
    - ``mc_bias_z``: largest |MC mean − exact mean| in standard errors, a check of the exact expectation.
    """
    tr = mdp.sample_transitions(theta, num_episodes, generator, time_limit=max_steps)
    if tr.truncated.any():
        raise RuntimeError(f"an episode ran past max_steps={max_steps}; raise it")
    exact = mdp.exact_policy_gradient(theta)
    bias2, variance, z = [], [], []
    for lam in lams:
        samples = gae_gradient_samples(mdp, theta, tr, value_estimate, lam)
        expected = expected_gae_gradient(mdp, theta, value_estimate, lam)
        se = samples.std(0) / num_episodes**0.5
        bias2.append(((expected - exact) ** 2).sum())
        variance.append(samples.var(0).sum())
        z.append(((samples.mean(0) - expected).abs() / se.clamp_min(1e-12)).max())
    return {"bias2": torch.stack(bias2), "variance": torch.stack(variance), "mc_bias_z": torch.stack(z)}


def fit_values_with_time_limit(
    mdp: TabularMDP, transitions: Transitions, lam: float, bootstrap_truncation: bool, iterations: int = 50
) -> Tensor:
    r"""Tabular value fitting on a fixed batch of time-limited episodes (notebook 02): repeat
    :math:`\hat V(s) \leftarrow \text{mean of } \hat A^{\lambda}_t + \hat V(s_t) \text{ over visits } s_t = s`
    (the regression a critic does, solved exactly per state), from :math:`\hat V = 0`. With
    ``bootstrap_truncation=False`` a time-limit cut is treated as termination, which pulls :math:`\hat V` toward
    the value of an episode that ends at the limit. Returns :math:`\hat V` (S,); unvisited states stay 0."""
    if iterations < 1:
        raise ValueError(f"iterations must be >= 1, got {iterations}")
    keep = transitions.mask.bool()
    states = transitions.states[keep]
    visits = torch.zeros(mdp.num_states, dtype=_DTYPE).index_add_(0, states, torch.ones_like(states, dtype=_DTYPE))
    v_hat = torch.zeros(mdp.num_states, dtype=_DTYPE)
    for _ in range(iterations):
        targets = (mdp.gae(transitions, v_hat, lam, bootstrap_truncation) + v_hat[transitions.states])[keep]
        sums = torch.zeros(mdp.num_states, dtype=_DTYPE).index_add_(0, states, targets)
        v_hat = torch.where(visits > 0, sums / visits.clamp_min(1.0), 0.0)
    return v_hat


def target_error_by_step(
    mdp: TabularMDP, transitions: Transitions, value_estimate: Tensor, lam: float, bootstrap_truncation: bool
) -> Tensor:
    r"""Mean over episodes still running at step t of the value-target error
    :math:`(\hat A^\lambda_t + \hat V(s_t)) - V^\pi(s_t)` under the exact :math:`V^\pi` of the policy that generated
    the batch (pass ``value_estimate`` = that :math:`V^\pi`), shape (T,) (notebook 02). Bootstrapping the time limit
    keeps it near 0 at every t; treating the limit as terminal drags the targets down as t nears the limit."""
    keep = transitions.mask
    targets = mdp.gae(transitions, value_estimate, lam, bootstrap_truncation) + value_estimate[transitions.states]
    err = (targets - value_estimate[transitions.states]) * keep
    return err.sum(1) / keep.sum(1).clamp_min(1.0)
