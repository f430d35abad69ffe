"""Commands of the model registry: models register/list/show/alias, and evaluate.

    tracker models register RUN_ID --alias champion
    tracker models register --best --experiment mnist-demo --alias champion
"""
from __future__ import annotations

import click

from ..ml.datasets import NAMES
from ..names import TEST_ACC_BEST
from .options import analysis, by_opt, data_opt, study_options


@click.group("models")
def models_grp():
    """The model registry: register, list, show and alias models (models:/NAME@ALIAS)."""


@models_grp.command("register")
@click.argument("run_id", required=False)
@click.option("--name", default=None, help="Registered model name. Default: DATASET-ARCH-NORM.")
@click.option("--alias", default=None, help="Point this alias at the version. Default: none.")
@click.option("--best", is_flag=True,
              help="Register the run the study supports: the condition by its mean and the verdicts, as "
                   "`tracker compare` judges them; in it, the run by validation accuracy where the runs "
                   "held out a validation split, else the run closest to the condition's median.")
@click.option("--experiment", default=None,
              help="With --best: the experiment; only its sweep's runs when its runs come from one.")
@click.option("--sweep", "sweep_id", default=None, metavar="RUN_ID",
              help="With --best: a sweep's parent run; only its children count.")
@click.option("--by-condition", is_flag=True, help="With --best: one run of each condition.")
@by_opt
@analysis
def models_register(run_id, name, alias, best, experiment, sweep_id, by_condition, by, seed_param, **analysis):
    """Register RUN_ID's logged model, or with --best the run(s) a study supports."""
    from ..runs import promote

    if best == bool(run_id) or (best and not (experiment or sweep_id)):
        raise click.UsageError("give RUN_ID, or --best with --experiment NAME or --sweep RUN_ID")
    if best:
        options = study_options(**analysis)
        picks, notes = promote.best(experiment, sweep_id, by, by_condition, options, seed_param)
        for line in [*notes, *(f"chose {p.why}" for p in picks)]:
            click.echo(line)
        run_ids = [p.run_id for p in picks]
    else:
        run_ids = [run_id]
    for rid, reg in zip(run_ids, promote.register(run_ids, name, alias)):
        state = "registered" if reg.created else "already registered as"
        click.echo(f"run {rid} {state} models:/{reg.name}/{reg.version}"
                   + (f" (alias {alias}: models:/{reg.name}@{alias})" if alias else ""))


@models_grp.command("list")
def models_list():
    """Registered models: latest version, aliases, and the source run's best test accuracy."""
    import pandas as pd

    from ..results import render
    from ..settings import tracking_uri
    from ..tracking import registry
    from ..tracking.uri import redact

    rows = [{"name": m["name"], "latest": m["latest"], "aliases": m["aliases"],
             "test best %": f"{float(m[TEST_ACC_BEST]) * 100:.2f}" if m[TEST_ACC_BEST] else ""}
            for m in registry.listing()]
    if not rows:
        click.echo(f"no registered models at {redact(tracking_uri())} yet (tracker models register RUN_ID)",
                   err=True)
        return
    click.echo(render.table(pd.DataFrame(rows, columns=["name", "latest", "aliases", "test best %"])), nl=False)


@models_grp.command("show")
@click.argument("ref", metavar="NAME[@ALIAS|/VERSION]")
def models_show(ref):
    """One version: source run, metrics, params count, signature, creation time."""
    import datetime

    from ..tracking import registry

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
    from ..tracking import registry

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
@data_opt
@click.option("--no-download", is_flag=True, help="Fail instead of downloading a missing dataset.")
@click.option("--allow-pickle", is_flag=True, help="Allow loading a model that runs code when it loads: a "
              "pickle-format one, or one whose code is not this tracker's. Default: off.")
@click.option("--experiment", default="evaluations", show_default=True, help="Experiment of the evaluation run.")
def evaluate_cmd(model_uri, dataset, data_dir, no_download, allow_pickle, experiment):
    """Evaluate MODEL_URI (models:/NAME@ALIAS, models:/NAME/VERSION, runs:/RUN_ID/model) on a test split."""
    from ..runs import evaluate
    from ..settings import DEFAULT_DATA_DIR

    r = evaluate.evaluate_uri(model_uri, dataset, data_dir or DEFAULT_DATA_DIR, not no_download,
                              allow_pickle, experiment)
    click.echo(f"{model_uri} on {dataset} test ({r.n} images): accuracy {r.accuracy:.4%}, loss {r.loss:.4f}")
    click.echo("per class: " + ", ".join(f"{i}: {a:.2%}" for i, a in enumerate(r.per_class)))
    click.echo(f"evaluation run {r.run_id} (confusion_matrix.png, misclassified.png)")
    if not r.served:
        click.echo("note: a model logged before models carried their run's preprocessing, evaluated "
                   "on normalized images without test-time augmentation (a run with tta = true "
                   "reported its accuracy with it)")


COMMANDS = (models_grp, evaluate_cmd)
