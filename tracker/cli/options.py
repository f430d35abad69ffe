"""What every command shares: the error handling of the group (one line, exit 2), the options
several commands take (defined once), and the checks that run while options are parsed, so that
bad input is refused before any work is done.

    tracker compare --experiment mnist-demo --output /no/such/folder/t.md   # one line, exit 2
"""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import click

from ..errors import UserError
from ..settings import DATA_ENV
from ..signals import Interrupted


def fail(message: str, code: int = 2):
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


class Group(click.Group):
    """Bad input (ours or click's usage errors) becomes one line on stderr and exit 2; a signal
    exits 128 + signum."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except click.exceptions.NoArgsIsHelpError:
            raise
        except click.UsageError as e:  # a bad flag, a missing argument: one line too
            fail(e.format_message().splitlines()[0])
        except UserError as e:
            fail(str(e).splitlines()[0] if str(e) else e.__class__.__name__)
        except FloatingPointError as e:  # a diverged run: it is already marked FAILED
            fail(f"{e}; the run is marked FAILED", code=1)
        except Interrupted as e:
            click.echo(f"\nstopped by {e}; {e.outcome}", err=True)
            if e.resume:
                click.echo(f"continue it with: {e.resume}", err=True)
            sys.exit(128 + e.signum)


def versions(ctx, param, value) -> None:
    """`tracker --version`: tracker's version and what it runs on, read from the installed
    packages' metadata (nothing is imported: it is instant)."""
    if not value or ctx.resilient_parsing:
        return
    import platform
    from importlib.metadata import PackageNotFoundError, version

    def of(package: str) -> str:
        try:
            return version(package)
        except PackageNotFoundError:
            return "not installed"

    click.echo(f"tracker {of('tracker')} (mlflow {of('mlflow')}, torch {of('torch')}, "
               f"python {platform.python_version()})")
    ctx.exit()


def _writable_folder(folder: Path, option: str) -> None:
    """The folder exists (or its nearest existing parent can hold it) and takes a new file."""
    probe = folder
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise UserError(f"{option} {str(folder)!r}: {str(probe)!r} is a file, not a folder")
    try:
        with tempfile.TemporaryFile(dir=probe):
            pass
    except OSError as e:
        raise UserError(f"{option} {str(folder)!r}: cannot write in {str(probe)!r} "
                        f"({e.strerror or e.__class__.__name__})") from None


def output_file(ctx, param, value):
    """A file to write: its folder must exist and be writable, checked before any work."""
    if value is None:
        return value
    path = Path(value)
    option = param.opts[0]
    if path.is_dir():
        raise UserError(f"{option} {value!r} is a folder; give a file name")
    if not path.parent.is_dir():
        raise UserError(f"{option} {value!r}: the folder {str(path.parent)!r} does not exist")
    if path.exists() and not os.access(path, os.W_OK):
        raise UserError(f"{option} {value!r}: the file is not writable")
    _writable_folder(path.parent, option)
    return value


def output_folder(ctx, param, value):
    """A folder to write into (made when missing): it or its nearest parent must be writable."""
    if value is None:
        return value
    path = Path(value)
    if path.exists() and not path.is_dir():
        raise UserError(f"{param.opts[0]} {value!r} is a file; give a folder (it is made when missing)")
    _writable_folder(path, param.opts[0])
    return value


SET_HELP = "Override one config key, e.g. --set norm=group (repeatable). Default: none."
config_arg = click.argument("config", required=False, type=click.Path(dir_okay=False))
set_opt = click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help=SET_HELP)
data_opt = click.option("--data-dir", default=None, envvar=DATA_ENV,
                        help=f"Dataset folder (also {DATA_ENV}). Default: the config's data_dir, 'data'.")
BY_HELP = ("Param(s) that define a condition (repeatable, or comma-separated: --by norm,precision). "
           "Default: the grid keys minus seed of the sweep (or of the sweeps every run came from), else norm.")
by_opt = click.option("--by", multiple=True, help=BY_HELP)


def analysis(fn):
    """The analysis, over what a sweep declared: what is judged (--metric, or any logged metric
    with --metric-key, --goal and --at), --baseline, --margin, --alpha; and --seed-param."""
    from ..study import AT, GOALS, METRICS

    for option in reversed((
            click.option("--metric", type=click.Choice(METRICS), default=None,
                         help="What is judged of tracker's runs: final (the last epoch's test accuracy), "
                              "best_val (the test accuracy at the best validation epoch) or best_test (the "
                              "best epoch's, picked on the test set: biased up). Default: the sweep's [study], "
                              "else best_val when the runs held out a validation split, else final."),
            click.option("--metric-key", default=None, metavar="KEY",
                         help="Judge any metric the runs logged, in its own units (needs --goal unless it "
                              "is one of tracker's accuracies). Default: the sweep's [study], else --metric."),
            click.option("--goal", type=click.Choice(GOALS), default=None,
                         help="With --metric-key: whether a higher or a lower value is better. Default: "
                              "the sweep's [study]."),
            click.option("--at", type=click.Choice(AT), default=None,
                         help="With --metric-key: each run's last logged value, or its best step's (picked "
                              "on that metric). Default: last."),
            click.option("--baseline", default=None, metavar="VALUE",
                         help="The condition every other is compared with (its value, e.g. batch, or "
                              "norm=batch). Default: the sweep's [study], else the grid's first value, else "
                              "the first condition in sorted order."),
            click.option("--margin", type=float, default=None, metavar="AMOUNT",
                         help="The smallest difference that matters, in the metric's display units "
                              "(percentage points for accuracies: 0.1 = a tenth of a point); within it, a "
                              "comparison can be found equivalent. Default: the sweep's [study], else none."),
            click.option("--alpha", type=float, default=None,
                         help="The error rate of the verdicts. Default: the sweep's [study], else 0.05."),
            click.option("--seed-param", default="seed", show_default=True, metavar="NAME",
                         help="The param that names a run's seed; runs without it count as one "
                              "replicate each."))):
        fn = option(fn)
    return fn


def study_options(seed_param: str = "seed", **options) -> dict:
    """The analysis options as a Study's fields (checked by it: one line for a bad value)."""
    from ..study import Study

    Study(**{k: v for k, v in options.items() if v is not None}).judged()  # a key with no goal: one line
    return options


def readable() -> None:
    """A command that reads runs reads MLflow's own default store (./mlflow.db) when there is no
    tracker store here and no URI is set: runs logged with plain `mlflow` calls."""
    from ..settings import read_mlflow_default

    note = read_mlflow_default()
    if note:
        click.echo(note, err=True)


def selection(fn):
    """--experiment NAME or --sweep RUN_ID, exactly one (compare, report)."""
    fn = click.option("--sweep", "sweep_id", default=None, metavar="RUN_ID",
                      help="A sweep's parent run: its children.")(fn)
    return click.option("--experiment", default=None, help="An experiment: its runs.")(fn)


def one_selection(experiment, sweep_id) -> None:
    if bool(experiment) == bool(sweep_id):
        raise click.UsageError("give one of --experiment NAME or --sweep RUN_ID")
