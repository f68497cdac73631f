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

Deciding "no effect", "as good as" and "it depends" (issue 29; Altman & Bland 1995: a non-significant difference
says "cannot tell", not "no difference"), every test at a margin δ declared before the data:

- :func:`welch_tost`: equivalence by two one-sided Welch tests (Schuirmann 1987; Lakens 2017, "Equivalence Tests",
  Soc. Psych. Pers. Sci. 8(4)): equivalent at level α when the (1 − 2α) Welch interval of the difference lies in
  (−δ, +δ); :math:`p = \max(p_-, p_+)`, :math:`p_- = P(T_\nu \ge (d + δ)/se)`, :math:`p_+ = P(T_\nu \le (d - δ)/se)`.
- :func:`non_inferiority` and :func:`non_inferiority_to_value`: one-sided, the (1 − α) lower bound of the
  difference above −δ (against a second sample, or against one published number).
- :func:`interaction_interval`: a difference of differences (A − B | off) − (A − B | on) over four independent
  groups, Welch–Satterthwaite degrees of freedom.
- :func:`yuen_interval`: Yuen's (1974) trimmed-mean Welch test (``scipy.stats.ttest_ind(trim=...)``) with its interval.
- :func:`success_counts_test`: Fisher's exact test (or Boschloo's) on success counts.
- :func:`compare`, :func:`compare_to_value`, :func:`compare_interaction`: a :class:`Comparison` carrying every one of
  these tests at once for one difference, for a verdict to read (:func:`ppo_lite.experiments.verdicts.decide`).

