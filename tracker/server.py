"""`tracker server`: an MLflow tracking server on 127.0.0.1 over the embedded store.

    tracker server --port 5000
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from .config import UserError, store_root

UI_VIEW = "?workflowType=machine_learning"  # the UI's model-training view (runs table, registry)


def mlflow_command(host: str, port: int, backend: str | None, artifacts: str | None,
                   workers: int, engine: str) -> list[str]:
    root = store_root()
    root.mkdir(parents=True, exist_ok=True)
    backend = backend or f"sqlite:///{root / 'mlflow.db'}"
    artifacts = artifacts or str(root / "artifacts")
    cmd = [str(Path(sys.executable).with_name("mlflow")), "server", "--host", host, "--port", str(port),
           "--backend-store-uri", backend, "--serve-artifacts", "--artifacts-destination", artifacts,
           "--workers", str(workers)]
    if engine == "gunicorn":  # Flask app: the security middleware is configured by env vars
        cmd += ["--gunicorn-opts", "--keep-alive 30"]
    return cmd


def wait_healthy(url: str, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise UserError(f"mlflow server exited with code {proc.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url + "/health", timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise UserError(f"mlflow server did not answer {url}/health within {timeout:.0f} s")


def start(cmd: list[str], env: dict | None = None, log=None) -> subprocess.Popen:
    return subprocess.Popen(cmd, start_new_session=True, env={**os.environ, **(env or {})},
                            stdout=log, stderr=subprocess.STDOUT if log else None)


def stop(proc: subprocess.Popen) -> None:
    """The server and its worker processes (one process group)."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
