"""A run's calls go to a sender thread in order; training does not wait for them, and a
delivery error surfaces in the training thread without leaving the run RUNNING."""
import threading
import time

import pytest

from tests.helpers import store_client
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


DATASET = {"name": "mnist", "digest": "18e0789df53eb871", "source": "/data/MNIST/raw",
           "profile": {"images": 60000}, "shape": [1, 28, 28], "context": "train"}
RACE = ("BAD_REQUEST: (psycopg.errors.UniqueViolation) duplicate key value violates unique "
        'constraint "dataset_pk" DETAIL: Key (experiment_id, name, digest)=(4, mnist, 18e0789df53eb871) already exists.')


def test_a_dataset_insert_lost_to_a_parallel_run_is_tried_again(monkeypatch):
    """Runs started at once that read the same data race to insert it (seen with PostgreSQL
    behind `mlflow server`): the loser's insert is rolled back and the next try finds it."""
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    real, calls = MlflowClient.log_inputs, []

    def lost_once(self, run_id, datasets=None, models=None):
        calls.append(run_id)
        if len(calls) == 1:
            raise MlflowException(RACE)
        return real(self, run_id, datasets=datasets, models=models)

    monkeypatch.setattr(MlflowClient, "log_inputs", lost_once)
    run = tracking.start_run("sender", "r", {"tracker.kind": "train"})
    run.log_inputs([DATASET])
    run.end("FINISHED")
    assert len(calls) == 2
    inputs = store_client().get_run(run.run_id).inputs.dataset_inputs
    assert [(i.dataset.name, i.dataset.digest) for i in inputs] == [("mnist", "18e0789df53eb871")]


def test_another_store_error_on_the_datasets_is_not_tried_again(monkeypatch):
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    calls = []

    def refuse(self, run_id, datasets=None, models=None):
        calls.append(run_id)
        raise MlflowException("INVALID_PARAMETER_VALUE: dataset name too long")

    monkeypatch.setattr(MlflowClient, "log_inputs", refuse)
    run = tracking.start_run("sender", "r", {"tracker.kind": "train"})
    run.log_inputs([DATASET])
    with pytest.raises(Exception, match="too long"):
        run.wait()
    run.end("FAILED", "dataset refused")
    assert len(calls) == 1


def test_a_sweep_child_that_finds_the_server_gone_at_its_start_waits_for_it(monkeypatch):
    """The sweep saw the server up, then it went away before the child's first call: the child
    waits for it (as if the sweep's check had found it down) and starts once it answers;
    `tracker train` (wait 0) says so at once."""
    from tracker.errors import Unreachable

    real, answers, waited = tracking.client, ["down"], []

    def flaky():
        if answers and answers.pop() == "down":
            raise Unreachable("tracking server http://127.0.0.1:1 is unreachable (URLError)")
        return real()

    monkeypatch.setattr(tracking, "client", flaky)
    monkeypatch.setattr(tracking, "wait_up", lambda seconds, what: waited.append((seconds > 0, what)) or True)
    run = tracking.start_run("sender", "child", {"tracker.kind": "train"}, wait=60)
    run.end("FINISHED")
    assert waited == [(True, "starting child")]
    assert store_client().get_run(run.run_id).info.status == "FINISHED"

    answers.append("down")
    with pytest.raises(Unreachable, match="unreachable"):
        tracking.start_run("sender", "train", {"tracker.kind": "train"})
    assert len(waited) == 1


def _system_keys(op: dict) -> set[str]:
    return {m[0] for m in op.get("metrics", []) if m[0].startswith("system/")}


def test_system_metrics_ride_with_the_epochs_batches_and_make_no_calls_of_their_own(monkeypatch):
    """MLflow's monitor makes two REST calls per sample (get_run, log_batch); tracker's sends
    its samples with the next epoch's metrics, and at the run's end."""
    monkeypatch.setenv("MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL", "0.2")
    delivered, real = [], tracking.apply_op
    monkeypatch.setattr(tracking, "apply_op", lambda c, box, op: (delivered.append(op), real(c, box, op)))
    asked = []
    monkeypatch.setattr(tracking.MlflowClient, "get_run",
                        lambda self, run_id: asked.append(run_id) or self._tracking_client.get_run(run_id))
    run = tracking.start_run("sender", "r", {"tracker.kind": "train"}, system_metrics=True)
    assert run.monitor is not None
    time.sleep(1.5)
    run.log_metrics(1, {"test_acc": 0.5})
    time.sleep(0.7)
    run.end("FINISHED")
    assert asked == []
    batches = [op for op in delivered if _system_keys(op)]
    assert len(batches) == 2, delivered  # the epoch's batch, and the samples since, at the end
    assert "test_acc" in {m[0] for m in batches[0]["metrics"]}
    assert "system/cpu_utilization_percentage" in _system_keys(batches[0])
    history = store_client().get_metric_history(run.run_id, "system/cpu_utilization_percentage")
    steps = sorted(m.step for m in history)
    assert steps == list(range(len(steps))) and len(steps) >= 6, steps  # one per 0.2 s sample
    assert all(0 <= m.value <= 100 for m in history)


def test_a_run_shorter_than_the_sampling_interval_gets_one_sample_at_its_end():
    assert tracking.system.SAMPLING_S >= 5  # MLflow's interval, as a user's run has it
    run = tracking.start_run("sender", "short", {"tracker.kind": "train"}, system_metrics=True)
    time.sleep(0.5)
    run.log_metrics(1, {"test_acc": 0.5})
    run.end("FINISHED")
    c = store_client()
    (cpu,) = c.get_metric_history(run.run_id, "system/cpu_utilization_percentage")
    assert cpu.step == 0 and 0 <= cpu.value <= 100
    (memory,) = c.get_metric_history(run.run_id, "system/system_memory_usage_megabytes")
    assert memory.value > 0


def test_system_metrics_go_alone_when_no_epoch_ends_for_a_while(monkeypatch):
    monkeypatch.setenv("MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL", "0.2")
    monkeypatch.setattr(tracking.system, "RIDE_S", 0.5)
    run = tracking.start_run("sender", "r", {"tracker.kind": "train"}, system_metrics=True)
    deadline = time.time() + 10
    c = store_client()
    while not c.get_run(run.run_id).data.metrics and time.time() < deadline:
        time.sleep(0.2)
    assert "system/cpu_utilization_percentage" in c.get_run(run.run_id).data.metrics  # before the end
    run.end("FINISHED")


def test_the_heartbeat_rides_with_an_epoch_once_a_minute(monkeypatch):
    clock = [1_000_000.0]
    monkeypatch.setattr(tracking.time, "time", lambda: clock[0])
    run = tracking.start_run("sender", "r", {"tracker.kind": "train"})
    beats = []
    for step, at in enumerate((10, 30, 59, 61, 100, 125), 1):  # s after the start
        clock[0] = 1_000_000.0 + at
        run.log_metrics(step, {"test_acc": 0.5}, heartbeat=True)
        run.wait()
        beats.append(store_client().get_run(run.run_id).data.tags["tracker.heartbeat"])
    run.end("FINISHED")
    start, at61, at125 = "1000000", "1000061", "1000125"
    assert beats == [start, start, start, at61, at61, at125]
