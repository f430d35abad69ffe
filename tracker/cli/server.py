"""`tracker server`: an MLflow tracking server over the embedded store (or a database and an
object store), stopped as a whole by SIGTERM, SIGHUP or Ctrl-C.

    tracker server --port 5000
"""
from __future__ import annotations

import click

from ..settings import STORE_ENV


@click.command("server")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind; 0.0.0.0 exposes it.")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--backend-store-uri", default=None,
              help=f"Runs database. Default: the embedded store's mlflow.db (./mlruns, or {STORE_ENV}).")
@click.option("--artifacts-destination", default=None,
              help=f"Where served artifacts go (a path or s3://bucket/prefix). Default: the embedded "
                   f"store's artifacts/ (./mlruns/artifacts, or under {STORE_ENV}).")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64))
@click.option("--engine", type=click.Choice(["uvicorn", "gunicorn"]), default="uvicorn", show_default=True,
              help="uvicorn keeps MLflow's security middleware flags; see benchmarks/README.md.")
@click.option("--timeout", default=120.0, show_default=True, help="Seconds to wait for /health.")
def server_cmd(host, port, backend_store_uri, artifacts_destination, workers, engine, timeout):
    """Start an MLflow tracking server (served artifacts) and wait until /health answers.
    SIGTERM, SIGHUP or Ctrl-C stop the whole server (exit 128 + the signal's number)."""
    from ..tracking import server

    server.serve(host, port, backend_store_uri, artifacts_destination, workers, engine, timeout,
                 echo=click.echo)


COMMANDS = (server_cmd,)
