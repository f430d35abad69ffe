"""An adaptive plan of seeds: judge at a few looks (cumulative seeds per condition), stop a
comparison once it is decided, and add seeds only where a comparison is still undecided; a
group-sequential design of the Pocock type, one constant nominal level at every look.

    tracker compare --sweep PARENT_RUN_ID --margin 0.1
    python -c "from tracker.results.sequential import level; print(level((3, 5, 10)))"

Testing again after every new seed at the plain alpha finds a "difference" far more often than
alpha when there is none (after every seed from 3 to 20, about 21% at alpha 0.05). level() finds
the per-look two-sided level at which a Welch t-test between two conditions with equal true
means and variances, done at each look, rejects at some look with probability alpha. It
simulates 200,000 studies with a fixed seed: normal data, where each condition's mean and sum of
squares gain one normal and one chi-square draw per look (their exact distribution, so no
per-seed draws), Welch p from scipy.special.stdtr; the level is the alpha-quantile of each
study's smallest p over the looks. Deterministic, cached, about 0.1 s for three looks; no
scipy.stats (its import alone costs more than `tracker compare` may use). At alpha 0.05:
    looks (3, 5, 10): 0.02446  (0.024464858848456093)
    looks (3, 5):     0.03664  (0.036637446713930544)
and with many seeds per look the classical Pocock constants (0.0294 for 2 looks, 0.0221 for 3).
tests/test_sequential.py checks those and, by simulation through step(), the error rates.

step() is stateless: it judges what exists, so a killed adaptive sweep resumes by calling it
again on the runs in the store.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Sequence

import numpy as np
from scipy.special import ndtri, stdtr

from ..study import check_looks
from .verdicts import Judgement, judge

STUDIES = 200_000  # simulation error of the level: about ±1% of it
SEED = 20180708


@dataclass(frozen=True)
class Step:
    judgements: dict[str, Judgement]
    targets: dict[str, int]  # condition -> seeds it should have at the next look
    level: float  # the per-look level the judgements used
    decided: bool  # no target left: all decided, or the plan's last look reached


def level(looks: Sequence[int], alpha: float = 0.05) -> float:
    """The constant nominal two-sided level of each look (Pocock type); alpha for one look."""
    looks = check_looks(looks)
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie strictly between 0 and 1, got {alpha}")
    return alpha if len(looks) == 1 else _simulated_level(looks, float(alpha))


@lru_cache(maxsize=64)
def _simulated_level(looks: tuple[int, ...], alpha: float) -> float:
    rng = np.random.default_rng(SEED)
    mean, ss = np.zeros((2, STUDIES)), np.zeros((2, STUDIES))  # two conditions' running statistics
    smallest, before = np.ones(STUDIES), 0
    # |t| below the normal quantile has p > alpha at any df, so it can never set the level
    screen = -float(ndtri(alpha / 2))
    for n in looks:
        new = n - before
        # the new seeds' mean ~ N(0, 1/new) and sum of squares about it ~ chi2(new - 1)
        new_mean = rng.standard_normal((2, STUDIES)) / math.sqrt(new)
        new_ss = 2 * rng.standard_gamma((new - 1) / 2, (2, STUDIES)) if new > 1 else 0.0
        delta = new_mean - mean
        mean = mean + delta * new / n
        ss = ss + new_ss + delta ** 2 * before * new / n  # chan et al.'s pairwise update
        va, vb = ss / (n - 1) / n  # variance of each mean
        t = np.abs(mean[0] - mean[1]) / np.sqrt(va + vb)
        big = t > screen
        va, vb, t = va[big], vb[big], t[big]
        df = (va + vb) ** 2 * (n - 1) / (va ** 2 + vb ** 2)
        smallest[big] = np.minimum(smallest[big], 2 * stdtr(df, -t))
        before = n
    # the level below which exactly alpha of the null studies reject at some look
    k = int(round(alpha * STUDIES))
    return float(np.partition(smallest, k)[k])


def step(looks: Sequence[int], samples: dict[str, Sequence[float]], baseline: str,
         margin: float | None = None, alpha: float = 0.05) -> Step:
    """Judge what `samples` hold at the plan's per-look level and say which conditions need more
    seeds, and how many each should have at the next look."""
    looks = check_looks(looks)
    at = level(looks, alpha)
    judgements = judge(samples, baseline, margin, alpha, level=at)
    n = {name: len(values) for name, values in samples.items()}
    wanted: dict[str, int] = {}
    undecided = [name for name, j in judgements.items() if j.verdict == "undecided"]
    for name in undecided:
        following = _next_look(looks, n[name])
        if following is not None:
            wanted[name] = following
    if undecided:
        # the baseline keeps pace with the furthest undecided comparison (to the last look
        # for one whose condition already has them all)
        furthest = max(wanted.get(name, looks[-1]) for name in undecided)
        if furthest > n[baseline]:
            wanted[baseline] = furthest
    for name in samples:  # the first look for everyone, decided or not
        if n[name] < looks[0]:
            wanted[name] = max(wanted.get(name, 0), looks[0])
    targets = {name: wanted[name] for name in samples if name in wanted}
    return Step(judgements, targets, at, not targets)


def _next_look(looks: tuple[int, ...], n: int) -> int | None:
    return next((look for look in looks if look > n), None)
