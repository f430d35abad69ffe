"""tracker's commands for looking at runs and models, and for the server: runs, show, models,
evaluate, report, server. Each parses its options, calls one function and prints.

    tracker runs --experiment mnist-demo --format markdown
"""
from __future__ import annotations

import click

from .datasets import NAMES
from .settings import DATA_ENV
from .tables import FORMATS


@click.command("runs")
@click.option("--experiment", default="tracker", show_default=True, help="Experiment to list.")
@click.option("--filter", "filter_string", default="", help="MLflow filter string. Default: none.")
@click.option("--stale", is_flag=True, help="Only RUNNING runs that are no longer alive.")
@click.option("--older-than", default=900.0, show_default=True,
              help="With --stale: seconds without a heartbeat for runs of other hosts.")
@click.option("--mark-killed", is_flag=True, help="With --stale: mark them KILLED (then resume them).")
@click.option("--format", "fmt", type=click.Choice([f for f in FORMATS if f != "html"]),
              default="table", show_default=True)
def runs_cmd(experiment, filter_string, stale, older_than, mark_killed, fmt):
    """List an experiment's runs: id, name, status, key params, best test accuracy, duration."""
    from . import tables
    from .tracking import records, store

    found, marked = store.listing(experiment, filter_string, stale, older_than, mark_killed)
    if marked is not None:
        click.echo(f"marked {marked} stale run(s) KILLED; resume with tracker resume RUN_ID", err=True)
    click.echo(tables.render(records.frame(found), fmt), nl=False)


@click.command("show")
@click.argument("run_id")
def show_cmd(run_id):
    """Print one run's config, metrics per epoch and artifact list."""
    from .tracking import names, store

    run, hist, artifacts = store.describe(run_id, names.EPOCH_METRICS)
    click.echo(f"run {run_id}  {run.name}  {run.status}")
    click.echo("params:")
    for k, v in sorted(run.params.items()):
        click.echo(f"  {k} = {v}")
    click.echo("metrics per epoch:")
    click.echo(hist.to_string() if len(hist) else "  (none)")
    click.echo("artifacts:")
    for path in artifacts:
        click.echo(f"  {path}")


@click.group("models")
def models_grp():
    """The model registry: register, list, show and alias models (models:/NAME@ALIAS)."""


@models_grp.command("register")
@click.argument("run_id", required=False)
@click.option("--name", default=None, help="Registered model name. Default: DATASET-ARCH-NORM.")
@click.option("--alias", default=None, help="Point this alias at the version. Default: none.")
@click.option("--best", is_flag=True, help="Register the best FINISHED run of --experiment.")
@click.option("--experiment", default=None, help="With --best: the experiment to search.")
@click.option("--metric", default="test_acc_best", show_default=True, help="With --best: the metric to maximize.")
@click.option("--by-condition", is_flag=True, help="With --best: the best run of each condition.")
@click.option("--by", multiple=True, default=("norm",), show_default=True,
              help="With --by-condition: the params that define a condition (repeatable).")
def models_register(run_id, name, alias, best, experiment, metric, by_condition, by):
    """Register RUN_ID's logged model, or the best run(s) of an experiment with --best."""
    from .tracking import registry

    if best == bool(run_id) or (best and not experiment):
        raise click.UsageError("give RUN_ID, or --best with --experiment NAME")
    run_ids = registry.best_runs(experiment, metric, list(by) if by_condition else []) if best else [run_id]
    if len(run_ids) > 1 and name:
        raise click.UsageError("--name names one model; with several conditions leave it out")
    for rid in run_ids:
        reg = registry.register(rid, name, alias)
        state = "registered" if reg.created else "already registered as"
        click.echo(f"run {rid} {state} models:/{reg.name}/{reg.version}"
                   + (f" (alias {alias}: models:/{reg.name}@{alias})" if alias else ""))


@models_grp.command("list")
def models_list():
    """Registered models: latest version, aliases, and the source run's best test accuracy."""
    import pandas as pd

    from . import tables
    from .tracking import registry

    rows = [{"name": m["name"], "latest": m["latest"], "aliases": m["aliases"],
             "test best %": f"{float(m['test_acc_best']) * 100:.2f}" if m["test_acc_best"] else ""}
            for m in registry.listing()]
    click.echo(tables.render(pd.DataFrame(rows, columns=["name", "latest", "aliases", "test best %"])), nl=False)


@models_grp.command("show")
@click.argument("ref", metavar="NAME[@ALIAS|/VERSION]")
def models_show(ref):
    """One version: source run, metrics, params count, signature, creation time."""
    import datetime

    from .tracking import registry

    d = registry.describe(ref)
    d["created"] = datetime.datetime.fromtimestamp(d["created"] / 1000, datetime.timezone.utc).isoformat()
    for k, v in d.items():
        click.echo(f"{k}: {v}")


