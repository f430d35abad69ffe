"""Verdicts: every condition against a baseline, as better, worse, equivalent within a margin, or
undecided; with the interval each verdict was decided on, the smallest difference each
comparison could detect and, when undecided, about how many seeds per condition would decide it.

    tracker compare --sweep PARENT_RUN_ID --margin 0.1

Welch's t-test decides "different" and the two one-sided Welch tests (TOST) decide "equivalent"
within ±margin; Holm's step-down adjusts each family of p-values across the comparisons. A
"better" or "worse" is shown with the 1 - level interval of the difference (it excludes 0), an
"equivalent" with the 1 - 2 level one (it lies inside ±margin): the intervals the tests decide
on. A spread is never taken as smaller than the metric's resolution (one example of the
evaluated set for an accuracy), and identical seeds are named as such, never read as p = 0.
Power (power.py) is that of the Welch tests, at the most stringent Holm step (level / m).
Values, diffs and margins are in the metric's own units (fractions for accuracy); only the
reasons use the display unit (value * scale, "pp"). goal "minimize" makes a lower value better.

The numbers come from scipy.special, not from scipy.stats or statsmodels, whose imports alone
would take most of the second `tracker compare` may use; tests/unit/results/test_verdicts.py
holds each of them to statsmodels and scipy.stats.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Sequence

import numpy as np

from . import power as powers
from . import stats

VERDICTS = ("baseline", "better", "worse", "equivalent", "undecided")
GOALS = ("maximize", "minimize")
SEEDS_CAP = 1000  # seeds_needed stops there: "more than 1000"
FUTILITY = 0.1  # a plan stops a comparison its last look would decide less often than this


@dataclass(frozen=True)
class Judgement:
    verdict: str  # one of VERDICTS
    reason: str  # one plain sentence, numbers in the display unit
    diff: float  # mean(row) - mean(baseline) in the metric's units; nan when a side has no seeds
    ci_low: float | None  # two-sided (1 - alpha) Welch interval of diff; None when untested
    ci_high: float | None
    p: float | None  # Welch two-sided p (unadjusted)
    p_adjusted: float | None  # Holm across the family of comparisons
    p_equivalence: float | None  # TOST p; None without a margin
    p_equivalence_adjusted: float | None  # Holm across the family
    detectable_diff: float | None  # smallest |true diff| Welch's test finds with probability `power`
    seeds_needed: int | None  # undecided rows only: about this many seeds per condition would decide it
    decision_ci_low: float | None = None  # the interval the verdict was decided on ...
    decision_ci_high: float | None = None
    decision_ci_level: float | None = None  # ... and its confidence: 1 - level, or 1 - 2 level (equivalent)
    futile: bool = False  # undecided, and stopped: the plan's last look could not decide it

    def to_json(self) -> dict:
        """A plain dict for JSON (NaN as None)."""
        return {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in asdict(self).items()}

    @classmethod
    def from_json(cls, data: dict) -> "Judgement":
        known = {f.name for f in fields(cls)}
        out = {k: v for k, v in data.items() if k in known}
        return cls(**{**out, "diff": math.nan if out.get("diff") is None else out["diff"]})


def percent(confidence: float) -> str:
    """A confidence as the reasons print it: 0.95 -> '95%', 0.9755 -> '97.55%'."""
    return f"{100 * confidence:.4g}%"


@dataclass(frozen=True)
class _Setting:
    """What every comparison of one call shares, and how its reasons print numbers."""

    alpha: float
    level: float
    power: float
    margin: float | None
    family: int  # m: the comparisons of the Holm family
    scale: float
    unit: str
    goal: str
    resolution: float | None
    plan: int | None
    futility: float

    def amount(self, x: float, sign: bool = True) -> str:
        """A value in the display unit: +0.12 pp for an accuracy, +0.01234 in a metric's own units."""
        if not self.unit:
            return f"{x * self.scale:{'+' if sign else ''}.4g}"
        return f"{x * self.scale:{'+' if sign else ''}.2f} {self.unit}"

    def within(self) -> str:
        return f"±{self.amount(self.margin, sign=False)}"

    def threshold(self) -> str:
        # the decisions use `level`; say so when it is not the plain alpha
        return f"{self.alpha:g}" if self.level == self.alpha else f"per-look level {self.level:.3g}"

    def ci(self, low: float, high: float, confidence: float) -> str:
        bare = (lambda x: self.amount(x).removesuffix(f" {self.unit}")) if self.unit else self.amount
        return f"{percent(confidence)} CI {bare(low)} to {bare(high)}"

    def identical(self, sides: dict[str, np.ndarray]) -> str:
        """'; the 3 seeds of b gave identical results: ...' for the sides whose seeds tie."""
        tied = [f"the {len(v)} seeds of {name}" for name, v in sides.items()
                if stats.identical(v) and np.isfinite(v).all()]
        if not tied:
            return ""
        each = "each " if len(tied) > 1 else ""
        out = f"; {' and '.join(tied)} {each}gave identical results: does the seed change anything?"
        if self.resolution:
            its = "their spreads are" if len(tied) > 1 else "its spread is"
            out += f" ({its} taken as the metric's resolution, {self.amount(self.resolution, False)})"
        return out


