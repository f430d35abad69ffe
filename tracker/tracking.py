"""The one module that talks to MLflow: experiments, runs, batched logging, model logging.

    MLFLOW_TRACKING_URI=sqlite:///mlruns/mlflow.db tracker runs --experiment tracker
"""
from __future__ import annotations

import json
import logging
import os
import queue
import socket
import sys
import threading
import time
import uuid
from pathlib import Path
import urllib.error
import urllib.request
from typing import Any, Iterable

from .config import UserError, store_root
from .outbox import Outbox

# a hung server must not hang a run: bounded per-request time and retries (seconds)
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")

import mlflow  # noqa: E402
from mlflow.entities import Metric, Param, RunTag, ViewType  # noqa: E402
import requests  # noqa: E402
from mlflow.exceptions import MlflowException, RestException  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402

for _quiet in ("mlflow.store.db.utils", "alembic.runtime.migration"):  # schema chatter on stderr
    logging.getLogger(_quiet).setLevel(logging.WARNING)

KIND_TAG = "mlflow.experimentKind"
KIND = "custom_model_development"  # opens the UI's model-training view
MAX_BATCH_PARAMS = 100
HEARTBEAT = "tracker.heartbeat"  # unix seconds of the last logged epoch


class TrackingError(UserError):
    """The tracking store cannot be used; one line for the user."""


def tracking_uri() -> str:
    """MLFLOW_TRACKING_URI when set, else the embedded store: ./mlruns/mlflow.db (SQLite)."""
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return os.environ["MLFLOW_TRACKING_URI"]
    root = store_root()
    root.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{root / 'mlflow.db'}"


def is_local(uri: str) -> bool:
    return not uri.startswith(("http://", "https://", "databricks"))


def check_reachable(uri: str, timeout: float = 5.0) -> None:
    if is_local(uri):
        return
    try:
        with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=timeout):
            pass
    except urllib.error.HTTPError:
        return  # it answered; auth or routing is the server's business
    except (OSError, ValueError) as e:
        raise TrackingError(f"tracking server {redact(uri)} is unreachable ({e.__class__.__name__}); "
                            f"start it (tracker server), unset MLFLOW_TRACKING_URI, or train "
                            f"--offline to buffer the run on disk") from None


def redact(uri: str) -> str:
    """Drop a password from user:password@host."""
    scheme, sep, rest = uri.partition("://")
    if sep and "@" in rest.split("/")[0]:
        creds, _, host = rest.partition("@")
        return f"{scheme}://{creds.split(':')[0]}:***@{host}"
    return uri


def client() -> MlflowClient:
    uri = tracking_uri()
    check_reachable(uri)
    return MlflowClient(tracking_uri=uri)


def ensure_experiment(c: MlflowClient, name: str) -> str:
    exp = c.get_experiment_by_name(name)
    if exp is None:
        location = None
        if is_local(c.tracking_uri):
            location = (store_root() / "artifacts").as_uri()
        try:
            return c.create_experiment(name, artifact_location=location, tags={KIND_TAG: KIND})
        except MlflowException as e:
            if c.get_experiment_by_name(name) is None:  # not a race with a parallel run
                raise TrackingError(f"experiment {name!r}: {e.message.splitlines()[0]}") from None
            exp = c.get_experiment_by_name(name)
    if exp.lifecycle_stage == "deleted":
        raise TrackingError(f"experiment {name!r} is deleted; restore it or pick another name")
    if exp.tags.get(KIND_TAG) != KIND:
        c.set_experiment_tag(exp.experiment_id, KIND_TAG, KIND)
    return exp.experiment_id


def unreachable(e: BaseException) -> bool:
    """A failed connection (not an answer from the server, such as a 400)."""
    if isinstance(e, RestException):
        return False
    return isinstance(e, (MlflowException, OSError, requests.exceptions.RequestException))


