"""What a tuned sweep's tuning was, read from its seed runs (the `tracker.tuned` tag each carries,
runs/tune.py): the keys tuned per condition, which are not confounds; the budget and each
condition's chosen values, shown under the table; and a budget that was not the same for every
condition (other trials, epochs or space, a tuning a kill left unfinished, a condition not tuned),
which is a confound and named as one.

    tracker compare --sweep PARENT_RUN_ID
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from .. import names
from ..tracking.records import RunRecord

BUDGET = "tuning budget"  # the confound's name, as confounds.lines shows it


@dataclass(frozen=True)
class Tuning:
    keys: tuple[str, ...]  # tuned per condition
    budgets: dict[str, str]  # condition -> its budget as shown ("8 trials x 2 epochs", "not tuned", ...)
    values: dict[str, dict]  # condition -> its chosen values
    trials: int | None  # of every condition, when they are equal
    epochs: int | None

    @property
    def equal(self) -> bool:
        return len(set(self.budgets.values())) == 1


def _tag(run: RunRecord) -> dict | None:
    raw = run.tags.get(names.TUNED)
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _budget(spec: dict | None) -> str:
    if spec is None:
        return "not tuned"
    space = json.dumps(spec.get("space", {}), sort_keys=True)
    shown = f"{spec.get('trials')} trials x {spec.get('epochs')} epochs, space {space}"
    return shown if spec.get("complete", True) else shown + ", unfinished"


def read(groups: dict[str, list[RunRecord]]) -> Tuning | None:
    """The tuning of the counted runs, by condition; None when no run was tuned."""
    specs = {lab: next((s for s in map(_tag, runs) if s is not None), None) for lab, runs in groups.items()}
    tuned = [s for s in specs.values() if s is not None]
    if not tuned:
        return None
    keys = tuple(dict.fromkeys(k for s in tuned for k in s.get("keys", [])))
    budgets = {lab: _budget(s) for lab, s in specs.items()}
    values = {lab: dict(s.get("values", {})) for lab, s in specs.items() if s is not None}
    same = len(set(budgets.values())) == 1
    return Tuning(keys, budgets, values, tuned[0].get("trials") if same else None,
                  tuned[0].get("epochs") if same else None)


def confound(t: Tuning | None) -> dict[str, dict[str, frozenset[str]]]:
    """The unequal budget as a confound (confounds.find's shape), or none."""
    if t is None or t.equal:
        return {}
    return {BUDGET: {lab: frozenset({b}) for lab, b in t.budgets.items()}}


def _value(v) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def lines(t: Tuning | None) -> list[str]:
    """The line under the table: what was tuned per condition, the budget and each condition's values."""
    if t is None:
        return []
    budget = (f"{t.trials} trials each, {t.epochs} epoch{'s' if t.epochs != 1 else ''} per trial"
              if t.equal else "unequal budgets, see the confound")
    chosen = "; ".join(f"{lab} " + ", ".join(f"{k}={_value(v)}" for k, v in vals.items())
                       for lab, vals in t.values.items())
    return [f"tuned per condition: {', '.join(t.keys)} ({budget}; each trial judged on its validation "
            f"accuracy, never the test set): {chosen}"]


def blocks(comparison, sweep: str | None, out_dir) -> list:
    """The report's Tuning section: the budget, each condition's values, and each trial's
    validation accuracy against each tuned key per condition (tuning.png)."""
    t = comparison.found.tuning
    if t is None:
        return []
    out = [("h2", "Tuning"), ("list", [*lines(t), *(f"confound: {b}" for b in _unequal(t))])]
    if sweep is None:
        return out
    from ..tracking import store
    from . import plots

    trials = store.trials(sweep)
    points: dict[str, list] = {}
    for r in trials:
        acc = r.metrics.get(names.VAL_ACC_BEST)
        state = r.tags.get(names.TUNE_STATE)
        if acc is None or r.tags.get(names.TUNE_CONDITION) is None or state == names.TRIAL_KILLED:
            continue  # a trial a stop interrupted was run again, with its values
        pruned = state == names.TRIAL_PRUNED
        points.setdefault(r.tags[names.TUNE_CONDITION], []).append((r.params, acc, pruned))
    if not points:
        return out
    spec = next((s for runs in comparison.counted.groups().values() for s in map(_tag, runs) if s), {})
    log = {k: bool(isinstance(v, dict) and v.get("log")) for k, v in spec.get("space", {}).items()}
    plots.tuning(points, t.keys, log).savefig(out_dir / "tuning.png", dpi=100)
    shown = sum(map(len, points.values()))
    return out + [("p", f"{shown} trials. Each is judged on its validation accuracy, never on the test set; "
                        "a condition whose points fall steeply off its best value is the more sensitive to it."),
                  ("img", "tuning.png", "validation accuracy of each trial against each tuned key, per condition")]


def _unequal(t: Tuning) -> list[str]:
    return [] if t.equal else ["the budgets differ: " + "; ".join(f"{lab} {b}" for lab, b in t.budgets.items())]

