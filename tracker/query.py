"""Fast read-only run queries for `tracker compare`, without importing mlflow.

The embedded store is read with sqlite3 (four queries for the whole experiment); a server is
asked through its REST API (`runs/search`, paged). A general --filter on the embedded store
goes through MLflow's own search instead (tracking.records), which understands its syntax.
"""
from __future__ import annotations

import base64
import json
import os
import sqlite3
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from .compare import Record
from .config import UserError, store_root

PAGE = 10000


class QueryError(UserError):
    pass


def _uri() -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{store_root() / 'mlflow.db'}"


def select(experiment: str | None, sweep: str | None, filter_string: str = "") -> tuple[list[Record], str, list[str]]:
    """(runs, experiment name, grid keys of the sweep, or of the sweeps all the runs came from)
    for an experiment or a sweep's children."""
    uri = _uri()
    if uri.startswith(("http://", "https://")):
        return _rest(uri, experiment, sweep, filter_string)
    if uri.startswith("sqlite:///") and not filter_string:
        return _sqlite(Path(uri[len("sqlite:///"):]), experiment, sweep)
    from . import tracking  # other stores, or a filter only MLflow can parse

    keys: list[str] = []
    if sweep:
        experiment, keys = tracking.sweep_info(sweep)
        clause = f"tags.mlflow.parentRunId = '{sweep}'"
        filter_string = f"{clause} and {filter_string}" if filter_string else clause
    return tracking.records(experiment, filter_string), experiment, keys


def _sqlite(db: Path, experiment: str | None, sweep: str | None):
    if not db.exists():
        what = f"run {sweep!r}" if sweep else f"experiment {experiment!r}"
        raise QueryError(f"{what} not found: the store sqlite:///{db} holds no runs yet")
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        keys: list[str] = []
        if sweep:
            row = con.execute("select r.experiment_id, e.name from runs r join experiments e "
                              "on e.experiment_id = r.experiment_id where r.run_uuid = ?", (sweep,)).fetchone()
            if row is None:
                raise QueryError(f"run {sweep!r} not found at sqlite:///{db}")
            exp_id, experiment = row
            tags = dict(con.execute("select key, value from tags where run_uuid = ?", (sweep,)))
            if tags.get("tracker.kind") != "sweep":
                raise QueryError(f"run {sweep!r} is not a sweep's parent run")
            keys = [k for k in tags.get("tracker.grid_keys", "").split(",") if k]
        else:
            row = con.execute("select experiment_id from experiments where name = ? and "
                              "lifecycle_stage = 'active'", (experiment,)).fetchone()
            if row is None:
                raise QueryError(f"experiment {experiment!r} not found at sqlite:///{db}")
            exp_id = row[0]
        runs = {rid: Record(rid, name or "", status) for rid, name, status in con.execute(
            "select run_uuid, name, status from runs where experiment_id = ? and lifecycle_stage = 'active'",
            (exp_id,))}
        scope = "run_uuid in (select run_uuid from runs where experiment_id = ? and lifecycle_stage = 'active')"
        tags: dict[str, dict] = {}
        for table, target in (("params", "params"), ("latest_metrics", "metrics"), ("tags", None)):
            for key, value, rid in con.execute(f"select key, value, run_uuid from {table} where {scope}", (exp_id,)):
                if target:
                    getattr(runs[rid], target)[key] = value
                else:
                    tags.setdefault(rid, {})[key] = value
    finally:
        con.close()
    kept, grid = _keep(runs.values(), tags, sweep)
    return kept, experiment, keys or grid


def _keep(runs, tags: dict[str, dict], sweep: str | None) -> tuple[list[Record], list[str]]:
    """Training runs only (not sweep parents), and only a sweep's children when asked; and the
    grid keys when every run kept comes from sweeps over the same keys."""
    out = []
    for r in runs:
        t = tags.get(r.run_id, {})
        if t.get("tracker.kind") == "sweep":
            continue
        if sweep and t.get("mlflow.parentRunId") != sweep:
            continue
        out.append(r)
    grids = {tags.get(r.run_id, {}).get("tracker.grid_keys", "") for r in out}
    return out, [k for k in grids.pop().split(",") if k] if len(grids) == 1 else []


def _call(uri: str, path: str, body: dict | None = None) -> dict:
    url = uri.rstrip("/") + "/api/2.0/mlflow/" + path
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    user, password = os.environ.get("MLFLOW_TRACKING_USERNAME"), os.environ.get("MLFLOW_TRACKING_PASSWORD")
    if user and password:
        req.add_header("Authorization", "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode())
    if os.environ.get("MLFLOW_TRACKING_TOKEN"):
        req.add_header("Authorization", f"Bearer {os.environ['MLFLOW_TRACKING_TOKEN']}")
    try:
        with urllib.request.urlopen(req, timeout=float(os.environ.get("MLFLOW_HTTP_REQUEST_TIMEOUT", "10"))) as resp:
            return json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as e:
        detail = e.read().decode(errors="replace")[:300]
        raise QueryError(f"tracking server answered {e.code} to {path}: {' '.join(detail.split())}") from None
    except OSError as e:
        raise QueryError(f"tracking server {uri} is unreachable ({e.__class__.__name__})") from None


def _rest(uri: str, experiment: str | None, sweep: str | None, filter_string: str):
    keys: list[str] = []
    if sweep:
        try:
            run = _call(uri, "runs/get?" + urllib.parse.urlencode({"run_id": sweep}))["run"]
        except QueryError:
            raise QueryError(f"run {sweep!r} not found at {uri}") from None
        tags = {t["key"]: t["value"] for t in run["data"].get("tags", [])}
        if tags.get("tracker.kind") != "sweep":
            raise QueryError(f"run {sweep!r} is not a sweep's parent run")
        keys = [k for k in tags.get("tracker.grid_keys", "").split(",") if k]
        exp_id = run["info"]["experiment_id"]
        experiment = _call(uri, "experiments/get?" + urllib.parse.urlencode({"experiment_id": exp_id}))["experiment"]["name"]
        clause = f"tags.mlflow.parentRunId = '{sweep}'"
        filter_string = f"{clause} and {filter_string}" if filter_string else clause
    else:
        try:
            exp_id = _call(uri, "experiments/get-by-name?" + urllib.parse.urlencode(
                {"experiment_name": experiment}))["experiment"]["experiment_id"]
        except QueryError:
            raise QueryError(f"experiment {experiment!r} not found at {uri}") from None
    runs, tags, token = [], {}, None
    while True:
        body = {"experiment_ids": [exp_id], "filter": filter_string, "max_results": PAGE,
                "run_view_type": "ACTIVE_ONLY", **({"page_token": token} if token else {})}
        page = _call(uri, "runs/search", body)
        for r in page.get("runs", []):
            info, data = r["info"], r.get("data", {})
            runs.append(Record(info["run_id"], info.get("run_name", ""), info["status"],
                               {p["key"]: p["value"] for p in data.get("params", [])},
                               {m["key"]: m["value"] for m in data.get("metrics", [])}))
            tags[info["run_id"]] = {t["key"]: t["value"] for t in data.get("tags", [])}
        token = page.get("next_page_token")
        if not token:
            break
    kept, grid = _keep(runs, tags, sweep)
    return kept, experiment, keys or grid
