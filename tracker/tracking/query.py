"""One answer per query: the runs of an experiment, or of a sweep's children, as records.

The embedded store is read with sqlite3 at the schema revisions `sqlite_reader` knows, a server
through its REST API (`rest_reader`); a --filter on the embedded store, or a store of another kind or revision, goes
through MLflow's own search. All three paths share `records.keep`, and a test holds them to
the same compare output.

    tracker compare --sweep PARENT_RUN_ID
"""
from __future__ import annotations

from ..settings import sqlite_path, tracking_uri
from . import rest_reader, sqlite_reader
from .records import Selection


def select(experiment: str | None, sweep: str | None, filter_string: str = "") -> Selection:
    uri = tracking_uri()
    if uri.startswith(("http://", "https://")):
        return rest_reader.read_rest(uri, experiment, sweep, filter_string)
    db = sqlite_path(uri)
    if db is not None and not filter_string:
        found = sqlite_reader.read_sqlite(db, experiment, sweep)
        if found is not None:
            return found
    from . import store  # imports mlflow: only here

    return store.select(experiment, sweep, filter_string)


def histories(run_ids, keys) -> dict[str, dict[str, list[float]]]:
    """Per run, each metric's values in step order: one SQL query on the embedded store,
    else MLflow's client (a server: one call per run and key)."""
    uri = tracking_uri()
    db = sqlite_path(uri)
    if db is not None:
        found = sqlite_reader.read_histories(db, list(run_ids), keys)
        if found is not None:
            return found
    from . import store

    return store.histories(run_ids, keys)
