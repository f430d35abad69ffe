"""The formulas of a comparison against scipy.stats, statsmodels and hand computations: Welch's
p, its interval and TOST p (with and without a spread floor), t intervals at any level, Holm."""
import math

import numpy as np
import pytest
from scipy import stats as sp
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW, ttost_ind

from tracker.results import stats


def random_pairs():
    rng = np.random.default_rng(11)
    for n1, n2, sd1, sd2, shift in [(3, 5, 0.004, 0.002, 0.003), (4, 4, 0.003, 0.003, -0.001),
                                    (2, 6, 0.001, 0.005, 0.0), (7, 3, 0.006, 0.001, 0.008)]:
        yield 0.97 + shift + sd1 * rng.standard_normal(n1), 0.97 + sd2 * rng.standard_normal(n2)


def test_interval_welch_p_and_tost_by_hand():
    # a - b = -1, both variances 5/3, se = sqrt(2 * 5/3 / 4) = sqrt(5/6), df = 2 (n - 1) = 6
    w = stats.welch([1, 2, 3, 4], [2, 3, 4, 5])
    assert (w.diff, w.se, w.df) == pytest.approx((-1.0, math.sqrt(5 / 6), 6.0), rel=1e-12)
    assert w.p() == pytest.approx(0.315334, abs=1e-6)  # t = -1.0954, df 6 (a t table: ~0.315)
    low, high = w.interval(0.95)  # t(0.975, 6) = 2.446912 (t table)
    assert (low, high) == pytest.approx((-1 - 2.446912 * math.sqrt(5 / 6), -1 + 2.446912 * math.sqrt(5 / 6)), abs=1e-6)
    # margin 2: the lower test's t is +1.0954, the mirror of the two-sided one: half its p
    assert w.tost_p(2.0) == pytest.approx(0.315334 / 2, abs=1e-6)
    # unequal variances: a = [0, 2] (var 2), b = [0, 0, 3] (var 3): df = 2^2 / (1 + 1/2) = 8/3
    w = stats.welch([0.0, 2.0], [0.0, 0.0, 3.0])
    assert w.df == pytest.approx(8 / 3, rel=1e-12) and w.diff == 0 and w.p() == pytest.approx(1.0)


@pytest.mark.parametrize("confidence", [0.95, 0.90, 0.9755])
def test_welch_p_interval_and_tost_match_statsmodels_and_scipy(confidence):
    for row, base in random_pairs():
        w = stats.welch(row, base)
        sm = CompareMeans(DescrStatsW(row), DescrStatsW(base))
        assert w.interval(confidence) == pytest.approx(sm.tconfint_diff(alpha=1 - confidence, usevar="unequal"), rel=1e-9)
        assert w.p() == pytest.approx(sp.ttest_ind(row, base, equal_var=False).pvalue, rel=1e-9)
        for margin in (0.001, 0.004, 0.02):
            assert w.tost_p(margin) == pytest.approx(ttost_ind(row, base, -margin, margin, usevar="unequal")[0], rel=1e-9)


def test_tost_p_below_level_exactly_when_the_1_minus_2_level_interval_lies_inside_the_margin():
    level = 0.0245
    for row, base in random_pairs():
        w = stats.welch(row, base)
        low, high = w.interval(1 - 2 * level)
        for margin in np.linspace(0.0005, 0.02, 40):
            assert (w.tost_p(margin) < level) == (-margin < low and high < margin)


