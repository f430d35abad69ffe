"""Which runs a selection keeps: training runs, never a sweep's parent nor the runs of its
condition curves, whose tracker.kind says what they are."""
from tests.helpers import comparison, records
from tracker import names
from tracker.tracking.records import RunRecord, keep

PARENT = RunRecord("p", "sweep-1", "FINISHED", tags={names.KIND: names.SWEEP_KIND, names.GRID_KEYS: "norm,seed"})
CURVES = RunRecord("c", "norm=batch: mean of 2 runs", "FINISHED", params={"norm": "batch"},
                   metrics={names.condition_curve(names.TEST_ACC, "mean"): 0.9},
                   tags={names.KIND: names.CONDITION_KIND, names.CONDITION_OF: "p", names.CONDITION: "norm=batch"})


def test_keep_leaves_out_sweep_parents_and_condition_runs():
    runs = records({"batch": [0.90, 0.92], "group": [0.91]}, [PARENT, CURVES])
    kept = keep(runs, "e", None)
    assert [r.run_id for r in kept.runs] == ["batch-1", "batch-2", "group-1"] and kept.grid_keys == ["norm", "seed"]


def test_a_condition_run_that_looked_like_a_training_run_would_be_counted():
    """The filter is what keeps it out: tagged as a training run, the same record counts."""
    as_training = RunRecord(CURVES.run_id, CURVES.name, "FINISHED", params={"norm": "batch", "seed": "9"},
                            metrics={names.TEST_ACC: 0.5, names.TEST_ACC_BEST: 0.5}, tags={names.KIND: names.TRAIN})
    assert comparison({"batch": [0.90, 0.92]}, extra=[CURVES]).rows["n"].tolist() == [2]
    assert comparison({"batch": [0.90, 0.92]}, extra=[as_training]).rows["n"].tolist() == [3]
