"""Each condition of a sweep tuned with the same budget before its seeds are judged ([tune]): one
Optuna study per condition, named SWEEP_ID/CONDITION, kept in settings.tune_storage() (a SQLite
file beside the store, or TRACKER_TUNE_DB). TPE seeded with sampler_seed + the condition's index;
the median or Hyperband pruner per epoch (a continued study: sampler_seed()). A trial is a real training run under the sweep's parent
(tracker.kind = trial): the condition's config at the plan's first seed, `epochs` epochs, the
sampled values, a validation split (the file's val_split, else 0.1). Its objective is its best
validation accuracy, never a test accuracy. A pruned trial ends KILLED (tracker.tune.state =
pruned); one whose loss diverged ends FAILED, counted, with objective 0. A re-run continues:
finished trials are kept, a trial a kill left running is run again with the same values.

    tracker tune experiments/mnist-norms-tuned.toml
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Callable

from .. import names
from ..config import RunConfig, make_config
from ..errors import UserError
from ..settings import outage_wait, tune_storage
from ..tune_spec import DEFAULT_VAL_SPLIT, Range, Tune
from .plan import Plan, Point, child_tags

STARTUP_TRIALS = 2  # the median pruner prunes nothing before this many trials finished


@dataclass
class Best:
    """A condition's tuning as it stands: its best values, their objective, its trials by state."""
    label: str
    values: dict
    value: float | None  # the best validation accuracy (None while no trial finished)
    complete: int
    pruned: int

    @property
    def finished(self) -> int:
        return self.complete + self.pruned


def storage():
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # tracker prints a line per trial
    return optuna.storages.RDBStorage(tune_storage())


def make_pruner(tune: Tune):
    import optuna

    if tune.pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=STARTUP_TRIALS, n_warmup_steps=0)
    if tune.pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=tune.epochs)
    return optuna.pruners.NopPruner()


def sampler_seed(tune: Tune, index: int, before: int) -> int:
    """TPE's seed for condition `index`: sampler_seed + index for a new study; for one continued
    after `before` trials, a seed drawn from all three (the same seed again would draw the
    values of its first trials again)."""
    import numpy as np

    if not before:
        return tune.sampler_seed + index
    return int(np.random.SeedSequence([tune.sampler_seed, index, before]).generate_state(1)[0])


def open_study(plan: Plan, label: str, index: int, store=None):
    """The condition's study, made or loaded (its trials kept)."""
    import optuna

    study = optuna.create_study(study_name=f"{plan.name}/{label}", storage=store or storage(),
                                direction="maximize", load_if_exists=True, pruner=make_pruner(plan.tune))
    before = len(study.get_trials(deepcopy=False))
    study.sampler = optuna.samplers.TPESampler(seed=sampler_seed(plan.tune, index, before))
    return study


def distributions(tune: Tune) -> dict:
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    out = {}
    for key, spec in tune.space.items():
        if not isinstance(spec, Range):
            out[key] = CategoricalDistribution(list(spec))
        elif spec.integer:
            out[key] = IntDistribution(spec.low, spec.high, log=spec.log)
        else:
            out[key] = FloatDistribution(float(spec.low), float(spec.high), log=spec.log)
    return out


def val_split(cfg: RunConfig) -> float:
    """A trial's validation split: the file's, else DEFAULT_VAL_SPLIT."""
    return cfg.val_split if cfg.val_split > 0 else DEFAULT_VAL_SPLIT


def trial_config(cfg: RunConfig, tune: Tune, values: dict, number: int) -> RunConfig:
    """A trial of the condition whose first seed's run is `cfg`: the sampled values, tune.epochs."""
    return make_config({**dataclasses.asdict(cfg), **values, "epochs": tune.epochs, "val_split": val_split(cfg),
                        "run_name": f"{cfg.name}-trial{number}"})


def counts(study) -> tuple[int, int]:
    """Complete and pruned trials of a study: what the budget counts."""
    from optuna.trial import TrialState

    states = [t.state for t in study.get_trials(deepcopy=False)]
    return states.count(TrialState.COMPLETE), states.count(TrialState.PRUNED)


def best(label: str, study) -> Best:
    complete, pruned = counts(study)
    if not complete:
        return Best(label, {}, None, complete, pruned)
    t = study.best_trial
    return Best(label, dict(t.params), t.value, complete, pruned)


