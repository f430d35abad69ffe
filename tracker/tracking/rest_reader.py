"""A tracking server read through its REST API (`runs/search`, paged), without importing
mlflow, with the credentials MLflow's client would send.

    MLFLOW_TRACKING_URI=http://127.0.0.1:5000 tracker compare --experiment mnist-demo
"""
from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request

from ..errors import TrackingError, Unreachable
from ..settings import credentials, http_timeout
from .. import names
from .records import RunRecord, Selection, check_sweep, keep, metric_value
from .uri import redact

PAGE = 10000


def call(uri: str, path: str, body: dict | None = None) -> dict:
    """One REST call, with the credentials MLflow's client would send."""
    url = uri.rstrip("/") + "/api/2.0/mlflow/" + path
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    creds = credentials()
    user, password = creds.get("MLFLOW_TRACKING_USERNAME"), creds.get("MLFLOW_TRACKING_PASSWORD")
    if user and password:
        req.add_header("Authorization", "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode())
    if creds.get("MLFLOW_TRACKING_TOKEN"):
        req.add_header("Authorization", f"Bearer {creds['MLFLOW_TRACKING_TOKEN']}")
    try:
        with urllib.request.urlopen(req, timeout=http_timeout()) as resp:
            return json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as e:
        detail = e.read().decode(errors="replace")[:300]
        raise TrackingError(f"tracking server answered {e.code} to {path}: {' '.join(detail.split())}") from None
    except OSError as e:
        raise Unreachable(f"tracking server {redact(uri)} is unreachable ({e.__class__.__name__})") from None


def _record(r: dict) -> RunRecord:
    info, data = r["info"], r.get("data", {})
    end = info.get("end_time")
    return RunRecord(info["run_id"], info.get("run_name", ""), info["status"],
                     {p["key"]: p["value"] for p in data.get("params", [])},
                     {m["key"]: metric_value(m["value"]) for m in data.get("metrics", [])},
                     {t["key"]: t["value"] for t in data.get("tags", [])},
                     int(info.get("start_time", 0)), int(end) if end else None, str(info["experiment_id"]))


def read_rest(uri: str, experiment: str | None, sweep: str | None, filter_string: str = "") -> Selection:
    where = redact(uri)
    sweep_tags = None
    if sweep:
        try:
            parent = _record(call(uri, "runs/get?" + urllib.parse.urlencode({"run_id": sweep}))["run"])
        except Unreachable:
            raise
        except TrackingError:
            raise TrackingError(f"run {sweep!r} not found at {where}") from None
        sweep_tags = parent.tags
        check_sweep(sweep, sweep_tags)
        exp_id = parent.experiment_id
        experiment = call(uri, "experiments/get?" + urllib.parse.urlencode(
            {"experiment_id": exp_id}))["experiment"]["name"]
        clause = f"tags.`{names.PARENT}` = '{sweep}'"
        filter_string = f"{clause} and {filter_string}" if filter_string else clause
    else:
        try:
            exp_id = call(uri, "experiments/get-by-name?" + urllib.parse.urlencode(
                {"experiment_name": experiment}))["experiment"]["experiment_id"]
        except Unreachable:
            raise
        except TrackingError:
            raise TrackingError(f"experiment {experiment!r} not found at {where}") from None
    runs, token = [], None
    while True:
        body = {"experiment_ids": [exp_id], "filter": filter_string, "max_results": PAGE,
                "run_view_type": "ACTIVE_ONLY", **({"page_token": token} if token else {})}
        page = call(uri, "runs/search", body)
        runs += [_record(r) for r in page.get("runs", [])]
        token = page.get("next_page_token")
        if not token:
            break
    return keep(runs, experiment, sweep, sweep_tags)
