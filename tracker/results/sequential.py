"""An adaptive plan of seeds: judge at a few looks (cumulative seeds per condition), stop a
comparison once it is decided, or once even the plan's last look could not decide it (futility),
and add seeds only where a comparison is still open; a group-sequential design of the Pocock
type, one constant nominal level at every look. A decision is final: step() carries it, with
the look it was made at, and never judges that comparison again.

    tracker compare --sweep PARENT_RUN_ID --margin 0.1
    python -c "from tracker.results.sequential import level; print(level((3, 5, 10)))"

Testing again after every new seed at the plain alpha finds a "difference" far more often than
alpha when there is none (after every seed from 3 to 20, about 21% at alpha 0.05). level() finds
the per-look two-sided level at which Welch's t-test between two conditions with equal true
means, done at each look, rejects at some look with probability alpha, when one condition's
spread is SPREAD_RATIO_MAX (3) times the other's. Welch's test is a little liberal at few seeds
and unequal spreads, and the more so up to a ratio of about 4: at the equal-spread level 0.0245
of looks (3, 5, 10), the wrong-verdict rate is 0.053 at a ratio of 1.5, 0.058 at 2, 0.066 at 3
and 0.072 at 5. The level needed falls steadily from ratio 1 to 3 for every plan checked, so
the level at 3 holds the rate at or under alpha over the whole range [1, 3]; beyond it,
beyond_range() says so. The simulation draws 200,000 studies with a fixed seed: normal data,
each condition's mean and sum of squares gaining one normal and one chi-square draw per look
(their exact distribution, so no per-seed draws), Welch p from scipy.special.stdtr; the level is
the alpha-quantile of each study's smallest p over the looks. Deterministic, cached, about 0.1 s
for three looks. At alpha 0.05:
    looks (3, 5, 10): 0.01796 (0.0245 at equal spreads)
    looks (3, 5):     0.02616 (0.0366 at equal spreads)
Futility and the carried decisions only stop comparisons early (non-binding), so the error rate
can only fall below alpha; tests/unit/results/test_simulation.py checks the rates.

step() needs no state but the decisions it returned: a killed adaptive sweep resumes by calling
it again on the runs in the store and the decisions the parent run recorded (dump() / load()).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Sequence

import numpy as np
from scipy.special import fdtri, stdtr, stdtrit

from ..study import check_looks
from . import stats
from .verdicts import FUTILITY, Judgement, judge

STUDIES = 200_000  # simulation error of the level: about ±1% of it
SEED = 20180708
SPREAD_RATIO_MAX = 3.0  # the level holds the error rate for spread ratios from 1 to this


@dataclass(frozen=True)
class Decision:
    """A comparison decided at a look: final, never judged again. A futile one is undecided."""

    judgement: Judgement
    look: int  # 1 for the plan's first look
    seeds: int  # the condition's seeds then
    baseline_seeds: int
    baseline: str

    @property
    def verdict(self) -> str:
        return self.judgement.verdict

    def to_json(self) -> dict:
        return {"judgement": self.judgement.to_json(), "look": self.look, "seeds": self.seeds,
                "baseline_seeds": self.baseline_seeds, "baseline": self.baseline}

    @classmethod
    def from_json(cls, data: dict) -> "Decision":
        return cls(Judgement.from_json(data["judgement"]), int(data["look"]), int(data["seeds"]),
                   int(data["baseline_seeds"]), str(data["baseline"]))


def dump(decisions: dict[str, Decision]) -> str:
    """Decisions as JSON text (condition -> its decision), to record on the parent run."""
    return json.dumps({name: d.to_json() for name, d in decisions.items()}, sort_keys=True)


def load(text: str) -> dict[str, Decision]:
    """The decisions dump() wrote."""
    return {name: Decision.from_json(d) for name, d in json.loads(text).items()}


def standing(decisions: dict[str, Decision], samples: dict[str, Sequence[float]],
             baseline: str) -> dict[str, Decision]:
    """The decisions whose data still stands: made against this baseline, and both sides still
    holding at least the seeds they were decided on (a run they counted that no longer counts
    takes its decision with it)."""
    return {name: d for name, d in decisions.items()
            if d.baseline == baseline and name in samples and baseline in samples
            and len(samples[name]) >= d.seeds and len(samples[baseline]) >= d.baseline_seeds}


@dataclass(frozen=True)
class Step:
    judgements: dict[str, Judgement]  # every condition, the decided ones as they were decided
    targets: dict[str, int]  # condition -> seeds it should have at the next look
    level: float  # the per-look level the judgements used
    done: bool  # no target left: every comparison decided or stopped, or the last look reached
    decisions: dict[str, Decision] = field(default_factory=dict)  # the carried ones and the new
    unheld: tuple[str, ...] = ()  # conditions whose spread differs from the baseline's beyond the range

    @property
    def decided(self) -> bool:
        """The old name of `done` (which also means "the last look reached")."""
        return self.done


def level(looks: Sequence[int], alpha: float = 0.05) -> float:
    """The constant nominal two-sided level of each look (Pocock type); alpha for one look."""
    looks = check_looks(looks)
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie strictly between 0 and 1, got {alpha}")
    return alpha if len(looks) == 1 else _simulated_level(looks, float(alpha))


@lru_cache(maxsize=64)
def _simulated_level(looks: tuple[int, ...], alpha: float, ratio: float = SPREAD_RATIO_MAX) -> float:
    rng = np.random.default_rng(SEED)
    sd = np.array([1.0, ratio])[:, None]
    mean, ss = np.zeros((2, STUDIES)), np.zeros((2, STUDIES))  # two conditions' running statistics
    smallest, before = np.ones(STUDIES), 0
    for n in looks:
        new = n - before
        # the new seeds' mean ~ N(0, sd^2/new) and sum of squares about it ~ sd^2 chi2(new - 1)
        new_mean = sd * rng.standard_normal((2, STUDIES)) / math.sqrt(new)
        new_ss = sd ** 2 * 2 * rng.standard_gamma((new - 1) / 2, (2, STUDIES)) if new > 1 else 0.0
        delta = new_mean - mean
        mean = mean + delta * new / n
        ss = ss + new_ss + delta ** 2 * before * new / n  # chan et al.'s pairwise update
        va, vb = ss / (n - 1) / n  # variance of each mean
        t = np.abs(mean[0] - mean[1]) / np.sqrt(va + vb)
        # p < alpha needs |t| above the t quantile at the largest df Welch can give
        big = t > -stdtrit(2 * (n - 1), alpha / 2)
        va, vb, t = va[big], vb[big], t[big]
        df = (va + vb) ** 2 * (n - 1) / (va ** 2 + vb ** 2)
        smallest[big] = np.minimum(smallest[big], 2 * stdtr(df, -t))
        before = n
    # the level below which exactly alpha of the null studies reject at some look
    k = int(round(alpha * STUDIES))
    return float(np.partition(smallest, k)[k])


def spread_ratio(a: Sequence[float], b: Sequence[float], resolution: float | None = None) -> float:
    """The larger sample sd over the smaller (each at least the resolution); nan for n < 2."""
    if len(a) < 2 or len(b) < 2:
        return math.nan
    sa, sb = stats.sd(a, resolution or 0.0), stats.sd(b, resolution or 0.0)
    return math.inf if min(sa, sb) == 0 else max(sa, sb) / min(sa, sb)


def beyond_range(a: Sequence[float], b: Sequence[float], alpha: float = 0.05,
                 resolution: float | None = None) -> bool:
    """Whether the true spreads of a and b differ by more than SPREAD_RATIO_MAX, with confidence
    1 - alpha (F test of the variance ratio): the error rate level() holds is then not held.
    A plain observed ratio would cry wolf: at 3 seeds a side, equal spreads show a ratio above 3
    one time in five."""
    ratio = spread_ratio(a, b, resolution)
    if math.isnan(ratio):
        return False
    big, small = (a, b) if stats.sd(a, resolution or 0.0) >= stats.sd(b, resolution or 0.0) else (b, a)
    lowest = ratio ** 2 / float(fdtri(len(big) - 1, len(small) - 1, 1 - alpha / 2))  # of var ratio
    return lowest > SPREAD_RATIO_MAX ** 2


def step(looks: Sequence[int], samples: dict[str, Sequence[float]], baseline: str,
         margin: float | None = None, alpha: float = 0.05, decisions: dict[str, Decision] | None = None,
         *, goal: str = "maximize", resolution: float | None = None, power: float = 0.8,
         scale: float = 100.0, unit: str = "pp") -> Step:
    """Judge what `samples` hold at the plan's per-look level, keep the decisions already made,
    record the new ones (a verdict, or a stop for futility) and say which conditions need more
    seeds, and how many each should have at the next look. A comparison is decided only once
    both its sides have reached the first look."""
    looks = check_looks(looks)
    at = level(looks, alpha)
    decisions = dict(decisions or {})
    for name, d in decisions.items():
        if d.baseline != baseline:
            raise ValueError(f"the decision on {name} was made against the baseline {d.baseline!r}, "
                             f"not {baseline!r}: a plan keeps its baseline")
    carried = {name: d.judgement for name, d in decisions.items()}
    judgements = judge(samples, baseline, margin, alpha, at, power, scale, unit, goal=goal,
                       resolution=resolution, carried=carried, plan=looks[-1])
    n = {name: len(values) for name, values in samples.items()}
    for name, j in judgements.items():
        seen = min(n[name], n[baseline])
        if name not in decisions and name != baseline and seen >= looks[0] and (j.verdict != "undecided" or j.futile):
            decisions[name] = Decision(j, sum(look <= seen for look in looks), n[name], n[baseline], baseline)
    open_ = [name for name in samples if name != baseline and name not in decisions]
    wanted: dict[str, int] = {}
    for name in open_:
        following = next((look for look in looks if look > n[name]), None)
        if following is not None:
            wanted[name] = following
    if open_:
        # the baseline keeps pace with the furthest open comparison (to the last look for one
        # whose condition already has them all)
        furthest = max(wanted.get(name, looks[-1]) for name in open_)
        if furthest > n[baseline]:
            wanted[baseline] = furthest
    for name in samples:  # the first look for everyone, decided or not
        if n[name] < looks[0]:
            wanted[name] = max(wanted.get(name, 0), looks[0])
    targets = {name: wanted[name] for name in samples if name in wanted}
    unheld = tuple(name for name in samples if name != baseline and name not in carried
                   and beyond_range(samples[name], samples[baseline], alpha, resolution))
    return Step(judgements, targets, at, not targets, decisions, unheld)