def judge(samples: dict[str, Sequence[float]], baseline: str, margin: float | None = None,
          alpha: float = 0.05, level: float | None = None, power: float = 0.8,
          scale: float = 100.0, unit: str = "pp", *, goal: str = "maximize",
          resolution: float | None = None, carried: dict[str, Judgement] | None = None,
          plan: int | None = None, futility: float = FUTILITY) -> dict[str, Judgement]:
    """Judge every condition of `samples` (condition -> the metric of each seed) against
    `baseline`, deciding at `level` (default alpha: a single look); keyed like samples.
    resolution: the smallest step the metric can take (1 / the evaluated examples for an
    accuracy; None: unknown), the floor of every spread. carried: judgements decided earlier
    (an adaptive plan's), returned as they are, their p-values kept in the Holm families.
    plan: the seeds per condition an adaptive plan ends at; an undecided comparison short of it
    that those seeds would decide less often than `futility` even at its most favourable
    (power.within_reach, at the observed spreads) is stopped: Judgement.futile."""
    level = alpha if level is None else level
    _check(samples, baseline, margin, alpha, level, power, goal, resolution)
    data = {name: np.asarray(values, dtype=float) for name, values in samples.items()}
    base, floor = data[baseline], resolution or 0.0
    carried = {k: j for k, j in (carried or {}).items() if k in data and k != baseline}
    tests = {name: stats.welch(row, base, floor) for name, row in data.items()
             if name != baseline and name not in carried and _testable(row, base, resolution)}
    family = [*tests, *(k for k, j in carried.items() if j.p is not None)]
    p = {**{k: carried[k].p for k in carried}, **{k: w.p() for k, w in tests.items()}}
    p_adjusted = dict(zip(family, stats.holm([p[k] for k in family])))
    p_eq, p_eq_adjusted = {}, {}
    if margin:
        p_eq = {**{k: carried[k].p_equivalence for k in carried}, **{k: w.tost_p(margin) for k, w in tests.items()}}
        eq_family = [k for k in family if p_eq.get(k) is not None]
        p_eq_adjusted = dict(zip(eq_family, stats.holm([p_eq[k] for k in eq_family])))
    s = _Setting(alpha, level, power, margin, max(1, len(family)), scale, unit, goal, resolution, plan, futility)
    out: dict[str, Judgement] = {}
    for name, row in data.items():
        if name == baseline:
            out[name] = Judgement("baseline", f"baseline: every other condition is compared with {name}"
                                  + s.identical({name: row}), 0.0, *(None,) * 8)
        elif name in carried:
            out[name] = carried[name]
        elif name in tests:
            out[name] = _tested(tests[name], {name: row, baseline: base}, p[name], p_adjusted[name],
                                p_eq.get(name), p_eq_adjusted.get(name), s)
        else:
            out[name] = _untested({name: row, baseline: base}, s)
    return out


def _check(samples, baseline, margin, alpha, level, power, goal, resolution) -> None:
    if baseline not in samples:
        raise ValueError(f"baseline {baseline!r} is not one of the conditions {sorted(samples)}")
    if margin is not None and not margin > 0:
        raise ValueError(f"margin must be > 0 (or None for no equivalence test), got {margin}")
    for key, value in (("alpha", alpha), ("level", level), ("power", power)):
        if not 0 < value < 1:
            raise ValueError(f"{key} must lie strictly between 0 and 1, got {value}")
    if goal not in GOALS:
        raise ValueError(f"goal must be one of {', '.join(GOALS)}, got {goal!r}")
    if resolution is not None and not (math.isfinite(resolution) and resolution > 0):
        raise ValueError(f"resolution must be > 0 (or None when unknown), got {resolution}")


def _testable(row: np.ndarray, base: np.ndarray, resolution: float | None) -> bool:
    finite = all(len(v) >= 2 and np.isfinite(v).all() for v in (row, base))
    # two sides of identical seeds and no resolution: no spread at all to test with
    return finite and (resolution is not None or not (stats.identical(row) and stats.identical(base)))


def _direction(diff: float, goal: str) -> str:
    return "better" if (diff > 0) == (goal == "maximize") else "worse"


