"""A run being logged: its calls go, in order, to a sender thread, so training never waits on
the network. Against a server, a call that cannot connect goes to a durable outbox on disk, and
training goes on; the outbox is replayed in order once the server answers again.

    tracker train experiments/mnist-demo.toml --offline
"""
from __future__ import annotations

import os
import queue
import socket
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Callable, TypeVar

from mlflow.entities import RunTag
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from ..settings import outage_wait, store_root
from .. import names
from . import logged_model, system
from .client import client, edge, ensure_experiment, get, translated, unreachable
from .outbox import Outbox
from .replay import apply_op
from ..errors import Unreachable
from .uri import is_local, local_uri, server_up, wait_up

T = TypeVar("T")
MAX_BATCH_PARAMS = 100
BEAT_S = 60.0  # an epoch's batch refreshes the heartbeat tag when the last is this old (stale: 900 s)
_STOP = object()  # tells the sender thread its run has ended


class Run:
    """A live run. `wait()` lets the queue drain; `end(status)` is the one way a run ends, and
    its sender thread ends with it. A hard kill loses at most the calls still queued; `resume`
    re-logs an epoch's metrics from the checkpoint's history."""

    def __init__(self, c: MlflowClient, run_id: str, experiment_id: str):
        self.client, self.run_id, self.experiment_id = c, run_id, experiment_id
        self.seconds = 0.0  # time the training thread spent in tracking calls
        self.send_seconds = 0.0  # time the sender thread spent delivering them
        self.send_cpu_seconds = 0.0  # CPU time it used doing so (what it can take from training)
        self.outbox = Outbox(run_id)
        self.remote = not is_local(c.tracking_uri)
        self.offline = False  # started --offline with the server down: nothing to wait for at the end
        self.waited_s = 0.0  # time spent waiting for a server that was down (not the run's duration)
        self.monitor = None  # MLflow's system-metrics sampler (tracking/system.py), when on
        self.samples = system.Samples()  # its samples, waiting for the next metrics batch
        self._beat = time.time()  # the last heartbeat tag: the run's creation or reopening set one
        self._queue: queue.Queue = queue.Queue()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._sender, daemon=True, name=f"tracker-{run_id[:8]}")
        self._thread.start()

    def _timed(self, fn, *args, **kwargs):
        t = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - t

    def _sender(self) -> None:
        while True:
            op = self._queue.get()
            if op is _STOP:
                self._queue.task_done()
                return
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
            raise translated(error) from None

    def _send(self, op: dict) -> None:
        if self._error is not None:
            self.wait()
        self._queue.put(op)

    def _deliver(self, op: dict) -> None:
        if self.remote and self.outbox.pending():  # mid-outage: keep the order
            self.outbox.append(op)
            self._replay_until(time.time())
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
        started = time.time()
        try:
            return self._timed(self._replay_until, started + wait)
        finally:
            self.waited_s += time.time() - started

    def _replay_until(self, deadline: float) -> bool:
        """Replay the outbox if the server answers, trying until `deadline` (unix s)."""
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
        """All of one epoch's metrics in one call; the system metrics sampled since the last
        call ride along, and with heartbeat=True the heartbeat tag, once BEAT_S has passed."""
        now = time.time()
        beat = heartbeat and now - self._beat >= BEAT_S
        self._beat = now if beat else self._beat
        self._send({"op": "batch", "metrics": _rows(step, metrics, now) + self.samples.take(),
                    "tags": [[names.HEARTBEAT, str(int(now))]] if beat else []})

    def _log_system(self, step: int, metrics: dict[str, float]) -> None:
        """The system-metrics monitor's samples (its thread): they ride with the next epoch's
        batch, or go alone once the oldest has waited system.RIDE_S, and at the run's end."""
        if due := self.samples.add(_rows(step, metrics, time.time())):
            self._queue.put({"op": "batch", "metrics": due})  # _send would raise a delivery error here

    @edge
    def logged_steps(self, key: str) -> set[int]:
        self.wait()
        return {m.step for m in self._timed(self.client.get_metric_history, self.run_id, key)}

    def set_tags(self, tags: dict[str, str]) -> None:
        self._send({"op": "batch", "tags": [[k, str(v)] for k, v in tags.items()]})

    def log_inputs(self, datasets: list[dict]) -> None:
        """The datasets the run read (dicts of tracker/fingerprint.py), as MLflow dataset inputs."""
        self._send({"op": "inputs", "datasets": datasets})

    def log_artifact(self, path: str | os.PathLike, artifact_path: str | None = None) -> None:
        self._send({"op": "artifact", "path": str(path), "dir": artifact_path})

    def local_path(self, name: str) -> str:
        """Where a file of this run is kept under the store until it is logged (and after, for
        a replay); log it with log_artifact."""
        local = store_root() / "files" / self.run_id / name
        local.parent.mkdir(parents=True, exist_ok=True)
        return str(local)

    def log_text(self, text: str, name: str) -> None:
        local = Path(self.local_path(name))
        local.write_text(text)
        self.log_artifact(local, str(Path(name).parent) if "/" in name else None)

    def log_model(self, served, tags: dict[str, str] | None = None) -> bool:
        """Log the served model (ml.inference.Package; loadable without tracker). It is exported
        first, while the sender delivers the last epoch's calls; then `tags` and the run's
        tracking times (tracker.tracking_s, tracker.sending_s: complete once the queue is
        delivered) are set, and the model is logged. After an outage, waits up to
        TRACKER_OUTAGE_WAIT s for the server; if it stays down, the model waits in the outbox
        for `tracker sync` (which rebuilds it from the checkpoint): False."""
        with logged_model.exported(served) as folder:
            self.wait()
            self.set_tags({**(tags or {}), names.TRACKING_S: f"{self.seconds:.3f}",
                           names.SENDING_S: f"{self.send_seconds:.3f}"})
            wait = 0.0 if self.offline else outage_wait()  # --offline was told the server is down: one try
            if not self.flush(wait):  # the tags delivered; only a server's outbox can be left
                self.outbox.append({"op": "model"})
                return False
            logged_model.upload(self.client, self.outbox.target(), folder)
        return True

    def end(self, status: str, error: str | None = None) -> None:
        """The run's end: FINISHED, FAILED or KILLED. Its sender thread stops here."""
        if self.monitor is not None:  # its last samples, before the run stops being RUNNING
            self.monitor.finish()
            if held := self.samples.take():
                self._send({"op": "batch", "metrics": held})
        self.wait(raise_error=status != "FINISHED")  # a failed run ends whatever came before
        if error:
            self.set_tags({names.ERROR: error[:5000]})
        ended = time.time() - self.waited_s  # the run's duration leaves out the outage waits
        self._send({"op": "terminate", "status": status, "end_time": int(ended * 1000)})
        self._queue.put(_STOP)
        self._thread.join()
        error_, self._error = self._error, None
        if error_ is not None:
            raise translated(error_) from None

    @property
    def in_flight(self) -> int:
        """Calls queued for the sender thread and not delivered yet."""
        return self._queue.unfinished_tasks

    @property
    def buffered(self) -> int:
        """Calls waiting in the outbox for the server (or `tracker sync`)."""
        return self.outbox.pending()