class Run:
    """A live run. Calls go, in order, to a sender thread, so training never waits on the
    network; `wait()` (done by `end`, `finish_with_model` and reads) lets the queue drain.

    Against a server, a call that cannot connect goes to a durable outbox on disk instead,
    and training goes on; the outbox is replayed in order once the server answers again.
    A hard kill loses at most the calls still queued; `resume` re-logs an epoch's metrics
    from the checkpoint's history.
    """

    def __init__(self, c: MlflowClient, run_id: str, experiment_id: str):
        self.client, self.run_id, self.experiment_id = c, run_id, experiment_id
        self.seconds = 0.0  # time the training thread spent in tracking calls
        self.send_seconds = 0.0  # time the sender thread spent delivering them
        self.send_cpu_seconds = 0.0  # CPU time it used doing so (what it can take from training)
        self.outbox = Outbox(run_id)
        self.remote = not is_local(c.tracking_uri)
        self._queue: queue.Queue = queue.Queue()
        self._error: BaseException | None = None
        threading.Thread(target=self._sender, daemon=True, name=f"tracker-{run_id[:8]}").start()

    def _timed(self, fn, *args, **kwargs):
        t = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - t

    def _sender(self) -> None:
        while True:
            op = self._queue.get()
            t, cpu = time.perf_counter(), time.thread_time()
            try:
                if self._error is None:
                    self._deliver(op)
            except BaseException as e:  # raised in the training thread at its next call
                self._error = e
            finally:
                self.send_seconds += time.perf_counter() - t
                self.send_cpu_seconds += time.thread_time() - cpu
                self._queue.task_done()

    def wait(self, raise_error: bool = True) -> None:
        """Block until every queued call is delivered or buffered; re-raise a delivery error."""
        self._timed(self._queue.join)
        error, self._error = self._error, None
        if error is not None and raise_error:
            raise error

    def _send(self, op: dict) -> None:
        if self._error is not None:
            self.wait()
        self._queue.put(op)

    def _deliver(self, op: dict) -> None:
        if self.remote and self.outbox.pending():  # mid-outage: keep the order
            self.outbox.append(op)
            self._flush()
            return
        try:
            apply_op(self.client, self.outbox, op)
        except Exception as e:
            if not (self.remote and unreachable(e)):
                raise
            print(f"tracking server unreachable ({e.__class__.__name__}); buffering to "
                  f"{self.outbox.path}", file=sys.stderr, flush=True)
            self.outbox.append(op)

    def flush(self, wait: float = 0.0) -> bool:
        """Deliver the queue, then replay the outbox if the server answers (waiting up to
        `wait` s); True when nothing is left."""
        self.wait()
        return self._timed(self._flush, wait)

    def _flush(self, wait: float = 0.0) -> bool:
        deadline = time.time() + wait
        while self.outbox.pending():
            if server_up(self.client.tracking_uri):
                try:
                    n = self.outbox.replay(lambda op: apply_op(self.client, self.outbox, op))
                    print(f"tracking server is back: replayed {n} buffered calls", file=sys.stderr, flush=True)
                    return True
                except Exception as e:
                    if not unreachable(e):
                        raise
            if time.time() >= deadline:
                return False
            time.sleep(min(5.0, max(0.0, deadline - time.time())))
        return True

    def log_params(self, params: dict[str, Any], tags: dict[str, str] | None = None) -> None:
        items = [[k, str(v)] for k, v in params.items()]
        for i in range(0, max(len(items), 1), MAX_BATCH_PARAMS):
            self._send({"op": "batch", "params": items[i:i + MAX_BATCH_PARAMS],
                        "tags": [[k, str(v)] for k, v in (tags or {}).items()] if i == 0 else []})

    def log_metrics(self, step: int, metrics: dict[str, float], heartbeat: bool = False) -> None:
        """All of one epoch's metrics in one call; the heartbeat tag rides along."""
        ts = int(time.time() * 1000)
        self._send({"op": "batch", "metrics": [[k, float(v), ts, step] for k, v in metrics.items()],
                    "tags": [[HEARTBEAT, str(ts // 1000)]] if heartbeat else []})

    def logged_steps(self, key: str) -> set[int]:
        self.wait()
        return {m.step for m in self._timed(self.client.get_metric_history, self.run_id, key)}

    def set_tags(self, tags: dict[str, str]) -> None:
        self._send({"op": "batch", "tags": [[k, str(v)] for k, v in tags.items()]})

    def log_artifact(self, path: str | os.PathLike, artifact_path: str | None = None) -> None:
        self._send({"op": "artifact", "path": str(path), "dir": artifact_path})

    def _local(self, name: str) -> Path:
        """A file kept under the store until it is logged (and after, for a replay)."""
        local = store_root() / "files" / self.run_id / name
        local.parent.mkdir(parents=True, exist_ok=True)
        return local

    def log_text(self, text: str, name: str) -> None:
        local = self._local(name)
        local.write_text(text)
        self.log_artifact(local, str(Path(name).parent) if "/" in name else None)

    def log_figure(self, figure, name: str) -> None:
        local = self._local(name)
        figure.savefig(local, dpi=100)
        self.log_artifact(local, str(Path(name).parent) if "/" in name else None)

    def end(self, status: str, error: str | None = None) -> None:
        self.wait(raise_error=False)  # the run ends whatever an earlier call ran into
        if error:
            self.set_tags({"tracker.error": error[:5000]})
        self._send({"op": "terminate", "status": status, "end_time": int(time.time() * 1000)})
        self.wait()

    def finish_with_model(self, model, example, wait: float | None = None) -> bool:
        """Log the model with MLflow's own flavor (pt2, loadable without tracker), then FINISH.

        After an outage, waits up to TRACKER_OUTAGE_WAIT s (default 300) for the server; if it
        stays down the run is left for `tracker sync`, which logs the model from the checkpoint.
        """
        wait = float(os.environ.get("TRACKER_OUTAGE_WAIT", "300")) if wait is None else wait
        self.wait()
        if self.remote and not self.flush(wait):
            self.outbox.append({"op": "model"})
            return False
        self._timed(log_model, self.client, self.outbox.target(), model, example)
        return True


def apply_op(c: MlflowClient, box: Outbox, op: dict) -> None:
    """One buffered call against the server."""
    kind, run_id = op["op"], box.target()
    if kind == "create":  # a run started --offline gets its server id now
        exp_id = ensure_experiment(c, op["experiment"])
        box.set_target(c.create_run(exp_id, start_time=op["start_time"], run_name=op["run_name"],
                                    tags=op["tags"]).info.run_id)
    elif kind == "batch":
        c.log_batch(run_id, metrics=[Metric(k, v, ts, step) for k, v, ts, step in op.get("metrics", [])],
                    params=[Param(k, v) for k, v in op.get("params", [])],
                    tags=[RunTag(k, v) for k, v in op.get("tags", [])])
    elif kind == "artifact":
        if Path(op["path"]).exists():
            c.log_artifact(run_id, op["path"], op["dir"])
    elif kind == "terminate":
        c.set_terminated(run_id, op["status"], op["end_time"])
    elif kind == "model":
        from .job import model_from_checkpoint

        model, example = model_from_checkpoint(box.key)
        log_model(c, run_id, model, example)
    else:
        raise ValueError(f"unknown buffered op {kind!r}")


def server_up(uri: str, timeout: float = 2.0) -> bool:
    try:
        check_reachable(uri, timeout)
        return True
    except TrackingError:
        return False


def log_model(c: MlflowClient, run_id: str, model, example) -> None:
    import torch
    from mlflow.models import infer_signature

    mlflow.set_tracking_uri(c.tracking_uri)
    with torch.no_grad():
        out = model(torch.as_tensor(example)).numpy()
    mlflow.start_run(run_id=run_id)
    try:
        mlflow.pytorch.log_model(model, name="model", input_example=example,
                                 signature=infer_signature(example, out), serialization_format="pt2")
    except BaseException:
        mlflow.end_run("FAILED")
        raise
    mlflow.end_run("FINISHED")


def sync() -> dict[str, int]:
    """Replay every run's outbox; returns run id -> calls replayed (or -1: server still down)."""
    from . import outbox

    c = client()
    done = {}
    for run_id in outbox.waiting():
        box = Outbox(run_id)
        try:
            done[run_id] = box.replay(lambda op: apply_op(c, box, op))
        except Exception as e:
            if not unreachable(e):
                raise
            done[run_id] = -1
    return done


def _liveness() -> dict[str, str]:
    return {"tracker.pid": str(os.getpid()), "tracker.host": socket.gethostname(),
            HEARTBEAT: str(int(time.time()))}


def start_run(experiment: str, run_name: str, tags: dict[str, str], offline: bool = False) -> Run:
    """A new run; with offline=True and the server unreachable, a local run whose every call,
    its creation first, waits in the outbox."""
    try:
        c = client()
    except TrackingError:
        if not offline:
            raise
        run = Run(MlflowClient(tracking_uri=tracking_uri()), f"offline-{uuid.uuid4().hex}", "")
        run.outbox.append({"op": "create", "experiment": experiment, "run_name": run_name,
                           "tags": {**tags, **_liveness()}, "start_time": int(time.time() * 1000)})
        print(f"tracking server unreachable: run {run.run_id} is kept in {run.outbox.path} "
              "until the server answers (or `tracker sync`)", file=sys.stderr, flush=True)
        return run
    exp_id = ensure_experiment(c, experiment)
    run = c.create_run(exp_id, run_name=run_name, tags={**tags, **_liveness()})
    return Run(c, run.info.run_id, exp_id)


def attach_run(run_id: str) -> Run:
    """Reopen an existing run (resume): RUNNING again, with this process as its owner."""
    c = client()
    info = c.get_run(run_id).info
    c.update_run(run_id, status="RUNNING")
    c.log_batch(run_id, tags=[RunTag(k, v) for k, v in _liveness().items()])
    return Run(c, run_id, info.experiment_id)


def fetch_artifact(run_id: str, path: str, dest: Path) -> bool:
    """Download one artifact into dest; False when the run has no such artifact."""
    dest.mkdir(parents=True, exist_ok=True)
    try:
        client().download_artifacts(run_id, path, str(dest))
        return True
    except (MlflowException, OSError):
        return False


def is_live(run) -> bool:
    """RUNNING, on this host, and its process still exists."""
    tags = run.data.tags
    return (run.info.status == "RUNNING" and tags.get("tracker.host") == socket.gethostname()
            and _alive(int(tags.get("tracker.pid", "0"))))


def stale_runs(experiment: str, older_than: float) -> list:
    """RUNNING runs whose process is gone (same host) or whose heartbeat is older than older_than s."""
    now, host = time.time(), socket.gethostname()
    out = []
    for r in search_runs(experiment, "attributes.status = 'RUNNING'"):
        beat = float(r.data.tags.get(HEARTBEAT, r.info.start_time / 1000))
        local = r.data.tags.get("tracker.host") == host
        if (local and not is_live(r)) or (not local and now - beat > older_than):
            out.append(r)
    return out


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def mark_killed(run_id: str, why: str, tags: dict[str, str] | None = None) -> None:
    c = client()
    c.log_batch(run_id, tags=[RunTag(k, v) for k, v in {"tracker.error": why, **(tags or {})}.items()])
    c.set_terminated(run_id, "KILLED")


def search_runs(experiment: str, filter_string: str = "", max_results: int = 50000) -> list:
    c = client()
    exp = c.get_experiment_by_name(experiment)
    if exp is None:
        raise TrackingError(f"experiment {experiment!r} not found at {redact(c.tracking_uri)}")
    return list(c.search_runs([exp.experiment_id], filter_string=filter_string,
                              run_view_type=ViewType.ACTIVE_ONLY, max_results=max_results))


def histories(run_ids: Iterable[str], keys: Iterable[str]) -> dict[str, dict[str, list[float]]]:
    """Per run, each metric's values in step order."""
    c = client()
    return {rid: {k: [m.value for m in sorted(c.get_metric_history(rid, k), key=lambda m: m.step)]
                  for k in keys} for rid in run_ids}


def get_run(run_id: str):
    c = client()
    try:
        return c.get_run(run_id)
    except MlflowException:
        raise TrackingError(f"run {run_id!r} not found at {redact(c.tracking_uri)}") from None


def list_artifacts(run_id: str, path: str | None = None) -> list[str]:
    """Artifact paths of a run, folders expanded."""
    c = client()
    out = []
    for a in c.list_artifacts(run_id, path):
        out += list_artifacts(run_id, a.path) if a.is_dir else [a.path]
    return out


def records(experiment: str, filter_string: str = "") -> list:
    """Runs as plain compare.Record rows, from one search_runs query."""
    from .compare import Record

    return [Record(r.info.run_id, r.info.run_name, r.info.status, dict(r.data.params),
                   dict(r.data.metrics)) for r in search_runs(experiment, filter_string)
            if r.data.tags.get("tracker.kind") != "sweep"]


def sweep_state(sweep: str, experiment: str, grid: dict, config_file: str) -> tuple[str, set, dict]:
    """The sweep's parent run (found by its tag, or made), its FINISHED children's names,
    and its KILLED children (name -> run id), which are resumed rather than started over."""
    c = client()
    exp_id = ensure_experiment(c, experiment)
    found = c.search_runs([exp_id], f"tags.`tracker.sweep` = '{sweep}'", max_results=50000)
    parents = [r for r in found if r.data.tags.get("tracker.kind") == "sweep"]
    if parents:
        parent_id = parents[0].info.run_id
        c.update_run(parent_id, status="RUNNING")
    else:
        tags = {"tracker.kind": "sweep", "tracker.sweep": sweep, "tracker.grid_keys": ",".join(grid),
                **{f"tracker.grid.{k}": json.dumps(v) for k, v in grid.items()}}
        parent_id = c.create_run(exp_id, run_name=sweep, tags=tags).info.run_id
        c.log_batch(parent_id, params=[Param(f"grid.{k}", json.dumps(v)) for k, v in grid.items()])
        c.log_artifact(parent_id, config_file, "config")
    children = [r for r in found if r.data.tags.get("tracker.kind") == "train"]
    done = {r.info.run_name for r in children if r.info.status == "FINISHED"}
    killed = {r.info.run_name: r.info.run_id for r in children
              if r.info.status == "KILLED" and r.info.run_name not in done}
    return parent_id, done, killed


def sweep_child(sweep: str, experiment: str, run_name: str):
    """The newest RUNNING or KILLED child of a sweep with this run name, or None."""
    c = client()
    exp = c.get_experiment_by_name(experiment)
    if exp is None:
        return None
    found = c.search_runs([exp.experiment_id], f"tags.`tracker.sweep` = '{sweep}' and "
                          f"tags.`tracker.kind` = 'train' and attributes.run_name = '{run_name}'",
                          order_by=["attributes.start_time DESC"])
    return next((r for r in found if r.info.status in ("RUNNING", "KILLED")), None)


def end_sweep(parent_id: str, ok: bool) -> None:
    client().set_terminated(parent_id, "FINISHED" if ok else "FAILED")


def sweep_info(run_id: str) -> tuple[str, list[str]]:
    """(experiment name, grid keys) of a sweep's parent run."""
    run = get_run(run_id)
    if run.data.tags.get("tracker.kind") != "sweep":
        raise TrackingError(f"run {run_id!r} is not a sweep's parent run")
    keys = [k for k in run.data.tags.get("tracker.grid_keys", "").split(",") if k]
    return client().get_experiment(run.info.experiment_id).name, keys


def model_signature(uri: str) -> str:
    try:
        info = mlflow.models.get_model_info(uri)
    except MlflowException as e:
        raise TrackingError(f"model {uri}: {e.message.splitlines()[0]}") from None
    sig = info.signature
    return "" if sig is None else f"inputs {sig.inputs.to_json()} -> outputs {sig.outputs.to_json()}"


def load_model(uri: str, allow_pickle: bool = False):
    """A logged PyTorch model through MLflow; pickle-format models need allow_pickle."""
    mlflow.set_tracking_uri(tracking_uri())
    try:
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri))
        info = mlflow.models.get_model_info(str(local))
    except (MlflowException, OSError) as e:
        msg = e.message if isinstance(e, MlflowException) else str(e)
        raise TrackingError(f"model {uri} not found: {msg.splitlines()[0][:200]}") from None
    data = info.flavors.get("pytorch", {}).get("model_data")
    if not data:
        raise TrackingError(f"model {uri} is not a PyTorch model")
    if not (local / data / "model.pt2").exists():
        if not allow_pickle:
            raise TrackingError(f"model {uri} is stored with pickle, which can run code when loaded; "
                                "pass --allow-pickle if you trust its source")
        return mlflow.pytorch.load_model(str(local), weights_only=False)
    return mlflow.pytorch.load_model(str(local))
