"""The report's sections that read runs alone, on hand-made records: what was compared, what
varied within a condition and what was held fixed; the data the runs read (the dataset inputs
reader monkeypatched: no store); and the runs left out."""
import sys
import types

import pytest

import tracker.tracking
from tests.helpers import compared, record, runs_of, tracker_run
from tracker.config import FIELDS
from tracker.results import report
from tracker.results.report import data_blocks, leftout_blocks, setup_blocks

# every config key at its default, as a run of tracker's records them (no RunConfig: no torch)
CONFIG = {k: "" if f.default is None else str(f.default) for k, f in FIELDS.items()}


def full(norm, seed, final, **params):
    config = {k: v for k, v in CONFIG.items() if k not in ("norm", "seed")}
    return tracker_run(norm, seed, final, **{**config, **params})


def test_what_was_compared_varied_and_held_fixed_for_tracker_runs():
    runs = [full("batch", 1, 0.99, lr=0.1), full("batch", 2, 0.98, lr=0.1), full("group", 1, 0.97, lr=0.1),
            full("group", 2, 0.96, lr=0.2, device="cuda", data_dir="/elsewhere")]
    for r in runs:
        r.params.update(device_used="cpu", torch_version="2.1", git_commit="abc")
    runs[3].params["device_used"] = "cuda"
    out = setup_blocks(runs, ["norm"])
    assert out[:4] == [("h2", "What was compared"), ("list", ["`norm`: batch, group"]),
                       ("p", "Each condition was repeated over seed 1, 2; the table gives n per condition and the "
                             "spread across seeds."),
                       ("p", "Also varied, pooled within a condition: `lr` 0.1, 0.2.")]
    fixed = out[4][1]
    assert fixed.startswith("Held fixed (the rest of the config, equal in every run): dataset `mnist`, arch "
                            "`mnist-small`, groups `4`, epochs `2`, ") and fixed.endswith(", stop_on_nan `True`.")
    # neither the compared key, the seed, what varied, what names a run nor where it executed
    shown = [part.split(" `")[0] for part in fixed.split(": ", 1)[1].split(", ")]
    left = ("norm", "seed", "lr", "run_name", "experiment", "data_dir", "download", "device", "system_metrics")
    assert shown == [k for k in FIELDS if k not in left]
    assert "max_params `none`" in fixed  # None is logged as an empty string
    assert out[5:] == [("p", "Environment: torch_version `2.1`, git_commit `abc`.")]  # device_used differs


def test_runs_tracker_did_not_make_show_their_own_params_and_may_name_no_seed():
    runs = [record({"model": "a", "depth": "3", "tag": "x"}), record({"model": "b", "depth": "3", "tag": "y"})]
    assert setup_blocks(runs, ["model"]) == [
        ("h2", "What was compared"), ("list", ["`model`: a, b"]),
        ("p", "The runs name no `seed`: each run is one replicate of its condition."),
        ("p", "Also varied, pooled within a condition: `tag` x, y."),
        ("p", "Held fixed (the rest of the config, equal in every run): depth `3`.")]
    seeded = [record({"model": "a", "rs": "1"}), record({"model": "a", "rs": "10"}), record({"model": "a", "rs": "2"})]
    assert setup_blocks(seeded, ["model"], seed="rs")[2] == (
        "p", "Each condition was repeated over rs 1, 2, 10; the table gives n per condition and the spread across seeds.")


@pytest.fixture
def inputs(monkeypatch):
    """The dataset inputs reader, monkeypatched (no mlflow import): run id -> its inputs."""
    logged: dict[str, list[dict]] = {}
    fake = types.ModuleType("tracker.tracking.inputs")
    fake.of_run = lambda run_id: logged.get(run_id, [])
    monkeypatch.setitem(sys.modules, "tracker.tracking.inputs", fake)
    monkeypatch.setattr(tracker.tracking, "inputs", fake, raising=False)
    return logged


def split(context, digest, images, source=None):
    return {"name": "mnist", "digest": digest[:16], "context": context,
            "source": str(source or report.PROJECT / "data" / "MNIST" / "raw"),
            "profile": {"images": images, "sha256": digest, "files": ["t10k-images", "t10k-labels"]}}


def test_the_data_every_run_read(inputs):
    runs = runs_of({"batch": [0.99], "group": [0.98]})
    for r in runs:
        inputs[r.run_id] = [split("test", "b" * 64, 10000), split("train", "a" * 64, 60000)]
    heading, (kind, table), where = data_blocks(runs)
    assert heading == ("h2", "Data") and kind == "table"
    assert table.to_dict("records") == [
        {"split": "train", "dataset": "mnist", "images": "60,000", "sha256 of its files": "a" * 64,
         "files": "t10k-images, t10k-labels", "runs": 2},
        {"split": "test", "dataset": "mnist", "images": "10,000", "sha256 of its files": "b" * 64,
         "files": "t10k-images, t10k-labels", "runs": 2}]
    assert where == ("p", "Read from `data/MNIST/raw`. Every run read the same files.")


def test_runs_that_read_other_files_outside_the_project(inputs, tmp_path):
    runs = runs_of({"batch": [0.99], "group": [0.98]})
    inputs[runs[0].run_id] = [split("train", "a" * 64, 60000, tmp_path), split("test", "b" * 64, 10000, tmp_path)]
    inputs[runs[1].run_id] = [split("train", "c" * 64, 60000, tmp_path), split("test", "b" * 64, 10000, tmp_path)]
    _, (_, table), where = data_blocks(runs)
    assert list(table["runs"]) == [1, 1, 2] and list(table["split"]) == ["train", "train", "test"]
    assert where == ("p", "Read from a folder outside the project; the files are named by dataset, name and sha256 "
                          "above. The runs did not all read the same files (see the runs column).")
    assert str(tmp_path) not in table.to_string()  # no machine's absolute path in a write-up to share


def test_runs_that_logged_no_inputs(inputs):
    assert data_blocks(runs_of({"batch": [0.99]}, dataset="cifar10")) == [
        ("h2", "Data"), ("p", "Dataset cifar10: these runs logged no dataset inputs (MLflow's `log_input`), so the "
                              "files they read are not known.")]
    assert data_blocks([record({"model": "a"})])[1] == (
        "p", "These runs logged no dataset inputs (MLflow's `log_input`), so the files they read are not known.")


def test_the_runs_left_out_each_with_its_reason():
    runs = runs_of({"batch": [0.99, 0.98], "group": [0.97, 0.96]})
    failed, dup = tracker_run("batch", 9, 0.5, "FAILED"), tracker_run("group", 1, 0.95)
    c = compared([runs[2]] + runs[:2] + [runs[3], failed, dup])
    out = leftout_blocks(c.counted.frame, c.counted.reason, c.footnote)
    assert out == [("h2", "Runs left out"),
                   ("p", "Left out 2 run(s) that did not count: 1 a duplicate of a seed already counted, 1 with status "
                         "FAILED."),
                   ("list", [f"`{runs[2].run_id}`: a duplicate of a seed already counted",
                             f"`{failed.run_id}`: status FAILED"])]
    clean = compared(runs)
    assert leftout_blocks(clean.counted.frame, clean.counted.reason, clean.footnote) == [
        ("h2", "Runs left out"), ("p", "None: all 4 runs FINISHED with the judged metric, one per seed.")]
