"""Runs brought back: a KILLED run resumed from its checkpoint, in the same MLflow run, and a
buffered run replayed once its server answers (its model rebuilt from the checkpoint).

    tracker resume RUN_ID
"""
from __future__ import annotations

import numpy as np
import torch

from ..config import RunConfig
from ..errors import ConfigError
from ..ml import checkpoint
from ..ml.models import IN_SHAPE, build_model
from ..tracking import names
from . import job
from .prepare import prepare


def resume(run_id: str, overrides: dict | None = None, threads: int | None = None) -> str:
    """Continue RUN_ID from its last checkpoint, in the same MLflow run."""
    from ..tracking import live, store

    info = store.get_run(run_id)
    if info.status == "FINISHED":
        raise ConfigError(f"run {run_id} already FINISHED; there is nothing to resume")
    if store.is_live(info):
        raise ConfigError(f"run {run_id} is still running (pid {info.tags.get(names.PID)}); "
                          "stop it first")
    state = _checkpoint_of(run_id)
    cfg = _recorded_config(info, state, overrides or {})
    p = prepare(cfg, threads)
    run = live.attach_run(run_id)
    if state is None:  # killed before its first checkpoint: start over, in the same run
        return job.train_into(p, run, lambda: run.log_params(p.params), None)
    return job.train_into(p, run, lambda: None, state)


def _checkpoint_of(run_id: str) -> dict | None:
    from ..tracking import store

    local = checkpoint.folder(run_id) / checkpoint.LAST
    if not local.exists() and not store.fetch_artifact(run_id, f"{checkpoint.ARTIFACTS}/{checkpoint.LAST}", local.parent):
        return None
    return checkpoint.load(local)


RELOCATABLE = ("data_dir", "download", "device")  # where and on what a run executes


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


def model_from_checkpoint(run_id: str) -> tuple[torch.nn.Module, np.ndarray]:
    """The final model of a run rebuilt from its last checkpoint (for `tracker sync`, which
    logs a model that waited for the server)."""
    from ..config import make_config

    state = checkpoint.load(checkpoint.folder(run_id) / checkpoint.LAST)
    cfg = make_config(state["config"])
    model = build_model(cfg)
    model.load_state_dict(state.get("ema", state["model"]))  # the weights that were evaluated
    gen = torch.Generator().manual_seed(0)
    return model.eval(), torch.randn(2, *IN_SHAPE[cfg.dataset], generator=gen).numpy()


def sync() -> dict[str, int]:
    """Replay every run's outbox (`tracker sync`); a model that waited is rebuilt from its
    checkpoint. Returns run id -> calls replayed (or -1: the server is still down)."""
    from ..tracking import live

    return live.sync(model_from_checkpoint)
