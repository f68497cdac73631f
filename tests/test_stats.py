"""ppo_lite.experiments.stats against independent references: scipy's own tests, hand-worked examples, brute force, and the
coverage of each interval measured by simulation at the seed counts the experiments use."""
import itertools
import warnings

import numpy as np
import pytest
from scipy import stats as scipy_stats

from ppo_lite.experiments import stats


def test_welch_matches_the_textbook_formula_and_t_interval_too():
    """welch_interval is scipy's ttest_ind(equal_var=False): checked against Welch's formula written out here."""
    rng = np.random.default_rng(0)
    for n, m in [(5, 5), (10, 10), (10, 4)]:
        x, y = rng.normal(1.0, 2.0, n), rng.normal(0.0, 0.5, m)
        diff, lo, hi, p = stats.welch_interval(x, y)
        a, b = x.var(ddof=1) / n, y.var(ddof=1) / m
        nu = (a + b) ** 2 / (a ** 2 / (n - 1) + b ** 2 / (m - 1))
        d, se = x.mean() - y.mean(), np.sqrt(a + b)
        assert diff == pytest.approx(d) and p == pytest.approx(2 * scipy_stats.t.sf(abs(d) / se, nu), rel=1e-9)
        half = scipy_stats.t.ppf(0.975, nu) * se
        assert (lo, hi) == pytest.approx((d - half, d + half), rel=1e-9)
    assert stats.welch_interval([1.0, 1.0], [1.0, 1.0]) == (0.0, 0.0, 0.0, 1.0)       # no spread, no difference
    assert stats.welch_interval([2.0, 2.0], [1.0, 1.0])[3] == 0.0                       # no spread, a difference
    with warnings.catch_warnings():
        warnings.simplefilter("error")                  # one sample at a ceiling: no warning leaks into a notebook
        _, lo, hi, _ = stats.welch_interval([500.0] * 10, [152.3] + [500.0] * 9)
    assert lo < 0 < hi
    x = rng.normal(size=7)
    mean, lo, hi = stats.t_interval(x)
    half = scipy_stats.t.ppf(0.975, 6) * x.std(ddof=1) / np.sqrt(7)
    assert (mean, lo, hi) == pytest.approx((x.mean(), x.mean() - half, x.mean() + half))


@pytest.mark.parametrize("n", [5, 10])
def test_welch_and_t_intervals_hold_their_coverage_at_the_seed_counts_used(n):
    """95% intervals cover the true difference in 93-97% of 2,000 simulated experiments (Monte Carlo s.e. 0.5%).
    Welch's interval is taken from ``stats.compare`` (the same interval as ``welch_interval``, asserted on every
    draw's first sample here and against scipy in test_equivalence.py, without scipy's per-call overhead)."""
    rng = np.random.default_rng(n)
    sims, hits_welch, hits_t = 2000, 0, 0
    for i in range(sims):
        x, y = rng.normal(0.3, 1.0, n), rng.normal(0.0, 2.5, n)  # unequal spreads: where Welch matters
        lo, hi = stats.compare(x, y, 0.0).interval(0.95)
        if i == 0:
            assert (lo, hi) == pytest.approx(stats.welch_interval(x, y)[1:3], rel=1e-9)
        hits_welch += lo <= 0.3 <= hi
        _, lo, hi = stats.t_interval(x)
        hits_t += lo <= 0.3 <= hi
    assert 0.93 <= hits_welch / sims <= 0.97, hits_welch / sims
    assert 0.93 <= hits_t / sims <= 0.97, hits_t / sims


def test_holm_and_benjamini_hochberg_on_a_hand_worked_example():
    p = [0.01, 0.04, 0.03, 0.005]
    # Holm: sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 -> 0.02, 0.03, 0.06, 0.04 -> running max 0.02, 0.03, 0.06, 0.06
    assert stats.holm(p) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    # BH: times 4/1, 4/2, 4/3, 4/4 -> 0.02, 0.02, 0.04, 0.04 -> running min from the right, the same
    assert stats.benjamini_hochberg(p) == pytest.approx([0.02, 0.04, 0.04, 0.02])
    assert [q <= 0.05 for q in stats.holm(p)] == [True, False, False, True]
    rng = np.random.default_rng(4)                      # BH is scipy's false_discovery_control: against the formula
    for _ in range(20):
        q = rng.uniform(size=7) ** 3
        order = np.argsort(q)
        by_hand = np.minimum.accumulate((7 * q[order] / np.arange(1, 8))[::-1])[::-1].clip(max=1.0)
        assert stats.benjamini_hochberg(q) == pytest.approx(by_hand[np.argsort(order)].tolist(), rel=1e-12)
    assert stats.holm([0.2]) == [0.2] and stats.holm([0.6, 0.6]) == [1.0, 1.0]
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        stats.holm([0.1, 1.5])


