r"""KL divergence: sample estimators and the two controllers of PPO v1 (notebook 04).

Estimators of :math:`\mathrm{KL}(\pi_{old} \,\|\, \pi_\theta)` from actions sampled under :math:`\pi_{old}`, written
with the ratio :math:`r = \pi_\theta(a|s) / \pi_{old}(a|s)` (J. Schulman, "Approximating KL divergence", 2020):

- :math:`k_1 = -\log r` — unbiased, high variance, can be negative per sample;
- :math:`k_2 = \tfrac12 (\log r)^2` — biased (low bias when the policies are close), low variance, non-negative;
- :math:`k_3 = (r - 1) - \log r` — unbiased and non-negative (since :math:`\log x \le x - 1`).

Controllers turn a measured KL into the coefficient of the KL penalty in the PPO v1 loss
:math:`L = -\hat{\mathbb E}[r \hat A] + c \cdot \mathrm{KL}`; both expose ``coef`` and ``update(kl)``:

- :class:`AdaptiveBeta`, the PPO paper's rule (Schulman et al. 2017, §4): with target :math:`d_{targ}`,
  :math:`\beta \leftarrow \beta / 2` if :math:`d < d_{targ}/1.5`, :math:`\beta \leftarrow 2\beta` if
  :math:`d > 1.5\, d_{targ}`.
- :class:`DualDescent`, projected (sub)gradient descent on the Lagrange multiplier of
  :math:`\max_\theta L(\theta)` s.t. :math:`\mathrm{KL} \le \delta`:  :math:`\eta \leftarrow \max(0, \eta + \alpha_\eta (\mathrm{KL} - \delta))`.

Controllers keep their coefficient as a 0-dim tensor and update it with tensor ops, so a device-resident
training loop never has to read the KL back to the host.
"""
from __future__ import annotations

import torch
from torch import Tensor

from .config import PPOConfig

__all__ = ["kl_k1", "kl_k2", "kl_k3", "AdaptiveBeta", "DualDescent", "make_kl_controller"]


def kl_k1(logp_new: Tensor, logp_old: Tensor) -> Tensor:
    r"""Per-sample :math:`k_1 = \log \pi_{old}(a|s) - \log \pi_\theta(a|s) = -\log r`."""
    return logp_old - logp_new


def kl_k2(logp_new: Tensor, logp_old: Tensor) -> Tensor:
    r"""Per-sample :math:`k_2 = \tfrac12 (\log r)^2`."""
    return 0.5 * (logp_new - logp_old) ** 2


def kl_k3(logp_new: Tensor, logp_old: Tensor) -> Tensor:
    r"""Per-sample :math:`k_3 = (r - 1) - \log r`, with :math:`\log r = \log\pi_\theta - \log\pi_{old}`.

    Its gradient with the samples :math:`a \sim \pi_{old}` held fixed is :math:`\nabla_\theta k_3 = (r - 1)\nabla_\theta
    \log\pi_\theta(a|s)`, whose expectation under :math:`\pi_{old}` is :math:`\nabla_\theta \mathrm{KL}(\pi_{old}\|\pi_\theta)`
    and which is exactly 0 per sample at :math:`\theta = \theta_{old}` (notebook 04 derives and checks both).
    """
    log_ratio = logp_new - logp_old
    return torch.expm1(log_ratio) - log_ratio


