"""Equivalence (TOST), non-inferiority, the interaction, Yuen's trimmed-mean test and the exact tests on success counts
(ppo_lite.experiments.stats, issue 29), each against an independent computation (scipy's one-sided tests, formulas
written out here, brute force) and by simulation with a fixed numpy seed (numpy's generator gives the same draws on
every platform); then the verdict logic (ppo_lite.experiments.verdicts.decide / combine) on noisy synthetic samples
whose right answer is each label."""
import math
import warnings

import numpy as np
import pytest
from scipy import stats as scipy_stats

from ppo_lite.experiments import stats, verdicts

CASES = [(5, 5, 1.0, 1.0), (10, 10, 1.0, 2.5), (10, 4, 2.0, 0.5), (30, 30, 1.0, 1.0)]


def _exact(mean: float, sd: float, n: int, rng: np.random.Generator) -> np.ndarray:
    """n noisy values with exactly this sample mean and sample standard deviation (normal draws, standardized), so
    a test's outcome depends on (mean, sd, n) alone, not on the draw."""
    z = rng.normal(size=n)
    z = (z - z.mean()) / z.std(ddof=1)
    return mean + sd * z


# -- each test against an independent computation ------------------------------------------------------------------
@pytest.mark.parametrize("n, m, sx, sy", CASES)
def test_tost_and_non_inferiority_equal_scipys_one_sided_welch_tests(n, m, sx, sy):
    rng = np.random.default_rng(n * 100 + m)
    for margin in (0.3, 1.0, 3.0):
        x, y = rng.normal(0.4, sx, n), rng.normal(0.0, sy, m)
        lower = scipy_stats.ttest_ind(x + margin, y, equal_var=False, alternative="greater").pvalue  # H0: d <= -δ
        upper = scipy_stats.ttest_ind(x - margin, y, equal_var=False, alternative="less").pvalue     # H0: d >= +δ
        diff, lo, hi, p = stats.welch_tost(x, y, margin)
        assert p == pytest.approx(max(lower, upper), rel=1e-9, abs=1e-15)
        ci = scipy_stats.ttest_ind(x, y, equal_var=False).confidence_interval(0.90)
        assert (diff, lo, hi) == pytest.approx((x.mean() - y.mean(), ci.low, ci.high), rel=1e-9)
        assert (p <= 0.05) == (-margin < lo and hi < margin)            # TOST rejects iff the 90% interval is inside
        d, bound, p_ni = stats.non_inferiority(x, y, margin)
        assert p_ni == pytest.approx(lower, rel=1e-9, abs=1e-15) and bound == pytest.approx(lo, rel=1e-9)
        c = stats.compare(x, y, margin)
        assert c.p_inferior == pytest.approx(1 - lower, rel=1e-9, abs=1e-12)
        assert c.p_difference == pytest.approx(scipy_stats.ttest_ind(x, y, equal_var=False).pvalue, rel=1e-9)


def test_non_inferiority_to_a_published_number_fixed_or_one_draw():
    rng = np.random.default_rng(5)
    x, value, margin = rng.normal(-113.0, 8.0, 5), -110.4, 9.0
    d, lo, p = stats.non_inferiority_to_value(x, value, margin)
    ref = scipy_stats.ttest_1samp(x, value - margin, alternative="greater")   # a fixed target: one-sample t
    assert p == pytest.approx(ref.pvalue, rel=1e-9) and d == pytest.approx(x.mean() - value)
    assert lo == pytest.approx(x.mean() - scipy_stats.t.ppf(0.95, 4) * x.std(ddof=1) / math.sqrt(5) - value)
    # one draw of a distribution with x's spread: the pooled two-sample t on n and 1 values
    _, lo_draw, p_draw = stats.non_inferiority_to_value(x, value, margin, value_is_draw=True)
    ref = scipy_stats.ttest_ind(x + margin, [value], equal_var=True, alternative="greater")
    assert p_draw == pytest.approx(ref.pvalue, rel=1e-9) and p_draw > p and lo_draw < lo
    # the reading of the committed benchmark: MountainCar's five seeds against the zoo at 10% of the range
    mc = [-108.8, -111.7, -105.9, -112.2, -127.1]
    assert stats.non_inferiority_to_value(mc, -110.423, 0.1 * (-110.0 + 200.0))[2] == pytest.approx(0.081, abs=0.001)
    # every seed at the ceiling: no spread, an exact estimate
    assert stats.non_inferiority_to_value([500.0] * 5, 500.0, 45.0) == (0.0, 0.0, 0.0)


