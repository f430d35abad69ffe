"""Verdicts: every condition against a baseline, as better, worse, equivalent within a margin, or
undecided; with the smallest difference each comparison could detect and, when undecided, the
seeds per condition that would decide it.

    tracker compare --sweep PARENT_RUN_ID --margin 0.1

Welch's t-test decides "different" and the two one-sided Welch tests (TOST) decide "equivalent"
within ±margin; Holm's step-down adjusts each family of p-values across the comparisons. Power
is the noncentral t of the pooled two-sample t-test, at the most stringent Holm step (level / m)
so that it is conservative; seeds_needed follows Colas et al. (2018), "How many random seeds?".
Values, diffs and margins are in the metric's own units (fractions for accuracy); only the
reasons use the display unit (value * scale, "pp").

The numbers come from scipy.special (tracker/results/stats.py), not from scipy.stats or
statsmodels, whose imports alone would take most of the second `tracker compare` may use;
tests/test_verdicts.py holds each of them to statsmodels and scipy.stats.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from . import stats

VERDICTS = ("baseline", "better", "worse", "equivalent", "undecided")
SEEDS_CAP = 1000  # seeds_needed stops there: "more than 1000"


@dataclass(frozen=True)
class Judgement:
    verdict: str  # one of VERDICTS
    reason: str  # one plain sentence, numbers in the display unit
    diff: float  # mean(row) - mean(baseline) in the metric's units; nan when a side has no seeds
    ci_low: float | None  # two-sided (1 - alpha) Welch interval of diff; None when a side has n < 2
    ci_high: float | None
    p: float | None  # Welch two-sided p (unadjusted)
    p_adjusted: float | None  # Holm across the family of comparisons
    p_equivalence: float | None  # TOST p; None without a margin
    p_equivalence_adjusted: float | None  # Holm across the family
    detectable_diff: float | None  # smallest |true diff| detected with probability `power`
    seeds_needed: int | None  # undecided rows only: seeds per condition that would decide it


@dataclass(frozen=True)
class _Setting:
    """What every comparison of one call shares, and how its reasons print numbers."""

    alpha: float
    level: float
    power: float
    margin: float | None
    family: int  # m: comparisons with n >= 2 on both sides
    scale: float
    unit: str

    def amount(self, x: float, sign: bool = True) -> str:
        text = f"{x * self.scale:{'+' if sign else ''}.2f}"
        return f"{text} {self.unit}" if self.unit else text

    def within(self) -> str:
        return f"±{self.amount(self.margin, sign=False)}"

    def threshold(self) -> str:
        # the decisions use `level`; say so when it is not the plain alpha
        return f"{self.alpha:g}" if self.level == self.alpha else f"per-look level {self.level:.3g}"

    def ci(self, low: float, high: float) -> str:
        return f"{100 * (1 - self.alpha):g}% CI {low * self.scale:+.2f} to {high * self.scale:+.2f}"


def judge(samples: dict[str, Sequence[float]], baseline: str, margin: float | None = None,
          alpha: float = 0.05, level: float | None = None, power: float = 0.8,
          scale: float = 100.0, unit: str = "pp") -> dict[str, Judgement]:
    """Judge every condition of `samples` (condition -> the metric of each seed) against
    `baseline`, deciding at `level` (default alpha: a single look); keyed like samples."""
    level = alpha if level is None else level
    _check(samples, baseline, margin, alpha, level, power)
    data = {name: np.asarray(values, dtype=float) for name, values in samples.items()}
    base = data[baseline]
    tests = {name: stats.welch(row, base) for name, row in data.items()
             if name != baseline and _testable(row) and _testable(base)}
    names = list(tests)
    p = {name: tests[name].p() for name in names}
    p_adjusted = dict(zip(names, stats.holm([p[name] for name in names])))
    p_eq = {name: tests[name].tost_p(margin) for name in names} if margin else {}
    p_eq_adjusted = dict(zip(names, stats.holm([p_eq[name] for name in names]))) if margin else {}
    setting = _Setting(alpha, level, power, margin, len(names), scale, unit)
    out: dict[str, Judgement] = {}
    for name, row in data.items():
        if name == baseline:
            out[name] = Judgement("baseline", f"baseline: every other condition is compared with {name}",
                                  0.0, None, None, None, None, None, None, None, None)
        elif name in tests:
            out[name] = _tested(tests[name], row, base, p[name], p_adjusted[name], p_eq.get(name),
                                p_eq_adjusted.get(name), setting)
        else:
            out[name] = _untested({name: row, baseline: base}, setting)
    return out


def _check(samples, baseline, margin, alpha, level, power) -> None:
    if baseline not in samples:
        raise ValueError(f"baseline {baseline!r} is not one of the conditions {sorted(samples)}")
    if margin is not None and not margin > 0:
        raise ValueError(f"margin must be > 0 (or None for no equivalence test), got {margin}")
    for key, value in (("alpha", alpha), ("level", level), ("power", power)):
        if not 0 < value < 1:
            raise ValueError(f"{key} must lie strictly between 0 and 1, got {value}")


def _testable(values: np.ndarray) -> bool:
    return len(values) >= 2 and bool(np.isfinite(values).all())


def _tested(w: stats.Welch, row: np.ndarray, base: np.ndarray, p: float, p_adjusted: float,
            p_eq: float | None, p_eq_adjusted: float | None, s: _Setting) -> Judgement:
    low, high = w.interval(1 - s.alpha)
    step = s.level / s.family  # holm's first, most stringent step: conservative power
    sd = stats.pooled_sd(row, base)
    detectable = stats.detectable_effect(len(row), len(base), step, s.power) * sd
    different = p_adjusted < s.level
    equivalent = p_eq_adjusted is not None and p_eq_adjusted < s.level
    holm = f"Holm p {p_adjusted:.3g}"
    if equivalent:
        verdict = "equivalent"
        reason = (f"equivalent: {s.amount(w.diff)}, TOST Holm p {p_eq_adjusted:.3g} < {s.threshold()}: "
                  f"within {s.within()}")
        if different:  # a real difference, smaller than the margin
            reason += f"; a difference was detected ({holm} < {s.threshold()}) but lies inside {s.within()}"
        seeds = None
    elif different:
        verdict = "better" if w.diff > 0 else "worse"
        reason = f"{verdict}: {s.amount(w.diff)} ({s.ci(low, high)}), {holm} < {s.threshold()}"
        seeds = None
    else:
        verdict = "undecided"
        seeds, more = _seeds(w.diff, sd, step, s)
        zero = (f"includes 0 ({holm} ≥ {s.threshold()})" if low <= 0 <= high
                else f"excludes 0 but {holm} ≥ {s.threshold()}")
        inside = (f" and is not shown inside {s.within()} (TOST Holm p {p_eq_adjusted:.3g} ≥ {s.threshold()})"
                  if s.margin else ", and no margin was given to test equivalence")
        reason = f"undecided: {s.amount(w.diff)} ({s.ci(low, high)}) {zero}{inside}; {more}"
    return Judgement(verdict, reason, w.diff, low, high, p, p_adjusted, p_eq, p_eq_adjusted,
                     detectable, seeds)


def _seeds(diff: float, sd: float, alpha: float, s: _Setting) -> tuple[int | None, str]:
    """Seeds per condition that would decide an undecided comparison, and how the reason says it."""
    if s.margin and abs(diff) < s.margin and sd > 0:
        # inside the margin: enough seeds for the TOST to show it (Colas et al. 2018)
        n = stats.seeds_for_equivalence(diff / sd, s.margin / sd, alpha, s.power, SEEDS_CAP)
    elif diff != 0 and sd > 0:
        n = stats.seeds_to_detect(abs(diff) / sd, alpha, s.power, SEEDS_CAP)
    else:
        return None, "a difference of exactly 0 leaves nothing to detect: declare a margin to test equivalence"
    chance = f"{100 * s.power:g}% power"
    if n is None:
        return SEEDS_CAP, f"more than {SEEDS_CAP} seeds per condition would be needed to decide it ({chance})"
    return n, f"{n} seeds per condition would decide it ({chance})"


def _untested(sides: dict[str, np.ndarray], s: _Setting) -> Judgement:
    """No test: a side has fewer than 2 seeds (no spread) or a value that is not finite."""
    row, base = sides.values()
    diff = stats.mean(row) - stats.mean(base) if len(row) and len(base) else math.nan
    empty = [name for name, v in sides.items() if len(v) == 0]
    single = [name for name, v in sides.items() if len(v) == 1]
    if empty:
        why = f"{' and '.join(empty)} {'has' if len(empty) == 1 else 'have'} no seeds yet, no test"
    elif single:
        why = f"{' and '.join(single)} {'has' if len(single) == 1 else 'have'} 1 seed: no spread at n = 1, no test"
    else:
        why = " and ".join(f"{name} has a value that is not finite" for name, v in sides.items()
                           if not np.isfinite(v).all()) + ": no test"
    shown = f"{s.amount(diff)}, but " if math.isfinite(diff) else ""
    return Judgement("undecided", f"undecided: {shown}{why}", diff, None, None, None, None, None, None,
                     None, None)