Libraries (issue 29 point 9). scipy, a requirement, does the job for: Welch's interval and p-value
(:func:`welch_interval` is ``scipy.stats.ttest_ind(equal_var=False)``), Yuen's test and interval
(``ttest_ind(trim=...)``), Fisher's and Boschloo's exact tests, Benjamini–Hochberg
(``scipy.stats.false_discovery_control``) and every t quantile; the IQM is one numpy sort, checked against
``scipy.stats.trim_mean`` (which is 9 times slower as the bootstrap's statistic). statsmodels
(``ttost_ind``, ``multipletests``) and rliable (IQM, stratified bootstrap, performance profiles, probability of
improvement) are NOT installed and not added (not requirements of the project): the TOST, non-inferiority and
interaction p-values are written here from the t distribution of scipy, on the standard error and degrees of freedom
of :func:`_spread` (a shifted null, an interaction and a fixed value have no scipy call), and tested against scipy's
one-sided ``ttest_ind`` / ``ttest_1samp`` calls in ``tests/test_equivalence.py``; Holm's step-down (taught in notebook
07; no scipy function), the stratified bootstrap and the probability of improvement (rliable's, not installed) and the
expected maximum (Dodge et al.; taught in notebook 09) stay hand-written and are tested by hand-worked examples,
brute force and simulated coverage.

Inputs are sequences of floats (one per seed); the interval functions return ``(estimate, low, high)``.
"""
from __future__ import annotations

import dataclasses
import math
import warnings
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import numpy as np
from scipy import stats as _scipy_stats

MARGIN_TESTS = ("lower", "upper", "tost", "inferior", "superior")
"""The margin tests of a :class:`Comparison` a family adjustment may override (``p_lower`` …)."""

__all__ = [
    "student_t_quantile", "t_interval", "welch_interval", "holm", "benjamini_hochberg", "iqm", "stratified_bootstrap_interval",
    "probability_of_improvement", "expected_max_score", "Comparison", "compare", "compare_to_value", "compare_interaction",
    "welch_tost", "non_inferiority", "non_inferiority_to_value", "interaction_interval", "yuen_interval",
    "success_counts_test", "holm_across", "MARGIN_TESTS",
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
    docstring); interval and two-sided p-value are ``scipy.stats.ttest_ind(x, y, equal_var=False)``'s. Two constant
    samples (no spread at all) give the difference as its own interval, and p = 1 if it is 0, else 0.
    """
    _check_level(level)
    a, b = _sample(x, "welch_interval x"), _sample(y, "welch_interval y")
    diff = float(a.mean() - b.mean())
    if a.var(ddof=1) + b.var(ddof=1) == 0.0:
        return diff, diff, diff, (1.0 if diff == 0.0 else 0.0)
    with warnings.catch_warnings():  # one constant sample (a task's ceiling) makes scipy warn of a variance of 0: it is 0
        warnings.simplefilter("ignore", RuntimeWarning)
        res = _scipy_stats.ttest_ind(a, b, equal_var=False)
        ci = res.confidence_interval(level)
    return diff, float(ci.low), float(ci.high), float(res.pvalue)


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
    r"""Benjamini–Hochberg adjusted p-values: :math:`\tilde p_{(i)} = \min_{j \ge i} \min(1, m\, p_{(j)} / j)`
    (``scipy.stats.false_discovery_control(p, method="bh")``). Reject where :math:`\tilde p \le q`: the expected share
    of false rejections among the rejections is at most q."""
    return [float(v) for v in np.atleast_1d(_scipy_stats.false_discovery_control(_p_values(p_values), method="bh"))]


def _p_values(p_values: Sequence[float]) -> np.ndarray:
    p = np.asarray(p_values, dtype=np.float64).reshape(-1)
    if p.size == 0 or not ((p >= 0) & (p <= 1)).all():
        raise ValueError(f"p-values must be a non-empty list of numbers in [0, 1], got {list(p_values)[:5]}")
    return p


def iqm(scores: Sequence[float] | np.ndarray) -> float | np.ndarray:
    """Interquartile mean: the mean of the middle 50% of the scores (rliable's ``aggregate_iqm``; ``int(n/4)`` cut
    from each end, as ``scipy.stats.trim_mean(scores, 0.25)``, against which ``tests/test_stats.py`` checks it). A
    2-D array gives one IQM per row. Written with one sort here because it is the statistic of the stratified
    bootstrap's (B, N) resamples, where ``trim_mean`` gives the same numbers about 9 times slower."""
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


# -- "no effect", "as good as", "it depends": tests at a declared margin (issue 29) ------------------------------
def _spread(x: Sequence[float], name: str, trim: float = 0.0) -> tuple[float, float, float]:
    r"""One group's location, the squared standard error it contributes and that term's degrees of freedom.

    ``trim = 0``: the mean, :math:`s^2/n` and :math:`n - 1` (Welch). ``trim = γ > 0`` (Yuen 1974; Wilcox,
    "Introduction to Robust Estimation and Hypothesis Testing", ch. 5): :math:`g = \lfloor γ n \rfloor` values cut from
    each tail, :math:`h = n - 2g` kept; the γ-trimmed mean, :math:`(n - 1) s_w^2 / (h (h - 1))` with :math:`s_w^2` the
    variance of the γ-winsorized sample (the g smallest set to the next, the g largest to the one before), and
    :math:`h - 1` (as ``scipy.stats.ttest_ind(trim=γ)``).
    """
    if not 0.0 <= trim < 0.5:
        raise ValueError(f"trim must lie in [0, 0.5), got {trim}")
    a = np.sort(_sample(x, name))
    n = a.size
    g = int(trim * n)
    h = n - 2 * g
    if h < 2:
        raise ValueError(f"{name}: trimming {trim:.0%} of {n} values leaves {h}; need at least 2")
    if g == 0:
        return float(a.mean()), float(a.var(ddof=1) / n), float(n - 1)
    w = a.copy()
    w[:g], w[n - g:] = a[g], a[n - g - 1]
    return float(a[g:n - g].mean()), float((n - 1) * w.var(ddof=1) / (h * (h - 1))), float(h - 1)


def _satterthwaite(terms: Sequence[tuple[float, float]]) -> tuple[float, float]:
    r"""Standard error and Welch–Satterthwaite degrees of freedom of a signed sum of independent group locations:
    :math:`se^2 = \sum_i v_i`, :math:`\nu = (\sum_i v_i)^2 / \sum_i v_i^2/\nu_i` (Satterthwaite 1946; Welch 1947),
    from each group's squared standard error :math:`v_i` and degrees of freedom :math:`\nu_i`. With no spread at all
    the degrees of freedom are infinite (the estimate is exact)."""
    total = sum(v for v, _ in terms)
    if total == 0.0:
        return 0.0, math.inf
    return math.sqrt(total), total ** 2 / sum(v ** 2 / df for v, df in terms if v > 0.0)


def _check_margin(margin: float) -> float:
    m = float(margin)
    if not (math.isfinite(m) and m >= 0.0):
        raise ValueError(f"margin must be a finite number >= 0, got {margin!r}")
    return m


def _t_sf(t: float, df: float) -> float:
    """P(T_df >= t), with an exact estimate (se = 0) given as t = ±inf or nan (0/0: the estimate sits on the bound)."""
    if math.isnan(t):
        return 1.0
    return float(_scipy_stats.t.sf(t, df))


@dataclass(frozen=True)
class Comparison:
    r"""One difference (A − B, an interaction, or a sample against a number) with every test a verdict may read.

    ``estimate`` ± t quantiles × ``se`` on ``df`` degrees of freedom; ``margin`` δ ≥ 0 declared before the data;
    ``alpha`` the level of each test. The tests (Lakens 2017; Schuirmann 1987), each with its t statistic on ``df``:

    - **difference**: ``p_difference`` two-sided, H0 d = 0 (:attr:`differs`: rejected at α; :meth:`interval` (1 − α));
    - **non-inferiority**: ``p_lower``, H0 d ≤ −δ, :math:`p = P(T \ge (d + δ)/se)` (:attr:`non_inferior`: the
      one-sided (1 − α) lower bound, :attr:`lower_bound`, lies above −δ);
    - ``p_upper``, H0 d ≥ +δ, :math:`p = P(T \le (d - δ)/se)`;
    - **TOST** (equivalence): ``p_tost`` = max(``p_lower``, ``p_upper``) (:attr:`equivalent`: the (1 − 2α) interval,
      :attr:`tost_interval`, lies inside (−δ, +δ));
    - **inferiority** by more than the margin: ``p_inferior``, H0 d ≥ −δ (:attr:`inferior`: the (1 − α) upper bound
      lies below −δ); **superiority** by more than the margin: ``p_superior``, H0 d ≤ +δ.

    With no spread at all (se = 0) the estimate is exact: each one-sided test rejects exactly when the estimate lies
    strictly on its side of the bound. ``p_difference_override``: a family-adjusted p-value (Holm's, say) to use for
    the difference test in place of the raw two-sided one; ``p_margin_overrides``: the same for the margin tests,
    as ``(("tost", p), ("lower", p), …)`` over the names ``lower``, ``upper``, ``tost``, ``inferior``,
    ``superior`` (:func:`holm_across` sets both); a test without one keeps its own p-value. The intervals stay
    unadjusted.
    """

    test: str
    estimate: float
    se: float
    df: float
    margin: float
    alpha: float = 0.05
    p_difference_override: float | None = None
    p_margin_overrides: tuple[tuple[str, float], ...] = ()

    def __post_init__(self) -> None:
        _check_margin(self.margin)
        if not 0.0 < self.alpha < 0.5:
            raise ValueError(f"alpha must lie in (0, 0.5), got {self.alpha}")
        unknown = {k for k, _ in self.p_margin_overrides} - set(MARGIN_TESTS)
        if unknown:
            raise ValueError(f"p_margin_overrides names {sorted(unknown)}; allowed: {MARGIN_TESTS}")

    def _override(self, name: str, raw: Callable[[], float]) -> float:
        for k, p in self.p_margin_overrides:
            if k == name:
                return p
        return raw()

    def _t(self, against: float) -> float:
        d = self.estimate - against
        if self.se == 0.0:
            return math.nan if d == 0.0 else math.copysign(math.inf, d)
        return d / self.se

    def quantile(self, q: float) -> float:
        """The q-quantile of the estimate's t distribution (its standard error times Student's t on ``df``)."""
        if self.se == 0.0:
            return self.estimate
        return self.estimate + self.se * float(_scipy_stats.t.ppf(q, self.df))

    def interval(self, level: float | None = None) -> tuple[float, float]:
        """The two-sided interval at ``level`` (default 1 − α)."""
        level = 1 - self.alpha if level is None else level
        _check_level(level)
        return self.quantile(0.5 - level / 2), self.quantile(0.5 + level / 2)

    @property
    def tost_interval(self) -> tuple[float, float]:
        """The (1 − 2α) interval: inside (−δ, δ) exactly when TOST rejects at α."""
        return self.interval(1 - 2 * self.alpha)

    @property
    def lower_bound(self) -> float:
        """The one-sided (1 − α) lower bound (the lower end of :attr:`tost_interval`)."""
        return self.quantile(self.alpha)

    @property
    def upper_bound(self) -> float:
        """The one-sided (1 − α) upper bound."""
        return self.quantile(1 - self.alpha)

    @property
    def p_difference(self) -> float:
        if self.p_difference_override is not None:
            return self.p_difference_override
        t = self._t(0.0)
        return 1.0 if math.isnan(t) else min(1.0, 2 * _t_sf(abs(t), self.df))

    @property
    def p_lower(self) -> float:
        return self._override("lower", lambda: _t_sf(self._t(-self.margin), self.df))

    @property
    def p_upper(self) -> float:
        return self._override("upper", lambda: _t_sf(-self._t(self.margin), self.df))

    @property
    def p_tost(self) -> float:
        return self._override("tost", lambda: max(self.p_lower, self.p_upper))

    @property
    def p_inferior(self) -> float:
        return self._override("inferior", lambda: _t_sf(-self._t(-self.margin), self.df))

    @property
    def p_superior(self) -> float:
        return self._override("superior", lambda: _t_sf(self._t(self.margin), self.df))

    @property
    def differs(self) -> bool:
        return self.p_difference <= self.alpha

    @property
    def equivalent(self) -> bool:
        return self.margin > 0 and self.p_tost <= self.alpha

    @property
    def non_inferior(self) -> bool:
        return self.p_lower <= self.alpha

    @property
    def inferior(self) -> bool:
        return self.p_inferior <= self.alpha

    @property
    def sign(self) -> int:
        """+1 / −1 where the difference test rejects with a positive / negative estimate, else 0."""
        return 0 if not self.differs else (1 if self.estimate > 0 else -1)


def holm_across(comparisons: Sequence[Comparison]) -> list[Comparison]:
    """The comparisons of one claim over a family (its tasks), each test's p-values Holm-adjusted across the family
    (:func:`holm`, per test: the difference and each margin test of :data:`MARGIN_TESTS`), as overrides; estimates,
    intervals and margins unchanged."""
    cs = list(comparisons)
    if not cs:
        return []
    diff = holm([c.p_difference for c in cs])
    margin = {name: holm([getattr(c, f"p_{name}") for c in cs]) for name in MARGIN_TESTS}
    return [dataclasses.replace(c, p_difference_override=diff[i],
                                p_margin_overrides=tuple((name, margin[name][i]) for name in MARGIN_TESTS))
            for i, c in enumerate(cs)]


def _test_name(trim: float) -> str:
    return "Welch" if trim == 0 else f"Yuen ({trim:.0%} trimmed means)"


def compare(x: Sequence[float], y: Sequence[float], margin: float, alpha: float = 0.05, trim: float = 0.0) -> Comparison:
    r"""``x`` − ``y`` (means, or γ-trimmed means with ``trim`` = γ, Yuen) as a :class:`Comparison` at margin δ:
    :math:`d = \bar x - \bar y`, :math:`se^2 = v_x + v_y`, Welch–Satterthwaite :math:`\nu` (:func:`_spread`)."""
    (lx, vx, fx), (ly, vy, fy) = _spread(x, "compare x", trim), _spread(y, "compare y", trim)
    se, df = _satterthwaite([(vx, fx), (vy, fy)])
    return Comparison(_test_name(trim), lx - ly, se, df, _check_margin(margin), alpha)


def compare_to_value(x: Sequence[float], value: float, margin: float, alpha: float = 0.05,
                     value_is_draw: bool = False) -> Comparison:
    r"""Mean of ``x`` minus one published number, as a :class:`Comparison` at margin δ.

    ``value_is_draw=False`` (the default) treats the number as a fixed target known without error: the one-sample t
    test, :math:`se = s/\sqrt n`, :math:`\nu = n - 1` (``scipy.stats.ttest_1samp``). It asks whether *our* seed mean
    reaches that number, not whether our method is as good as the one that produced it.

    A published number such as rl-baselines3-zoo's is one trained agent's score (its ± is over evaluation episodes of
    that agent): one draw from that method's seed distribution, not a mean. ``value_is_draw=True`` assumes it is one
    draw from a seed distribution with the same spread as ``x``'s (nothing else is known of its spread) and compares
    the two means with a two-sample pooled t on n and 1 values: :math:`se = s\sqrt{1/n + 1}`, :math:`\nu = n - 1` (the
    prediction-interval form). That is the honest form of "as good as the zoo's method", and much weaker at few seeds.
    """
    m, v, df = _spread(x, "compare_to_value x")
    n = _sample(x, "compare_to_value x").size
    se = math.sqrt(v * (1 + n)) if value_is_draw else math.sqrt(v)
    name = "one-sample t against a published draw" if value_is_draw else "one-sample t against a fixed number"
    return Comparison(name, m - float(value), se, df if se > 0 else math.inf, _check_margin(margin), alpha)


def compare_interaction(a_off: Sequence[float], b_off: Sequence[float], a_on: Sequence[float], b_on: Sequence[float],
                        margin: float = 0.0, alpha: float = 0.05, trim: float = 0.0) -> Comparison:
    r"""The interaction :math:`(\bar a_{off} - \bar b_{off}) - (\bar a_{on} - \bar b_{on})`: how much switching a
    factor on changes A's advantage over B (a difference of differences), over four independent groups, as a
    :class:`Comparison` at margin δ. :math:`se^2 = v_{a,off} + v_{b,off} + v_{a,on} + v_{b,on}` and the
    Welch–Satterthwaite :math:`\nu = (\sum v_i)^2 / \sum v_i^2/\nu_i` (the four-group form of Welch's test, as for
    any linear contrast of independent means: Satterthwaite 1946; Maxwell & Delaney, "Designing Experiments and
    Analyzing Data", ch. 7), each group's :math:`v_i, \nu_i` from :func:`_spread` (Yuen's with ``trim``)."""
    groups = [_spread(g, name, trim) for g, name in ((a_off, "a_off"), (b_off, "b_off"), (a_on, "a_on"), (b_on, "b_on"))]
    estimate = (groups[0][0] - groups[1][0]) - (groups[2][0] - groups[3][0])
    se, df = _satterthwaite([(v, f) for _, v, f in groups])
    return Comparison(f"interaction, {_test_name(trim)}–Satterthwaite", estimate, se, df, _check_margin(margin), alpha)


def welch_tost(x: Sequence[float], y: Sequence[float], margin: float, alpha: float = 0.05,
               trim: float = 0.0) -> tuple[float, float, float, float]:
    r"""Welch's two one-sided tests (TOST) for equivalence of ``x`` and ``y`` within (−δ, +δ): returns
    ``(diff, low, high, p)`` with the (1 − 2α) Welch interval and :math:`p = \max(p_-, p_+)`,
    :math:`p_- = P(T_\nu \ge (d + δ)/se)`, :math:`p_+ = P(T_\nu \le (d - δ)/se)`. Equivalent at level α when p ≤ α,
    that is when the interval lies inside (−δ, δ) (Schuirmann 1987; Lakens 2017, Soc. Psych. Pers. Sci. 8(4),
    eqs. 1-2, Welch's form). ``trim`` > 0: the same on Yuen's trimmed means."""
    c = compare(x, y, margin, alpha, trim)
    return (c.estimate, *c.tost_interval, c.p_tost)


def non_inferiority(x: Sequence[float], y: Sequence[float], margin: float, alpha: float = 0.05,
                    trim: float = 0.0) -> tuple[float, float, float]:
    r"""One-sided non-inferiority of ``x`` against ``y`` at margin δ: H0 :math:`\mu_x - \mu_y \le -δ`; returns
    ``(diff, lower, p)`` with the (1 − α) Welch lower bound (non-inferior at α when lower > −δ, equivalently p ≤ α)
    and :math:`p = P(T_\nu \ge (d + δ)/se)` (Lakens 2017; the "as good as" test)."""
    c = compare(x, y, margin, alpha, trim)
    return c.estimate, c.lower_bound, c.p_lower


def non_inferiority_to_value(x: Sequence[float], value: float, margin: float, alpha: float = 0.05,
                             value_is_draw: bool = False) -> tuple[float, float, float]:
    r"""Non-inferiority of ``x``'s mean against one published number at margin δ: ``(diff, lower, p)`` with
    H0 :math:`\mu_x - value \le -δ`. What is assumed of the number: :func:`compare_to_value` (by default a fixed
    target without error; ``value_is_draw=True``: one draw of a seed distribution with ``x``'s spread)."""
    c = compare_to_value(x, value, margin, alpha, value_is_draw)
    return c.estimate, c.lower_bound, c.p_lower


def interaction_interval(a_off: Sequence[float], b_off: Sequence[float], a_on: Sequence[float], b_on: Sequence[float],
                         level: float = 0.95, trim: float = 0.0) -> tuple[float, float, float, float]:
    r"""The interaction (A − B | off) − (A − B | on) with its Welch–Satterthwaite interval at ``level`` and two-sided
    p-value: ``(estimate, low, high, p)`` (:func:`compare_interaction`)."""
    _check_level(level)
    c = compare_interaction(a_off, b_off, a_on, b_on, 0.0, 0.05, trim)
    return (c.estimate, *c.interval(level), c.p_difference)


def yuen_interval(x: Sequence[float], y: Sequence[float], level: float = 0.95,
                  trim: float = 0.2) -> tuple[float, float, float, float]:
    r"""Yuen's trimmed-mean Welch test (Yuen 1974, Biometrika 61): the difference of γ-trimmed means with its
    interval and two-sided p-value, ``(diff, low, high, p)``, all from ``scipy.stats.ttest_ind(x, y,
    equal_var=False, trim=γ)``: :math:`t = (\bar x_t - \bar y_t)/\sqrt{d_x + d_y}`, :math:`d = (n-1)s_w^2/(h(h-1))`,
    Welch–Satterthwaite :math:`\nu` on :math:`h - 1` per group (:func:`_spread`). Robust to one catastrophic seed."""
    _check_level(level)
    a, b = _sample(x, "yuen_interval x"), _sample(y, "yuen_interval y")
    diff = float(_scipy_stats.trim_mean(a, trim) - _scipy_stats.trim_mean(b, trim))
    _, va, _ = _spread(a, "yuen_interval x", trim)
    _, vb, _ = _spread(b, "yuen_interval y", trim)
    if va + vb == 0.0:
        return diff, diff, diff, (1.0 if diff == 0.0 else 0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        res = _scipy_stats.ttest_ind(a, b, equal_var=False, trim=trim)
        ci = res.confidence_interval(level)
    return diff, float(ci.low), float(ci.high), float(res.pvalue)


def success_counts_test(successes_a: int, n_a: int, successes_b: int, n_b: int, method: str = "fisher",
                        alternative: str = "two-sided") -> tuple[float, float]:
    r"""An exact test on success counts (k_a of n_a runs against k_b of n_b), the 2×2 table
    :math:`\begin{pmatrix} k_a & n_a - k_a \\ k_b & n_b - k_b \end{pmatrix}`; returns ``(rate_a − rate_b, p)``.

    ``method="fisher"``: Fisher's exact test (``scipy.stats.fisher_exact``; conditional on both margins, the
    hypergeometric law; two-sided p sums the tables no more likely than the observed one). ``method="boschloo"``:
    Boschloo's test (``scipy.stats.boschloo_exact``), unconditional, with Fisher's p as its statistic: never less
    powerful than Fisher's. ``alternative``: "two-sided", "greater" (a's rate above b's) or "less"."""
    counts = (successes_a, n_a, successes_b, n_b)
    if not all(isinstance(v, (int, np.integer)) for v in counts) or not (0 <= successes_a <= n_a and 0 <= successes_b <= n_b) \
            or n_a < 1 or n_b < 1:
        raise ValueError(f"success counts must be ints with 0 <= k <= n and n >= 1, got {counts}")
    if alternative not in ("two-sided", "greater", "less"):
        raise ValueError(f"alternative must be 'two-sided', 'greater' or 'less', got {alternative!r}")
    table = [[successes_a, n_a - successes_a], [successes_b, n_b - successes_b]]
    if method == "fisher":
        p = _scipy_stats.fisher_exact(table, alternative=alternative).pvalue
    elif method == "boschloo":
        if (successes_a + successes_b) in (0, n_a + n_b):  # a table with an empty column: nothing to tell apart
            p = 1.0
        else:
            p = _scipy_stats.boschloo_exact(table, alternative=alternative).pvalue
    else:
        raise ValueError(f"method must be 'fisher' or 'boschloo', got {method!r}")
    return successes_a / n_a - successes_b / n_b, float(min(1.0, p))