def _yuen_by_hand(x, y, trim):
    """Yuen (1974) written out: trimmed means, winsorized variances, Welch-Satterthwaite on h - 1."""
    parts = []
    for v in (np.sort(x), np.sort(y)):
        n = len(v)
        g = math.floor(trim * n)
        h = n - 2 * g
        w = [min(max(t, v[g]), v[n - g - 1]) for t in v]
        sw2 = sum((t - sum(w) / n) ** 2 for t in w) / (n - 1)
        parts.append((sum(v[g:n - g]) / h, (n - 1) * sw2 / (h * (h - 1)), h - 1))
    (mx, dx, fx), (my, dy, fy) = parts
    se = math.sqrt(dx + dy)
    nu = (dx + dy) ** 2 / (dx ** 2 / fx + dy ** 2 / fy)
    t = scipy_stats.t.ppf(0.975, nu)
    return mx - my, mx - my - t * se, mx - my + t * se, 2 * scipy_stats.t.sf(abs(mx - my) / se, nu)


def test_yuen_against_the_formula_written_out_and_robust_to_one_catastrophic_seed():
    rng = np.random.default_rng(6)
    for n, m in [(10, 10), (30, 12), (7, 9)]:
        x, y = rng.standard_t(2, n) + 0.5, rng.standard_t(2, m)
        assert stats.yuen_interval(x, y) == pytest.approx(_yuen_by_hand(x, y, 0.2), rel=1e-9)
        c = stats.compare(x, y, 0.5, trim=0.2)                          # the Comparison's Yuen form agrees
        assert (c.estimate, *c.interval(0.95), c.p_difference) == pytest.approx(_yuen_by_hand(x, y, 0.2), rel=1e-9)
        shifted = scipy_stats.ttest_ind(x + 0.5, y, equal_var=False, trim=0.2, alternative="greater").pvalue
        assert c.p_lower == pytest.approx(shifted, rel=1e-9)
    # the committed ablation's Pendulum clip all off: one seed at -1327, nine between -227 and -118
    off = [-1327.217, -226.508, -214.917, -164.673, -161.278, -154.811, -153.605, -149.81, -143.764, -117.633]
    on = [-249.191, -191.455, -187.779, -156.319, -155.517, -154.913, -148.414, -146.547, -138.114, -117.561]
    welch, yuen = stats.welch_interval(on, off), stats.yuen_interval(on, off)
    assert yuen[2] - yuen[1] < 0.25 * (welch[2] - welch[1])              # the trimmed interval ignores the one seed


def test_interaction_reduces_to_welch_and_matches_the_formula():
    rng = np.random.default_rng(7)
    a_off, b_off, a_on, b_on = (rng.normal(mu, sd, n) for mu, sd, n in ((3, 1, 10), (1, 2, 10), (2, 0.5, 8), (2, 1.5, 12)))
    est, lo, hi, p = stats.interaction_interval(a_off, b_off, a_on, b_on)
    v = [g.var(ddof=1) / len(g) for g in (a_off, b_off, a_on, b_on)]
    nu = sum(v) ** 2 / sum(vi ** 2 / (len(g) - 1) for vi, g in zip(v, (a_off, b_off, a_on, b_on)))
    d = (a_off.mean() - b_off.mean()) - (a_on.mean() - b_on.mean())
    half = scipy_stats.t.ppf(0.975, nu) * math.sqrt(sum(v))
    assert (est, lo, hi, p) == pytest.approx((d, d - half, d + half, 2 * scipy_stats.t.sf(abs(d) / math.sqrt(sum(v)), nu)), rel=1e-9)
    # with both "on" arms constant the interaction is a Welch difference of the "off" arms, shifted
    est, lo, hi, p = stats.interaction_interval(a_off, b_off, [2.0] * 5, [2.0] * 5)
    ref = scipy_stats.ttest_ind(a_off, b_off, equal_var=False)
    assert p == pytest.approx(ref.pvalue, rel=1e-9)
    assert (lo, hi) == pytest.approx(tuple(ref.confidence_interval(0.95)), rel=1e-9)
    # the number from the committed ablation, Pendulum: +1120 [+756, +1485], p = 4e-6 (checked in test_verdicts)


