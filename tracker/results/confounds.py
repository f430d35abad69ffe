"""What else differs between the conditions compared: a param that is not one of the compared
keys, nor the seed, yet takes other values in one condition than in another (parameter count,
epochs, the data read, code commit, library versions, device or precision used, any other
config key or logged param), or a source tag MLflow sets (the script, its git commit). A
verdict about the compared keys is then also about these.

    tracker compare --experiment cifar10-novice --by norm
"""
from __future__ import annotations

from .. import names
from ..config import NAMING, PLACEMENT
from ..tracking.records import RunRecord

# params that differ by design or say only where and how a run executed
NOT_CONFOUNDS = (*NAMING, *PLACEMENT, names.CHANNELS_LAST)
TAGS = (names.SOURCE_NAME, names.GIT_COMMIT)  # MLflow's own source tags, compared too


def candidates(runs: list[RunRecord], by: list[str], seed: str = "seed",
               tuned: tuple[str, ...] = ()) -> list[str]:
    """Every param some run logged and every source tag, but the compared keys, the seed, the
    keys tuned per condition and those that only say where a run executed."""
    skip = {*by, seed, *tuned, *NOT_CONFOUNDS}
    params = dict.fromkeys(k for r in runs for k in r.params if k not in skip)
    return [*params, *(t for t in TAGS if t not in skip)]


def _values(runs: list[RunRecord], key: str) -> frozenset[str]:
    source = (lambda r: r.tags) if key in TAGS else (lambda r: r.params)
    return frozenset(source(r)[key] for r in runs if key in source(r))


def find(groups: dict[str, list[RunRecord]], by: list[str], seed: str = "seed",
         tuned: tuple[str, ...] = ()) -> dict[str, dict[str, frozenset[str]]]:
    """key -> {condition label -> its values}, for every key whose values are not the same in
    every condition (a key some runs did not record is judged on the runs that did)."""
    runs = [r for rs in groups.values() for r in rs]
    out = {}
    for key in candidates(runs, by, seed, tuned):
        per = {lab: _values(rs, key) for lab, rs in groups.items()}
        seen = {v for v in per.values() if v}
        if len(seen) > 1:
            out[key] = per
    if names.GIT_COMMIT in out and names.GIT_COMMIT_PARAM in out:  # the same fact twice: tracker's runs
        del out[names.GIT_COMMIT]
    return out


def of_row(found: dict[str, dict[str, frozenset[str]]], row: str, baseline: str) -> list[str]:
    """The keys in which a condition's runs differ from the baseline's."""
    return [k for k, per in found.items() if per[row] and per[baseline] and per[row] != per[baseline]]


def _show(values: frozenset[str]) -> str:
    shown = [f"{int(v):,}" if v.isdigit() and len(v) > 4 else v for v in sorted(values)]
    return "/".join(shown) if shown else "not recorded"


def lines(found: dict[str, dict[str, frozenset[str]]]) -> list[str]:
    """One line per difference, for under the table."""
    return [f"confound: {key} differs between conditions ("
            + "; ".join(f"{lab} {_show(v)}" for lab, v in per.items()) + ")"
            for key, per in found.items()]
