"""tracker: tracked PyTorch studies on MLflow. Heavy imports happen inside each command.

    tracker demo --data-dir ../shared/datasets
"""
from __future__ import annotations

import sys
from pathlib import Path

import click

from .config import UserError

SET_HELP = "Override one config key, e.g. --set norm=group (repeatable). Default: none."


def _fail(message: str, code: int = 2):
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


class Group(click.Group):
    """Bad input becomes one line on stderr and exit 2; a signal exits 128 + signum."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except UserError as e:
            _fail(str(e).splitlines()[0] if str(e) else e.__class__.__name__)
        except FloatingPointError as e:  # a diverged run: it is already marked FAILED
            _fail(f"{e}; the run is marked FAILED", code=1)
        except BaseException as e:
            if type(e).__module__.startswith("mlflow."):  # the store said no: auth, not found, limits
                message = getattr(e, "message", str(e)) or e.__class__.__name__
                _fail(f"tracking store: {' '.join(message.split())[:400]}")
            if e.__class__.__name__ == "Interrupted":
                click.echo(f"\nstopped by {e}; the run is marked KILLED", err=True)
                sys.exit(128 + e.signum)
            raise


def _echo_table(rows: list[tuple]) -> None:
    """Left-aligned columns; the first row is the header."""
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip())


def _config(config, sets, data_dir=None, **fixed):
    from .config import load_config, parse_overrides

    overrides = parse_overrides(sets)
    if data_dir:
        overrides["data_dir"] = data_dir
    return load_config(config, {**fixed, **overrides})


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
def main():
    """Tracked, repeatable PyTorch studies on MLflow.

    Runs go to MLFLOW_TRACKING_URI, or to the embedded store ./mlruns (SQLite) when unset.
    """


config_arg = click.argument("config", required=False, type=click.Path(dir_okay=False))
set_opt = click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help=SET_HELP)
data_opt = click.option("--data-dir", default=None, envvar="TRACKER_DATA_DIR",
                        help="Dataset folder (also TRACKER_DATA_DIR). Default: the config's data_dir, 'data'.")


@main.command()
@config_arg
@set_opt
@data_opt
@click.option("--offline", is_flag=True,
              help="If the tracking server is unreachable, train anyway and keep the run on disk "
                   "until it answers (or `tracker sync`). Default: off (an error).")
def train(config, sets, data_dir, offline):
    """Train one run of CONFIG (a TOML file in experiments/) and log it to MLflow."""
    from . import job
    from .outbox import Outbox

    cfg = _config(config, sets, data_dir)
    run_id = job.run(cfg, config, offline=offline)
    if Outbox(run_id).pending():
        click.echo(f"run {run_id} trained; its tracking calls wait for `tracker sync`")
    else:
        click.echo(f"run {run_id} FINISHED ({cfg.name}, experiment {cfg.experiment})")


@main.command()
@config_arg
@set_opt
def summary(config, sets):
    """Print the model summary, parameter counts and receptive field; needs no data."""
    from . import job

    cfg = _config(config, sets)
    model, counts = job.describe(cfg)
    click.echo(job.summary_text(cfg, model))
    click.echo(f"arch {cfg.arch}, norm {cfg.norm}, dataset {cfg.dataset}: "
               f"{counts['params_total']:,} params ({counts['params_trainable']:,} trainable), "
               f"receptive field {counts['receptive_field']}")


DEMO = str(Path(__file__).resolve().parents[1] / "experiments" / "mnist-demo.toml")


@main.command()
@click.option("--epochs", type=int, default=None, help="Epochs per run. Default: the file's, 2.")
@data_opt
def demo(epochs, data_dir):
    """Sweep MNIST over batch, layer and group norm (experiments/mnist-demo.toml), then compare."""
    from . import sweep

    extra = {**({"epochs": epochs} if epochs else {}), **({"data_dir": data_dir} if data_dir else {})}
    p = sweep.plan(DEMO, (), extra)
    parent, _ = sweep.execute(p, DEMO, echo=click.echo)
    _compare(None, parent, "", (), "table", None, None)


@main.command("sweep")
@click.argument("config", type=click.Path(dir_okay=False))
@set_opt
@data_opt
@click.option("--dry-run", is_flag=True, help="List the runs it would make, and stop. Default: off.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Runs in parallel processes (local executor).")
@click.option("--executor", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="local: this machine; ray: one Ray task per run on a cluster, logging to "
                   "MLFLOW_TRACKING_URI (a server; a local store is refused).")
@click.option("--address", default=None, metavar="ADDR",
              help="Ray cluster: HOST:6379, auto (one started with `ray start` here) or "
                   "ray://HOST:10001. Default: RAY_ADDRESS, else a new local Ray instance.")
@click.option("--cpus-per-run", default=1, show_default=True, type=click.IntRange(1, 1024),
              help="Ray: CPUs each run reserves.")
@click.option("--gpus-per-run", default=0.0, show_default=True, type=click.FloatRange(0, 64),
              help="Ray: GPUs each run reserves (fractions share a GPU).")
def sweep_cmd(config, sets, data_dir, dry_run, workers, executor, address, cpus_per_run, gpus_per_run):
    """Run the [grid] of CONFIG as child runs under one parent run; FINISHED children are skipped."""
    from . import sweep

    p = sweep.plan(config, sets, {"data_dir": data_dir} if data_dir else None)
    if dry_run:
        click.echo(f"sweep {p.name}: {len(p.points)} runs over {', '.join(p.grid_keys) or 'no grid'}")
        for i, pt in enumerate(p.points, 1):
            click.echo(f"  {i}. {pt.cfg.name}  " + " ".join(f"{k}={v}" for k, v in pt.values.items()))
        return
    if executor == "ray" and workers > 1:
        raise click.UsageError("--workers is for the local executor; with --executor ray, Ray runs as "
                               "many at once as --cpus-per-run and the cluster's CPUs allow")
    ray = {"address": address, "cpus": cpus_per_run, "gpus": gpus_per_run} if executor == "ray" else None
    parent, counts = sweep.execute(p, config, workers, echo=click.echo, ray=ray)
    click.echo(f"sweep {p.name} (parent run {parent}): {counts['finished']} finished, "
               f"{counts['skipped']} skipped, {counts['failed']} failed")
    click.echo(f"compare: tracker compare --sweep {parent}")
    if counts["failed"]:
        sys.exit(1)


def _compare(experiment, sweep_id, filter_string, by, fmt, output, plot):
    from . import compare, query

    records, experiment, grid_keys = query.select(experiment, sweep_id, filter_string)
    by = [k.strip() for item in by for k in item.split(",") if k.strip()]  # --by a,b or --by a --by b
    if not by:
        by = [k for k in grid_keys if k != "seed"] or ["norm"]
    known = set().union(*(r.params for r in records))
    unknown = [k for k in by if records and k not in known]
    if unknown:
        raise UserError(f"--by {unknown[0]!r}: no run here has that param; they have: {', '.join(sorted(known))}")
    rows, excluded = compare.aggregate(records, list(by))
    figure = None
    if plot or fmt == "html":
        from . import plots, tracking

        groups, _ = compare.group_records(records, list(by))
        hist = tracking.histories([r.run_id for runs in groups.values() for r in runs],
                                  ("test_acc", "test_loss"))
        figure = plots.condition_curves({
            " ".join(f"{k}={v}" for k, v in zip(by, key)): [hist[r.run_id] for r in runs]
            for key, runs in groups.items()})
        if plot:
            figure.savefig(plot, dpi=100)
            click.echo(f"wrote {plot}", err=True)
    text = compare.render(rows, list(by), fmt, figure)
    if output:
        with open(output, "w") as f:
            f.write(text)
        click.echo(f"wrote {output}", err=True)
    else:
        click.echo(text, nl=False)
    if excluded:
        click.echo(compare.footnote(excluded), err=True)


@main.command("compare")
@click.option("--experiment", default=None, help="Experiment whose runs to compare.")
@click.option("--sweep", "sweep_id", default=None, metavar="RUN_ID",
              help="A sweep's parent run: compare its children.")
@click.option("--filter", "filter_string", default="", help="MLflow filter string. Default: none.")
@click.option("--by", multiple=True, help="Param(s) that define a condition (repeatable, or "
              "comma-separated: --by norm,precision). Default: the grid keys minus seed of the sweep (or of "
              "the sweeps every run came from), else norm.")
@click.option("--format", "fmt", type=click.Choice(["table", "markdown", "csv", "json", "html"]),
              default="table", show_default=True)
@click.option("--output", type=click.Path(dir_okay=False), default=None,
              help="Write to this file. Default: stdout.")
@click.option("--plot", type=click.Path(dir_okay=False), default=None,
              help="Also draw test accuracy and loss per epoch to this PNG. Default: none.")
def compare_cmd(experiment, sweep_id, filter_string, by, fmt, output, plot):
    """Aggregate FINISHED runs per condition across seeds: mean, std, 95% CI, Welch p."""
    if bool(experiment) == bool(sweep_id):
        raise click.UsageError("give one of --experiment NAME or --sweep RUN_ID")
    _compare(experiment, sweep_id, filter_string, by, fmt, output, plot)


@main.command("resume")
@click.argument("run_id")
@set_opt
@data_opt
def resume_cmd(run_id, sets, data_dir):
    """Continue RUN_ID from its last checkpoint, in the same MLflow run (model, optimizer,
    scheduler, epoch and every RNG state restored). Only data_dir, download and device may change."""
    from . import job
    from .config import parse_overrides

    overrides = parse_overrides(sets)
    if data_dir:
        overrides["data_dir"] = data_dir
    job.resume(run_id, overrides)
    click.echo(f"run {run_id} FINISHED (resumed)")


@main.command("server")
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
    """Start an MLflow tracking server (served artifacts) and wait until /health answers."""
    from . import server

    url = f"http://{host if host != '0.0.0.0' else '127.0.0.1'}:{port}"
    proc = server.start(server.mlflow_command(host, port, backend_store_uri, artifacts_destination,
                                              workers, engine))
    try:
        server.wait_healthy(url, proc, timeout)
        click.echo(f"tracking server ready: {url}/#/experiments{server.UI_VIEW}")
        click.echo(f"  export MLFLOW_TRACKING_URI={url}")
        click.echo("  (the ?workflowType=machine_learning part opens the runs table, not the GenAI view)")
        proc.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop(proc)


@main.command("sync")
def sync_cmd():
    """Replay tracking calls buffered during a server outage, in order, with their original
    steps and timestamps."""
    from . import tracking

    done = tracking.sync()
    if not done:
        click.echo("nothing to sync")
    for run_id, n in done.items():
        click.echo(f"run {run_id}: " + ("server still unreachable, kept" if n < 0 else f"replayed {n} calls"))
    if any(n < 0 for n in done.values()):
        sys.exit(1)


@main.command("runs")
@click.option("--experiment", default="tracker", show_default=True, help="Experiment to list.")
@click.option("--filter", "filter_string", default="", help="MLflow filter string. Default: none.")
@click.option("--stale", is_flag=True, help="Only RUNNING runs that are no longer alive.")
@click.option("--older-than", default=900.0, show_default=True,
              help="With --stale: seconds without a heartbeat for runs of other hosts.")
@click.option("--mark-killed", is_flag=True, help="With --stale: mark them KILLED (then resume them).")
def runs_cmd(experiment, filter_string, stale, older_than, mark_killed):
    """List an experiment's runs: name, status, key params, best test accuracy, duration."""
    from . import tracking

    found = tracking.stale_runs(experiment, older_than) if stale else tracking.search_runs(experiment, filter_string)
    if stale and mark_killed:
        for r in found:
            tracking.mark_killed(r.info.run_id, "stale: its process is gone (tracker runs --stale)")
        click.echo(f"marked {len(found)} stale run(s) KILLED; resume with tracker resume RUN_ID", err=True)
        found = [tracking.get_run(r.info.run_id) for r in found]
    rows = [("run id", "name", "status", "norm", "seed", "epochs", "test best %", "duration")]
    for r in found:
        best = r.data.metrics.get("test_acc_best")
        secs = ((r.info.end_time or r.info.start_time) - r.info.start_time) / 1000
        p = r.data.params
        rows.append((r.info.run_id, r.info.run_name or "", r.info.status, p.get("norm", ""),
                     p.get("seed", ""), p.get("epochs", ""),
                     "" if best is None else f"{best * 100:.2f}", f"{secs:.0f}s"))
    _echo_table(rows)


