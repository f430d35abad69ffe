"""Model registry: register a run's model, look it up by name, alias or version.

    tracker models register --best --experiment mnist-demo --alias champion
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass

from mlflow.exceptions import MlflowException

from ..errors import RegistryError
from . import names
from .client import client, edge, get
from .logged_model import signature
from .uri import redact

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


def model_source(run) -> tuple[str, str]:
    """The run's logged model: (models:/ URI, model id); an error when it logged none."""
    outputs = getattr(run, "outputs", None)
    models = list(getattr(outputs, "model_outputs", None) or [])
    if not models:
        raise RegistryError(f"run {run.info.run_id} has no logged model (it did not finish, "
                            "or was not made by tracker train)")
    return f"models:/{models[-1].model_id}", models[-1].model_id


@edge
def register(run_id: str, name: str, alias: str | None = None) -> Registered:
    """Register the run's model under `name`; the same run twice gives back the existing version."""
    check_name(name)
    if alias:
        check_alias(alias)
    run = get(client(), run_id)
    source, model_id = model_source(run)
    c = client()
    existing = [v for v in c.search_model_versions(f"name = '{name}'") if v.run_id == run_id]
    if existing:
        version, created = existing[0].version, False
    else:
        try:
            c.get_registered_model(name)
        except MlflowException:
            c.create_registered_model(name, description="registered by tracker")
        metrics = run.data.metrics
        tags = {"source_run": run_id, names.TEST_ACC_BEST: metrics.get(names.TEST_ACC_BEST, ""),
                names.TEST_ACC: metrics.get(names.TEST_ACC, ""),
                "params_total": run.data.params.get("params_total", ""),
                "config": json.dumps(run.data.params, sort_keys=True)[:7000]}
        mv = c.create_model_version(name, source, run_id=run_id, model_id=model_id,
                                    tags={k: str(v) for k, v in tags.items()})
        version, created = mv.version, True
    if alias:
        c.set_registered_model_alias(name, alias, version)
    return Registered(name, str(version), created)


def resolve(ref: str):
    """NAME, NAME@ALIAS or NAME/VERSION to a ModelVersion."""
    c = client()
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
    c = client()
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
            "params_total": mv.tags.get("params_total", ""),
            "signature": signature(f"models:/{mv.name}/{mv.version}")}
