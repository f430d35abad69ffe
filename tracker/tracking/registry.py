"""Model registry: register a run's model, look it up by name, alias or version.

    tracker models register --best --experiment mnist-demo --alias champion
"""
from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass

from mlflow.entities import LoggedModelStatus
from mlflow.exceptions import MlflowException

from ..errors import RegistryError
from .. import names
from .client import client, edge, get, reader
from .logged_model import signature
from .uri import redact

# "Waiting up to 300 seconds for model version to finish creation" on every register: an open
# source registry makes versions READY at once, and the command's output is its own
logging.getLogger("mlflow.store.model_registry.abstract_store").setLevel(logging.WARNING)

RESERVED_ALIAS = re.compile(r"^(latest|v\d+)$", re.IGNORECASE)
NAME_OK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,254}$")


@dataclass
class Registered:
    name: str
    version: str
    created: bool  # False when the run was already registered


def check_name(name: str) -> None:
    if not NAME_OK.match(name):
        raise RegistryError(f"model name {name!r} is invalid: use letters, digits, '.', '_' or '-' "
                            "(no '/' or ':'), at most 255 characters")


def check_alias(alias: str) -> None:
    if RESERVED_ALIAS.match(alias):
        raise RegistryError(f"alias {alias!r} is reserved by MLflow ('latest' and v<number>); pick another")
    check_name(alias)


def model_source(c, run) -> tuple[str, str]:
    """The run's logged model: (its artifact location, its id); an error when it logged none.
    The location, not models:/MODEL_ID, is the version's source: MLflow's SQL registry resolves
    a models:/ source with its global tracking URI, not the client's (./mlflow.db when unset)."""
    outputs = getattr(run, "outputs", None)
    for out in reversed(list(getattr(outputs, "model_outputs", None) or [])):
        model = c.get_logged_model(out.model_id)
        if model.name == names.MODEL and model.status == LoggedModelStatus.READY:
            return model.artifact_location, model.model_id
    raise RegistryError(f"run {run.info.run_id} has no logged model (it did not finish, "
                        "or was not made by tracker train)")


@edge
def register(run_id: str, name: str, alias: str | None = None) -> Registered:
    """Register the run's model under `name`; the same run twice gives back the existing version."""
    check_name(name)
    if alias:
        check_alias(alias)
    c = reader()  # the run must exist: a folder with no store is told so, not given one
    run = get(c, run_id)
    source, model_id = model_source(c, run)
    existing = [v for v in c.search_model_versions(f"name = '{name}'") if v.run_id == run_id]
    if existing:
        version = existing[0].version
        if alias:
            c.set_registered_model_alias(name, alias, version)
        return Registered(name, str(version), False)
    metrics = run.data.metrics
    tags = {"source_run": run_id, names.TEST_ACC_BEST: metrics.get(names.TEST_ACC_BEST, ""),
            names.TEST_ACC: metrics.get(names.TEST_ACC, ""),
            names.PARAMS_TOTAL: run.data.params.get(names.PARAMS_TOTAL, ""),
            "config": json.dumps(run.data.params, sort_keys=True)[:7000]}
    new_name, version = False, None
    try:
        try:
            c.get_registered_model(name)
        except MlflowException:
            c.create_registered_model(name, description="registered by tracker")
            new_name = True
        version = c.create_model_version(name, source, run_id=run_id, model_id=model_id,
                                         tags={k: str(v) for k, v in tags.items()}).version
        if alias:
            c.set_registered_model_alias(name, alias, version)
    except BaseException:  # a failed register leaves nothing behind: no version, no empty model
        if new_name:
            c.delete_registered_model(name)
        elif version is not None:
            c.delete_model_version(name, version)
        raise
    return Registered(name, str(version), True)


def resolve(ref: str):
    """NAME, NAME@ALIAS or NAME/VERSION to a ModelVersion."""
    c = reader()
    name, alias, version = ref, None, None
    if "@" in ref:
        name, alias = ref.split("@", 1)
    elif "/" in ref:
        name, version = ref.split("/", 1)
    try:
        c.get_registered_model(name)
    except MlflowException:
        raise RegistryError(f"model {name!r} is not registered at {redact(c.tracking_uri)}") from None
    try:
        if alias:
            return c.get_model_version_by_alias(name, alias)
        if version:
            return c.get_model_version(name, version)
        return max(c.search_model_versions(f"name = '{name}'"), key=lambda v: int(v.version))
    except MlflowException:
        what = f"alias {alias!r}" if alias else f"version {version!r}"
        raise RegistryError(f"model {name!r} has no {what}") from None


@edge
def set_alias(name: str, version: str, alias: str) -> None:
    check_alias(alias)
    resolve(f"{name}/{version}")
    client().set_registered_model_alias(name, alias, version)


@edge
def delete_alias(name: str, alias: str) -> None:
    resolve(f"{name}@{alias}")
    client().delete_registered_model_alias(name, alias)


@edge
def listing() -> list[dict]:
    c = reader()
    out = []
    for m in c.search_registered_models():
        versions = c.search_model_versions(f"name = '{m.name}'")
        latest = max(versions, key=lambda v: int(v.version)) if versions else None
        aliases = {a: v for a, v in (m.aliases or {}).items()}
        out.append({"name": m.name, "latest": latest.version if latest else "",
                    "aliases": ", ".join(f"{a}->v{v}" for a, v in sorted(aliases.items())),
                    names.TEST_ACC_BEST: latest.tags.get(names.TEST_ACC_BEST, "") if latest else ""})
    return out


@edge
def describe(ref: str) -> dict:
    mv = resolve(ref)
    return {"name": mv.name, "version": mv.version, "aliases": ", ".join(mv.aliases or []),
            "source_run": mv.run_id, "created": mv.creation_timestamp,
            names.TEST_ACC_BEST: mv.tags.get(names.TEST_ACC_BEST, ""), names.TEST_ACC: mv.tags.get(names.TEST_ACC, ""),
            names.PARAMS_TOTAL: mv.tags.get(names.PARAMS_TOTAL, ""),
            "signature": signature(f"models:/{mv.name}/{mv.version}")}
