"""One answer per query: the embedded store read with sqlite3, MLflow's own search, and a real
`mlflow server` (REST) give the same `compare` output, on a sweep with NaN and infinite metrics."""
import json
import math

import pytest
from mlflow.entities import Metric, Param, RunTag

from tests.helpers import cli, store_client
from tracker.testkit.servers import MlflowServer
from tracker.tracking import query, sqlite_reader
from tracker.tracking.records import FLOAT_MAX

SWEEP = "paths-1234abcd"
# (norm, seed) -> test_acc_best, test_acc (final), train_acc_best
CHILDREN = {("batch", 1): (0.990, 0.989, 0.95), ("batch", 2): (0.986, 0.985, 0.94),
            ("layer", 1): (0.975, math.nan, 0.93), ("layer", 2): (0.971, 0.970, math.inf),
            ("group", 1): (0.960, 0.959, 0.92), ("group", 2): (math.nan, 0.5, 0.5)}


@pytest.fixture
def store():
    """A sweep parent and its children made with MlflowClient, plus a run from no sweep."""
    c = store_client()
    exp = c.create_experiment("paths")
    parent = c.create_run(exp, run_name=SWEEP, tags={"tracker.kind": "sweep", "tracker.sweep": SWEEP,
                                                     "tracker.grid_keys": "norm,seed"}).info.run_id
    for (norm, seed), (best, final, train) in CHILDREN.items():
        rid = c.create_run(exp, run_name=f"{norm}-{seed}", tags={
            "tracker.kind": "train", "mlflow.parentRunId": parent, "tracker.sweep": SWEEP,
            "tracker.grid_keys": "norm,seed"}).info.run_id
        c.log_batch(rid, params=[Param("norm", norm), Param("seed", str(seed)), Param("epochs", "2"),
                                 Param("params_total", "14864")],
                    metrics=[Metric("test_acc_best", best, 0, 2), Metric("test_acc", final, 0, 2),
                             Metric("train_acc_best", train, 0, 2), Metric("epoch_time_mean_s", 3.0, 0, 2)])
        c.set_terminated(rid, "FINISHED")
    loner = c.create_run(exp, run_name="loner", tags={"tracker.kind": "train"}).info.run_id
    c.log_batch(loner, params=[Param("norm", "batch"), Param("seed", "9")],
                metrics=[Metric("test_acc_best", 0.5, 0, 1)], tags=[RunTag("x", "y")])
    c.set_terminated(loner, "FINISHED")
    c.set_terminated(parent, "FINISHED")
    return parent


def outputs(parent, env=None):
    """compare's answers to the same questions, in two formats each."""
    out = {}
    for name, args in (("sweep", ["--sweep", parent]), ("experiment", ["--experiment", "paths"]),
                       ("filter", ["--experiment", "paths", "--filter", "params.norm != 'group'"])):
        for fmt in ("json", "table"):
            result = cli("compare", *args, "--metric", "best_test", "--format", fmt, env=env)
            assert result.exit_code == 0, result.output
            out[name, fmt] = (result.stdout, result.stderr)
    return out


@pytest.mark.server
def test_sqlite_mlflow_search_and_rest_agree(store, monkeypatch, tmp_path):
    db = tmp_path / "mlruns" / "mlflow.db"
    assert sqlite_reader.schema_revision(db) in sqlite_reader.SCHEMAS  # the fast path is the one taken below
    runs = {r.name: r for r in query.select("paths", None).runs}
    assert math.isnan(runs["layer-1"].metrics["test_acc"])  # NaN is NaN, not 0.0
    assert runs["layer-2"].metrics["train_acc_best"] == FLOAT_MAX  # as MLflow reads +inf
    via_sqlite = outputs(store)

    with monkeypatch.context() as m:
        m.setattr(sqlite_reader, "SCHEMAS", frozenset())  # an unknown schema: MLflow's own search
        assert sqlite_reader.read_sqlite(db, "paths", None) is None
        via_search = outputs(store)

    server = MlflowServer(f"sqlite:///{db}", str(tmp_path / "served")).start()
    try:
        via_rest = outputs(store, env={"MLFLOW_TRACKING_URI": server.url})
    finally:
        server.stop()
    assert via_sqlite == via_search == via_rest

    rows = json.loads(via_sqlite["sweep", "json"][0])
    assert [(r["norm"], r["n"]) for r in rows] == [("batch", 2), ("layer", 2), ("group", 1)]
    assert rows[1]["test_acc_final_mean"] is None  # a NaN final accuracy: NaN mean, null in JSON
    assert " inf " in via_sqlite["sweep", "table"][0]  # an infinite train accuracy: an infinite mean
    assert "1 with non-finite test_acc_best" in via_sqlite["sweep", "json"][1]
    experiment_rows = json.loads(via_sqlite["experiment", "json"][0])
    assert sum(r["n"] for r in experiment_rows) == 6  # the loner counts; the parent does not
    filtered = json.loads(via_sqlite["filter", "json"][0])
    assert [(r["norm"], r["n"]) for r in filtered] == [("layer", 2), ("batch", 3)]  # the loner: 0.5
