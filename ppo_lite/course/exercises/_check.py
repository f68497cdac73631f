"""Run a learner's function against the reference on random inputs and say what is wrong.

An exercise cell in a notebook is a stub, ``def my_fn(...): raise NotImplementedError``, followed by a checker cell.
A stub that still raises :class:`NotImplementedError` is reported as *not attempted yet* (``result.attempted`` is
False), so a fresh notebook runs top to bottom without failing. A wrong answer is reported with the first input
on which it differs; when the checker knows the usual mistakes (``mistakes``: a description and a function that
makes that mistake), an answer that agrees with one of them is told which mistake it made.

In a notebook the checker cell ends with :meth:`CheckResult.require`: it prints the verdict and raises
:class:`ExerciseFailed` when an attempted answer is wrong, so ``pytest --nbval`` (strict or ``--nbval-lax``) stays
green for an unattempted stub and for a right answer, and turns red for a wrong one. The checker cell carries
``# NBVAL_IGNORE_OUTPUT``: what it prints depends on what the learner wrote, whether it passes does not.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch


class ExerciseFailed(AssertionError):
    """An attempted answer that the checker found wrong (raised by :meth:`CheckResult.require`)."""


@dataclass
class CheckResult:
    passed: bool
    message: str
    attempted: bool = True
    mistake: str | None = None
    """The description of the known mistake the answer matched, if any."""

    def __bool__(self) -> bool:
        return self.passed

    def __repr__(self) -> str:
        if not self.attempted:
            return "NOT ATTEMPTED: " + self.message
        return ("PASSED: " if self.passed else "FAILED: ") + self.message

    def require(self) -> None:
        """Print the verdict; raise :class:`ExerciseFailed` when the answer was attempted and is wrong.

        An unattempted stub and a right answer both return normally, so the notebook runs on."""
        print(repr(self))
        if self.attempted and not self.passed:
            raise ExerciseFailed(repr(self))


def _compare(expected: Any, got: Any, rtol: float, atol: float) -> tuple[str, str] | None:
    """``None`` when ``got`` matches ``expected`` (tensors, numbers or tuples of them), else (kind, detail)."""
    exp_parts = expected if isinstance(expected, tuple) else (expected,)
    got_parts = got if isinstance(got, tuple) else (got,)
    if len(exp_parts) != len(got_parts):
        return "count", f"expected {len(exp_parts)} outputs, got {len(got_parts)}"
    for j, (e, g) in enumerate(zip(exp_parts, got_parts)):
        e_t = torch.as_tensor(e.detach() if isinstance(e, torch.Tensor) else e, dtype=torch.float64)
        try:
            g_t = torch.as_tensor(g.detach() if isinstance(g, torch.Tensor) else g, dtype=torch.float64)
        except Exception:
            return "type", f"output {j} is {type(g).__name__}, expected a tensor or number"
        if g_t.shape != e_t.shape:
            return "shape", f"output {j} has shape {tuple(g_t.shape)}, expected {tuple(e_t.shape)}"
        if not torch.allclose(g_t, e_t, rtol=rtol, atol=atol, equal_nan=True):
            # A NaN where the reference is finite (or the reverse) counts as an infinite error.
            err = torch.where(torch.isnan(g_t) != torch.isnan(e_t), torch.inf, (g_t - e_t).abs().nan_to_num(0.0))
            idx = tuple(int(i) for i in torch.nonzero(err == err.max())[0]) if err.dim() else ()
            return "value", (f"output {j} differs at index {idx}: got {g_t[idx].item():.6g}, expected "
                             f"{e_t[idx].item():.6g} (max abs error {err.max().item():.3g})")
    return None


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
    mistakes: dict[str, Callable[..., Any]] | None = None,
) -> CheckResult:
    """Call both functions on ``trials`` random input sets and compare outputs (tensors, floats or tuples).

    Returns a :class:`CheckResult` (truthy when every trial matched) whose message names the first failing
    input set and the largest discrepancy; an exception in the learner's function is reported, not raised, and a
    :class:`NotImplementedError` (the stub) as "not attempted yet". ``mistakes`` maps a description of a usual
    mistake ("forgot the discount") to a function that makes it: a wrong answer that agrees with one of them on the
    failing input is told so.
    """
    name = name or getattr(reference_fn, "__name__", "function")
    gen = torch.Generator().manual_seed(seed)
    for trial in range(trials):
        inputs = make_inputs(gen)
        expected = reference_fn(**inputs)
        args = ", ".join(f"{k}={_describe(v)}" for k, v in inputs.items())
        try:
            got = learner_fn(**_copy(inputs))
        except NotImplementedError:
            return CheckResult(False, f"{name}: not attempted yet (the function still raises NotImplementedError)", attempted=False)
        except Exception as exc:  # report, do not raise: the learner sees what went wrong
            return CheckResult(False, f"{name}: your function raised {type(exc).__name__}: {exc} on inputs ({args})")
        problem = _compare(expected, got, rtol, atol)
        if problem is None:
            continue
        kind, detail = problem
        message = f"{name}: {detail} on trial {trial} with inputs ({args})" if kind == "value" else f"{name}: {detail} (trial {trial})"
        for description, wrong_fn in (mistakes or {}).items():
            try:
                if _compare(wrong_fn(**_copy(inputs)), got, rtol, atol) is None:
                    return CheckResult(False, f"{name}: your answer looks like this mistake: {description}. ({message})",
                                       mistake=description)
            except Exception:  # a mistake that cannot run on these inputs cannot be the one made
                continue
        return CheckResult(False, message)
    return CheckResult(True, f"{name}: matches the reference on {trials} random inputs")


def _copy(inputs: dict[str, Any]) -> dict[str, Any]:
    """Fresh tensors for each call, so a function that writes into its inputs cannot change the next call's."""
    return {k: (v.clone() if isinstance(v, torch.Tensor) else v) for k, v in inputs.items()}
