"""Per-update training figures and completed episodes, as plain Python lists (checkpointable, plottable)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Figures that depend on wall time or the machine; excluded when comparing two runs for equality.
TIMING_KEYS = ("sps", "time")


@dataclass
class History:
    updates: dict[str, list[float]] = field(default_factory=dict)
    """Per-update figures: env_steps, policy_loss, value_loss, entropy, approx_kl, clip_frac,
    explained_variance, kl_coef, lr, epochs, episode_return_mean, episode_length_mean, sps, time."""
    episodes: dict[str, list[float]] = field(default_factory=lambda: {"env_steps": [], "return": [], "length": []})
    """Every completed episode: the env step count at which it ended, its return and its length."""
    evaluations: dict[str, list[float]] = field(default_factory=dict)
    """Periodic evaluations (``Trainer.run(eval_every=K)``): ``update``, ``env_steps``, ``return_mean``,
    ``return_std`` of the deterministic policy on fresh episodes; empty when none ran."""

    def log_evaluation(self, **figures: float) -> None:
        for key, value in figures.items():
            self.evaluations.setdefault(key, []).append(float(value))

    def log_update(self, **figures: float) -> None:
        for key, value in figures.items():
            self.updates.setdefault(key, []).append(float(value))

    def log_episodes(self, env_steps: list[float], returns: list[float], lengths: list[float]) -> None:
        self.episodes["env_steps"] += [float(s) for s in env_steps]
        self.episodes["return"] += [float(r) for r in returns]
        self.episodes["length"] += [float(n) for n in lengths]

    def __getitem__(self, key: str) -> list[float]:
        return self.updates[key]

    def __len__(self) -> int:
        return len(self.updates.get("env_steps", []))

    def mean_return(self, last: int = 20) -> float:
        """Mean return of the last ``last`` completed episodes (nan when none completed)."""
        returns = self.episodes["return"][-last:]
        return sum(returns) / len(returns) if returns else float("nan")

    def smoothed_returns(self, last: int = 20) -> list[float]:
        """Per update: mean return of the last ``last`` episodes completed by then (nan before the first one)."""
        steps, returns = self.episodes["env_steps"], self.episodes["return"]
        out, j = [], 0
        for s in self.updates.get("env_steps", []):
            while j < len(steps) and steps[j] <= s:
                j += 1
            window = returns[max(0, j - last):j]
            out.append(sum(window) / len(window) if window else float("nan"))
        return out

    def steps_to_threshold(self, threshold: float, last: int = 20) -> float | None:
        """Env steps at which the mean of the last ``last`` episodes first reached ``threshold`` (None if never)."""
        returns, steps = self.episodes["return"], self.episodes["env_steps"]
        window = 0.0
        for i, r in enumerate(returns):
            window += r
            if i >= last:
                window -= returns[i - last]
            if i + 1 >= last and window / last >= threshold:
                return steps[i]
        return None

    def without_timing(self) -> dict[str, Any]:
        """Everything except wall-clock figures: equal for two runs with the same seed on the same machine.

        NaN (e.g. ``kl_coef`` of an objective without a KL controller) becomes None so that equal runs compare equal.
        """
        def clean(values: list[float]) -> list[float | None]:
            return [None if v != v else v for v in values]

        out = {
            "updates": {k: clean(v) for k, v in self.updates.items() if k not in TIMING_KEYS},
            "episodes": {k: clean(v) for k, v in self.episodes.items()},
        }
        if self.evaluations:  # only when evaluations ran: the records of runs without them stay as they were
            out["evaluations"] = {k: clean(v) for k, v in self.evaluations.items()}
        return out

    def state_dict(self) -> dict[str, Any]:
        state = {"updates": {k: list(v) for k, v in self.updates.items()}, "episodes": {k: list(v) for k, v in self.episodes.items()}}
        if self.evaluations:
            state["evaluations"] = {k: list(v) for k, v in self.evaluations.items()}
        return state

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> "History":
        return cls(updates={k: list(v) for k, v in state["updates"].items()}, episodes={k: list(v) for k, v in state["episodes"].items()},
                   evaluations={k: list(v) for k, v in state.get("evaluations", {}).items()})
