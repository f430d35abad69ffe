"""What a reader should look at before trusting a row, said under the table: a condition whose
seeds disagree wildly (one seed far from the others, against the spread the other conditions
show), and a large gap between the training and the test accuracy.

    tracker compare --experiment mnist-demo
"""
from __future__ import annotations

import math

import numpy as np

from ..study import TRAIN as _TRAIN

WILD = 5.0  # a condition's spread this many times the other conditions' median spread is flagged
GAP_PP = 5.0  # a train-test gap of more than this many percentage points is flagged


def outlying(values: dict[str, np.ndarray]) -> dict[str, int]:
    """Conditions whose seeds disagree wildly -> the index of the seed farthest from the median:
    a spread (std) over WILD times the median spread of the other conditions (which must have
    some), with at least 3 seeds."""
    spreads = {c: float(np.std(v, ddof=1)) for c, v in values.items() if len(v) >= 2}
    out = {}
    for c, v in values.items():
        others = [s for o, s in spreads.items() if o != c]
        if len(v) < 3 or not others or np.median(others) <= 0:
            continue
        if spreads[c] > WILD * float(np.median(others)):
            out[c] = int(np.argmax(np.abs(v - np.median(v))))
    return out


def lines(comparison) -> list[str]:
    """The flags of a comparison, one line each."""
    counted, judged = comparison.counted, comparison.judged
    values = {lab: group[counted.column].to_numpy() for lab, group in counted.by_condition()}
    seeds = {lab: list(group["_seed"]) for lab, group in counted.by_condition()}
    out = []
    for lab, i in outlying(values).items():
        v = values[lab]
        out.append(f"flag: {lab}: its seeds disagree wildly ({judged.shown(float(v.min()))} to "
                   f"{judged.shown(float(v.max()))}); seed {seeds[lab][i] or i + 1} gave "
                   f"{judged.shown(float(v[i]))}: check that run before trusting this row")
    if not judged.percent:
        return out
    for r in comparison.rows.to_dict("records"):
        train, test = r.get(f"{_TRAIN.column}_mean"), r.get(f"{judged.column}_mean")
        if train is None or test is None or not (math.isfinite(train) and math.isfinite(test)):
            continue
        gap = (train - test) * judged.scale
        if gap > GAP_PP:
            lab = " ".join(f"{k}={r[k]}" for k in counted.by)
            out.append(f"flag: {lab}: train best {_TRAIN.shown(train)}% against test {judged.shown(test)}%, "
                       f"a gap of {gap:.1f} pp (overfitting, or an unstable last epoch)")
    return out
