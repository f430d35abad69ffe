"""Commands that make runs: train, summary, demo, sweep, tune, resume, sync.

    tracker train experiments/mnist-demo.toml --set norm=group --data-dir ../shared/datasets
"""
from __future__ import annotations

import sys
from pathlib import Path

import click

from .. import names
from ..settings import sweep_output
from .options import config_arg, data_opt, set_opt

DEMO = str(Path(__file__).resolve().parents[2] / "experiments" / "mnist-demo.toml")


def _config(config, sets, data_dir=None):
    """The run CONFIG with --set and --data-dir; a file with a [grid] gives one point of it,
    and says which on stderr."""
    from .. import experiment
    from ..config import parse_overrides

    overrides = parse_overrides(sets)
    if data_dir:
        overrides["data_dir"] = data_dir
    cfg, note = experiment.point(experiment.read(config), overrides)
    if note:
        click.echo(f"note: {note}", err=True)
    return cfg


@click.command()
@config_arg
@set_opt
@data_opt
@click.option("--offline", is_flag=True,
              help="If the tracking server is unreachable, train anyway and keep the run on disk "
                   "until it answers (or `tracker sync`). Default: off (an error).")
def train(config, sets, data_dir, offline):
    """Train one run of CONFIG (a TOML file in experiments/) and log it to MLflow."""
    from ..runs import job

    cfg = _config(config, sets, data_dir)
    outcome = job.train(cfg, config, offline=offline)
    if outcome.buffered:
        click.echo(f"run {outcome.run_id} trained; its tracking calls wait for `tracker sync`")
    else:
        click.echo(f"run {outcome.run_id} FINISHED ({cfg.name}, experiment {cfg.experiment})")


@click.command()
@config_arg
@set_opt
def summary(config, sets):
    """Print the model summary, parameter counts and receptive field; needs no data."""
    from ..runs.prepare import summary as describe

    cfg = _config(config, sets)
    text, counts = describe(cfg)
    click.echo(text)
    click.echo(f"arch {cfg.arch}, norm {cfg.norm}, dataset {cfg.dataset}: "
               f"{counts[names.PARAMS_TOTAL]:,} params ({counts[names.PARAMS_TRAINABLE]:,} trainable), "
               f"receptive field {counts[names.RECEPTIVE_FIELD]}")


@click.command()
@click.option("--epochs", type=int, default=None, help="Epochs per run. Default: the file's.")
@data_opt
def demo(epochs, data_dir):
    """Sweep MNIST over batch, layer and group norm (experiments/mnist-demo.toml), then compare."""
    from .. import experiment
    from ..runs import driver, plan

    extra = {**({"epochs": epochs} if epochs else {}), **({"data_dir": data_dir} if data_dir else {})}
    with sweep_output():
        comparison = driver.run(plan.plan(experiment.read(DEMO), (), extra), echo=click.echo).comparison
    click.echo(comparison.render(), nl=False)
    if comparison.footnote:
        click.echo(comparison.footnote, err=True)


@click.command("sweep")
@click.argument("config", type=click.Path(dir_okay=False))
@set_opt
@data_opt
@click.option("--dry-run", is_flag=True, help="List the runs it would make, and stop. Default: off.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Runs in parallel processes (local executor), spread round-robin over the "
                   "GPUs visible.")
@click.option("--executor", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="local: this machine; ray: one Ray task per run on a cluster, logging to "
                   "MLFLOW_TRACKING_URI (a server; a local store is refused).")
@click.option("--address", default=None, metavar="ADDR",
              help="Ray cluster: HOST:6379, auto (one started with `ray start` here) or "
                   "ray://HOST:10001. Default: RAY_ADDRESS, else a new local Ray instance.")
@click.option("--cpus-per-run", default=1, show_default=True, type=click.IntRange(1, 1024),
              help="Ray: CPUs each run reserves.")
@click.option("--gpus-per-run", default=0.0, show_default=True, type=click.FloatRange(0, 64),
              help="Ray: GPUs each run reserves: 0 (device auto trains on the CPU), 1, or a "
                   "fraction that shares a GPU (its memory capped to that share).")
@click.option("--until-decided", is_flag=True,
              help="Add seeds look by look ([study] looks, default 3, 5, 10 per condition), only to the "
                   "conditions whose comparison with the baseline is still undecided. Default: off.")