def _rows(step: int, metrics: dict[str, float], now: float) -> list:
    """Metrics as a batch op's rows: key, value, timestamp (ms), step."""
    ts = int(now * 1000)
    return [[k, float(v), ts, step] for k, v in metrics.items()]


def _connect(wait: float, what: str, first: Callable[[MlflowClient], T]) -> tuple[MlflowClient, T]:
    """A client and the first call's answer (both idempotent, made before any run exists), the
    server waited for up to `wait` s while it does not answer: a sweep's child started between
    a check that found the server up and the server going away waits, as if it had found it down."""
    deadline = time.time() + wait
    while True:
        try:
            c = client()
            return c, first(c)
        except (Unreachable, MlflowException) as e:
            if not isinstance(e, Unreachable) and (is_local(local_uri()) or not unreachable(e)):
                raise  # an answer that says no, or the embedded store's own error
            if time.time() >= deadline or not wait_up(deadline - time.time(), what):
                if isinstance(e, Unreachable):
                    raise
                raise Unreachable(str(translated(e))) from None
            time.sleep(1.0)  # it answered /health but not the call: it is still starting


def _liveness() -> dict[str, str]:
    return {names.PID: str(os.getpid()), names.HOST: socket.gethostname(),
            names.HEARTBEAT: str(int(time.time()))}


@edge
def start_run(experiment: str, run_name: str, tags: dict[str, str], offline: bool = False,
              system_metrics: bool = False, wait: float = 0.0) -> Run:
    """A new run; with offline=True and the server unreachable, a local run whose every call,
    its creation first, waits in the outbox. system_metrics: sample CPU, memory (and GPU).
    wait: seconds to wait for a server that does not answer (a sweep's child), else none."""
    try:
        c, exp_id = _connect(wait, f"starting {run_name}", lambda c: ensure_experiment(c, experiment))
    except Unreachable:
        if not offline:
            raise
        run = Run(MlflowClient(tracking_uri=local_uri()), f"offline-{uuid.uuid4().hex}", "")
        run.offline = True
        run.outbox.append({"op": "create", "experiment": experiment, "run_name": run_name,
                           "tags": {**tags, **_liveness()}, "start_time": int(time.time() * 1000)})
        print(f"tracking server unreachable: run {run.run_id} is kept in {run.outbox.path} "
              "until the server answers (or `tracker sync`)", file=sys.stderr, flush=True)
        if system_metrics:  # its samples wait in the outbox with the rest
            run.monitor = system.start(run.client.tracking_uri, run.run_id, run._log_system)
        return run
    run = c.create_run(exp_id, run_name=run_name, tags={**tags, **_liveness()})
    live = Run(c, run.info.run_id, exp_id)
    if system_metrics:
        live.monitor = system.start(c.tracking_uri, live.run_id, live._log_system)
    return live


@edge
def attach_run(run_id: str, system_metrics: bool = False, wait: float = 0.0) -> Run:
    """Reopen an existing run (resume): RUNNING again, with this process as its owner."""
    c, info = _connect(wait, f"resuming {run_id}", lambda c: get(c, run_id).info)
    c.update_run(run_id, status="RUNNING")
    c.log_batch(run_id, tags=[RunTag(k, v) for k, v in _liveness().items()])
    live = Run(c, run_id, info.experiment_id)
    if system_metrics:
        live.monitor = system.start(c.tracking_uri, run_id, live._log_system, resume=True)
    return live
