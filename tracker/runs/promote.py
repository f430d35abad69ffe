"""Which runs' models go into the registry, and under which name: one run, or the run a study
supports (--best). The condition is the one its verdicts favour, by the condition's mean of the
judged metric as `tracker compare` computes it (never one run's maximum): the baseline, unless
conditions are judged better than it, then the best mean of those. Within it, the run whose
logged model scores best on the validation split where the runs held one out, else the run
closest to the condition's median. Only a sweep's runs count (the experiment's sweep when its
runs come from one), and only those sharing the condition's config. The name defaults to
DATASET-ARCH-NORM.

    tracker models register --best --experiment mnist-demo --by-condition --alias champion
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from .. import names
from ..config import FIELDS, NAMING, PLACEMENT, model_name
from ..errors import UserError
from ..results.counted import SEED, label
from ..study import Judged
from ..tracking.records import RunRecord

SAME = tuple(k for k in FIELDS if k not in (*NAMING, *PLACEMENT, SEED))  # runs of one config share these


@dataclass(frozen=True)
class Pick:
    run_id: str
    why: str  # one line: why this condition, then why this run


def one_sweep(experiment: str) -> tuple[str | None, int]:
    """The sweep (its parent run's id) the experiment's training runs come from, and how many
    of them come from none; None when no run comes from a sweep. Several sweeps: an error."""
    from ..tracking import query

    runs = [r for r in query.select(experiment, None).runs if r.tags.get(names.KIND) == names.TRAIN]
    sweeps = sorted({r.tags[names.PARENT] for r in runs if r.tags.get(names.PARENT)})
    if len(sweeps) > 1:
        raise UserError(f"experiment {experiment!r} holds the runs of {len(sweeps)} sweeps "
                        f"({', '.join(sweeps)}); choose one with --sweep RUN_ID")
    return (sweeps[0] if sweeps else None), sum(not r.tags.get(names.PARENT) for r in runs)


def same_config(runs: list[RunRecord]) -> tuple[list[RunRecord], list[str]]:
    """The runs sharing the config most of them share (seed and where they ran aside), and the
    keys in which the others differ."""
    configs = [tuple(r.params.get(k, "") for k in SAME) for r in runs]
    common = Counter(configs).most_common(1)[0][0]
    kept = [r for r, c in zip(runs, configs) if c == common]
    differ = sorted({k for c in configs if c != common for k, a, b in zip(SAME, c, common) if a != b})
    return kept, differ


def pick_run(runs: list[RunRecord], judged: Judged) -> tuple[RunRecord, str]:
    """One condition's run: by the validation accuracy of its logged model (the last epoch's
    val_acc) where every run held out a validation split, else the closest to the median of the
    judged metric (a tie goes to the better value, then the earlier run)."""
    n = f"{len(runs)} run{'s' if len(runs) > 1 else ''}"
    if all(names.VAL_ACC in r.metrics for r in runs):
        chosen = max(runs, key=lambda r: r.metrics[names.VAL_ACC])  # max keeps the first of a tie
        return chosen, (f"the best validation accuracy of its logged model of the condition's {n} "
                        f"({chosen.metrics[names.VAL_ACC]:.2%}, the last epoch's)")
    key, sign = judged.metric, (-1 if judged.goal == "maximize" else 1)
    values = sorted(r.metrics[key] for r in runs)
    middle = len(values) // 2
    median = values[middle] if len(values) % 2 else (values[middle - 1] + values[middle]) / 2
    chosen = min(runs, key=lambda r: (abs(r.metrics[key] - median), sign * r.metrics[key]))
    return chosen, (f"the closest of the condition's {n} to their median {judged.title} "
                    f"({judged.shown(median)}; this run {judged.shown(chosen.metrics[key])})")


def pick_condition(rows: list[dict], labels: list[str], baseline: str, judged: Judged) -> tuple[str, str]:
    """The condition the verdicts favour, and why: the baseline, unless some are judged better
    than it, then the best mean of those. rows: compare's, best mean first, labelled."""
    mean = f"{judged.column}_mean"
    shown = {lab: f"{judged.shown(r[mean])}, n = {r['n']}" for lab, r in zip(labels, rows)}
    better = [lab for lab, r in zip(labels, rows) if r["verdict"] == "better"]
    others = ", ".join(f"{lab} {r['verdict']}" for lab, r in zip(labels, rows)
                       if lab != baseline and lab not in better)
    if better:
        chosen = better[0]
        why = (f"{chosen} is judged better than the baseline {baseline} (mean {judged.title} "
               f"{shown[chosen]}; baseline {shown[baseline]})")
        return chosen, why + (f", the best mean of the {len(better)} judged better" if len(better) > 1 else "")
    best = labels[0] == baseline
    why = (f"{baseline} has the best mean {judged.title} ({shown[baseline]})" if best else
           f"{baseline} is the study's baseline ({shown[baseline]}) and no condition is judged better")
    return baseline, why + (f"; {others}" if others else "")


def best(experiment: str | None, sweep: str | None, by: tuple[str, ...], by_condition: bool,
         options: dict | None = None, seed_param: str = SEED) -> tuple[list[Pick], list[str]]:
    """The runs to register: the run the study supports, or one per condition with
    by_condition; and what was left out, one line each."""
    from ..results.compare import compare

    notes = []
    if sweep is None:
        sweep, outside = one_sweep(experiment)
        if sweep and outside:
            notes.append(f"left out {outside} run(s) of experiment {experiment!r} outside sweep {sweep}")
    comparison = compare(None if sweep else experiment, sweep, by=by, options=options, seed_param=seed_param)
    if experiment and comparison.experiment != experiment:
        raise UserError(f"sweep {sweep} is in experiment {comparison.experiment!r}, not {experiment!r}")
    judged, groups = comparison.judged, comparison.counted.groups()
    rows = comparison.rows.to_dict("records")
    labels = [label(comparison.counted.by, [r[k] for k in comparison.counted.by]) for r in rows]
    if by_condition:
        chosen = [(lab, f"{lab}: mean {judged.title} {judged.shown(r[judged.column + '_mean'])}, "
                        f"n = {r['n']}, {r['verdict']}") for lab, r in zip(labels, rows)]
    else:
        chosen = [pick_condition(rows, labels, comparison.baseline, judged)]
    picks = []
    for lab, why in chosen:
        runs, differ = same_config(groups[lab])
        if differ:
            notes.append(f"left out {len(groups[lab]) - len(runs)} run(s) of {lab} whose config "
                         f"differs ({', '.join(differ)})")
        run, because = pick_run(runs, judged)
        picks.append(Pick(run.run_id, f"{why}; run {run.run_id} (seed {run.params.get(SEED, '?')}): {because}"))
    return picks, notes


def register(run_ids: list[str], name: str | None, alias: str | None) -> list:
    """Each run's model registered (under `name`, else its DATASET-ARCH-NORM); a run already
    registered under that name gives back its version."""
    from ..tracking import registry, store

    if len(run_ids) > 1 and name:
        raise UserError("--name names one model; with several conditions leave it out")
    if name:  # names are checked before any run is looked up
        registry.check_name(name)
    if alias:
        registry.check_alias(alias)
    out = []
    for rid in run_ids:
        out.append(registry.register(rid, name or model_name(store.get_run(rid).params), alias))
    return out
