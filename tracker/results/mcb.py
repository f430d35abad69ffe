"""Which conditions could be the best: Hsu's multiple comparisons with the best (MCB), the answer
to "which is best?" that does not take the best mean of the data as if it had been chosen first.

    tracker compare --experiment mnist-norms

For each condition i, a simultaneous interval of mu_i - the best true mean of the others (for
goal "minimize": the lowest), at confidence 1 - alpha: Hsu's constrained intervals (Hsu 1996,
"Multiple Comparisons", ch. 4; JMP and SAS ship them),
    low_i  = min(0, min_j (m_i - m_j - d_ij se_ij)),  high_i = max(0, min_j (m_i - m_j + d_ij se_ij)).
A condition with high_i > 0 could be the best; one with high_i = 0 is not the best: its true mean
is at most the best of the others' (a tie included). With probability at least 1 - alpha all the
intervals hold at once, so the true best is among "could be the best".

Hsu's d is the one-sided Dunnett quantile for equal spreads and seeds. Here they may differ, so
each pair gets a conservative Welch-type critical value: d_ij is the one-sided t quantile at
alpha / (k - 1) (Bonferroni's split over the k - 1 comparisons with the true best, which Hsu's
proof needs to hold at once) with min(n_i, n_j) - 1 degrees of freedom, the df with which
Welch's statistic is conservative for any ratio of spreads (Mickey and Brown 1966). The
Welch-Satterthwaite df is not: with 3 seeds of a spread 3 times the others', MCB built on it
excludes the true best 5.7% of the time at alpha 0.05 (conservative=False; the tests show it).
The price is width at few seeds (at 3 seeds a side, t with 2 df instead of about 4). A spread
is never taken below the metric's resolution; with none known, conditions whose seeds tie are
left out. tests/unit/results/test_mcb.py checks the intervals by hand and the error rate by simulation.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy.special import stdtrit

from . import stats
from .verdicts import GOALS


@dataclass(frozen=True)
class Best:
    could_be_best: tuple[str, ...]  # in the order of the samples
    not_best: tuple[str, ...]
    intervals: dict[str, tuple[float, float]]  # mean - the best of the others', simultaneous
    confidence: float  # 1 - alpha, of all the intervals at once
    left_out: tuple[str, ...]  # fewer than 2 seeds, a value not finite, or tied seeds and no resolution


def bounds(means, sds, ns, alpha: float, goal: str = "maximize",
           conservative: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Hsu's constrained MCB intervals of mean_i - the best of the other means (arrays whose last
    axis holds the k >= 2 conditions; leading axes are independent sets, e.g. simulated studies).
    conservative=False: Welch-Satterthwaite df instead of min(n_i, n_j) - 1 (not valid: see above)."""
    sign = 1.0 if goal == "maximize" else -1.0
    m = sign * np.asarray(means, dtype=float)
    v = np.asarray(sds, dtype=float) ** 2 / np.asarray(ns, dtype=float)
    dof = np.broadcast_to(np.asarray(ns, dtype=float) - 1, m.shape)
    k = m.shape[-1]
    diff = m[..., :, None] - m[..., None, :]
    total = v[..., :, None] + v[..., None, :]
    if conservative:
        df = np.minimum(dof[..., :, None], dof[..., None, :])
    else:
        df = total ** 2 / (v[..., :, None] ** 2 / dof[..., :, None] + v[..., None, :] ** 2 / dof[..., None, :])
    reach = -stdtrit(df, alpha / (k - 1)) * np.sqrt(total)
    eye = np.eye(k, dtype=bool)
    high = np.maximum(0.0, np.where(eye, np.inf, diff + reach).min(-1))
    low = np.minimum(0.0, np.where(eye, np.inf, diff - reach).min(-1))
    return (low, high) if sign > 0 else (0.0 - high, 0.0 - low)


def best(samples: dict[str, Sequence[float]], alpha: float = 0.05, goal: str = "maximize",
         resolution: float | None = None) -> Best:
    """The conditions that could be the best (the highest true mean, or the lowest for goal
    "minimize") and each one's simultaneous interval to the best of the others."""
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie strictly between 0 and 1, got {alpha}")
    if goal not in GOALS:
        raise ValueError(f"goal must be one of {', '.join(GOALS)}, got {goal!r}")
    data = {name: np.asarray(v, dtype=float) for name, v in samples.items()}
    kept = [name for name, v in data.items() if len(v) >= 2 and np.isfinite(v).all()
            and (resolution is not None or not stats.identical(v))]
    left_out = tuple(name for name in data if name not in kept)
    if len(kept) < 2:
        return Best(tuple(kept), (), {}, 1 - alpha, left_out)
    means = [stats.mean(data[name]) for name in kept]
    sds = [stats.sd(data[name], resolution or 0.0) for name in kept]
    low, high = bounds(means, sds, [len(data[name]) for name in kept], alpha, goal)
    intervals = {name: (float(lo), float(hi)) for name, lo, hi in zip(kept, low, high)}
    # the best could be i when its interval reaches past 0 towards "better than all the others"
    open_side = high if goal == "maximize" else -low
    could = tuple(name for name, x in zip(kept, open_side) if x > 0)
    return Best(could, tuple(name for name in kept if name not in could), intervals, 1 - alpha, left_out)