@main.command("show")
@click.argument("run_id")
def show_cmd(run_id):
    """Print one run's config, metrics per epoch and artifact list."""
    from . import tracking
    from .job import METRICS

    run = tracking.get_run(run_id)
    click.echo(f"run {run_id}  {run.info.run_name}  {run.info.status}")
    click.echo("params:")
    for k, v in sorted(run.data.params.items()):
        click.echo(f"  {k} = {v}")
    hist = tracking.histories([run_id], METRICS)[run_id]
    steps = max((len(v) for v in hist.values()), default=0)
    click.echo("metrics per epoch:")
    click.echo("  epoch  " + "  ".join(f"{k:>12}" for k in METRICS))
    for i in range(steps):
        click.echo(f"  {i + 1:>5}  " + "  ".join(
            f"{hist[k][i]:>12.4f}" if i < len(hist[k]) else " " * 12 for k in METRICS))
    click.echo("artifacts:")
    for path in tracking.list_artifacts(run_id):
        click.echo(f"  {path}")


@main.group("models")
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
    from . import registry

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
    from . import registry

    rows = [("name", "latest", "aliases", "test best %")]
    for m in registry.listing():
        acc = f"{float(m['test_acc_best']) * 100:.2f}" if m["test_acc_best"] else ""
        rows.append((m["name"], m["latest"], m["aliases"], acc))
    _echo_table(rows)


