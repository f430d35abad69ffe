"""The power of the tests that decide a verdict: Welch's two-sided t-test ("different") and the
two one-sided Welch tests (TOST, "equivalent"), for true spreads sd1 and sd2 and n1, n2 seeds;
from them the smallest difference a comparison detects and the seeds that would decide it.

Welch's statistic has no closed-form distribution, so the power is computed from its own: given
the two sample variances, the test rejects when the normal difference of the means passes a
cutoff (Welch's t quantile at the estimated df, times the estimated standard error), so the
power is the mean, over the two variances' chi-square distributions, of a normal probability.
The mean is taken over a GRID x GRID product of chi-square quantile midpoints: deterministic,
cached, within about 0.001 of 400,000-study simulations with scipy.stats.ttest_ind (the tests
check this). Plugged-in spreads make these estimates, not promises: a reason says "about N".

    python -c "from tracker.results import power; print(power.seeds_to_detect(0.001, 0.001, 0.001, 0.05))"
"""
from __future__ import annotations

import math
from functools import lru_cache
from typing import Callable

import numpy as np
from scipy.special import gammaincinv, ndtr, stdtrit

GRID = 32  # chi-square quantiles per side: 1,024 points, within 0.001 of 64 or 256 of them


def share_of(v1, v2, n1: int, n2: int):
    """Side 1's share of the variance of the difference, to 0.01 (the cache's key; it moves the
    power by less than 0.001); s and 1 - s are the same at equal seeds. Works on arrays too."""
    share = np.round(v1 / (v1 + v2), 2)
    if n1 == n2:
        share = np.minimum(share, 1 - share)
    return share if np.ndim(share) else float(share)


def _scale(sd1: float, sd2: float, n1: int, n2: int) -> tuple[float, float]:
    """The sd of mean1 - mean2, and side 1's share of its variance."""
    v1, v2 = sd1 * sd1 / n1, sd2 * sd2 / n2
    return math.sqrt(v1 + v2), share_of(v1, v2, n1, n2)


@lru_cache(maxsize=1024)
def _chi2(df: int) -> np.ndarray:
    # midpoint quantiles of chi2(df) / df: a sample variance over the true one
    return 2 * gammaincinv(df / 2, (np.arange(GRID) + 0.5) / GRID) / df


@lru_cache(maxsize=8192)
def cutoffs(n1: int, n2: int, share: float, level: float, sided: int = 2) -> np.ndarray:
    """Over the grid of the two sample variances (side 1 carrying `share` of the true variance
    of the difference): the rejection cutoff of |mean1 - mean2|, in units of its true sd, of
    Welch's test at `level` (two-sided: sided 2; one one-sided test of TOST: sided 1)."""
    u1, u2 = _chi2(n1 - 1)[:, None], _chi2(n2 - 1)[None, :]
    a, b = share * u1, (1 - share) * u2  # each side's part of the estimated variance
    df = (a + b) ** 2 / (a * a / (n1 - 1) + b * b / (n2 - 1))
    out = (-stdtrit(df, level / sided) * np.sqrt(a + b)).ravel()
    out.flags.writeable = False
    return out


def welch_power(diff: float, sd1: float, sd2: float, n1: int, n2: int, level: float) -> float:
    """P(Welch's two-sided test at `level` rejects) when the true mean1 - mean2 is `diff`."""
    scale, share = _scale(sd1, sd2, n1, n2)
    x, k = abs(diff) / scale, cutoffs(n1, n2, share, level)
    return float(np.mean(ndtr(x - k) + ndtr(-x - k)))


def tost_power(diff: float, margin: float, sd1: float, sd2: float, n1: int, n2: int, level: float) -> float:
    """P(both one-sided Welch tests at `level` show -margin < mean1 - mean2 < margin) when the
    true difference is `diff`: exact given the two variances, so no lower bound."""
    scale, share = _scale(sd1, sd2, n1, n2)
    x, m, k = diff / scale, margin / scale, cutoffs(n1, n2, share, level, 1)
    return float(np.mean(np.maximum(0.0, ndtr(m - k - x) - ndtr(-m + k - x))))


def _bisect(low: float, high: float, enough: Callable[[float], bool]) -> float:
    for _ in range(40):  # to 1e-12 of the bracket: far below the grid's precision
        mid = (low + high) / 2
        low, high = (low, mid) if enough(mid) else (mid, high)
    return high


def detectable(sd1: float, sd2: float, n1: int, n2: int, level: float, power: float = 0.8) -> float:
    """The smallest true |mean1 - mean2| that Welch's test at `level` finds with probability
    `power`, in the spreads' units (0 when both spreads are 0)."""
    scale, share = _scale(sd1, sd2, n1, n2) if sd1 or sd2 else (0.0, 0.5)
    if scale == 0:
        return 0.0
    return scale * _detectable_z(n1, n2, share, level, power)