@models_grp.command("alias")
@click.argument("name")
@click.argument("version_or_alias")
@click.argument("alias", required=False)
@click.option("--delete", is_flag=True, help="Delete the alias NAME ALIAS instead.")
def models_alias(name, version_or_alias, alias, delete):
    """Set an alias (NAME VERSION ALIAS), or delete one (--delete NAME ALIAS)."""
    from .tracking import registry

    if delete:
        registry.delete_alias(name, version_or_alias)
        click.echo(f"deleted alias {version_or_alias} of {name}")
    else:
        if not alias:
            raise click.UsageError("give NAME VERSION ALIAS")
        registry.set_alias(name, version_or_alias, alias)
        click.echo(f"models:/{name}@{alias} -> version {version_or_alias}")


@click.command("evaluate")
@click.argument("model_uri")
@click.option("--dataset", required=True, type=click.Choice(NAMES))
@click.option("--data-dir", default=None, envvar=DATA_ENV,
              help=f"Dataset folder (also {DATA_ENV}). Default: 'data'.")
@click.option("--no-download", is_flag=True, help="Fail instead of downloading a missing dataset.")
@click.option("--allow-pickle", is_flag=True, help="Allow loading a pickle-format model (runs code). Default: off.")
@click.option("--experiment", default="evaluations", show_default=True, help="Experiment of the evaluation run.")
def evaluate_cmd(model_uri, dataset, data_dir, no_download, allow_pickle, experiment):
    """Evaluate MODEL_URI (models:/NAME@ALIAS, models:/NAME/VERSION, runs:/RUN_ID/model) on a test split."""
    from . import evaluate
    from .settings import DEFAULT_DATA_DIR

    r = evaluate.evaluate_uri(model_uri, dataset, data_dir or DEFAULT_DATA_DIR, not no_download,
                              allow_pickle, experiment)
    click.echo(f"{model_uri} on {dataset} test ({r.n} images): accuracy {r.accuracy:.4%}, loss {r.loss:.4f}")
    click.echo("per class: " + ", ".join(f"{i}: {a:.2%}" for i, a in enumerate(r.per_class)))
    click.echo(f"evaluation run {r.run_id} (confusion_matrix.png, misclassified.png)")


@click.command("server")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind; 0.0.0.0 exposes it.")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--backend-store-uri", default=None,
              help="Runs database. Default: sqlite:///./mlruns/mlflow.db (the embedded store).")
@click.option("--artifacts-destination", default=None,
              help="Where served artifacts go (a path or s3://bucket/prefix). Default: ./mlruns/artifacts.")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64))
@click.option("--engine", type=click.Choice(["uvicorn", "gunicorn"]), default="uvicorn", show_default=True,
              help="uvicorn keeps MLflow's security middleware flags; see benchmarks/README.md.")
@click.option("--timeout", default=120.0, show_default=True, help="Seconds to wait for /health.")
def server_cmd(host, port, backend_store_uri, artifacts_destination, workers, engine, timeout):
    """Start an MLflow tracking server (served artifacts) and wait until /health answers.
    SIGTERM, SIGHUP or Ctrl-C stop the whole server (exit 128 + the signal's number)."""
    from . import server

    server.serve(host, port, backend_store_uri, artifacts_destination, workers, engine, timeout,
                 echo=click.echo)


@click.command("report")
@click.option("--experiment", default=None, help="Experiment whose runs to report.")
@click.option("--sweep", "sweep_id", default=None, metavar="RUN_ID",
              help="A sweep's parent run: report its children, and log the report to that run (report/).")
@click.option("--output", required=True, type=click.Path(file_okay=False),
              help="Folder for README.md, its PNGs and report.html (made when missing).")
@click.option("--by", multiple=True, help="Param(s) that define a condition (repeatable, or "
              "comma-separated). Default: the grid keys minus seed, else norm (as compare).")
def report_cmd(experiment, sweep_id, output, by):
    """Write a study's report from its runs: what was compared and held fixed, the data, each
    condition's model, curves, the results table (Holm-adjusted p, difference to the best row with
    its 95% interval), each condition's best run's confusion matrix and misclassified images."""
    from . import report

    if bool(experiment) == bool(sweep_id):
        raise click.UsageError("give one of --experiment NAME or --sweep RUN_ID")
    written = report.report(experiment, sweep_id, output, by)
    click.echo(f"wrote {written.readme} and {written.html}")
    if written.logged:
        click.echo(f"logged to the sweep's parent run: {written.logged}")
    if written.footnote:
        click.echo(written.footnote, err=True)


COMMANDS = (runs_cmd, show_cmd, models_grp, evaluate_cmd, server_cmd, report_cmd)
