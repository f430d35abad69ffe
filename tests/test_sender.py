"""A run's calls go to a sender thread in order; training does not wait for them, and a
delivery error surfaces in the training thread without leaving the run RUNNING."""
import threading

import pytest

from helpers import store_client
from tracker.tracking import live as tracking


def test_calls_return_before_delivery_and_arrive_in_order(monkeypatch):
    release, delivered = threading.Event(), []
    real = tracking.apply_op

    def held(c, box, op):  # the first delivery waits until the test lets it go
        release.wait(10)
        delivered.append(op["metrics"][0][3] if op.get("metrics") else op["op"])
        real(c, box, op)

    monkeypatch.setattr(tracking, "apply_op", held)
    run = tracking.start_run("sender", "r", {"tracker.kind": "train"})
    for step in (1, 2, 3):
        run.log_metrics(step, {"test_acc": step / 10})
    assert delivered == []  # three calls made, none delivered yet: training went on
    release.set()
    run.end("FINISHED")
    assert delivered == [1, 2, 3, "terminate"]
    c = store_client()
    history = c.get_metric_history(run.run_id, "test_acc")
    assert [(m.step, m.value) for m in sorted(history, key=lambda m: m.step)] == [(1, .1), (2, .2), (3, .3)]
    assert c.get_run(run.run_id).info.status == "FINISHED"


def test_a_delivery_error_is_raised_in_the_training_thread_and_the_run_still_ends(monkeypatch):
    real = tracking.apply_op

    def refuse_metrics(c, box, op):
        if op.get("metrics"):
            raise ValueError("the store refused the batch")
        real(c, box, op)

    monkeypatch.setattr(tracking, "apply_op", refuse_metrics)
    run = tracking.start_run("sender", "r", {"tracker.kind": "train"})
    run.log_metrics(1, {"test_acc": 0.5})
    with pytest.raises(ValueError, match="refused"):
        run.wait()
    run.end("FAILED", "ValueError: the store refused the batch")
    info = store_client().get_run(run.run_id)
    assert info.info.status == "FAILED"
    assert info.data.tags["tracker.error"] == "ValueError: the store refused the batch"
