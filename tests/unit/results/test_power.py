"""The power of the tests that decide (Welch, and TOST made of one-sided Welch tests) against
100,000-study simulations through scipy.stats.ttest_ind, and against statsmodels' power where
Welch and the pooled test agree (many seeds, equal spreads); the seeds estimates built on it."""
import math

import numpy as np
import pytest
from scipy import stats as sp
from statsmodels.stats.power import TTestIndPower

from tracker.results import power

STUDIES = 100_000
TOLERANCE = 4 * math.sqrt(0.25 / STUDIES)  # four standard errors at worst (a rate of 0.5)


def draw(diff, sd1, sd2, n1, n2, seed):
    rng = np.random.default_rng(seed)
    return diff + sd1 * rng.standard_normal((STUDIES, n1)), sd2 * rng.standard_normal((STUDIES, n2))


def simulated_welch(diff, sd1, sd2, n1, n2, level, seed=1):
    a, b = draw(diff, sd1, sd2, n1, n2, seed)
    return float(np.mean(sp.ttest_ind(a, b, axis=1, equal_var=False).pvalue < level))


def simulated_tost(diff, margin, sd1, sd2, n1, n2, level, seed=2):
    a, b = draw(diff, sd1, sd2, n1, n2, seed)
    above = sp.ttest_ind(a + margin, b, axis=1, equal_var=False, alternative="greater").pvalue
    below = sp.ttest_ind(a - margin, b, axis=1, equal_var=False, alternative="less").pvalue
    return float(np.mean(np.maximum(above, below) < level))


WELCH = [(2.5, 1, 1, 3, 3, 0.05), (4.0, 1, 3, 3, 3, 0.0245), (2.0, 2, 1, 5, 3, 0.01), (1.2, 1, 1.6, 10, 10, 0.1),
         (5.0, 1, 1, 2, 2, 0.05), (0.0, 3, 1, 3, 3, 0.0180)]


@pytest.mark.parametrize("diff, sd1, sd2, n1, n2, level", WELCH)
def test_welch_power_matches_a_simulation(diff, sd1, sd2, n1, n2, level):
    ours = power.welch_power(diff, sd1, sd2, n1, n2, level)
    assert ours == pytest.approx(simulated_welch(diff, sd1, sd2, n1, n2, level), abs=TOLERANCE)
    assert power.welch_power(-diff, sd1, sd2, n1, n2, level) == ours


@pytest.mark.parametrize("diff, margin, sd1, sd2, n1, n2, level", [
    (0.0, 2.0, 1, 1, 5, 5, 0.05), (0.5, 2.0, 1, 2, 5, 5, 0.0245), (-1.0, 1.5, 1, 1, 10, 10, 0.1),
    (0.0, 1.0, 1, 3, 10, 4, 0.05), (2.0, 2.0, 1, 1, 10, 10, 0.05)])
def test_tost_power_matches_a_simulation(diff, margin, sd1, sd2, n1, n2, level):
    ours = power.tost_power(diff, margin, sd1, sd2, n1, n2, level)
    assert ours == pytest.approx(simulated_tost(diff, margin, sd1, sd2, n1, n2, level), abs=TOLERANCE)


def test_the_detectable_difference_is_found_with_the_power_it_claims_at_three_seeds():
    # the pooled t-test's "80%-detectable" difference (statsmodels) is found by Welch's test,
    # the one that decides, far less often; ours is found 80% of the time
    pooled = TTestIndPower().solve_power(effect_size=None, nobs1=3, alpha=0.05, power=0.8)
    assert simulated_welch(pooled, 1, 1, 3, 3, 0.05) < 0.7
    ours = power.detectable(1, 1, 3, 3, 0.05, 0.8)
    assert ours > pooled and simulated_welch(ours, 1, 1, 3, 3, 0.05, seed=3) == pytest.approx(0.8, abs=TOLERANCE)
    assert power.detectable(0.002, 0.001, 4, 6, 0.01, 0.9) == pytest.approx(
        0.001 * power.detectable(2, 1, 4, 6, 0.01, 0.9), rel=1e-9)  # in the spreads' units


@pytest.mark.parametrize("effect, alpha", [(0.3, 0.05), (0.5, 0.0245), (0.9, 0.01)])
def test_with_many_seeds_and_equal_spreads_welch_power_is_the_pooled_tests(effect, alpha):
    n = math.ceil(TTestIndPower().solve_power(effect_size=effect, nobs1=None, alpha=alpha, power=0.8))
    assert n > 25
    ours = power.seeds_to_detect(effect, 1.0, 1.0, alpha, 0.8)
    assert ours in (n, n + 1)  # welch's df is a little smaller than 2n - 2
    assert power.welch_power(effect, 1, 1, ours, ours, alpha) >= 0.8 > power.welch_power(effect, 1, 1, ours - 1, ours - 1, alpha)


def test_seeds_estimates_and_what_they_cannot_say():
    assert power.seeds_to_detect(0.0, 1, 1, 0.05) is None and power.seeds_to_detect(0.01, 1, 1, 0.05) is None
    n = power.seeds_for_equivalence(0.0, 0.0005, 0.0015, 0.0015, 0.0245)
    assert 170 <= n <= 210  # the "0.05 pp margin, 0.15 pp spread: about 190 seeds"
    at = lambda k: power.tost_power(0, 0.0005, 0.0015, 0.0015, k, k, 0.0245)  # noqa: E731
    assert at(n) >= 0.8 > at(n - 1)
    assert power.seeds_for_equivalence(0.6, 0.5, 1, 1, 0.05) is None  # outside the margin
    # the fewer of the two ways to decide
    detect, show = power.seeds_to_detect(0.5, 1, 1, 0.05), power.seeds_for_equivalence(0.5, 2.0, 1, 1, 0.05)
    assert power.seeds_to_decide(0.5, 1, 1, 2.0, 0.05) == min(detect, show) == show
    assert power.seeds_to_decide(0.5, 1, 1, None, 0.05) == detect
    assert power.seeds_to_decide(0.0, 1, 1, None, 0.05) is None


@pytest.mark.parametrize("diff, margin", [(0.3, None), (1.5, None), (0.3, 1.0), (0.3, 2.5), (0.0, 0.4)])
def test_within_reach_is_the_seeds_estimate_at_the_futility_power(diff, margin):
    for n in (5, 10, 20):
        needed = power.seeds_at_best(diff, 1.0, 1.4, margin, 0.02, 0.1)
        assert power.within_reach(n, diff, 1.0, 1.4, margin, 0.02, 0.1) == (needed is not None and needed <= n)