def trial_runs(plan: Plan, experiment: str) -> dict[tuple[str, int], object]:
    """The sweep's trial runs by (condition, trial number), the newest of each."""
    from ..errors import TrackingError
    from ..tracking import store

    try:
        found = store.search(experiment, f"tags.`{names.SWEEP}` = '{plan.name}' and "
                             f"tags.`{names.KIND}` = '{names.TRIAL_KIND}'", order_by=["attributes.start_time ASC"])
    except TrackingError:  # no experiment yet
        return {}
    return {(r.tags.get(names.TUNE_CONDITION), int(r.tags.get(names.TUNE_TRIAL, -1))): r for r in found}


def recover(study, label: str, runs: dict, echo: Callable[[str], None]) -> None:
    """Trials a kill left RUNNING: told from their runs when those ended (finished, pruned), else
    failed and enqueued again with the same values (their runs ended KILLED, state killed)."""
    from optuna.trial import TrialState

    from ..tracking import store
    from .sweep import _gone

    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        r = runs.get((label, t.number))
        if r is not None and r.status == "RUNNING":
            if not _gone(r):
                raise UserError(f"trial {t.number} of {label} (run {r.run_id}) is still running (pid "
                                f"{r.tags.get(names.PID)} on {r.tags.get(names.HOST)}); wait for it or stop it")
            store.mark_killed(r.run_id, "its process is gone (found by a re-run of its tuning)")
            r.status = "KILLED"
        if r is not None and r.status == "FINISHED" and names.VAL_ACC_BEST in r.metrics:
            store.set_tags(r.run_id, {names.TUNE_STATE: names.TRIAL_COMPLETE})
            study.tell(t.number, r.metrics[names.VAL_ACC_BEST])
            continue
        if r is not None and r.tags.get(names.TUNE_STATE) == names.TRIAL_PRUNED:
            study.tell(t.number, state=TrialState.PRUNED)
            continue
        if r is not None:
            store.set_tags(r.run_id, {names.TUNE_STATE: names.TRIAL_KILLED})
        study.tell(t.number, state=TrialState.FAIL)
        study.enqueue_trial(dict(t.params), user_attrs={"rerun_of": t.number})
        echo(f"  {label}: trial {t.number} was stopped; it runs again with the same values")


def run_trial(study, trial, cfg: RunConfig, config_file: str, tags: dict, found: Callable,
              threads: int | None = None) -> tuple[str, float]:
    """One trial as a training run; tells the study its outcome. Returns (state, objective).
    A stop signal leaves the trial RUNNING (its run KILLED, state killed): recover() reruns it."""
    from optuna.trial import TrialState

    from ..signals import Interrupted
    from ..tracking import store
    from . import job
    from .epochs import Stopped

    seen: list[float] = []

    def after_epoch(epoch: int, history: dict) -> dict | None:
        seen[:] = history[names.VAL_ACC]
        trial.report(seen[-1], epoch)
        return {names.TUNE_STATE: names.TRIAL_PRUNED} if trial.should_prune() else None

    try:
        run_id = job.train(cfg, config_file, tags=tags, threads=threads, wait=outage_wait(),
                           after_epoch=after_epoch, keep_model=False).run_id
    except Stopped:
        study.tell(trial, state=TrialState.PRUNED)
        return names.TRIAL_PRUNED, max(seen)
    except Interrupted as e:
        if e.run_id:
            store.set_tags(e.run_id, {names.TUNE_STATE: names.TRIAL_KILLED})
        raise
    except FloatingPointError as e:  # a rate too high: counted, the worst objective
        if (r := found()) is not None:
            store.set_tags(r.run_id, {names.TUNE_STATE: names.TRIAL_DIVERGED})
        study.tell(trial, 0.0)
        return f"{names.TRIAL_DIVERGED} ({e})", 0.0
    except UserError:
        study.tell(trial, state=TrialState.FAIL)
        raise
    store.set_tags(run_id, {names.TUNE_STATE: names.TRIAL_COMPLETE})
    study.tell(trial, max(seen))
    return names.TRIAL_COMPLETE, max(seen)


def tuned_tag(tune: Tune, complete: bool, **values) -> dict[str, str]:
    """TUNED: the budget, whether every condition finished its trials, and the values chosen
    (values= on a seed run: its condition's; best= on the parent: each condition's)."""
    return {names.TUNED: json.dumps({**tune.budget(), "complete": complete, **values}, sort_keys=True)}


