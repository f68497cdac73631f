r"""The statistics the field asks of RL results (Agarwal et al. 2021, "Deep RL at the Edge of the Statistical
Precipice"; Henderson et al. 2018; Colas et al. 2018), for notebooks 07 and 09.

- :func:`t_interval`: a seed mean with a Student-t interval, :math:`\bar x \pm t_{n-1} s/\sqrt n`.
- :func:`welch_interval`: a difference of two seed means with Welch's interval, its degrees of freedom from the
  Welch–Satterthwaite equation :math:`\nu = (a + b)^2 / (a^2/(n-1) + b^2/(m-1))`, :math:`a = s_x^2/n`,
  :math:`b = s_y^2/m`, and its two-sided p-value. At 5 or 10 seeds a percentile bootstrap covers less than its
  nominal level (about 89% for 95% at 5 vs 5); Welch's interval holds it for normal-looking scores (tested by
  simulation in ``tests/test_stats.py``).
- :func:`holm` and :func:`benjamini_hochberg`: multiple-comparison control over a family of calls (Holm 1979:
  family-wise error; Benjamini & Hochberg 1995: false discovery rate), as adjusted p-values.
- :func:`iqm`: the interquartile mean over all runs of all tasks (rliable's aggregate: the mean of the middle 50%),
  and :func:`stratified_bootstrap_interval`: its interval by resampling runs within each task.
- :func:`probability_of_improvement`: :math:`P(X > Y)` averaged over tasks (the Mann–Whitney statistic per task,
  ties counted half), with a stratified bootstrap interval.
- :func:`expected_max_score`: the expected best score after k random hyperparameter trials (Dodge et al. 2019,
  "Show Your Work"), which tells a flat grid (the curve rises at once) from a peaked one (it climbs slowly).

Inputs are sequences of floats (one per seed); the interval functions return ``(estimate, low, high)``.
"""
from __future__ import annotations

import math
from typing import Callable, Mapping, Sequence

import numpy as np
from scipy import stats as _scipy_stats

__all__ = [
    "student_t_quantile", "t_interval", "welch_interval", "holm", "benjamini_hochberg", "iqm", "stratified_bootstrap_interval",
    "probability_of_improvement", "expected_max_score",
]


def _sample(x: Sequence[float], name: str, minimum: int = 2) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64).reshape(-1)
    if a.size < minimum:
        raise ValueError(f"{name} needs at least {minimum} values, got {a.size}")
    if not np.isfinite(a).all():
        raise ValueError(f"{name} has non-finite values: {a[~np.isfinite(a)][:3].tolist()}")
    return a


def _check_level(level: float) -> None:
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie in (0, 1), got {level}")


def student_t_quantile(q: float, df: float) -> float:
    """The q-quantile of Student's t with ``df`` degrees of freedom (``t_interval`` uses q = 1 − α/2)."""
    if not 0.0 < q < 1.0 or not df > 0:
        raise ValueError(f"student_t_quantile needs q in (0, 1) and df > 0, got q={q}, df={df}")
    return float(_scipy_stats.t.ppf(q, df))


def t_interval(x: Sequence[float], level: float = 0.95) -> tuple[float, float, float]:
    r"""Mean of ``x`` with the Student-t interval :math:`\bar x \pm t_{1-\alpha/2,\,n-1}\, s/\sqrt n`."""
    _check_level(level)
    a = _sample(x, "t_interval")
    mean, se = float(a.mean()), float(a.std(ddof=1) / math.sqrt(a.size))
    half = student_t_quantile(0.5 + level / 2, a.size - 1) * se
    return mean, mean - half, mean + half


def welch_interval(x: Sequence[float], y: Sequence[float], level: float = 0.95) -> tuple[float, float, float, float]:
    r"""Mean of ``x`` minus mean of ``y`` with Welch's interval; returns ``(diff, low, high, p_value)``.

    :math:`\bar x - \bar y \pm t_{1-\alpha/2,\,\nu}\sqrt{a + b}` with the Welch–Satterthwaite :math:`\nu` (module
    docstring); the p-value is the two-sided Welch t-test's. Two constant samples with equal means give p = 1.
    """
    _check_level(level)
    a, b = _sample(x, "welch_interval x"), _sample(y, "welch_interval y")
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    diff = float(a.mean() - b.mean())
    se = math.sqrt(va + vb)
    if se == 0.0:
        return diff, diff, diff, (1.0 if diff == 0.0 else 0.0)
    nu = (va + vb) ** 2 / (va ** 2 / (a.size - 1) + vb ** 2 / (b.size - 1))
    half = float(_scipy_stats.t.ppf(0.5 + level / 2, nu)) * se
    p = float(2 * _scipy_stats.t.sf(abs(diff) / se, nu))
    return diff, diff - half, diff + half, p


def holm(p_values: Sequence[float]) -> list[float]:
    r"""Holm's step-down adjusted p-values: with :math:`p_{(1)} \le \dots \le p_{(m)}`,
    :math:`\tilde p_{(i)} = \max_{j \le i} \min(1, (m - j + 1)\, p_{(j)})`. Reject where :math:`\tilde p \le \alpha`:
    the chance of any false rejection in the family stays at most α."""
    p = _p_values(p_values)
    m = p.size
    order = np.argsort(p, kind="stable")
    adjusted = np.minimum(1.0, (m - np.arange(m)) * p[order])
    adjusted = np.maximum.accumulate(adjusted)
    out = np.empty(m)
    out[order] = adjusted
    return out.tolist()


