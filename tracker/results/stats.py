"""The statistics of a comparison: t intervals, Welch's t-test and the interval of a difference,
Holm's adjustment for several comparisons, and the two one-sided tests (TOST) of equivalence.
A spread is never taken as smaller than the metric can resolve (`floor`: for an accuracy, one
example of the evaluated set), so seeds that tie never make a difference look certain.

Everything is computed from scipy.special (stdtr, stdtrit), not with scipy.stats or statsmodels:
those take about a second to import, and `tracker compare` must answer in under one.
tests/unit/results/test_stats.py holds every formula here to scipy.stats and statsmodels
(ttest_ind, ttost_ind, tconfint_diff, multipletests) and to hand computations. The power of the
test that decides is in power.py.

    tracker compare --experiment mnist-norms --format json
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


def mean_std(values) -> tuple[float, float]:
    """Mean and sample std (0 for one value); NaN and infinities stay what they are."""
    v = np.asarray(values, dtype=float)
    with np.errstate(all="ignore"):
        return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0


def mean(values) -> float:
    """The mean of one or more values; equal values give themselves, not the 1e-17 off that
    summing them can leave."""
    v = np.asarray(values, dtype=float)
    return float(v[0]) if v.min() == v.max() else float(v.mean())


def identical(values) -> bool:
    """Two or more values, all the same: seeds that changed nothing the metric can see."""
    v = np.asarray(values, dtype=float)
    return len(v) >= 2 and bool(v.min() == v.max())


def sd(values, floor: float = 0.0) -> float:
    """The sample standard deviation (n >= 2), never below `floor` (the metric's resolution)."""
    v = np.asarray(values, dtype=float)
    return max(float(floor), 0.0 if v.min() == v.max() else float(v.std(ddof=1)))


def t_interval(values, confidence: float = 0.95, floor: float = 0.0) -> tuple[float, float]:
    """Two-sided t interval of the mean at `confidence` (the mean itself when n = 1), its
    spread at least `floor`."""
    m = mean_std(values)[0]
    if len(values) < 2:
        return m, m
    from scipy.special import stdtrit  # Student t quantile; scipy.stats costs ~1 s to import

    s = max(mean_std(values)[1], floor)
    half = -float(stdtrit(len(values) - 1, (1 - confidence) / 2)) * s / math.sqrt(len(values))
    return m - half, m + half


def ci95(values) -> tuple[float, float]:
    """Two-sided 95% t interval of the mean (t_interval at 0.95; kept for its callers)."""
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
    se: float  # 0 only when both sides are constant and no floor was given
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
        """p of the two one-sided tests that -margin < true diff < margin: the larger one-sided p.
        It is below `level` exactly when the 1 - 2 level interval lies inside ±margin."""
        if self.se == 0:
            return 0.0 if abs(self.diff) < margin else 1.0
        from scipy.special import stdtr

        above_low = stdtr(self.df, -(self.diff + margin) / self.se)  # h0: diff <= -margin
        below_upp = stdtr(self.df, (self.diff - margin) / self.se)  # h0: diff >= +margin
        return float(max(above_low, below_upp))


def _var(v: np.ndarray, floor: float) -> float:
    return max(floor * floor, 0.0 if v.min() == v.max() else float(v.var(ddof=1)))


def welch(a, b, floor: float = 0.0) -> Welch | None:
    """The Welch comparison of mean(a) - mean(b), each side's spread at least `floor`; None when
    a side has n < 2."""
    if len(a) < 2 or len(b) < 2:
        return None
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    va, vb = _var(a, floor) / len(a), _var(b, floor) / len(b)
    diff = mean(a) - mean(b)
    if va + vb == 0:
        return Welch(diff, 0.0, math.inf)
    df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
    return Welch(diff, math.sqrt(va + vb), df)
