"""Real server processes on 127.0.0.1 for integration tests: started here, stopped here."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from ..settings import child_env, child_env_without, path_first
from ..signals import stop_group
from ..tracking.server import wait_answers

MLFLOW = str(Path(sys.executable).with_name("mlflow"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MlflowServer:
    """`mlflow server` with a backend store and served artifacts; restartable on its port."""

    READY, WHAT = "/health", "mlflow server"  # the path that answers once it is up; its name

    def __init__(self, backend: str, artifacts: str, port: int | None = None,
                 extra: list[str] | None = None, env: dict | None = None, log: Path | None = None):
        self.backend, self.artifacts = backend, artifacts
        self.port = port or free_port()
        self.extra, self.env, self.log = extra or [], env, log
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def argv(self) -> list[str]:
        return [MLFLOW, "server", "--host", "127.0.0.1", "--port", str(self.port),
                "--backend-store-uri", self.backend, "--artifacts-destination", self.artifacts,
                "--workers", "1", *self.extra]

    def start(self) -> "MlflowServer":
        out = open(self.log, "ab") if self.log else subprocess.DEVNULL
        self.proc = subprocess.Popen(self.argv(), stdout=out, stderr=subprocess.STDOUT,
                                     start_new_session=True, env=child_env(self.env))
        wait_answers(self.url + self.READY, self.proc, 120, self.WHAT)
        return self

    def stop(self) -> None:
        if self.proc:  # the server and its workers (its group)
            stop_group(self.proc, 30)
        self.proc = None


class ModelServer(MlflowServer):
    """`mlflow models serve` of a model URI (--env-manager local: this environment) with the
    store it resolves the URI in; started and stopped like MlflowServer."""

    READY, WHAT = "/ping", "mlflow models serve"

    def __init__(self, model_uri: str, tracking_uri: str, log: Path | None = None):
        # it starts `uvicorn` from PATH: this interpreter's bin/ goes first
        path = path_first(str(Path(sys.executable).parent))
        super().__init__("", "", env={"MLFLOW_TRACKING_URI": tracking_uri, "PATH": path}, log=log)
        self.model_uri = model_uri

    def argv(self) -> list[str]:
        return [MLFLOW, "models", "serve", "-m", self.model_uri, "--env-manager", "local",
                "--host", "127.0.0.1", "--port", str(self.port)]

    def invoke(self, payload: dict) -> tuple[int, dict]:
        """POST /invocations: (HTTP status, the JSON answer)."""
        import json

        request = urllib.request.Request(self.url + "/invocations", json.dumps(payload).encode(),
                                         {"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=120) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())


class RayHead:
    """`ray start --head --block` on 127.0.0.1; stopped through its own process group, not
    `ray stop`, which would stop every Ray instance on the machine."""

    def __init__(self, cpus: int = 2):
        # short: Ray's unix sockets live under it (108-byte path limit)
        self.tmp = Path(tempfile.mkdtemp(prefix="ray", dir="/tmp"))
        self.port, self.cpus = free_port(), cpus
        self.proc: subprocess.Popen | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> "RayHead":
        env = child_env_without("MLFLOW_TRACKING_URI", "RAY_ADDRESS")
        env.update(TRACKER_STORE=str(self.tmp / "node-store"), TRACKER_PROGRESS="0")  # the node's scratch
        self.log = self.tmp / "head.log"
        self.proc = subprocess.Popen(
            [str(Path(sys.executable).with_name("ray")), "start", "--head", "--block",
             "--node-ip-address", "127.0.0.1", "--port", str(self.port), "--num-cpus", str(self.cpus),
             "--include-dashboard=false", "--disable-usage-stats", "--temp-dir", str(self.tmp)],
            stdout=open(self.log, "wb"), stderr=subprocess.STDOUT, start_new_session=True,
            env=env, cwd=self.tmp)
        deadline = time.time() + 120
        while b"Ray runtime started" not in self.log.read_bytes():
            if self.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"ray start failed: {self.log.read_text()[-2000:]}")
            time.sleep(0.5)
        return self

    def stop(self) -> None:
        """The whole node at once: its processes (GCS, raylet, workers) share the group, and
        a graceful SIGTERM makes `ray start --block` wait about 30 s."""
        if self.proc:
            stop_group(self.proc, 0, signal.SIGKILL)
        self.proc = None
        shutil.rmtree(self.tmp, ignore_errors=True)


def _as_postgres(cmd: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: drop to the postgres user when we are root."""
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


