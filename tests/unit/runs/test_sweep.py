"""A sweep's bookkeeping on a fake store (tracker.tracking.store monkeypatched: no mlflow): its
parent found by its tag or made, a child left RUNNING by a process that is gone ended KILLED and
resumed, one whose process still runs refused, the newest KILLED run of a point resumed, and an
adaptive plan's decisions kept only under the analysis they were made under."""
import json
import socket
import sys
import time
import types

import pytest

import tracker.tracking
from tests.helpers import record
from tracker.errors import TrackingError, UserError
from tracker.experiment import Experiment
from tracker.runs.plan import parent_tags, plan
from tracker.runs.sweep import open_parent
from tracker.settings import STALE_AFTER
from tracker.study import Study

HERE = socket.gethostname()


class Store(types.ModuleType):
    """What open_parent asks of tracker.tracking.store, and a record of what it changed."""

    def __init__(self, found=(), live=()):
        super().__init__("tracker.tracking.store")
        self.found, self.live, self.calls = None if found is None else list(found), set(live), []

    def search(self, experiment, filter_string="", order_by=None):
        self.calls.append(("search", experiment, filter_string))
        if self.found is None:
            raise TrackingError("experiment 'x' not found")
        return self.found

    def is_live(self, run):
        return run.run_id in self.live

    def mark_killed(self, run_id, why, tags=None):
        self.calls.append(("killed", run_id, why))

    def set_status(self, run_id, status, tags=None):
        self.calls.append(("status", run_id, status, tags))

    def create_run(self, experiment, name, tags, params=None, config_file=None, artifact_dir=None):
        self.calls.append(("create", experiment, name, tags, params, config_file, artifact_dir))
        return "NEWPARENT"


@pytest.fixture
def store(monkeypatch):
    def use(found=(), live=()):
        fake = Store(found, live)
        monkeypatch.setitem(sys.modules, "tracker.tracking.store", fake)
        monkeypatch.setattr(tracker.tracking, "store", fake, raising=False)
        return fake
    return use


P = plan(Experiment("exps/norms.toml", {"epochs": 1, "experiment": "norms"}, {"norm": ["batch", "group"]},
                    Study(margin=0.1)))
DECISIONS = json.dumps({"norm=group": "a decision"})


def parent(study=None, run_id="PARENT"):
    return record(tags={**parent_tags(P), **({"tracker.study": study} if study else {}),
                        "tracker.decisions": DECISIONS}, run_id=run_id, status="KILLED")


def child(name, status, run_id, start=1000, **tags):
    return record(tags={"tracker.kind": "train", "tracker.sweep": P.name, **tags}, run_id=run_id, name=name,
                  status=status, start=start)


def test_a_new_sweep_makes_its_parent(store):
    fake = store(found=None)  # the experiment does not exist yet
    state = open_parent(P)
    assert (state.parent_id, state.done, state.killed, state.decisions) == ("NEWPARENT", set(), {}, None)
    assert fake.calls == [("search", "norms", f"tags.`tracker.sweep` = '{P.name}'"),
                          ("create", "norms", P.name, parent_tags(P), {"grid.norm": '["batch", "group"]'},
                           "exps/norms.toml", "config")]


def test_the_parent_found_is_running_again_with_its_children_state(store):
    b1, g1 = "mnist-mnist-small-batch-seed1", "mnist-mnist-small-group-seed1"
    fake = store([parent(), child(b1, "FINISHED", "c1"), child(g1, "KILLED", "old", start=1),
                  child(g1, "KILLED", "newer", start=2), child(g1, "FAILED", "failed", start=3)])
    state = open_parent(P)
    assert (state.parent_id, state.done, state.killed) == ("PARENT", {b1}, {g1: "newer"})  # the newest KILLED
    assert state.decisions == DECISIONS  # the same analysis: its decisions stand
    assert fake.calls[1:] == [("status", "PARENT", "RUNNING", parent_tags(P))]


def test_decisions_made_under_another_analysis_are_cleared(store):
    fake = store([parent(study=Study(margin=0.5).as_json())])
    state = open_parent(P)
    assert state.decisions is None
    assert fake.calls[1:] == [("status", "PARENT", "RUNNING", {**parent_tags(P), "tracker.decisions": "{}",
                                                           "tracker.look_targets": "{}"})]


def test_a_killed_run_of_a_point_that_finished_since_is_not_resumed(store):
    name = "mnist-mnist-small-batch-seed1"
    store([parent(), child(name, "KILLED", "k", start=1), child(name, "FINISHED", "f", start=2)])
    state = open_parent(P)
    assert state.done == {name} and state.killed == {}


def test_a_running_child_whose_process_is_gone_is_ended_killed_and_resumed(store):
    name = "mnist-mnist-small-group-seed1"
    fake = store([parent(), child(name, "RUNNING", "gone", **{"tracker.host": HERE, "tracker.pid": "999999"})])
    state = open_parent(P)
    assert ("killed", "gone", "its process is gone (found by a re-run of its sweep)") in fake.calls
    assert state.killed == {name: "gone"} and state.done == set()


def test_a_running_child_whose_process_runs_is_refused(store):
    name = "mnist-mnist-small-group-seed1"
    fake = store([parent(), child(name, "RUNNING", "alive", **{"tracker.host": HERE, "tracker.pid": "42"})],
                 live={"alive"})
    with pytest.raises(UserError) as e:
        open_parent(P)
    assert str(e.value) == (f"run alive ({name}) of sweep {P.name} is still running (pid 42 on {HERE}); wait for it "
                            "or stop it, then run the sweep again")
    assert [c[0] for c in fake.calls] == ["search"]  # nothing changed


def test_a_live_duplicate_of_a_finished_point_is_left_alone(store):
    name = "mnist-mnist-small-group-seed1"
    fake = store([parent(), child(name, "FINISHED", "done"),
                  child(name, "RUNNING", "alive", **{"tracker.host": HERE, "tracker.pid": "42"})], live={"alive"})
    state = open_parent(P)
    assert state.done == {name} and not [c for c in fake.calls if c[0] == "killed"]


def test_a_child_on_another_host_is_judged_by_its_heartbeat(store):
    name = "mnist-mnist-small-group-seed1"
    now = time.time()
    fake = store([parent(), child(name, "RUNNING", "far", **{"tracker.host": "elsewhere", "tracker.pid": "7",
                                                              "tracker.heartbeat": str(now - 60)})])
    with pytest.raises(UserError, match="is still running \\(pid 7 on elsewhere\\)"):
        open_parent(P)
    fake = store([parent(), child(name, "RUNNING", "far", **{"tracker.host": "elsewhere",
                                                              "tracker.heartbeat": str(now - STALE_AFTER - 60)})])
    assert open_parent(P).killed == {name: "far"} and fake.calls[1][:2] == ("killed", "far")
    # no heartbeat: its start time stands for one
    old = child(name, "RUNNING", "silent", start=int((now - STALE_AFTER - 60) * 1000), **{"tracker.host": "elsewhere"})
    store([parent(), old])
    assert open_parent(P).killed == {name: "silent"}
