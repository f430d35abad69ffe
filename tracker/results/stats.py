"""The statistics of a comparison: t intervals, Welch's t-test and the interval of a difference,
Holm's adjustment for several comparisons, the two one-sided tests (TOST) of equivalence, and the
power of a t-test (the smallest detectable difference, the seeds a comparison needs).

Everything is computed from scipy.special (stdtr, stdtrit, nctdtr) with plain bisection, not
with scipy.stats, scipy.optimize or statsmodels: those take about a second to import, and
`tracker compare` must answer in under one. tests/test_stats.py and tests/test_verdicts.py
hold every formula here to scipy.stats and statsmodels (ttest_ind, ttost_ind, tconfint_diff,
multipletests, TTestIndPower) and to hand computations.

    tracker compare --experiment mnist-norms --format json
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

import numpy as np


def mean_std(values) -> tuple[float, float]:
    """Mean and sample std (0 for one value); NaN and infinities stay what they are."""
    v = np.asarray(values, dtype=float)
    with np.errstate(all="ignore"):
        return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0


def t_interval(values, level: float) -> tuple[float, float]:
    """Two-sided t interval of the mean at confidence `level` (the mean itself when n = 1)."""
    m, s = mean_std(values)
    if len(values) < 2:
        return m, m
    from scipy.special import stdtrit  # Student t quantile; scipy.stats costs ~1 s to import

    half = stdtrit(len(values) - 1, 0.5 + level / 2) * s / math.sqrt(len(values))
    return m - half, m + half


def ci95(values) -> tuple[float, float]:
    """Two-sided 95% t interval of the mean (the mean itself when n = 1)."""
    return t_interval(values, 0.95)


def holm(pvalues) -> list[float | None]:
    """Holm's step-down adjustment of a family of p-values (None: not a comparison, kept None):
    the i-th smallest of m is multiplied by m - i + 1, then made monotone, capped at 1."""
    ranked = sorted((p, i) for i, p in enumerate(pvalues) if p is not None and not math.isnan(p))
    out: list[float | None] = [None] * len(pvalues)
    running, m = 0.0, len(ranked)
    for k, (p, i) in enumerate(ranked):
        running = max(running, min(1.0, (m - k) * p))
        out[i] = running
    return out


@dataclass(frozen=True)
class Welch:
    """mean(a) - mean(b) with its standard error and Welch–Satterthwaite degrees of freedom."""

    diff: float
    se: float  # 0 when both sides are constant: then diff alone decides every test below
    df: float  # inf when se is 0 (unused then)

    def p(self) -> float:
        """Two-sided p of Welch's t-test (unequal variances)."""
        if self.se == 0:
            return 1.0 if self.diff == 0 else 0.0
        from scipy.special import stdtr

        return float(2 * stdtr(self.df, -abs(self.diff) / self.se))

    def interval(self, confidence: float = 0.95) -> tuple[float, float]:
        """Two-sided Welch–Satterthwaite t interval of the difference."""
        if self.se == 0:
            return self.diff, self.diff
        from scipy.special import stdtrit

        half = -float(stdtrit(self.df, (1 - confidence) / 2)) * self.se  # lower tail: exact for small levels
        return self.diff - half, self.diff + half

    def tost_p(self, margin: float) -> float:
        """p of the two one-sided tests that -margin < true diff < margin: the larger one-sided p."""
        if self.se == 0:
            return 0.0 if abs(self.diff) < margin else 1.0
        from scipy.special import stdtr

        above_low = stdtr(self.df, -(self.diff + margin) / self.se)  # h0: diff <= -margin
        below_upp = stdtr(self.df, (self.diff - margin) / self.se)  # h0: diff >= +margin
        return float(max(above_low, below_upp))


def mean(values) -> float:
    """The mean of one or more values; equal values give themselves, not the 1e-17 off that
    summing them can leave."""
    v = np.asarray(values, dtype=float)
    return float(v[0]) if v.min() == v.max() else float(v.mean())


def _var(v: np.ndarray) -> float:
    return 0.0 if v.min() == v.max() else float(v.var(ddof=1))