def test_exact_tests_on_success_counts_against_the_hypergeometric_sum():
    def fisher_by_hand(ka, na, kb, nb):
        k, n = ka + kb, na + nb
        prob = {i: math.comb(na, i) * math.comb(nb, k - i) / math.comb(n, k) for i in range(max(0, k - nb), min(k, na) + 1)}
        return min(1.0, sum(q for q in prob.values() if q <= prob[ka] * (1 + 1e-7)))

    for counts in [(3, 10, 9, 10), (28, 30, 20, 30), (10, 10, 10, 10), (0, 12, 5, 30)]:
        diff, p = stats.success_counts_test(*counts)
        assert p == pytest.approx(fisher_by_hand(*counts), rel=1e-9)
        assert diff == pytest.approx(counts[0] / counts[1] - counts[2] / counts[3])
    for counts in [(3, 10, 9, 10), (28, 30, 20, 30)]:
        _, fisher = stats.success_counts_test(*counts, alternative="less")
        _, boschloo = stats.success_counts_test(*counts, method="boschloo", alternative="less")
        assert boschloo <= fisher + 1e-12                                # never less powerful (Boschloo 1970)
    assert stats.success_counts_test(10, 10, 10, 10, method="boschloo") == (0.0, 1.0)
    with pytest.raises(ValueError, match="0 <= k <= n"):
        stats.success_counts_test(11, 10, 3, 10)
    with pytest.raises(ValueError, match="method"):
        stats.success_counts_test(1, 10, 3, 10, method="chi2")


# -- by simulation ----------------------------------------------------------------------------------------------
def test_tost_rejects_at_about_alpha_when_the_true_difference_sits_on_the_margin():
    """2,000 simulated 10-vs-10 experiments with unequal spreads (Monte Carlo s.e. of a 5% rate: 0.5%): at a true
    difference of exactly +δ, TOST rejects in 3.5-6.5% of them (wide margin: one side's test carries the size); at a
    narrow margin it is conservative; at a true difference of 0 with a wide margin it rejects almost always; and the
    (1 - 2α) interval covers the true difference in 88-92%."""
    rng = np.random.default_rng(29)
    sims, margin = 2000, 4.0
    at_margin = covered = narrow = power = 0
    for _ in range(sims):
        x, y = rng.normal(margin, 1.0, 10), rng.normal(0.0, 2.0, 10)
        c = stats.compare(x, y, margin)
        at_margin += c.equivalent
        lo, hi = c.tost_interval
        covered += lo <= margin <= hi
        narrow += stats.compare(x - margin + 0.5, y, 0.5).equivalent        # true difference = δ = 0.5
        power += stats.compare(x - margin, y, margin).equivalent            # true difference 0
    assert 0.035 <= at_margin / sims <= 0.065, at_margin / sims
    assert 0.88 <= covered / sims <= 0.92, covered / sims
    assert narrow / sims <= 0.06, narrow / sims
    assert power / sims >= 0.95, power / sims


