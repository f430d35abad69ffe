"""A KILLED run brought back: resumed from its last checkpoint, in the same MLflow run.

    tracker resume RUN_ID
"""
from __future__ import annotations

from ..config import PLACEMENT, RunConfig
from ..errors import ConfigError
from ..ml import checkpoint
from ..ml.device import effective_precision, pick_device
from .. import names
from . import job
from .prepare import prepare


def resume(run_id: str, overrides: dict | None = None, threads: int | None = None,
           wait: float = 0.0) -> str:
    """Continue RUN_ID from its last checkpoint, in the same MLflow run; wait: s to wait for a
    tracking server that does not answer when the run is reopened (a sweep's child)."""
    from ..tracking import live, store

    info = store.get_run(run_id)
    if info.status == "FINISHED":
        raise ConfigError(f"run {run_id} already FINISHED; there is nothing to resume")
    if store.is_live(info):
        raise ConfigError(f"run {run_id} is still running (pid {info.tags.get(names.PID)}); "
                          "stop it first")
    state = _checkpoint_of(run_id)
    cfg = _recorded_config(info, state, overrides or {})
    _same_precision(info, cfg)
    p = prepare(cfg, threads)
    run = live.attach_run(run_id, system_metrics=cfg.system_metrics, wait=wait)
    moved = _moved(info, p, state)
    if state is None:  # killed before its first checkpoint: start over, in the same run
        fresh = {k: v for k, v in p.params.items() if k not in info.params}  # params never change
        return job.train_into(p, run, lambda: run.log_params(fresh, moved), None)
    return job.train_into(p, run, lambda: moved and run.set_tags(moved), state)


def _same_precision(info, cfg: RunConfig) -> None:
    """A resume on a device that would train in another precision changes the run: refused."""
    recorded = info.params.get(names.PRECISION_USED)
    device = pick_device(cfg.device)
    now = effective_precision(device, cfg.precision)
    if recorded and now != recorded:
        raise ConfigError(f"config key 'device': run {info.run_id} trained in {recorded} on "
                          f"{info.params.get(names.DEVICE_USED)}, and {device} would continue it in {now} "
                          f"(bf16 needs a device with native bf16); resume it where it trains in "
                          f"{recorded} (--set device=...)")


def _moved(info, p, state: dict | None) -> dict:
    """The tag naming where a run continued, once it continues elsewhere than it started (the
    params keep where it started: MLflow's params never change)."""
    before = info.tags.get(names.RESUMED_ON, "")
    started = (info.params.get(names.DEVICE_USED), info.params.get(names.CHANNELS_LAST))
    now = (p.params[names.DEVICE_USED], p.params[names.CHANNELS_LAST])
    if not before and (None in started or started == now):
        return {}
    entry = f"epoch {state['epoch'] + 1 if state else 1}: {now[0]}, {p.precision}, channels_last {now[1]}"
    return {names.RESUMED_ON: f"{before}; {entry}" if before else entry}


def _checkpoint_of(run_id: str) -> dict | None:
    from ..tracking import store

    local = checkpoint.folder(run_id) / checkpoint.LAST
    if not local.exists() and not store.fetch_artifact(run_id, f"{checkpoint.ARTIFACTS}/{checkpoint.LAST}", local.parent):
        return None
    return checkpoint.load(local)


RELOCATABLE = PLACEMENT  # where and how a run executes: a resume may change it


def _recorded_config(info, state: dict | None, overrides: dict) -> RunConfig:
    from ..config import FIELDS, make_config, parse_value

    recorded = info.params
    if state is None and "epochs" not in recorded:
        raise ConfigError(f"run {info.run_id} was stopped before it recorded its config; "
                          "there is nothing to resume, start a new run")
    values = dict(state["config"]) if state else {
        k: parse_value(k, recorded[k]) if recorded[k] != "" else None
        for k in FIELDS if k in recorded}
    for key, value in overrides.items():
        if key not in RELOCATABLE and values.get(key) != value:
            raise ConfigError(f"config key '{key}': run {info.run_id} recorded "
                              f"{values.get(key)!r}; a resumed run keeps its config "
                              f"(only {', '.join(RELOCATABLE)} may change)")
    cfg = make_config({**values, **overrides})
    drift = [k for k, v in cfg.as_params().items()
             if k not in RELOCATABLE and k in recorded and recorded[k] != v]
    if drift:
        raise ConfigError(f"config key '{drift[0]}': the checkpoint does not match what run "
                          f"{info.run_id} recorded; it cannot be resumed")
    return cfg
