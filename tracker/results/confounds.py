"""What else differs between the conditions compared: a param that is not one of the compared
keys, nor the seed, yet takes other values in one condition than in another (parameter count,
epochs, the data read, code commit, library versions, device or precision used, any other
config key). A verdict about the compared keys is then also about these.

    tracker compare --experiment cifar10-novice --by norm
"""
from __future__ import annotations

from ..config import FIELDS
from ..tracking.records import RunRecord

# config keys that differ by design or say only where things are
NOT_CONFOUNDS = ("seed", "run_name", "experiment", "data_dir", "download", "device")
# what a run records of itself beyond its config
RECORDED = ("params_total", "train_digest", "test_digest", "git_commit", "torch_version",
            "torchvision_version", "mlflow_version", "device_used", "precision_used")


def candidates(by: list[str]) -> list[str]:
    return [k for k in (*FIELDS, *RECORDED) if k not in by and k not in NOT_CONFOUNDS]


def _values(runs: list[RunRecord], key: str) -> frozenset[str]:
    return frozenset(r.params[key] for r in runs if key in r.params)


def find(groups: dict[str, list[RunRecord]], by: list[str]) -> dict[str, dict[str, frozenset[str]]]:
    """key -> {condition label -> its values}, for every key whose values are not the same in
    every condition (a key some runs did not record is judged on the runs that did)."""
    out = {}
    for key in candidates(by):
        per = {lab: _values(runs, key) for lab, runs in groups.items()}
        seen = {v for v in per.values() if v}
        if len(seen) > 1:
            out[key] = per
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
