"""A run's files for `tracker report`: some downloaded to read, and files logged back (the
report, as artifacts of a sweep's parent run, next to its runs in the MLflow UI).

    tracker report --sweep PARENT_RUN_ID --output reports/mnist-norms
"""
from __future__ import annotations

from pathlib import Path

from .client import client, edge
from .store import fetch_artifact


def fetch(run_id: str, paths: tuple[str, ...], dest: Path) -> dict[str, Path]:
    """The artifacts of `paths` the run has, downloaded under dest; a missing one is left out."""
    return {p: dest / p for p in paths if fetch_artifact(run_id, p, dest) and (dest / p).is_file()}


@edge
def log_files(run_id: str, files: list[Path], artifact_path: str) -> str:
    """The files as artifacts of the run under artifact_path; returns where they went."""
    c = client()
    for f in files:
        c.log_artifact(run_id, str(f), artifact_path)
    return c.get_run(run_id).info.artifact_uri.rstrip("/") + "/" + artifact_path