@models_grp.command("show")
@click.argument("ref", metavar="NAME[@ALIAS|/VERSION]")
def models_show(ref):
    """One version: source run, metrics, params count, signature, creation time."""
    import datetime

    from . import registry

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
    from . import registry

    if delete:
        registry.delete_alias(name, version_or_alias)
        click.echo(f"deleted alias {version_or_alias} of {name}")
    else:
        if not alias:
            raise click.UsageError("give NAME VERSION ALIAS")
        registry.set_alias(name, version_or_alias, alias)
        click.echo(f"models:/{name}@{alias} -> version {version_or_alias}")


@main.command("evaluate")
@click.argument("model_uri")
@click.option("--dataset", required=True, type=click.Choice(["mnist", "fashion_mnist", "cifar10"]))
@data_opt
@click.option("--no-download", is_flag=True, help="Fail instead of downloading a missing dataset.")
@click.option("--allow-pickle", is_flag=True, help="Allow loading a pickle-format model (runs code). Default: off.")
@click.option("--experiment", default="evaluations", show_default=True, help="Experiment of the evaluation run.")
def evaluate_cmd(model_uri, dataset, data_dir, no_download, allow_pickle, experiment):
    """Evaluate MODEL_URI (models:/NAME@ALIAS, models:/NAME/VERSION, runs:/RUN_ID/model) on a test split."""
    from . import evaluate

    r = evaluate.evaluate_uri(model_uri, dataset, data_dir or "data", not no_download, allow_pickle, experiment)
    click.echo(f"{model_uri} on {dataset} test ({r.n} images): accuracy {r.accuracy:.4%}, loss {r.loss:.4f}")
    click.echo("per class: " + ", ".join(f"{i}: {a:.2%}" for i, a in enumerate(r.per_class)))
    click.echo(f"evaluation run {r.run_id} (confusion_matrix.png, misclassified.png)")


if __name__ == "__main__":
    main()