def test_a_floor_is_the_smallest_spread_a_side_can_have():
    # identical seeds: the spread is the floor, sd 1e-4 each side, n = 3: se = 1e-4 sqrt(2/3), df = 4
    w = stats.welch([0.9954] * 3, [0.9953] * 3, floor=1e-4)
    assert w.se == pytest.approx(1e-4 * math.sqrt(2 / 3), rel=1e-9) and w.df == pytest.approx(4.0)
    assert w.p() == pytest.approx(2 * sp.t.sf(1e-4 / w.se, 4), rel=1e-9) and w.p() > 0.2
    # a floor below the spread changes nothing; sd() and t_interval obey the same floor
    row, base = next(random_pairs())
    assert stats.welch(row, base, floor=1e-6) == stats.welch(row, base)
    assert stats.sd([0.5, 0.5, 0.5], floor=0.01) == 0.01 and stats.sd([1.0, 3.0], floor=0.01) == pytest.approx(math.sqrt(2))
    low, high = stats.t_interval([0.5, 0.5, 0.5], 0.9, floor=0.01)
    assert (low, high) == pytest.approx(np.array(DescrStatsW([0.49, 0.5, 0.51]).tconfint_mean(alpha=0.1)), rel=1e-12)
    # without a floor two constant sides give se 0 (judge never tests them: see test_verdicts)
    assert stats.welch([0.5, 0.5], [0.4, 0.4]).se == 0 and stats.identical([0.4, 0.4]) and not stats.identical([0.4])


@pytest.mark.parametrize("confidence", [0.95, 0.9, 0.99])
def test_t_interval_matches_statsmodels(confidence):
    values = [0.974, 0.970, 0.978, 0.969]
    expected = DescrStatsW(values).tconfint_mean(alpha=1 - confidence)
    assert stats.t_interval(values, confidence) == pytest.approx(expected, rel=1e-12)
    assert stats.ci95(values) == stats.t_interval(values, 0.95)
    assert stats.t_interval([0.5], confidence) == (0.5, 0.5)


def test_holm_matches_statsmodels():
    rng = np.random.default_rng(3)
    for m in (1, 2, 3, 7):
        p = list(rng.uniform(0, 0.2, size=m))
        assert stats.holm(p) == pytest.approx(multipletests(p, method="holm")[1], rel=1e-12)
    assert stats.holm([0.01, None, 0.04]) == pytest.approx([0.02, None, 0.04])  # None: no comparison


# by hand (moved from tests/integration/test_stats.py)


def test_holm_by_hand():
    # m = 3: sorted 0.01, 0.03, 0.04 -> 3 x 0.01, 2 x 0.03, then max(0.06, 1 x 0.04)
    assert stats.holm([0.01, 0.04, 0.03, None]) == pytest.approx([0.03, 0.06, 0.06, None])
    assert stats.holm([0.5, 0.2]) == [0.5, 0.4]  # 2 x 0.2, then max(0.4, 1 x 0.5)
    assert stats.holm([0.7, 0.6]) == [1.0, 1.0]  # 2 x 0.6 capped at 1, and monotone
    assert stats.holm([None, 0.02]) == [None, 0.02]  # one comparison: unchanged
    assert stats.holm([]) == [] and stats.holm([None]) == [None]


def test_difference_interval_matches_scipy_welch():
    a, b = [0.974, 0.970, 0.978, 0.969], [0.990, 0.985, 0.988]
    w = stats.welch(a, b)
    diff, (low, high) = w.diff, w.interval(0.95)
    ci = sp.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
    assert diff == pytest.approx(np.mean(a) - np.mean(b), abs=1e-15)
    assert (low, high) == pytest.approx((ci.low, ci.high), rel=1e-10)
    # by hand: Welch–Satterthwaite degrees of freedom and the t quantile
    va, vb = np.var(a, ddof=1) / 4, np.var(b, ddof=1) / 3
    df = (va + vb) ** 2 / (va ** 2 / 3 + vb ** 2 / 2)
    half = sp.t.ppf(0.975, df) * math.sqrt(va + vb)
    assert (low, high) == pytest.approx((diff - half, diff + half), rel=1e-10)


def test_difference_interval_edge_cases():
    assert stats.welch([0.5], [0.4, 0.6]) is None  # n = 1: no interval
    w = stats.welch([0.5, 0.5], [0.4, 0.4])  # no spread: the interval is the difference itself
    assert (w.diff, *w.interval(0.95)) == pytest.approx((0.1, 0.1, 0.1))