@lru_cache(maxsize=8192)
def _detectable_z(n1: int, n2: int, share: float, level: float, power: float) -> float:
    k = cutoffs(n1, n2, share, level)
    enough = lambda x: float(np.mean(ndtr(x - k) + ndtr(-x - k))) >= power  # noqa: E731
    high = 1.0
    while not enough(high):
        high *= 2
    return _bisect(0.0, high, enough)


def _smallest_n(enough: Callable[[int], bool], cap: int) -> int | None:
    # bisection on whole n in [2, cap], power growing with n; None: more than cap
    if not enough(cap):
        return None
    lo, hi = 1, cap
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if enough(mid) else (mid, hi)
    return hi


def seeds_to_detect(diff: float, sd1: float, sd2: float, level: float, power: float = 0.8,
                    cap: int = 1000) -> int | None:
    """Seeds per condition (both sides) for Welch's test at `level` to find a true difference
    `diff` with probability `power`; None when more than cap would be needed (or diff is 0)."""
    if diff == 0 or not (sd1 or sd2):
        return None if diff == 0 else 2
    return _smallest_n(lambda n: welch_power(diff, sd1, sd2, n, n, level) >= power, cap)


def seeds_for_equivalence(diff: float, margin: float, sd1: float, sd2: float, level: float,
                          power: float = 0.8, cap: int = 1000) -> int | None:
    """Seeds per condition for the TOST at `level` to show a true difference `diff` inside
    ±margin with probability `power`; None: more than cap (always, when |diff| >= margin)."""
    if abs(diff) >= margin:
        return None
    if not (sd1 or sd2):
        return 2
    return _smallest_n(lambda n: tost_power(diff, margin, sd1, sd2, n, n, level) >= power, cap)


def seeds_to_decide(diff: float, sd1: float, sd2: float, margin: float | None, level: float,
                    power: float = 0.8, cap: int = 1000) -> int | None:
    """The seeds per condition that would decide a comparison with probability `power`, were
    the true difference and spreads the ones given: the fewer of those for Welch's test to find
    the difference and (with a margin, and the difference inside it) for the TOST to show it
    equivalent. None: more than cap, or nothing to decide (a difference of 0 and no margin)."""
    found = [seeds_to_detect(diff, sd1, sd2, level, power, cap)]
    if margin:
        found.append(seeds_for_equivalence(diff, margin, sd1, sd2, level, power, cap))
    found = [n for n in found if n is not None]
    return min(found) if found else None


@lru_cache(maxsize=8192)
def _equivalence_z(n1: int, n2: int, share: float, level: float, power: float) -> float:
    # the smallest margin (in sds of the difference) the TOST shows for a true difference of 0
    k = cutoffs(n1, n2, share, level, 1)
    enough = lambda m: float(np.mean(np.maximum(0.0, ndtr(m - k) - ndtr(-m + k)))) >= power  # noqa: E731
    high = 1.0
    while not enough(high):
        high *= 2
    return _bisect(0.0, high, enough)


def thresholds(n: int, share: float, level: float, power: float) -> tuple[float, float]:
    """At n seeds per side: the |difference| Welch's test finds, and the margin the TOST shows
    at a true difference of 0, each with probability `power`, in sds of the difference."""
    return _detectable_z(n, n, share, level, power), _equivalence_z(n, n, share, level, power)


def within_reach(n: int, diff: float, sd1: float, sd2: float, margin: float | None, level: float,
                 power: float = 0.8) -> bool:
    """Could n seeds per condition decide it with probability `power`, at these spreads: Welch's
    test finding `diff`, or (with a margin) the TOST showing a true difference of 0 inside it,
    the most favourable case for equivalence."""
    v1, v2 = sd1 * sd1, sd2 * sd2
    if v1 + v2 == 0:
        return True
    detect, show = thresholds(n, share_of(v1, v2, n, n), level, power)
    scale = math.sqrt((v1 + v2) / n)
    return abs(diff) / scale >= detect or (bool(margin) and margin / scale >= show)


def seeds_at_best(diff: float, sd1: float, sd2: float, margin: float | None, level: float,
                  power: float = 0.8, cap: int = 1000) -> int | None:
    """The seeds per condition within_reach asks about, at `power`: the fewer of those for
    Welch's test to find `diff` and for the TOST to show a true difference of 0 inside ±margin.
    None: more than cap."""
    found = [seeds_to_detect(diff, sd1, sd2, level, power, cap)]
    if margin:
        found.append(seeds_for_equivalence(0.0, margin, sd1, sd2, level, power, cap))
    found = [n for n in found if n is not None]
    return min(found) if found else None
