"""tracker: tracked PyTorch studies on MLflow. Each command parses its options, calls one
function and prints; heavy imports happen inside the commands.

    tracker demo --data-dir ../shared/datasets
"""
from __future__ import annotations

import sys
from pathlib import Path

import click

from .config import UserError
from .settings import DATA_ENV
from .signals import Interrupted

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
        except Interrupted as e:
            click.echo(f"\nstopped by {e}; {e.outcome}", err=True)
            sys.exit(128 + e.signum)


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
    MLflow's usage telemetry is off unless TRACKER_TELEMETRY=1.
    """


config_arg = click.argument("config", required=False, type=click.Path(dir_okay=False))
set_opt = click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help=SET_HELP)
data_opt = click.option("--data-dir", default=None, envvar=DATA_ENV,
                        help=f"Dataset folder (also {DATA_ENV}). Default: the config's data_dir, 'data'.")


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

    cfg = _config(config, sets, data_dir)
    outcome = job.train(cfg, config, offline=offline)
    if outcome.buffered:
        click.echo(f"run {outcome.run_id} trained; its tracking calls wait for `tracker sync`")
    else:
        click.echo(f"run {outcome.run_id} FINISHED ({cfg.name}, experiment {cfg.experiment})")


@main.command()
@config_arg
@set_opt
def summary(config, sets):
    """Print the model summary, parameter counts and receptive field; needs no data."""
    from . import job

    cfg = _config(config, sets)
    text, counts = job.summary(cfg)
    click.echo(text)
    click.echo(f"arch {cfg.arch}, norm {cfg.norm}, dataset {cfg.dataset}: "
               f"{counts['params_total']:,} params ({counts['params_trainable']:,} trainable), "
               f"receptive field {counts['receptive_field']}")


DEMO = str(Path(__file__).resolve().parents[1] / "experiments" / "mnist-demo.toml")


@main.command()
@click.option("--epochs", type=int, default=None, help="Epochs per run. Default: the file's.")
@data_opt
def demo(epochs, data_dir):
    """Sweep MNIST over batch, layer and group norm (experiments/mnist-demo.toml), then compare."""
    from . import executors

    extra = {**({"epochs": epochs} if epochs else {}), **({"data_dir": data_dir} if data_dir else {})}
    _print(executors.sweep_and_compare(DEMO, extra, echo=click.echo))


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

    if executor == "ray" and workers > 1:
        raise click.UsageError("--workers is for the local executor; with --executor ray, Ray runs as "
                               "many at once as --cpus-per-run and the cluster's CPUs allow")
    p = sweep.plan(config, sets, {"data_dir": data_dir} if data_dir else None)
    if dry_run:
        click.echo(f"sweep {p.name}: {len(p.points)} runs over {', '.join(p.grid_keys) or 'no grid'}")
        for i, pt in enumerate(p.points, 1):
            click.echo(f"  {i}. {pt.cfg.name}  " + " ".join(f"{k}={v}" for k, v in pt.values.items()))
        return
    from . import executors

    ray = {"address": address, "cpus": cpus_per_run, "gpus": gpus_per_run} if executor == "ray" else None
    parent, counts = executors.execute(p, config, workers, echo=click.echo, ray=ray)
    click.echo(f"sweep {p.name} (parent run {parent}): {counts['finished']} finished, "
               f"{counts['skipped']} skipped, {counts['failed']} failed")
    click.echo(f"compare: tracker compare --sweep {parent}")
    if counts["failed"]:
        sys.exit(1)


def _print(result, output: str | None = None, plot: str | None = None) -> None:
    """A comparison: its text to stdout or a file, the curves to a PNG, the footnote to stderr."""
    if plot:
        result.figure.savefig(plot, dpi=100)
        click.echo(f"wrote {plot}", err=True)
    if output:
        Path(output).write_text(result.text)
        click.echo(f"wrote {output}", err=True)
    else:
        click.echo(result.text, nl=False)
    if result.footnote:
        click.echo(result.footnote, err=True)


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
@click.option("--target", type=float, default=None, metavar="ACC",
              help="Also the training seconds each run took to first reach this test accuracy "
                   "(0.994 or 99.4), mean ± std per condition, and how many reached it. Default: none.")
def compare_cmd(experiment, sweep_id, filter_string, by, fmt, output, plot, target):
    """Aggregate FINISHED runs per condition across seeds: mean, std, 95% CI, Welch p."""
    from . import compare

    if bool(experiment) == bool(sweep_id):
        raise click.UsageError("give one of --experiment NAME or --sweep RUN_ID")
    _print(compare.compare(experiment, sweep_id, filter_string, by, fmt, curves=bool(plot),
                           target=target), output, plot)


@main.command("resume")
@click.argument("run_id")
@set_opt
@data_opt
def resume_cmd(run_id, sets, data_dir):
    """Continue RUN_ID from its last checkpoint, in the same MLflow run (model, optimizer,
    scheduler, epoch and every RNG state restored). Only data_dir, download and device may change."""
    from . import recovery
    from .config import parse_overrides

    overrides = {**parse_overrides(sets), **({"data_dir": data_dir} if data_dir else {})}
    recovery.resume(run_id, overrides)
    click.echo(f"run {run_id} FINISHED (resumed)")


@main.command("sync")
def sync_cmd():
    """Replay tracking calls buffered during a server outage, in order, with their original
    steps and timestamps."""
    from . import recovery

    done = recovery.sync()
    if not done:
        click.echo("nothing to sync")
    for run_id, n in done.items():
        click.echo(f"run {run_id}: " + ("server still unreachable, kept" if n < 0 else f"replayed {n} calls"))
    if any(n < 0 for n in done.values()):
        sys.exit(1)


def _register():
    from . import cli_more

    for command in cli_more.COMMANDS:
        main.add_command(command)


_register()

if __name__ == "__main__":
    main()