def test_holm_controls_the_family_wise_error_under_the_null():
    rng = np.random.default_rng(1)
    any_false = sum(min(stats.holm(rng.uniform(size=10))) <= 0.05 for _ in range(4000)) / 4000
    assert any_false <= 0.06  # at most alpha (uniform p-values: about 0.049 for independent tests)


def test_iqm_and_probability_of_improvement_by_hand():
    assert stats.iqm(np.arange(1, 9)) == pytest.approx(4.5)  # the middle 50% of 1..8 is 3, 4, 5, 6
    x = np.random.default_rng(3).normal(size=(4, 11))
    assert stats.iqm(x) == pytest.approx([scipy_stats.trim_mean(row, 0.25) for row in x])
    assert stats.iqm(x) == pytest.approx([np.sort(row)[2:9].mean() for row in x])   # 11 runs: 2 cut from each end
    assert stats.iqm([1, 2, 3, 4, 1000]) < 10                 # robust to one outlier, unlike the mean
    p, lo, hi = stats.probability_of_improvement({"a": [2, 3]}, {"a": [1, 1]})
    assert p == 1.0 and lo == hi == 1.0
    p, *_ = stats.probability_of_improvement({"a": [1, 3], "b": [0.0]}, {"a": [2, 2], "b": [0.0]})
    assert p == pytest.approx((0.5 + 0.5) / 2)  # task a: one win, one loss; task b: a tie


def test_expected_max_score_against_brute_force():
    scores = [0.1, 0.7, 0.3, 0.9, 0.5]
    for k in (1, 2, 3):
        brute = np.mean([max(draw) for draw in itertools.product(scores, repeat=k)])
        assert stats.expected_max_score(scores, k) == pytest.approx(brute, rel=1e-12)
    assert stats.expected_max_score(scores, 1) == pytest.approx(np.mean(scores))
    assert stats.expected_max_score(scores, 200) == pytest.approx(0.9, abs=1e-6)
    flat, peaked = [0.9, 0.95, 1.0, 0.92], [0.1, 0.15, 1.0, 0.12]
    assert stats.expected_max_score(flat, 2) > stats.expected_max_score(peaked, 2) + 0.3  # tells them apart


def test_stratified_bootstrap_interval_of_the_iqm_covers_at_ten_runs_per_task():
    """A percentile bootstrap at 3 tasks x 10 runs: measured coverage of the IQM's 95% interval, asserted in
    [0.90, 0.98] over 1,000 simulated experiments (Monte Carlo s.e. 0.7%)."""
    rng = np.random.default_rng(2)
    means = {"a": 0.0, "b": 1.0, "c": 3.0}
    population = np.concatenate([rng.normal(mu, 1.0, 400_000) for mu in means.values()])
    true_iqm = stats.iqm(population)
    hits = 0
    for i in range(1000):
        runs = {t: rng.normal(mu, 1.0, 10) for t, mu in means.items()}
        _, lo, hi = stats.stratified_bootstrap_interval(runs, stats.iqm, n_boot=1000, seed=i)
        hits += lo <= true_iqm <= hi
    assert 0.90 <= hits / 1000 <= 0.98, hits / 1000


def test_bad_input_is_refused_with_the_value():
    with pytest.raises(ValueError, match="at least 2"):
        stats.t_interval([1.0])
    with pytest.raises(ValueError, match="non-finite"):
        stats.welch_interval([1.0, float("nan")], [1.0, 2.0])
    with pytest.raises(ValueError, match="level"):
        stats.t_interval([1.0, 2.0], level=95)
    with pytest.raises(ValueError, match="k must be"):
        stats.expected_max_score([1.0], 0)
