"""Commands that read runs: compare, report, runs, show.

    tracker compare --experiment mnist-demo --by norm --format markdown
"""
from __future__ import annotations

from pathlib import Path

import click

from ..results.render import FORMATS
from ..settings import STALE_AFTER
from .options import analysis, by_opt, one_selection, output_file, output_folder, readable, selection, study_options


@click.command("compare")
@selection
@click.option("--filter", "filter_string", default="", help="MLflow filter string. Default: none.")
@by_opt
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@click.option("--output", default=None, callback=output_file, metavar="FILE",
              help="Write to this file. Default: stdout.")
@click.option("--plot", default=None, callback=output_file, metavar="PNG",
              help="Also draw test accuracy and loss per epoch to this PNG. Default: none.")
@click.option("--target", type=float, default=None, metavar="ACC",
              help="Also the training seconds each run took to first reach this test accuracy "
                   "(0.994 or 99.4), mean ± std per condition, and how many reached it. Default: none.")
@analysis
def compare_cmd(experiment, sweep_id, filter_string, by, fmt, output, plot, target, seed_param, **analysis):
    """Aggregate FINISHED runs per condition across seeds (mean, std, 95% CI of the judged
    metric) and judge each condition against the baseline: better, worse, equivalent within
    the margin, or undecided, with the reason, the power and the seeds that would decide it."""
    from ..results import compare

    one_selection(experiment, sweep_id)
    options = study_options(**analysis)
    readable()
    comparison = compare.compare(experiment, sweep_id, filter_string, by, target, options, seed_param)
    figure = compare.condition_curves(comparison.counted, comparison.level) if plot or fmt == "html" else None
    if plot and figure is None:
        click.echo(f"no curves to draw: the runs logged {comparison.judged.metric} at one step only", err=True)
    elif plot:
        figure.savefig(plot, dpi=100)
        click.echo(f"wrote {plot}", err=True)
    text = comparison.render(fmt, figure)
    if output:
        Path(output).write_text(text)
        click.echo(f"wrote {output}", err=True)
    else:
        click.echo(text, nl=False)
    if comparison.footnote:
        click.echo(comparison.footnote, err=True)


@click.command("report")
@selection
@click.option("--output", required=True, callback=output_folder, metavar="DIR",
              help="Folder for README.md, its PNGs and report.html (made when missing).")
@by_opt
@analysis
def report_cmd(experiment, sweep_id, output, by, seed_param, **analysis):
    """Write a study's report from its runs: what was compared and held fixed, the data, each
    condition's model, curves, the results table (Holm-adjusted p, difference to the best row with
    its 95% interval), each condition's best run's confusion matrix and misclassified images.
    With --sweep, the report is also logged to the sweep's parent run (report/)."""
    from ..results import report

    one_selection(experiment, sweep_id)
    options = study_options(**analysis)
    readable()
    written = report.report(experiment, sweep_id, output, by, options, seed_param)
    click.echo(f"wrote {written.readme} and {written.html}")
    if written.logged:
        click.echo(f"logged to the sweep's parent run: {written.logged}")
    if written.footnote:
        click.echo(written.footnote, err=True)


@click.command("runs")
@click.option("--experiment", default=None,
              help="Experiment to list. Default: every experiment (`tracker experiments` lists them).")
@click.option("--sweep", "sweep_id", default=None, metavar="RUN_ID", help="A sweep's parent run: its children.")
@click.option("--filter", "filter_string", default="", help="MLflow filter string. Default: none.")
@click.option("--stale", is_flag=True, help="Only RUNNING runs that are no longer alive.")
@click.option("--older-than", default=STALE_AFTER, show_default=True,
              help="With --stale: seconds without a heartbeat for runs of other hosts.")
@click.option("--mark-killed", is_flag=True, help="With --stale: mark them KILLED (then resume them).")
@click.option("--format", "fmt", type=click.Choice([f for f in FORMATS if f != "html"]),
              default="table", show_default=True,
              help="table and markdown show accuracies in %; csv and json keep them as fractions.")
def runs_cmd(experiment, sweep_id, filter_string, stale, older_than, mark_killed, fmt):
    """List runs: id, name, status, key params and the keys a sweep varied, final and best test
    accuracy, duration."""
    from ..results import listing, render
    from ..tracking import store

    if experiment and sweep_id:
        raise click.UsageError("give --experiment NAME or --sweep RUN_ID, not both")
    readable()
    found, marked = store.listing(experiment, filter_string, stale, older_than, mark_killed, sweep_id)
    if marked is not None:
        click.echo(f"marked {marked} stale run(s) KILLED; resume with tracker resume RUN_ID", err=True)
    if not found:
        where = f"sweep {sweep_id}" if sweep_id else f"experiment {experiment!r}" if experiment else "the store"
        what = "no stale runs" if stale else "no runs match the filter" if filter_string else "no runs"
        click.echo(f"{what} in {where}", err=True)
        return
    names_by_id = None if experiment or sweep_id else store.experiment_names()
    table = listing.runs_table(found, names_by_id)
    click.echo(render.table(listing.shown(table, fmt), fmt), nl=False)


@click.command("experiments")
@click.option("--format", "fmt", type=click.Choice([f for f in FORMATS if f != "html"]),
              default="table", show_default=True)
def experiments_cmd(fmt):
    """List the store's experiments: name, id, how many runs, when the newest started."""
    from ..results import listing, render
    from ..settings import tracking_uri
    from ..tracking import store
    from ..tracking.uri import redact

    readable()

    found = listing.worth_listing(store.experiments())
    if not found:
        click.echo(f"no experiments at {redact(tracking_uri())} yet", err=True)
        return
    click.echo(render.table(listing.experiments_table(found), fmt), nl=False)


@click.command("show")
@click.argument("run_id")
def show_cmd(run_id):
    """Print one run's config, metrics per epoch and artifact list."""
    from .. import names
    from ..tracking import store

    readable()

    run, hist, artifacts, models = store.describe(run_id, names.EPOCH_METRICS)
    click.echo(f"run {run_id}  {run.name}  {run.status}")
    click.echo("params:")
    for k, v in sorted(run.params.items()):
        click.echo(f"  {k} = {v}")
    click.echo("metrics per epoch:")
    click.echo(hist.to_string() if len(hist) else "  (none)")
    click.echo("artifacts:")
    for path in artifacts:
        click.echo(f"  {path}")
    click.echo("logged model:" + ("" if models else " (none: the run did not finish)"))
    for uri in models:
        click.echo(f"  {uri}  (register it: tracker models register {run_id})")


COMMANDS = (compare_cmd, report_cmd, runs_cmd, experiments_cmd, show_cmd)