def test_non_inferiority_and_the_interaction_hold_their_levels():
    """Non-inferiority at a true difference of exactly −δ rejects in 3.5-6.5% of 2,000 experiments; the interaction's
    95% interval over four unequal-spread groups covers the true interaction in 93-97%."""
    rng = np.random.default_rng(30)
    sims, false_ni, covered = 2000, 0, 0
    for _ in range(sims):
        x, y = rng.normal(-1.5, 1.0, 10), rng.normal(0.0, 3.0, 10)
        false_ni += stats.compare(x, y, 1.5).non_inferior
        groups = [rng.normal(mu, sd, 10) for mu, sd in ((1.0, 1.0), (0.0, 3.0), (0.5, 0.5), (0.5, 2.0))]
        _, lo, hi, _ = stats.interaction_interval(*groups)
        covered += lo <= 1.0 <= hi                                          # (1 − 0) − (0.5 − 0.5) = 1
    assert 0.035 <= false_ni / sims <= 0.065, false_ni / sims
    assert 0.93 <= covered / sims <= 0.97, covered / sims


def test_bad_margins_and_trims_are_refused():
    with pytest.raises(ValueError, match="margin"):
        stats.welch_tost([1.0, 2.0], [1.0, 3.0], -1.0)
    with pytest.raises(ValueError, match="trim"):
        stats.compare([1.0, 2.0, 3.0], [1.0, 2.0, 4.0], 1.0, trim=0.5)
    with pytest.raises(ValueError, match="leaves"):
        stats.yuen_interval([1.0, 2.0, 3.0], [1.0, 2.0, 4.0], trim=0.4)


# -- the verdict logic on noisy synthetic samples --------------------------------------------------------------
DELTA = 10.0


def _label(claim, mean_diff, sd, n=10, direction=0, seed=0):
    rng = np.random.default_rng(seed)
    x, y = _exact(50.0 + mean_diff, sd, n, rng), _exact(50.0, sd, n, rng)
    assert np.ptp(x) > 0 and np.ptp(y) > 0                                  # noisy, not zero-variance cells
    return verdicts.decide(claim, stats.compare(x, y, DELTA), direction)


@pytest.mark.parametrize("claim, mean_diff, sd, n, direction, expected", [
    # "no effect": TOST decides for it, the difference test against it, neither: undecided
    ("no effect", 0.0, 5.0, 10, 0, "holds"),              # 90% half-width ~ 3.9 < δ = 10
    ("no effect", 3.0, 2.0, 30, 0, "holds"),              # a real difference, smaller than δ: still no effect at δ
    ("no effect", 30.0, 5.0, 10, 0, "does not hold"),
    ("no effect", 5.0, 30.0, 10, 0, "undecided"),         # wide interval, not significant: cannot tell
    ("no effect", 0.0, 30.0, 10, 0, "undecided"),
    # "an effect" (positive)
    ("an effect", 30.0, 5.0, 10, 1, "holds"),
    ("an effect", 5.0, 3.0, 30, 1, "holds with a qualification"),   # significant, and shown smaller than δ
    ("an effect", 0.0, 5.0, 10, 1, "does not hold"),      # shown below +δ
    ("an effect", -30.0, 5.0, 10, 1, "does not hold"),    # significant the other way
    ("an effect", 5.0, 30.0, 10, 1, "undecided"),
    ("an effect", -30.0, 5.0, 10, 0, "holds"),            # either sign
    ("an effect", -30.0, 5.0, 10, -1, "holds"),
    # "not worse"
    ("not worse", 0.0, 5.0, 10, 0, "holds"),
    ("not worse", 30.0, 30.0, 10, 0, "holds"),            # better, noisily: still not worse by δ
    ("not worse", -30.0, 5.0, 10, 0, "does not hold"),
    ("not worse", -5.0, 30.0, 10, 0, "undecided"),
])
def test_decide_gives_each_label_on_noisy_samples(claim, mean_diff, sd, n, direction, expected):
    for seed in range(3):                                                   # the draw does not matter, only the design
        assert _label(claim, mean_diff, sd, n, direction, seed) == expected