def _tested(w: stats.Welch, sides: dict[str, np.ndarray], p: float, p_adjusted: float,
            p_eq: float | None, p_eq_adjusted: float | None, s: _Setting) -> Judgement:
    row, base = sides.values()
    low, high = w.interval(1 - s.alpha)
    step = s.level / s.family  # holm's first, most stringent step: conservative power
    sd_row, sd_base = (stats.sd(v, s.resolution or 0.0) for v in (row, base))
    detectable = powers.detectable(sd_row, sd_base, len(row), len(base), step, s.power)
    different = p_adjusted < s.level
    equivalent = p_eq_adjusted is not None and p_eq_adjusted < s.level
    holm, seeds, futile = f"Holm p {p_adjusted:.3g}", None, False
    confidence = 1 - 2 * s.level if equivalent else 1 - s.level
    d_low, d_high = w.interval(confidence)
    shown = s.ci(d_low, d_high, confidence)
    if equivalent:
        verdict = "equivalent"
        reason = (f"equivalent: {s.amount(w.diff)} ({shown}, inside {s.within()}), "
                  f"TOST Holm p {p_eq_adjusted:.3g} < {s.threshold()}")
        if different:  # a real difference, smaller than the margin
            reason += f"; a difference was detected ({holm} < {s.threshold()}) but lies inside {s.within()}"
    elif different:
        verdict = _direction(w.diff, s.goal)
        reason = f"{verdict}: {s.amount(w.diff)} ({shown}), {holm} < {s.threshold()}"
    else:
        verdict = "undecided"
        short = s.plan is not None and min(len(row), len(base)) < s.plan
        futile = short and not powers.within_reach(s.plan, w.diff, sd_row, sd_base, s.margin, step, s.futility)
        seeds, more = (_hopeless if futile else _seeds)(w.diff, sd_row, sd_base, step, s)
        zero = (f"includes 0 ({holm} ≥ {s.threshold()})" if d_low <= 0 <= d_high
                else f"excludes 0 but {holm} ≥ {s.threshold()}")
        inside = (f" and is not shown inside {s.within()} (TOST Holm p {p_eq_adjusted:.3g} ≥ {s.threshold()})"
                  if s.margin else ", and no margin was given to test equivalence")
        body = f"{s.amount(w.diff)} ({shown}) {zero}{inside}"
        reason = f"undecided: {more}; {body}" if futile else f"undecided: {body}; {more}"
    return Judgement(verdict, reason + s.identical(sides), w.diff, low, high, p, p_adjusted, p_eq,
                     p_eq_adjusted, detectable, seeds, d_low, d_high, confidence, futile)


def _seeds(diff: float, sd_row: float, sd_base: float, level: float, s: _Setting) -> tuple[int | None, str]:
    """About how many seeds per condition would decide an undecided comparison, and how the
    reason says it: an estimate, the observed difference and spreads taken as the true ones."""
    if diff == 0 and not s.margin:
        return None, "a difference of exactly 0 leaves nothing to detect: declare a margin to test equivalence"
    n = powers.seeds_to_decide(diff, sd_row, sd_base, s.margin, level, s.power, SEEDS_CAP)
    estimate = f"an estimate from the observed difference and spreads, {percent(s.power)} power"
    if n is None:
        return SEEDS_CAP, f"more than {SEEDS_CAP} seeds per condition would be needed to decide it ({estimate})"
    return n, f"about {n} seeds per condition would decide it ({estimate})"


def _hopeless(diff: float, sd_row: float, sd_base: float, level: float, s: _Setting) -> tuple[int, str]:
    """The seeds a comparison stopped for futility would need, and how its reason says it."""
    n = powers.seeds_at_best(diff, sd_row, sd_base, s.margin, level, s.power, SEEDS_CAP)
    shown = f"about {n}" if n is not None else f"more than {SEEDS_CAP}"
    best = "the observed difference" + (", or none at all for equivalence" if s.margin else "")
    return n or SEEDS_CAP, (f"would need {shown} seeds per condition, more than the plan's {s.plan}: stopped "
                            f"(an estimate at the observed spreads, {percent(s.power)} power, at {best}; "
                            f"the plan's {s.plan} seeds would decide it less than {percent(s.futility)} of the time)")


def _untested(sides: dict[str, np.ndarray], s: _Setting) -> Judgement:
    """No test: a side has fewer than 2 seeds (no spread), a value that is not finite, or both
    sides' seeds tie and the metric's resolution is unknown."""
    row, base = sides.values()
    diff = stats.mean(row) - stats.mean(base) if len(row) and len(base) else math.nan
    empty = [name for name, v in sides.items() if len(v) == 0]
    single = [name for name, v in sides.items() if len(v) == 1]
    broken = [name for name, v in sides.items() if not np.isfinite(v).all()]
    if empty:
        why = f"{' and '.join(empty)} {'has' if len(empty) == 1 else 'have'} no seeds yet, no test"
    elif single:
        why = f"{' and '.join(single)} {'has' if len(single) == 1 else 'have'} 1 seed: no spread at n = 1, no test"
    elif broken:
        why = " and ".join(f"{name} has a value that is not finite" for name in broken) + ": no test"
    else:
        why = (s.identical(sides)[2:] + " With no resolution known for the metric there is no "
               "spread to test with: no test")
    shown = f"{s.amount(diff)}, but " if math.isfinite(diff) else ""
    return Judgement("undecided", f"undecided: {shown}{why}", diff, *(None,) * 8)