def welch(a, b) -> Welch | None:
    """The Welch comparison of mean(a) - mean(b); None when a side has n < 2."""
    if len(a) < 2 or len(b) < 2:
        return None
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    va, vb = _var(a) / len(a), _var(b) / len(b)
    diff = mean(a) - mean(b)
    if va + vb == 0:
        return Welch(diff, 0.0, math.inf)
    df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
    return Welch(diff, math.sqrt(va + vb), df)


def pooled_sd(a, b) -> float:
    """The pooled standard deviation of two samples (n1 + n2 > 2), the unit of power's effect sizes."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return math.sqrt(((len(a) - 1) * _var(a) + (len(b) - 1) * _var(b)) / (len(a) + len(b) - 2))


# power: the noncentral t of the pooled two-sample t-test, as statsmodels' TTestIndPower computes it


def _nct_cdf(df: float, nc: float, x: float) -> float:
    """The noncentral t CDF. nctdtr answers nan where the CDF is within ~1e-15 of 0 or 1 (far
    tails, e.g. many seeds and a large effect; statsmodels' power then turns nan): read as 0 or 1."""
    from scipy.special import nctdtr

    value = float(nctdtr(df, nc, x))
    return value if not math.isnan(value) else (0.0 if x < nc else 1.0)


def t_power(effect: float, n1: float, n2: float, alpha: float) -> float:
    """Power of the two-sided two-sample t-test at level alpha when the true difference is
    `effect` standard deviations: P(|T| > t crit), T noncentral t with n1 + n2 - 2 df."""
    from scipy.special import stdtrit

    df, nc = n1 + n2 - 2, abs(effect) * math.sqrt(n1 * n2 / (n1 + n2))
    crit = -float(stdtrit(df, alpha / 2))
    return 1 - _nct_cdf(df, nc, crit) + _nct_cdf(df, nc, -crit)


def tost_power(effect: float, margin: float, n: int, alpha: float) -> float:
    """Power of the two one-sided tests at level alpha, n per side, when the true difference is
    `effect` and the margin `margin` standard deviations: 1 - P(lower test fails) - P(upper fails),
    at least 0; a lower bound (both can fail together at few seeds), so seeds err on the safe side."""
    from scipy.special import stdtrit

    df, k = 2 * n - 2, math.sqrt(n / 2)
    crit = -float(stdtrit(df, alpha))
    fail_low = _nct_cdf(df, (effect + margin) * k, crit)
    fail_upp = 1 - _nct_cdf(df, (effect - margin) * k, -crit)
    return max(0.0, 1 - fail_low - fail_upp)


@lru_cache(maxsize=4096)
def detectable_effect(n1: int, n2: int, alpha: float, power: float = 0.8) -> float:
    """The smallest true difference, in standard deviations, that the two-sided t-test at level
    alpha detects with probability `power` at n1 and n2 (bisection; cached: it depends on counts only)."""
    lo, hi = 0.0, 1.0
    while t_power(hi, n1, n2, alpha) < power and hi < 1e9:
        lo, hi = hi, 2 * hi
    for _ in range(100):  # halves the bracket to 1e-12 of the answer, far below its precision
        if hi - lo <= 1e-12 * hi:
            break
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if t_power(mid, n1, n2, alpha) < power else (lo, mid)
    return hi


def _smallest_n(enough: Callable[[int], bool], cap: int) -> int | None:
    # bisection on whole n in [2, cap], power growing with n; None: more than cap
    if not enough(cap):
        return None
    lo, hi = 1, cap
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if enough(mid) else (mid, hi)
    return hi


def seeds_to_detect(effect: float, alpha: float, power: float = 0.8, cap: int = 1000) -> int | None:
    """Seeds per side for the two-sided t-test to detect `effect` standard deviations with
    probability `power`; None when more than cap would be needed (or effect is 0)."""
    return _smallest_n(lambda n: t_power(effect, n, n, alpha) >= power, cap)


def seeds_for_equivalence(effect: float, margin: float, alpha: float, power: float = 0.8,
                          cap: int = 1000) -> int | None:
    """Seeds per side for the two one-sided tests to show a true difference of `effect` inside
    ±margin (both in standard deviations) with probability `power`; None: more than cap."""
    return _smallest_n(lambda n: tost_power(effect, margin, n, alpha) >= power, cap)
