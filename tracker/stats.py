"""The statistics of a comparison: t intervals, Welch's t-test and the interval of a difference,
Holm's adjustment for several comparisons; from scipy's Student t.

    tracker compare --experiment mnist-norms --format json
"""
from __future__ import annotations

import math

import numpy as np


def mean_std(values) -> tuple[float, float]:
    """Mean and sample std (0 for one value); NaN and infinities stay what they are."""
    v = np.asarray(values, dtype=float)
    with np.errstate(all="ignore"):
        return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0


def ci95(values) -> tuple[float, float]:
    """Two-sided 95% t interval of the mean (the mean itself when n = 1)."""
    m, s = mean_std(values)
    if len(values) < 2:
        return m, m
    from scipy.special import stdtrit  # Student t quantile; scipy.stats costs ~1 s to import

    half = stdtrit(len(values) - 1, 0.975) * s / math.sqrt(len(values))
    return m - half, m + half


def welch_p(a, b) -> float | None:
    """Two-sided p-value of Welch's t-test (unequal variances); None when a side has n < 2."""
    if len(a) < 2 or len(b) < 2:
        return None
    from scipy.special import stdtr  # Student t CDF

    (ma, sa), (mb, sb) = mean_std(a), mean_std(b)
    va, vb = sa ** 2 / len(a), sb ** 2 / len(b)
    with np.errstate(all="ignore"):
        if va + vb == 0:
            return 1.0 if ma == mb else 0.0
        t = (ma - mb) / math.sqrt(va + vb)
        df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
        return float(2 * stdtr(df, -abs(t)))


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


def diff_ci95(a, b) -> tuple[float, float | None, float | None]:
    """mean(a) - mean(b) and its two-sided 95% Welch–Satterthwaite t interval (None, None when
    a side has n < 2)."""
    (ma, sa), (mb, sb) = mean_std(a), mean_std(b)
    diff = ma - mb
    if len(a) < 2 or len(b) < 2:
        return diff, None, None
    from scipy.special import stdtrit

    va, vb = sa ** 2 / len(a), sb ** 2 / len(b)
    if va + vb == 0:
        return diff, diff, diff
    df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
    half = float(stdtrit(df, 0.975)) * math.sqrt(va + vb)
    return diff, diff - half, diff + half