def tune_condition(plan: Plan, parent_id: str, label: str, index: int, echo: Callable[[str], None] = print,
                   threads: int | None = None) -> Best:
    """One condition's tuning: `plan.tune.trials` finished trials (resumed where a kill left it),
    one at a time; in a worker process of its own when the sweep has --workers."""
    t, points = plan.tune, plan.conditions()[label]
    study = open_study(plan, label, index)
    recover(study, label, trial_runs(plan, points[0].cfg.experiment), echo)
    first, space = points[0], distributions(t)
    echo(f"tune {label}: {t.trials} trials of {t.epochs} epochs, {sum(counts(study))} already finished")
    while sum(counts(study)) < t.trials:
        trial = study.ask(space)
        cfg = trial_config(first.cfg, t, trial.params, trial.number)
        tags = {**child_tags(plan, first, parent_id), names.KIND: names.TRIAL_KIND,
                names.TUNE_TRIAL: str(trial.number), names.TUNE_CONDITION: label}
        number = trial.number  # a diverged run's id is not in its error: found by its tags
        state, value = run_trial(study, trial, cfg, plan.file, tags,
                                 lambda: trial_runs(plan, cfg.experiment).get((label, number)), threads)
        shown = " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in trial.params.items())
        echo(f"  {label} trial {trial.number}: {shown}: {state}, best val acc {value:.2%}")
    return best(label, study)


def tune(plan: Plan, parent_id: str, parent_run=None, echo: Callable[[str], None] = print,
         workers: int = 1) -> dict[str, Best]:
    """Tune every condition of the plan (tune_condition), the parent's TUNED tag after each; with
    workers > 1, that many conditions at once, each in a process of its own (its trials one at a
    time, so every condition's study sees its own trials in order). Returns each condition's Best."""
    labels = list(plan.conditions())
    out: dict[str, Best] = {}

    def tag() -> None:
        if parent_run is not None:
            parent_run.set_tags(tuned_tag(plan.tune, len(out) == len(labels),
                                          best={lab: out[lab].values for lab in labels if lab in out}))

    tag()
    if workers <= 1 or len(labels) == 1:
        for index, label in enumerate(labels):
            out[label] = tune_condition(plan, parent_id, label, index, echo)
            tag()
        return out
    from concurrent.futures import as_completed

    from .pool import threads_for, worker_pool

    n = min(workers, len(labels))
    echo(f"tuning {len(labels)} conditions, {n} at once (a process each)")
    with worker_pool(n) as executor:
        futures = {executor.submit(tune_condition, plan, parent_id, label, index, print, threads_for(n)): label
                   for index, label in enumerate(labels)}
        for fut in as_completed(futures):
            out[futures[fut]] = fut.result()
            tag()
    return {label: out[label] for label in labels}


def tuned_plan(plan: Plan, found: dict[str, Best]) -> Plan:
    """The plan whose seed runs carry their condition's best values (in their config: params)
    and the TUNED tag."""
    points = []
    for label, pts in plan.conditions().items():
        b = found[label]
        tag = tuned_tag(plan.tune, True, values=b.values)
        points += [Point(pt.values, make_config({**dataclasses.asdict(pt.cfg), **b.values}), tag) for pt in pts]
    order = {pt.cfg.name: i for i, pt in enumerate(plan.points)}
    return dataclasses.replace(plan, points=sorted(points, key=lambda pt: order[pt.cfg.name]))


def describe(plan: Plan) -> list[str]:
    """What the tuning would do (--dry-run)."""
    t = plan.tune
    space = ", ".join(f"{k} " + (f"{v.low}..{v.high}" + (" (log)" if v.log else "") if isinstance(v, Range)
                                 else "in " + "|".join(map(str, v))) for k, v in t.space.items())
    first = plan.points[0].cfg
    return [f"tune {len(plan.conditions())} conditions ({', '.join(plan.conditions())}) first: {t.trials} trials "
            f"of {t.epochs} epochs each over {space}",
            f"  TPE seeded {t.sampler_seed} (+ the condition's index), pruner {t.pruner}; objective: the best "
            f"validation accuracy (val_split {val_split(first)}, seed {first.seed}), never the test accuracy",
            "  then each condition's seeds run at its best values"]
