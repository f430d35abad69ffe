"""`tracker server`: an MLflow tracking server on 127.0.0.1 over the embedded store, stopped
as a whole (its process group) by SIGTERM, SIGHUP or Ctrl-C.

    tracker server --port 5000
"""
from __future__ import annotations

import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from ..errors import UserError
from ..settings import URI_ENV, child_env, embedded_uri, server_pool, store_root
from ..signals import STOP_SIGNALS, Interrupted, stop_group

VIEW = "machine_learning"  # the MLflow UI's model-training view (the runs table, the registry)
VIEW_QUERY = f"?workflowType={VIEW}"  # opens that view from any link, on any MLflow server
APP = "tracker"  # tracker's mlflow.app (ui_app.py): a plain link opens that view too


def app_installed() -> bool:
    """Whether this install declares the app (an install older than it does not)."""
    from importlib.metadata import entry_points

    return any(e.name == APP for e in entry_points(group="mlflow.app"))


def mlflow_command(host: str, port: int, backend: str | None, artifacts: str | None,
                   workers: int, engine: str) -> list[str]:
    root = store_root()
    root.mkdir(parents=True, exist_ok=True)
    backend = backend or embedded_uri()
    artifacts = artifacts or str(root / "artifacts")
    cmd = [str(Path(sys.executable).with_name("mlflow")), "server", "--host", host, "--port", str(port),
           "--backend-store-uri", backend, "--serve-artifacts", "--artifacts-destination", artifacts,
           "--workers", str(workers), *(["--app-name", APP] if app_installed() else [])]
    if engine == "gunicorn":  # Flask app: the security middleware is configured by env vars
        cmd += ["--gunicorn-opts", "--keep-alive 30"]
    return cmd


def wait_healthy(url: str, proc: subprocess.Popen, timeout: float) -> None:
    wait_answers(url + "/health", proc, timeout)


def wait_answers(url: str, proc: subprocess.Popen, timeout: float, what: str = "mlflow server") -> None:
    """Until a GET of `url` succeeds; one line (UserError) if `proc` exits first or `timeout` s pass."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise UserError(f"{what} exited with code {proc.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise UserError(f"{what} did not answer {url} within {timeout:.0f} s")


def start(cmd: list[str], env: dict | None = None, log=None) -> subprocess.Popen:
    """In a process group of its own, so that it can be stopped as a whole."""
    return subprocess.Popen(cmd, start_new_session=True, env=child_env({**server_pool(), **(env or {})}),
                            stdout=log, stderr=subprocess.STDOUT if log else None)


def stop(proc: subprocess.Popen, grace: float = 20.0) -> None:
    """The server and every process of its group: SIGTERM, then SIGKILL after `grace` s."""
    stop_group(proc, grace)


def _raise(signum, frame):
    raise Interrupted(signum)


def serve(host: str, port: int, backend: str | None, artifacts: str | None, workers: int,
          engine: str, timeout: float, echo=print) -> None:
    """Run the server until it exits or a stop signal comes; either way its whole group is
    stopped. A signal leaves as Interrupted (the CLI exits 128 + signum)."""
    url = f"http://{host if host != '0.0.0.0' else '127.0.0.1'}:{port}"
    old = {s: signal.signal(s, _raise) for s in STOP_SIGNALS}
    proc = None
    try:
        # the server's own log (access lines included) goes to stderr: stdout is the ready message
        cmd = mlflow_command(host, port, backend, artifacts, workers, engine)
        proc = start(cmd, log=sys.stderr)
        wait_healthy(url, proc, timeout)
        app = "--app-name" in cmd  # else an install from before the app: the link carries the view
        echo(f"tracking server ready: {url}/#/experiments{'' if app else VIEW_QUERY}")
        echo(f"  export {URI_ENV}={url}")
        if not app:
            echo(f"  (the {VIEW_QUERY} part opens the runs table, not the GenAI view; install "
                 "tracker again, `pip install -e .`, and plain links do)")
        proc.wait()
    except Interrupted as e:
        e.outcome = "the tracking server and its processes are stopped"
        raise
    finally:
        for s in STOP_SIGNALS:  # a second signal must not interrupt the stopping
            signal.signal(s, signal.SIG_IGN)
        if proc is not None:
            stop(proc)
        for s, handler in old.items():
            signal.signal(s, handler)
