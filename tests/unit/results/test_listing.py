"""The listings on hand-made records: the runs table keeps numbers as numbers, names the
experiment when the runs come from several, and MLflow's empty Default experiment is not listed.

`tracker runs`: the keys a sweep varied, accuracies in % for reading and as fractions in
csv and json."""
import json
import math
from tracker import names
from tracker.results import listing, render
from tracker.tracking.records import RunRecord
from tests.helpers import record
from tracker.results.listing import experiments_table, runs_table, worth_listing


def run(i, lr=None, acc=0.9123, grid="lr,seed"):
    params = {"norm": "batch", "seed": str(i), "epochs": "2", **({"lr": str(lr)} if lr is not None else {})}
    tags = {names.GRID_KEYS: grid} if grid else {}
    metrics = {names.TEST_ACC: acc, names.TEST_ACC_BEST: acc + 0.01} if acc is not None else {}
    return RunRecord(f"r{i}", f"run{i}", "FINISHED", params, metrics, tags, 1000, 3500)


def test_the_swept_keys_are_columns_in_the_order_first_seen():
    runs = [run(1, 0.1), run(2, 0.01, grid="lr,dropout,seed"), run(3, grid="")]
    frame = listing.runs_table(runs)
    assert list(frame.columns) == ["run_id", "name", "status", "norm", "seed", "epochs", "lr", "dropout",
                                   names.TEST_ACC, names.TEST_ACC_BEST, "duration_s"]
    assert frame["lr"].tolist() == [0.1, 0.01, ""]  # numbers stay numbers; a run without it: empty
    assert listing.swept([run(1, grid="norm,seed")]) == []  # norm and seed are always shown


def test_a_table_shows_percent_and_csv_json_keep_fractions():
    frame = listing.runs_table([run(1, 0.1), run(2, 0.2, acc=None)])
    text = render.table(listing.shown(frame, "table"), "table")
    header, first, second = text.splitlines()
    assert "test final %" in header and "test best %" in header and names.TEST_ACC not in header
    assert "91.23" in first and "92.23" in first and "0.9123" not in first
    assert "nan" not in second.lower()  # a run that logged no accuracy shows none
    markdown = render.table(listing.shown(frame, "markdown"), "markdown")
    assert "| 91.23 | 92.23 |" in markdown
    rows = json.loads(render.table(listing.shown(frame, "json"), "json"))
    assert rows[0][names.TEST_ACC] == 0.9123 and rows[0]["lr"] == 0.1
    assert rows[1][names.TEST_ACC] is None  # NaN in JSON is null
    csv = render.table(listing.shown(frame, "csv"), "csv").splitlines()
    assert csv[1].split(",")[-3:-1] == ["0.9123", "0.9223"]
    assert math.isnan(frame[names.TEST_ACC][1])  # the frame itself is unchanged


def test_runs_table_keeps_numbers_as_numbers():
    a = record({"norm": "batch", "seed": "3", "epochs": "2", "lr": "0.1"}, {"test_acc_best": 0.991},
               run_id="a1", name="first", start=1_000, status="FINISHED")
    a.end_time = 63_460
    b = record({"norm": "group"}, {}, run_id="b2", name="second", start=5_000, status="RUNNING")
    table = runs_table([a, b])
    assert list(table.columns) == ["run_id", "name", "status", "norm", "seed", "epochs", "test_acc", "test_acc_best",
                                   "duration_s"]
    first, second = table.to_dict("records")
    assert math.isnan(first.pop("test_acc"))  # the final accuracy: not logged by this hand-made run
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
                                                 "test_acc", "test_acc_best", "duration_s"]


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
