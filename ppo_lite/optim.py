r"""Adam and gradient-norm clipping over all of a network's parameters held in one flat buffer (notebook 06).

PPO's update is many small gradient steps on a small network (CartPole: 20 steps per 256-sample batch on a
64-64 MLP pair). There, ``torch.optim.Adam`` costs more in per-tensor Python bookkeeping than in arithmetic.
:class:`FlatAdam` puts every parameter of the module into one contiguous vector :math:`\theta` (the module's
parameters become views into it) and every gradient into one vector :math:`g`, so each formula below is one
tensor op on the whole network however many layers it has: zeroing, clipping and the Adam step together cost
~0.1-0.15 ms per step against ~0.7 ms for fused ``torch.optim.Adam`` with ``clip_grad_norm_`` on the project's 2-core
CPU (``python bench/bench_update_step.py``).

Adam (Kingma & Ba 2015), step :math:`t`, learning rate :math:`\alpha`, written op for op as
``torch.optim.Adam(foreach=False)`` so that the result is bitwise the same (``tests/test_optim.py``):

.. math::
    m \leftarrow \beta_1 m + (1-\beta_1) g,\qquad v \leftarrow \beta_2 v + (1-\beta_2) g^2,\qquad
    \theta \leftarrow \theta - \frac{\alpha}{1-\beta_1^t}\,\frac{m}{\sqrt{v}/\sqrt{1-\beta_2^t} + \epsilon}

Gradient-norm clipping (``torch.nn.utils.clip_grad_norm_``): :math:`g \leftarrow g \cdot \min\big(1,
c / (\lVert g \rVert_2 + 10^{-6})\big)` with the global norm over all parameters.

:class:`BatchedAdam` is the same optimizer for K independent agents (:mod:`ppo_lite.batched`): a ``(K, P)`` parameter
matrix whose row k is agent k's vector, a learning rate per row, the norm clip per row. Both call the one
:func:`adam_step` and the one :func:`clip_grad_norm`, so every row is bitwise ``torch.optim.Adam`` with its own rate.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["FlatAdam", "BatchedAdam", "adam_step", "clip_grad_norm"]


@torch.no_grad()
def adam_step(
    params: Tensor, grad: Tensor, exp_avg: Tensor, exp_avg_sq: Tensor, step: int,
    lr: float | Tensor, betas: tuple[float, float], eps: float,
) -> None:
    r"""One Adam step in place (the module docstring has the formula); ``step`` is :math:`t` after this step.

    ``lr`` is a float, or a ``(K,)`` float64 tensor of per-row rates for ``(K, P)`` ``params``. The float path is
    torch's single-tensor Adam op for op (``addcdiv_(m, d, value=-lr / (1 - beta1^t))``). The tensor path computes
    each row's :math:`\alpha_k/(1-\beta_1^t)` in float64 and rounds it to the parameters' dtype, as ``addcdiv_`` rounds
    its Python-float value, and applies :math:`(s_k m)/d` in ``addcdiv_``'s order: row k is bitwise the float path.
    """
    beta1, beta2 = betas
    exp_avg.lerp_(grad, 1 - beta1)
    exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
    bias_correction1 = 1 - beta1 ** step
    bias_correction2_sqrt = (1 - beta2 ** step) ** 0.5  # `** 0.5` as torch does (not math.sqrt)
    denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(eps)
    if isinstance(lr, Tensor):
        step_size = (lr.double() / bias_correction1).to(params.dtype).unsqueeze(-1)  # (K, 1)
        params.sub_(step_size * exp_avg / denom)
    else:
        params.addcdiv_(exp_avg, denom, value=-lr / bias_correction1)


@torch.no_grad()
def clip_grad_norm(grad: Tensor, max_norm: float, dim: int | None = None) -> Tensor:
    r"""Scale ``grad`` in place by :math:`\min(1, c/(\lVert g\rVert_2 + 10^{-6}))`; return :math:`\lVert g\rVert_2` (no sync).

    ``dim=None``: one global norm (``torch.nn.utils.clip_grad_norm_``); ``dim=1`` on a ``(K, P)`` matrix: one norm and
    one scale per row (per agent), returned as ``(K,)``.
    """
    total = torch.linalg.vector_norm(grad, dim=dim, keepdim=dim is not None)
    grad.mul_(torch.clamp(max_norm / (total + 1e-6), max=1.0))
    return total if dim is None else total.squeeze(dim)


def _check_hyperparameters(name: str, lr_ok: bool, lr: object, betas: tuple[float, float], eps: float) -> None:
    if not lr_ok or not eps > 0 or not all(0.0 <= b < 1.0 for b in betas):
        raise ValueError(f"{name} needs lr > 0, eps > 0 and betas in [0, 1), got lr={lr}, eps={eps}, betas={betas}")


class FlatAdam:
    """Adam on every parameter of ``module``, moved into one flat vector ``self.params`` (grads: ``self.grad``).

    After construction the module's parameters are views of ``self.params`` and their ``.grad`` views of
    ``self.grad``; backward accumulates into those views in place. Call :meth:`zero_grad` (not the module's
    own ``zero_grad``, which would detach the gradients from the buffer) before each backward pass.
    """

    def __init__(self, module: nn.Module, lr: float, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> None:
        _check_hyperparameters("FlatAdam", lr > 0, lr, betas, eps)
        self._module_params = [p for p in module.parameters() if p.requires_grad]
        if not self._module_params:
            raise ValueError("FlatAdam: the module has no trainable parameters")
        first = self._module_params[0]
        if any(p.dtype != first.dtype or p.device != first.device for p in self._module_params):
            raise ValueError("FlatAdam needs all parameters on one device with one dtype")
        self.params = torch.cat([p.detach().reshape(-1) for p in self._module_params])
        self.grad = torch.zeros_like(self.params)
        self._grad_views: list[Tensor] = []
        offset = 0
        for p in self._module_params:
            n = p.numel()
            p.data = self.params[offset:offset + n].view_as(p)
            p.grad = self.grad[offset:offset + n].view_as(p)
            self._grad_views.append(p.grad)
            offset += n
        self.lr, self.betas, self.eps = float(lr), betas, float(eps)
        self.exp_avg = torch.zeros_like(self.params)
        self.exp_avg_sq = torch.zeros_like(self.params)
        self.step_count = 0

    def zero_grad(self) -> None:
        """:math:`g \\leftarrow 0` (one op; backward then adds each parameter's gradient into its slice)."""
        self.grad.zero_()

    def clip_grad_norm(self, max_norm: float) -> Tensor:
        """:func:`clip_grad_norm` on the whole network's gradient (one global norm); returns it."""
        return clip_grad_norm(self.grad, max_norm)

    def step(self) -> None:
        """One :func:`adam_step` on the whole vector."""
        self._check_grads_attached()
        self.step_count += 1
        adam_step(self.params, self.grad, self.exp_avg, self.exp_avg_sq, self.step_count, self.lr, self.betas, self.eps)

    def _check_grads_attached(self) -> None:
        # A `module.zero_grad()` (set_to_none) or `p.grad = ...` elsewhere would make backward write fresh tensors
        # that this optimizer never sees: training would silently stop. A cheap identity check catches it.
        for p, view in zip(self._module_params, self._grad_views):
            if p.grad is not view:
                raise RuntimeError(
                    "FlatAdam: a parameter's .grad was replaced (e.g. by module.zero_grad()); "
                    "use FlatAdam.zero_grad(), which keeps the gradients in the flat buffer"
                )

    # -- checkpoints -----------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Tensor | int | float]:
        """Tensors and numbers only (loads with ``torch.load(weights_only=True)``)."""
        return {"step": self.step_count, "lr": self.lr, "exp_avg": self.exp_avg.clone(), "exp_avg_sq": self.exp_avg_sq.clone()}

    def load_state_dict(self, state: dict) -> None:
        missing = sorted({"step", "lr", "exp_avg", "exp_avg_sq"} - set(state))
        if missing:
            raise ValueError(
                f"FlatAdam: the saved optimizer state has no {missing} (keys: {sorted(state)}); it was not written by "
                "FlatAdam.state_dict() (a torch.optim.Adam state, from a checkpoint of an older ppo_lite?)"
            )
        for name in ("exp_avg", "exp_avg_sq"):
            if tuple(state[name].shape) != tuple(self.params.shape):
                raise ValueError(
                    f"FlatAdam: saved {name} has shape {tuple(state[name].shape)}, this network has {self.params.numel()} parameters"
                )
        self.exp_avg.copy_(state["exp_avg"])
        self.exp_avg_sq.copy_(state["exp_avg_sq"])
        self.step_count = int(state["step"])
        self.lr = float(state["lr"])


class BatchedAdam:
    r"""Adam on a ``(K, P)`` parameter matrix, one agent per row, with a learning rate per row (:mod:`ppo_lite.batched`).

    ``params`` and ``grad`` are the batched network's flat matrices (its layers are views of them). ``lr`` is a
    ``(K,)`` tensor, kept in float64 (the trainer overwrites it in place to anneal it), so row k steps exactly as
    ``torch.optim.Adam(lr=lr[k])`` would with that Python float (:func:`adam_step`). All rows step together, so
    the step count :math:`t` is shared.
    """

    def __init__(self, params: Tensor, grad: Tensor, lr: Tensor, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> None:
        if params.dim() != 2 or grad.shape != params.shape:
            raise ValueError(f"BatchedAdam takes (K, P) params and grads of one shape, got {tuple(params.shape)} and {tuple(grad.shape)}")
        if lr.shape != (params.shape[0],):
            raise ValueError(f"lr must have shape ({params.shape[0]},), one learning rate per agent; got {tuple(lr.shape)}")
        _check_hyperparameters("BatchedAdam", bool((lr > 0).all()), lr.tolist(), betas, eps)
        self.params, self.grad = params, grad
        self.lr = lr.to(device=params.device, dtype=torch.float64)
        self.betas, self.eps = betas, float(eps)
        self.exp_avg = torch.zeros_like(params)
        self.exp_avg_sq = torch.zeros_like(params)
        self.step_count = 0

    def zero_grad(self) -> None:
        self.grad.zero_()

    def clip_grad_norm(self, max_norm: float) -> Tensor:
        """:func:`clip_grad_norm` per row (per agent); returns the ``(K,)`` norms before clipping."""
        return clip_grad_norm(self.grad, max_norm, dim=1)

    def step(self) -> None:
        self.step_count += 1
        adam_step(self.params, self.grad, self.exp_avg, self.exp_avg_sq, self.step_count, self.lr, self.betas, self.eps)

    def agent_state(self, k: int) -> dict[str, Tensor | int]:
        """Row ``k``'s moments as flat vectors (``parameters_to_vector`` order of the single agent) and the step."""
        return {"step": self.step_count, "exp_avg": self.exp_avg[k].clone(), "exp_avg_sq": self.exp_avg_sq[k].clone()}
