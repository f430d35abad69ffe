"""A sweep's conditions side by side where MLflow users look: one run per condition (tracker.kind
= condition), whose metrics are the condition's curves across its runs. condition/test_acc is
their mean test accuracy per epoch, condition/test_acc_ci_low and _ci_high its t interval at
the study's level (results/per_epoch.bands), and so for the loss. The experiment's chart view
draws a chart per metric key with a line per run, so each of these charts overlays the
conditions; a sweep's children sit folded under its parent, and these runs at the top level,
where the chart view takes its runs from. A condition's run is made once its planned runs have
ended, and made anew (the one before deleted) when the runs it counts change. `tracker compare`
never counts these runs (tracking/records.keep), and `tracker runs` does not list them.

    tracker sweep experiments/mnist-demo.toml
"""
from __future__ import annotations

from .. import names
from ..results import per_epoch


def run_name(label: str, n: int | str) -> str:
    """What the chart's legend and the runs table show: norm=batch: mean of 3 runs."""
    return f"{label}: mean of {n} run{'' if n == 1 else 's'}"


def curves(histories: list[dict[str, list[float]]], confidence: float,
           bounds: tuple[float, float] | None = (0.0, 1.0)) -> dict[int, dict[str, float]]:
    """Per epoch (step 1, 2, ...), a condition run's metrics from its runs' histories (the
    accuracy's band kept inside `bounds`)."""
    steps: dict[int, dict[str, float]] = {}
    for key in names.CURVES:
        for stat, values in per_epoch.bands(histories, key, confidence,
                                            bounds if key == names.TEST_ACC else None).items():
            for epoch, v in enumerate(values, 1):
                steps.setdefault(epoch, {})[names.condition_curve(key, stat)] = v
    return steps


def description(label: str, n: int, parent_id: str, confidence: float) -> str:
    mean, low = (names.condition_curve(names.TEST_ACC, s) for s in ("mean", "ci_low"))
    return (f"The curves of **{label}** across its {n} counted run{'s' if n != 1 else ''} in the sweep "
            f"whose parent run is `{parent_id}`: `{mean}` is their mean test accuracy per epoch, "
            f"`{low}` and `_ci_high` its {confidence * 100:g}% t interval, and so for the loss. "
            "The experiment's chart view puts the conditions side by side. Not a training run: "
            "`tracker compare` does not count it.")


def publish(parent_id: str, comparison, ready: dict[str, list]) -> None:
    """The condition runs of the `ready` conditions (label -> its counted runs), each replacing
    the run that condition had (raises TrackingError, Unreachable when the store says no)."""
    from ..tracking import query, store

    experiment, by = comparison.experiment, comparison.counted.by
    confidence = comparison.level
    hist = query.histories([r.run_id for runs in ready.values() for r in runs], names.CURVES)
    before = store.search(experiment, f"tags.`{names.CONDITION_OF}` = '{parent_id}'")
    for label, runs in ready.items():
        tags = {names.KIND: names.CONDITION_KIND, names.CONDITION_OF: parent_id, names.CONDITION: label,
                names.NOTE: description(label, len(runs), parent_id, confidence)}
        params = {k: runs[0].params.get(k, "") for k in by}  # the condition's values: the table's columns
        store.log_summary(experiment, run_name(label, len(runs)), tags, params,
                          curves([hist[r.run_id] for r in runs], confidence))
        store.delete_runs(r.run_id for r in before if r.tags.get(names.CONDITION) == label)