def test_non_significance_alone_never_decides_a_no_effect_claim():
    """Over 300 random designs: "no effect" holds only with TOST passing, fails only with the difference test
    rejecting, and every non-significant, non-equivalent comparison is undecided."""
    rng = np.random.default_rng(31)
    seen = set()
    for _ in range(300):
        n = int(rng.integers(3, 31))
        x, y = rng.normal(rng.normal(0, 15), rng.uniform(0.5, 40), n), rng.normal(0.0, rng.uniform(0.5, 40), n)
        c = stats.compare(x, y, DELTA)
        label = verdicts.decide("no effect", c)
        seen.add(label)
        assert (label == "holds") == c.equivalent
        assert (label == "does not hold") == (c.differs and not c.equivalent)
        assert (label == "undecided") == (not c.differs and not c.equivalent)
    assert seen == {"holds", "does not hold", "undecided"}


def test_interaction_decided_on_noisy_arms():
    rng = np.random.default_rng(8)
    arm = lambda mean, sd=5.0: _exact(mean, sd, 10, rng)  # noqa: E731
    # clip's edge over kl_dual is 40 with the details off and 0 with them on: positive interaction
    c = stats.compare_interaction(arm(80), arm(40), arm(90), arm(90), DELTA)
    assert c.sign == 1 and verdicts.decide("an effect", c, -1) == "does not hold"
    # the details make the edge: negative interaction
    c = stats.compare_interaction(arm(40), arm(40), arm(90), arm(50), DELTA)
    assert verdicts.decide("an effect", c, -1) == "holds"
    # the same edge either way, well inside the margin
    c = stats.compare_interaction(arm(60, 2.0), arm(50, 2.0), arm(90, 2.0), arm(80, 2.0), DELTA)
    assert c.equivalent and verdicts.decide("an effect", c, 0) == "does not hold"
    # too noisy to tell
    c = stats.compare_interaction(arm(60, 40.0), arm(50, 40.0), arm(90, 40.0), arm(85, 40.0), DELTA)
    assert verdicts.decide("an effect", c, -1) == "undecided"


def test_combine_across_tasks():
    H, N, Q, U = "holds", "does not hold", "holds with a qualification", "undecided"
    assert verdicts.combine({"a": H, "b": H}) == H
    assert verdicts.combine({"a": H, "b": U}) == Q                 # one example does not prove a general claim
    assert verdicts.combine({"a": N, "b": U}) == N                 # one decided counterexample refutes it
    assert verdicts.combine({"a": H, "b": N}) == Q
    assert verdicts.combine({"a": U, "b": U}) == U
    assert verdicts.combine({"a": Q, "b": H}) == Q
    with pytest.raises(ValueError):
        verdicts.combine({})
    with pytest.raises(ValueError, match="claim"):
        verdicts.decide("no difference", stats.compare([1.0, 2.0], [1.0, 3.0], 1.0))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert verdicts.decide("not worse", stats.compare_to_value([500.0] * 5, 500.0, 45.0)) == H   # exact, no warning


def test_holm_across_adjusts_every_test_of_a_family_and_changes_nothing_else():
    rng = np.random.default_rng(5)
    cs = [stats.compare(rng.normal(m, 1.0, 12), rng.normal(0.0, 1.0, 12), 0.8) for m in (0.1, 0.5, 1.5)]
    adjusted = stats.holm_across(cs)
    assert adjusted[0].p_difference == pytest.approx(stats.holm([c.p_difference for c in cs])[0])
    for name in stats.MARGIN_TESTS:
        want = stats.holm([getattr(c, f"p_{name}") for c in cs])
        assert [getattr(c, f"p_{name}") for c in adjusted] == pytest.approx(want), name
    for raw, adj in zip(cs, adjusted):
        assert (adj.estimate, adj.interval(), adj.tost_interval) == (raw.estimate, raw.interval(), raw.tost_interval)
        assert adj.p_tost >= raw.p_tost and adj.p_difference >= raw.p_difference
    assert stats.holm_across([]) == []
    with pytest.raises(ValueError, match="p_margin_overrides names"):
        stats.Comparison("x", 0.0, 1.0, 5.0, 1.0, p_margin_overrides=(("tosst", 0.1),))