def sweep_cmd(config, sets, data_dir, dry_run, workers, executor, address, cpus_per_run, gpus_per_run,
              until_decided):
    """Run the [grid] of CONFIG as child runs under one parent run; FINISHED children are skipped.
    The parent run shows the comparison as the children end (its description, curves, compare.*)."""
    from .. import experiment
    from ..runs import plan

    if executor == "ray" and workers > 1:
        raise click.UsageError("--workers is for the local executor; with --executor ray, Ray runs as "
                               "many at once as --cpus-per-run and the cluster's CPUs allow")
    extra = {"data_dir": data_dir} if data_dir else None
    p = plan.plan(experiment.read(config), sets, extra, until_decided)
    if dry_run:
        over = f"over {', '.join(p.grid_keys)}" if p.grid_keys else f"(no [grid] in {Path(config).name})"
        click.echo(f"sweep {p.name}: {len(p.points)} run{'s' if len(p.points) != 1 else ''} {over}")
        for i, pt in enumerate(p.points, 1):
            click.echo(f"  {i}. {pt.cfg.name}  " + " ".join(f"{k}={v}" for k, v in pt.values.items()))
        if until_decided:
            click.echo(f"until decided: looks of {', '.join(map(str, p.study.looks))} seeds per condition; "
                       "only undecided conditions get the later seeds")
        if p.tune is not None:
            from ..runs.tune import describe

            click.echo("\n".join(describe(p)))
        return
    from ..runs import driver

    ray = {"address": address, "cpus": cpus_per_run, "gpus": gpus_per_run} if executor == "ray" else None
    with sweep_output():
        done = driver.run(p, workers, echo=click.echo, ray=ray)
    counts = done.counts
    if done.tuned:
        _best(done.tuned)
    click.echo(f"sweep {p.name} (parent run {done.parent_id}): {counts['finished']} finished, "
               f"{counts['skipped']} skipped, {counts['failed']} failed")
    click.echo(f"compare: tracker compare --sweep {done.parent_id}")
    if counts["failed"]:
        sys.exit(1)


def _best(found) -> None:
    """Each condition's best values, its best validation accuracy and its trials (runs/tune.Best)."""
    import pandas as pd

    rows = [{"condition": b.label, **b.values, "best val acc": b.value, "complete": b.complete,
             "pruned": b.pruned} for b in found.values()]
    click.echo("each condition's best values (objective: its best validation accuracy):")
    click.echo(pd.DataFrame(rows).set_index("condition").to_string())


@click.command("tune")
@click.argument("config", type=click.Path(dir_okay=False))
@set_opt
@data_opt
@click.option("--dry-run", is_flag=True, help="Say what would be tuned, and stop. Default: off.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Conditions tuned at once, each in a process of its own (its trials one at a time).")
def tune_cmd(config, sets, data_dir, dry_run, workers):
    """Tune each condition of CONFIG (its [grid] minus the seed) with the same [tune] budget, as
    trial runs under the sweep's parent run, and print each condition's best values. A killed
    tuning continues where it stopped; `tracker sweep CONFIG` then runs the seeds at those values."""
    from .. import experiment
    from ..errors import UserError
    from ..runs import plan
    from ..runs.tune import describe

    extra = {"data_dir": data_dir} if data_dir else None
    p = plan.plan(experiment.read(config), sets, extra)
    if p.tune is None:
        raise UserError(f"{config} has no [tune] table; add one (trials, epochs, [tune.space]) to tune it")
    if dry_run:
        click.echo(f"sweep {p.name}: " + "\n".join(describe(p)))
        return
    from ..runs import driver

    with sweep_output():
        parent_id, found = driver.tune(p, workers, echo=click.echo)
    _best(found)
    click.echo(f"sweep {p.name} (parent run {parent_id}): tuned; run its seeds with `tracker sweep {config}`")


@click.command("resume")
@click.argument("run_id")
@set_opt
@data_opt
def resume_cmd(run_id, sets, data_dir):
    """Continue RUN_ID from its last checkpoint, in the same MLflow run (model, optimizer,
    scheduler, epoch and every RNG state restored). Only data_dir, download and device may change."""
    from ..config import parse_overrides
    from ..runs import resume

    overrides = {**parse_overrides(sets), **({"data_dir": data_dir} if data_dir else {})}
    resume.resume(run_id, overrides)
    click.echo(f"run {run_id} FINISHED (resumed)")


@click.command("sync")
def sync_cmd():
    """Replay tracking calls buffered during a server outage, in order, with their original
    steps and timestamps."""
    from ..runs import sync

    done = sync.sync()
    if not done:
        click.echo("nothing to sync")
    for run_id, n in done.items():
        click.echo(f"run {run_id}: " + ("server still unreachable, kept" if n < 0 else f"replayed {n} calls"))
    if any(n < 0 for n in done.values()):
        sys.exit(1)


COMMANDS = (train, summary, demo, sweep_cmd, tune_cmd, resume_cmd, sync_cmd)
