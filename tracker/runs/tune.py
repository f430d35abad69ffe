"""Each condition of a sweep tuned with the same budget before its seeds are judged ([tune]): one
Optuna study per condition, named SWEEP_ID/CONDITION, kept in settings.tune_storage() (a SQLite
file beside the store, or TRACKER_TUNE_DB). TPE seeded with sampler_seed + the condition's index
(a continued study: sampler_seed()); the median or Hyperband pruner per epoch. Each trial is a
training run (runs/trials.py) judged on its best validation accuracy, never a test accuracy. A
re-run continues: finished trials are kept, a trial a kill left running is run again. Conditions
run one after another, in --workers processes, or as Ray tasks; the seeds then run at each
condition's best values (tuned_plan).

    tracker tune experiments/mnist-norms-tuned.toml
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Callable

from .. import names
from ..config import make_config
from ..settings import tune_storage
from ..tune_spec import Range, Tune
from .plan import Plan, Point, child_tags
from .trials import recover, run_trial, trial_config, trial_runs, val_split

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


def storage(url: str | None = None):
    """Optuna's storage of the studies: `url`, else settings.tune_storage()."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # tracker prints a line per trial
    return optuna.storages.RDBStorage(url or tune_storage())


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


def tuned_tag(tune: Tune, complete: bool, **values) -> dict[str, str]:
    """TUNED: the budget, whether every condition finished its trials, and the values chosen
    (values= on a seed run: its condition's; best= on the parent: each condition's)."""
    return {names.TUNED: json.dumps({**tune.budget(), "complete": complete, **values}, sort_keys=True)}


def tune_condition(plan: Plan, parent_id: str, label: str, index: int, echo: Callable[[str], None] = print,
                   threads: int | None = None, store: str | None = None) -> Best:
    """One condition's tuning: `plan.tune.trials` finished trials (resumed where a kill left it),
    one at a time; in a worker process of its own when the sweep has --workers."""
    t, points = plan.tune, plan.conditions()[label]
    study = open_study(plan, label, index, storage(store))
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
         workers: int = 1, ray=None) -> dict[str, Best]:
    """Tune every condition of the plan (tune_condition), the parent's TUNED tag after each; with
    workers > 1, that many conditions at once, each in a process of its own, or with ray (a
    RayPool) each as a Ray task (a condition's trials one at a time, so its study sees them in
    order). Returns each condition's Best."""
    labels = list(plan.conditions())
    out: dict[str, Best] = {}

    def tag() -> None:
        if parent_run is not None:
            parent_run.set_tags(tuned_tag(plan.tune, len(out) == len(labels),
                                          best={lab: out[lab].values for lab in labels if lab in out}))

    tag()
    if ray is not None or workers > 1:
        storage()  # the studies' database made here, once: processes that made it at once would clash
    if ray is not None:
        echo(f"tuning {len(labels)} conditions as Ray tasks")
        for label, found in ray.tune(ray_task, plan, parent_id):
            out[label] = found
            tag()
        return {label: out[label] for label in labels}
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


def ray_task(plan: Plan, config_name: str, config_text: str, parent_id: str, label: str, index: int,
             threads: int, gpus: float, store: str) -> Best:
    """One condition's tuning as a Ray task (ray_executor.RayPool.tune): on the task's device,
    with the driver's Optuna storage and a copy of the sweep's file (each trial's config artifact)."""
    from ..settings import store_root
    from .ray_executor import place_task

    place_task(gpus)
    if config_text:
        path = store_root() / "files" / "sweeps" / plan.name / config_name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(config_text)
        plan = dataclasses.replace(plan, file=str(path))
    return tune_condition(plan, parent_id, label, index, print, threads, store)
