"""The listings on hand-made records: the runs table keeps numbers as numbers, names the
experiment when the runs come from several, and MLflow's empty Default experiment is not listed."""
import math

from tests.helpers import record
from tracker.results.listing import experiments_table, runs_table, worth_listing


def test_runs_table_keeps_numbers_as_numbers():
    a = record({"norm": "batch", "seed": "3", "epochs": "2", "lr": "0.1"}, {"test_acc_best": 0.991},
               run_id="a1", name="first", start=1_000, status="FINISHED")
    a.end_time = 63_460
    b = record({"norm": "group"}, {}, run_id="b2", name="second", start=5_000, status="RUNNING")
    table = runs_table([a, b])
    assert list(table.columns) == ["run_id", "name", "status", "norm", "seed", "epochs", "test_acc_best", "duration_s"]
    first, second = table.to_dict("records")
    assert first == {"run_id": "a1", "name": "first", "status": "FINISHED", "norm": "batch", "seed": 3, "epochs": 2,
                     "test_acc_best": 0.991, "duration_s": 62.5}
    assert (second["seed"], second["epochs"], second["duration_s"]) == ("", "", 0.0)  # running: no end yet
    assert math.isnan(second["test_acc_best"])
    assert isinstance(first["seed"], int)


def test_runs_of_several_experiments_are_named():
    a, b = record(run_id="a"), record(run_id="b")
    a.experiment_id, b.experiment_id = "1", "7"
    table = runs_table([a, b], {"1": "mnist-demo", "7": "cifar"})
    assert list(table.columns)[:3] == ["run_id", "experiment", "name"]
    assert list(table["experiment"]) == ["mnist-demo", "cifar"]
    assert list(runs_table([], None).columns) == ["run_id", "name", "status", "norm", "seed", "epochs",
                                                 "test_acc_best", "duration_s"]


def test_the_empty_default_experiment_is_not_listed():
    found = [{"name": "Default", "experiment_id": "0", "runs": 0, "newest_start": None},
             {"name": "empty", "experiment_id": "3", "runs": 0, "newest_start": None},
             {"name": "used", "experiment_id": "4", "runs": 2, "newest_start": 1_700_000_000_000}]
    assert [e["name"] for e in worth_listing(found)] == ["empty", "used"]
    assert worth_listing([{**found[0], "runs": 1}]) == [{**found[0], "runs": 1}]  # a Default in use is listed
    table = experiments_table(worth_listing(found))
    assert table.to_dict("records") == [
        {"experiment": "empty", "id": "3", "runs": 0, "newest run (UTC)": ""},
        {"experiment": "used", "id": "4", "runs": 2, "newest run (UTC)": "2023-11-14 22:13"}]
    assert list(experiments_table([]).columns) == ["experiment", "id", "runs", "newest run (UTC)"]
