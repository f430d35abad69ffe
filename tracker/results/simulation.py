"""Many studies of two conditions at once, each decided look by look as sequential.step decides
a comparison: the simulation test of the error rates (tests/unit/results/test_simulation.py) and
benchmarks/seeds_to_verdict.py. tests/unit/results/test_sequential.py drives the same data
through the real step() and checks that both give the same verdicts and seeds.

    python -c "from tracker.results import simulation as s, sequential as q; print(s.rates(s.draw(20000, 10, 0.0), (3, 5, 10), q.level((3, 5, 10))))"
"""
from __future__ import annotations

import numpy as np
from scipy.special import stdtr

from . import power as powers
from .verdicts import FUTILITY, VERDICTS

CODE = {v: i for i, v in enumerate(VERDICTS)}


def draw(studies: int, seeds: int, shift: float, ratio: float = 1.0, sd: float = 1.0,
         resolution: float | None = None, seed: int = 0) -> np.ndarray:
    """(studies, 2, seeds) values: side 0 the baseline (spread sd), side 1 the condition (true
    mean `shift` higher, spread sd * ratio); rounded to a grid of `resolution` when given."""
    rng = np.random.default_rng(seed)
    out = rng.standard_normal((studies, 2, seeds)) * (sd * np.array([1.0, ratio]))[:, None]
    out[:, 1] += shift
    return out if resolution is None else np.round(out / resolution) * resolution


def run(data: np.ndarray, looks: tuple[int, ...], level: float, margin: float | None = None, *,
        goal: str = "maximize", resolution: float | None = None,
        futility: float | None = FUTILITY) -> tuple[np.ndarray, np.ndarray]:
    """Each study's verdict (an index into VERDICTS) and seeds per condition at its end. At each
    look every open study is judged at `level` (Welch, TOST); a decided one stops; before the last
    look one the last look would decide less often than `futility` (power.within_reach; None:
    never) stops as undecided."""
    studies = len(data)
    verdict = np.full(studies, CODE["undecided"])
    used = np.full(studies, looks[-1])
    open_ = np.ones(studies, bool)
    floor2 = (resolution or 0.0) ** 2
    for i, n in enumerate(looks):
        idx = np.flatnonzero(open_)
        x = data[idx, :, :n]
        tied = x.min(-1) == x.max(-1)
        mean = np.where(tied, x[..., 0], x.mean(-1))
        var = np.maximum(np.where(tied, 0.0, x.var(-1, ddof=1)), floor2)
        testable = np.isfinite(x).all((1, 2)) & (resolution is not None or ~tied.all(1))
        idx, mean, var = idx[testable], mean[testable], var[testable]
        diff, (vb, va) = mean[:, 1] - mean[:, 0], (var / n).T
        se = np.sqrt(va + vb)
        df = (va + vb) ** 2 * (n - 1) / (va ** 2 + vb ** 2)
        different = 2 * stdtr(df, -np.abs(diff) / se) < level
        equivalent = np.zeros(len(idx), bool)
        if margin:
            equivalent = np.maximum(stdtr(df, -(diff + margin) / se), stdtr(df, (diff - margin) / se)) < level
        up = (diff > 0) == (goal == "maximize")
        code = np.where(equivalent, CODE["equivalent"], np.where(up, CODE["better"], CODE["worse"]))
        done = equivalent | different
        verdict[idx[done]], used[idx[done]], open_[idx[done]] = code[done], n, False
        if futility and i < len(looks) - 1:
            keep = ~done
            hopeless = ~_within_reach(looks[-1], diff[keep], var[keep], margin, level, futility)
            stop = idx[keep][hopeless]
            used[stop], open_[stop] = n, False
    return verdict, used


def _within_reach(n: int, diff: np.ndarray, var: np.ndarray, margin: float | None, level: float,
                  power: float) -> np.ndarray:
    # power.within_reach for many studies: one threshold pair per share of the variance
    total = var.sum(1)
    scale, share = np.sqrt(total / n), powers.share_of(var[:, 1], var[:, 0], n, n)
    out = np.zeros(len(diff), bool)
    for s in np.unique(share):
        at = share == s
        detect, show = powers.thresholds(n, float(s), level, power)
        out[at] = np.abs(diff[at]) / scale[at] >= detect
        if margin:
            out[at] |= margin / scale[at] >= show
    return out


def rates(data: np.ndarray, looks: tuple[int, ...], level: float, margin: float | None = None,
          **kwargs) -> dict[str, float]:
    """The share of each verdict over the studies, and the mean seeds per condition."""
    verdict, used = run(data, looks, level, margin, **kwargs)
    out = {v: float(np.mean(verdict == CODE[v])) for v in VERDICTS[1:]}
    return {**out, "seeds": float(used.mean())}