def benjamini_hochberg(p_values: Sequence[float]) -> list[float]:
    r"""Benjamini–Hochberg adjusted p-values: :math:`\tilde p_{(i)} = \min_{j \ge i} \min(1, m\, p_{(j)} / j)`.
    Reject where :math:`\tilde p \le q`: the expected share of false rejections among the rejections is at most q."""
    p = _p_values(p_values)
    m = p.size
    order = np.argsort(p, kind="stable")
    scaled = np.minimum(1.0, m * p[order] / np.arange(1, m + 1))
    adjusted = np.minimum.accumulate(scaled[::-1])[::-1]
    out = np.empty(m)
    out[order] = adjusted
    return out.tolist()


def _p_values(p_values: Sequence[float]) -> np.ndarray:
    p = np.asarray(p_values, dtype=np.float64).reshape(-1)
    if p.size == 0 or not ((p >= 0) & (p <= 1)).all():
        raise ValueError(f"p-values must be a non-empty list of numbers in [0, 1], got {list(p_values)[:5]}")
    return p


def iqm(scores: Sequence[float] | np.ndarray) -> float | np.ndarray:
    """Interquartile mean: the mean of the middle 50% of the scores (rliable's ``aggregate_iqm``; ``int(n/4)`` cut
    from each end, as ``scipy.stats.trim_mean``). A 2-D array gives one IQM per row."""
    a = np.asarray(scores, dtype=np.float64)
    rows = a.reshape(-1, a.shape[-1]) if a.ndim > 1 else a.reshape(1, -1)
    n = rows.shape[1]
    if n == 0:
        raise ValueError("iqm needs at least one score")
    cut = int(0.25 * n)
    middle = np.sort(rows, axis=1)[:, cut:n - cut]
    out = middle.mean(axis=1)
    return float(out[0]) if a.ndim <= 1 else out.reshape(a.shape[:-1])


def stratified_bootstrap_interval(
    scores: Mapping[str, Sequence[float]],
    statistic: Callable[[np.ndarray], np.ndarray] = iqm,
    level: float = 0.95,
    n_boot: int = 2000,
    seed: int = 0,
) -> tuple[float, float, float]:
    """``statistic`` of all the runs of all tasks, with a percentile interval from resampling the runs of each task
    with replacement, task by task (rliable's stratified bootstrap). Returns ``(estimate, low, high)``.

    ``statistic`` maps a ``(B, N)`` array (B resampled experiments, the N runs of every task side by side, tasks in
    sorted order) to ``(B,)``, like :func:`iqm`: all resamples are computed in one array operation.
    """
    _check_level(level)
    if n_boot < 100:
        raise ValueError(f"n_boot must be >= 100, got {n_boot}")
    data = [(_sample(scores[task], f"scores[{task!r}]", minimum=1)) for task in sorted(scores)]
    if not data:
        raise ValueError("stratified_bootstrap_interval needs at least one task")
    rng = np.random.default_rng(seed)
    estimate = float(np.asarray(statistic(np.concatenate(data)[None, :])).reshape(-1)[0])
    resampled = np.concatenate([v[rng.integers(0, v.size, (n_boot, v.size))] for v in data], axis=1)
    draws = np.asarray(statistic(resampled), dtype=np.float64).reshape(n_boot)
    low, high = np.quantile(draws, [0.5 - level / 2, 0.5 + level / 2])
    return estimate, float(low), float(high)


def probability_of_improvement(
    x: Mapping[str, Sequence[float]], y: Mapping[str, Sequence[float]], level: float = 0.95, n_boot: int = 2000, seed: int = 0,
) -> tuple[float, float, float]:
    r""":math:`P(X > Y) = \frac{1}{T}\sum_t \frac{1}{nm}\sum_{i,j} [x_{ti} > y_{tj}] + \tfrac12[x_{ti} = y_{tj}]` over the
    tasks both have, with a stratified bootstrap interval (both algorithms' runs resampled within each task)."""
    tasks = sorted(set(x) & set(y))
    if not tasks:
        raise ValueError(f"x and y share no task: {sorted(x)} vs {sorted(y)}")
    xs = {t: _sample(x[t], f"x[{t!r}]", minimum=1) for t in tasks}
    ys = {t: _sample(y[t], f"y[{t!r}]", minimum=1) for t in tasks}

    def prob(xd: dict[str, np.ndarray], yd: dict[str, np.ndarray]) -> float:
        per_task = []
        for t in tasks:
            diff = xd[t][:, None] - yd[t][None, :]
            per_task.append(float((diff > 0).mean() + 0.5 * (diff == 0).mean()))
        return float(np.mean(per_task))

    _check_level(level)
    rng = np.random.default_rng(seed)
    estimate = prob(xs, ys)
    draws = np.empty(n_boot)
    for i in range(n_boot):
        draws[i] = prob({t: v[rng.integers(0, v.size, v.size)] for t, v in xs.items()},
                        {t: v[rng.integers(0, v.size, v.size)] for t, v in ys.items()})
    low, high = np.quantile(draws, [0.5 - level / 2, 0.5 + level / 2])
    return estimate, float(low), float(high)


def expected_max_score(config_scores: Sequence[float], k: int) -> float:
    r"""Expected best score among ``k`` configurations drawn uniformly with replacement from the n evaluated ones
    (Dodge et al. 2019): with the scores sorted, :math:`v_{(1)} \le \dots \le v_{(n)}`,
    :math:`E[\max_k] = \sum_i v_{(i)} \big[(i/n)^k - ((i-1)/n)^k\big]`."""
    v = np.sort(_sample(config_scores, "expected_max_score", minimum=1))
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive int, got {k!r}")
    n = v.size
    i = np.arange(1, n + 1)
    weights = (i / n) ** k - ((i - 1) / n) ** k
    return float((weights * v).sum())
