"""`tracker runs`: the keys a sweep varied, accuracies in % for reading and as fractions in
csv and json."""
import json
import math

from tracker import names
from tracker.results import listing, render
from tracker.tracking.records import RunRecord


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