class AdaptiveBeta:
    r"""The PPO paper's adaptive KL-penalty coefficient (Schulman et al. 2017, eq. 8 and the rule after it).

    ``update(d)``: :math:`\beta \leftarrow \beta/2` if :math:`d < d_{targ}/1.5`; :math:`\beta \leftarrow 2\beta` if
    :math:`d > 1.5\, d_{targ}`; unchanged otherwise. Call it once per batch (after all epochs), as the paper does:
    updating on every noisy minibatch KL makes β jump around (TorchRL PR #1922).
    """

    name = "beta"

    def __init__(
        self, target: float = PPOConfig.kl_target, init: float = PPOConfig.kl_coef_init, device: torch.device | str = "cpu"
    ) -> None:
        if not target > 0:
            raise ValueError(f"KL target d_targ must be > 0, got {target}")
        if not init >= 0:
            raise ValueError(f"initial beta must be >= 0, got {init}")
        self.target = float(target)
        self.coef = torch.tensor(float(init), device=device)

    def update(self, kl: Tensor | float) -> Tensor:
        kl = torch.as_tensor(kl, dtype=self.coef.dtype, device=self.coef.device)
        factor = torch.where(kl > 1.5 * self.target, 2.0, torch.where(kl < self.target / 1.5, 0.5, 1.0))
        self.coef = self.coef * factor
        return self.coef

    def state_dict(self) -> dict:
        return {"coef": self.coef.detach().cpu(), "target": self.target}

    def load_state_dict(self, state: dict) -> None:
        self.coef = state["coef"].to(self.coef.device)
        self.target = float(state["target"])


class DualDescent:
    r"""Dual (sub)gradient descent on the multiplier η of the KL constraint (PPO v1 as a Lagrangian).

    For :math:`\max_\theta L(\theta)` s.t. :math:`\mathrm{KL}(\theta) \le \delta`, the Lagrangian is
    :math:`\mathcal L(\theta, \eta) = L(\theta) - \eta(\mathrm{KL}(\theta) - \delta)` with :math:`\eta \ge 0`.
    The dual function :math:`g(\eta) = \max_\theta \mathcal L(\theta,\eta)` has derivative
    :math:`\delta - \mathrm{KL}(\theta^*(\eta))`, so a projected descent step on :math:`g` is

    .. math:: \eta \leftarrow \max\big(0,\; \eta + \alpha_\eta (\mathrm{KL} - \delta)\big).

    η rises while the constraint is violated and falls (never below 0) while it is slack.
    """

    name = "eta"

    def __init__(
        self, target: float = PPOConfig.kl_target, init: float = PPOConfig.kl_coef_init, lr: float = PPOConfig.kl_dual_lr,
        device: torch.device | str = "cpu",
    ) -> None:
        if not target > 0:
            raise ValueError(f"KL bound delta must be > 0, got {target}")
        if not init >= 0:
            raise ValueError(f"initial eta must be >= 0, got {init}")
        if not lr > 0:
            raise ValueError(f"dual step size alpha_eta must be > 0, got {lr}")
        self.target = float(target)
        self.lr = float(lr)
        self.coef = torch.tensor(float(init), device=device)

    def update(self, kl: Tensor | float) -> Tensor:
        kl = torch.as_tensor(kl, dtype=self.coef.dtype, device=self.coef.device)
        self.coef = torch.clamp(self.coef + self.lr * (kl - self.target), min=0.0)
        return self.coef

    def state_dict(self) -> dict:
        return {"coef": self.coef.detach().cpu(), "target": self.target, "lr": self.lr}

    def load_state_dict(self, state: dict) -> None:
        self.coef = state["coef"].to(self.coef.device)
        self.target = float(state["target"])
        self.lr = float(state["lr"])


def make_kl_controller(config: PPOConfig, device: torch.device | str = "cpu") -> AdaptiveBeta | DualDescent | None:
    """The controller of ``config.objective`` with the config's settings: ``kl_adaptive`` -> :class:`AdaptiveBeta`
    (``kl_target``, ``kl_coef_init``), ``kl_dual`` -> :class:`DualDescent` (also ``kl_dual_lr``), else None."""
    if config.objective == "kl_adaptive":
        return AdaptiveBeta(target=config.kl_target, init=config.kl_coef_init, device=device)
    if config.objective == "kl_dual":
        return DualDescent(target=config.kl_target, init=config.kl_coef_init, lr=config.kl_dual_lr, device=device)
    return None
