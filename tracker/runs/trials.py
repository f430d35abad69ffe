"""A tuning trial as a training run (runs/tune.py runs the studies): its config, its run
under the sweep's parent with its outcome told to Optuna (complete, pruned by the per-epoch
hook, diverged), and the trials a kill left running, found by their runs and run again.

    tracker tune experiments/mnist-norms-tuned.toml
"""
from __future__ import annotations

import dataclasses
from typing import Callable

from .. import names
from ..config import RunConfig, make_config
from ..errors import UserError
from ..settings import outage_wait
from ..tune_spec import DEFAULT_VAL_SPLIT, Tune
from .plan import Plan


def val_split(cfg: RunConfig) -> float:
    """A trial's validation split: the file's, else DEFAULT_VAL_SPLIT."""
    return cfg.val_split if cfg.val_split > 0 else DEFAULT_VAL_SPLIT


def trial_config(cfg: RunConfig, tune: Tune, values: dict, number: int) -> RunConfig:
    """A trial of the condition whose first seed's run is `cfg`: the sampled values, tune.epochs."""
    return make_config({**dataclasses.asdict(cfg), **values, "epochs": tune.epochs, "val_split": val_split(cfg),
                        "run_name": f"{cfg.name}-trial{number}"})


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
