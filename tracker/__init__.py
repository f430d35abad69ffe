"""tracker: tracked, repeatable PyTorch studies on MLflow, and verdicts for any MLflow experiment.

The folders say the architecture (docs/architecture.md): `ml/` trains (torch, no MLflow),
`runs/` gives a run its life (start, train, end, resume, sweep), `results/` says what the runs
mean (compare, statistics, reports), `tracking/` is the only MLflow I/O, `cli/` parses and
prints. `errors`, `settings`, `config`, `names`, `study` and `experiment` are the facts every
folder reads. Importing tracker imports none of them but this file: no torch, no mlflow.

    tracker demo --data-dir ../shared/datasets
    python -c "import tracker; print(tracker.compare(experiment='plain-mlflow', by='model', metric_key='rmse', goal='minimize'))"
"""
from __future__ import annotations


def compare(experiment: str | None = None, by: str | list[str] | None = None, *, sweep: str | None = None,
            metric_key: str | None = None, goal: str | None = None, at: str | None = None,
            metric: str | None = None, baseline: str | None = None, margin: float | None = None,
            alpha: float | None = None, seed_param: str = "seed", filter_string: str = ""):
    """`tracker compare` from a notebook: a pandas DataFrame with the same columns as
    `tracker compare --format json` (one row per condition, its verdict included), and the
    analysis it used in `.attrs["analysis"]` (what was judged, the baseline and the rule that
    chose it, margin, alpha). The same code as the command; bad input raises tracker's UserError
    with the same one-line message. The store is found as the command finds it: MLFLOW_TRACKING_URI,
    else ./mlruns, else MLflow's own ./mlflow.db.

        import tracker
        df = tracker.compare(experiment="plain-mlflow", by="model", metric_key="rmse", goal="minimize")
        df[["model", "n", "rmse_mean", "verdict"]]
    """
    from .errors import UserError
    from .settings import apply_mlflow_env, read_mlflow_default
    from .study import Study

    if bool(experiment) == bool(sweep):
        raise UserError("give one of experiment=NAME or sweep=RUN_ID")
    apply_mlflow_env()
    read_mlflow_default()
    options = {"metric": metric, "metric_key": metric_key, "goal": goal, "at": at, "baseline": baseline,
               "margin": margin, "alpha": alpha}
    Study(**{k: v for k, v in options.items() if v is not None}).judged()
    from .results.compare import compare as run

    keys = tuple([by] if isinstance(by, str) else by or ())
    comparison = run(experiment, sweep, filter_string, keys, None, options, seed_param)
    frame = comparison.rows.copy()
    frame.attrs["analysis"] = {**vars(comparison.study), "looks": list(comparison.study.looks),
                               "judged": comparison.judged.description, "metric": comparison.judged.metric,
                               "goal": comparison.judged.goal, "by": comparison.counted.by,
                               "baseline": comparison.baseline, "baseline_rule": comparison.baseline_rule,
                               "experiment": comparison.experiment}
    return frame