class Postgres:
    """Debian's PostgreSQL on a free port with a throwaway data dir."""

    def __init__(self):
        bins = sorted(Path("/usr/lib/postgresql").glob("*/bin"))
        if not bins:
            raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql)")
        self.bin = bins[-1]
        # its own folder: pytest's tmp dirs are private to root, which postgres is not
        self.root, self.port = Path(tempfile.mkdtemp(prefix="tracker-pg-")), free_port()
        self.data, self.sock = self.root / "pgdata", self.root / "pgsock"
        self.proc: subprocess.Popen | None = None

    @property
    def uri(self) -> str:
        return f"postgresql://tracker@127.0.0.1:{self.port}/mlflow"

    def start(self) -> "Postgres":
        for d in (self.root, self.data, self.sock):
            d.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o755)
        if os.geteuid() == 0:
            subprocess.run(["chown", "-R", "postgres", str(self.root)], check=True)
        subprocess.run(_as_postgres([str(self.bin / "initdb"), "-D", str(self.data), "-U", "tracker",
                                     "--auth=trust", "-E", "UTF8"]), check=True, capture_output=True)
        self._serve()
        subprocess.run([str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port),
                        "-U", "tracker", "mlflow"], check=True)
        return self

    def _serve(self) -> None:
        """The server on the data dir as it is, once it accepts connections."""
        self.proc = subprocess.Popen(
            _as_postgres([str(self.bin / "postgres"), "-D", str(self.data), "-p", str(self.port),
                          "-k", str(self.sock), "-c", "listen_addresses=127.0.0.1"]),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.time() + 60
        while subprocess.run([str(self.bin / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)],
                             capture_output=True).returncode != 0:
            if time.time() > deadline or self.proc.poll() is not None:
                raise RuntimeError("PostgreSQL did not start")
            time.sleep(0.3)

    def restart(self, down: float = 0.0) -> None:
        """An outage: fast shutdown (the data kept), `down` s with no database, then up again
        on the same port (and with any ALTER SYSTEM setting applied)."""
        stop_group(self.proc, 60, signal.SIGINT)
        time.sleep(down)
        self._serve()

    def count(self, sql: str) -> int:
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=self.port, user="tracker", dbname="mlflow") as conn:
            with conn.cursor() as cur:
                cur.execute(sql)
                return cur.fetchone()[0]

    def stop(self) -> None:
        if self.proc:
            stop_group(self.proc, 30, signal.SIGINT)  # fast shutdown
        shutil.rmtree(self.root, ignore_errors=True)


S3_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
          "AWS_DEFAULT_REGION": "us-east-1"}


class MotoS3:
    """moto in server mode: an S3-compatible endpoint standing in for MinIO."""

    def __init__(self, bucket: str = "mlflow"):
        self.port, self.bucket = free_port(), bucket
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "MotoS3":
        self.proc = subprocess.Popen([str(Path(sys.executable).with_name("moto_server")), "-H", "127.0.0.1",
                                      "-p", str(self.port)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
        wait_answers(self.url + "/moto-api/", self.proc, 120, "moto_server")
        self.client().create_bucket(Bucket=self.bucket)
        return self

    def client(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.url, aws_access_key_id="testing",
                            aws_secret_access_key="testing", region_name="us-east-1")

    def keys(self) -> list[str]:
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=self.bucket)
        return [o["Key"] for page in pages for o in page.get("Contents", [])]

    def stop(self) -> None:
        if self.proc:
            stop_group(self.proc, 30)


def stack_flags(backend: str, bucket: str) -> dict[str, str]:
    """The mlflow server settings the compose file and the native stack share."""
    return {"--backend-store-uri": backend, "--artifacts-destination": f"s3://{bucket}/artifacts",
            "--serve-artifacts": ""}
