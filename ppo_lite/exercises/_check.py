"""Run a learner's function against the reference on random inputs and say what is wrong."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch


@dataclass
class CheckResult:
    passed: bool
    message: str

    def __bool__(self) -> bool:
        return self.passed

    def __repr__(self) -> str:
        return ("PASSED: " if self.passed else "FAILED: ") + self.message


def _describe(x: Any) -> str:
    if isinstance(x, torch.Tensor):
        return f"tensor(shape={tuple(x.shape)}, dtype={x.dtype})"
    return repr(x)


def check(
    learner_fn: Callable[..., Any],
    reference_fn: Callable[..., Any],
    make_inputs: Callable[[torch.Generator], dict[str, Any]],
    trials: int = 20,
    rtol: float = 1e-5,
    atol: float = 1e-6,
    seed: int = 0,
    name: str | None = None,
) -> CheckResult:
    """Call both functions on ``trials`` random input sets and compare outputs (tensors, floats or tuples).

    Returns a :class:`CheckResult` (truthy when every trial matched) whose message names the first failing
    input set and the largest discrepancy; an exception in the learner's function is reported, not raised.
    """
    name = name or getattr(reference_fn, "__name__", "function")
    gen = torch.Generator().manual_seed(seed)
    for trial in range(trials):
        inputs = make_inputs(gen)
        expected = reference_fn(**inputs)
        try:
            got = learner_fn(**{k: (v.clone() if isinstance(v, torch.Tensor) else v) for k, v in inputs.items()})
        except Exception as exc:  # report, do not raise: the learner sees what went wrong
            args = ", ".join(f"{k}={_describe(v)}" for k, v in inputs.items())
            return CheckResult(False, f"{name}: your function raised {type(exc).__name__}: {exc} on inputs ({args})")
        exp_parts = expected if isinstance(expected, tuple) else (expected,)
        got_parts = got if isinstance(got, tuple) else (got,)
        if len(exp_parts) != len(got_parts):
            return CheckResult(False, f"{name}: expected {len(exp_parts)} outputs, got {len(got_parts)}")
        for j, (e, g) in enumerate(zip(exp_parts, got_parts)):
            e_t = torch.as_tensor(e, dtype=torch.float64)
            try:
                g_t = torch.as_tensor(g.detach() if isinstance(g, torch.Tensor) else g, dtype=torch.float64)
            except Exception:
                return CheckResult(False, f"{name}: output {j} is {type(g).__name__}, expected a tensor or number")
            if g_t.shape != e_t.shape:
                return CheckResult(
                    False, f"{name}: output {j} has shape {tuple(g_t.shape)}, expected {tuple(e_t.shape)} (trial {trial})"
                )
            if not torch.allclose(g_t, e_t, rtol=rtol, atol=atol, equal_nan=True):
                # A NaN where the reference is finite (or the reverse) counts as an infinite error.
                err = torch.where(torch.isnan(g_t) != torch.isnan(e_t), torch.inf, (g_t - e_t).abs().nan_to_num(0.0))
                idx = tuple(int(i) for i in torch.nonzero(err == err.max())[0]) if err.dim() else ()
                args = ", ".join(f"{k}={_describe(v)}" for k, v in inputs.items())
                return CheckResult(
                    False,
                    f"{name}: output {j} differs at index {idx}: got {g_t[idx].item():.6g}, expected "
                    f"{e_t[idx].item():.6g} (max abs error {err.max().item():.3g}) on trial {trial} with inputs ({args})",
                )
    return CheckResult(True, f"{name}: matches the reference on {trials} random inputs")
