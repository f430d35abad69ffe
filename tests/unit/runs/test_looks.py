"""The adaptive driver (`--until-decided`) on a fake session: its compare() judges the hand-made
runs made so far (the real compare, query.select monkeypatched), its run() records what it was
asked to run and makes those runs from a table of each seed's accuracy. What is checked: the
looks, which points each look runs (only the open comparisons and the baseline get more seeds),
what it prints, the decisions recorded on the parent before anything else runs, decisions an
earlier process recorded kept (under the same baseline only), futility, and a failed run."""
import json
import pandas as pd
import pytest

from tests.helpers import compared, tracker_run
from tracker.experiment import Experiment
from tracker.results import sequential
from tracker.results.verdicts import Judgement
from tracker.runs.looks import until_decided
from tracker.runs.plan import plan
from tracker.runs.sweep import State
from tracker.study import Study

# each condition's final test accuracy at seeds 1..10 (multiples of one MNIST test image)
THREE = {"batch": [0.9902, 0.9895, 0.9896, 0.9876, 0.9918, 0.9911, 0.9897, 0.9908, 0.9903, 0.9894],
         "group": [0.989, 0.9864, 0.9863, 0.9854, 0.9879, 0.9868, 0.9881, 0.9858, 0.9873, 0.9852],
         "layer": [0.9903, 0.9901, 0.9901, 0.9901, 0.9897, 0.9902, 0.9906, 0.9895, 0.9895, 0.9895]}
STOPPED = {"batch": [0.9888, 0.9904, 0.9875, 0.991, 0.9917, 0.9893, 0.9906, 0.9904, 0.9894, 0.9887],
           "group": [0.9855, 0.9906, 0.9884, 0.9923, 0.9897, 0.9889, 0.9875, 0.9906, 0.9877, 0.9909]}
OPEN = {"batch": [0.9903, 0.9892, 0.9894, 0.9863, 0.9927, 0.9917, 0.9895, 0.9912, 0.9904, 0.9892],
        "group": [0.99, 0.988, 0.988, 0.9873, 0.9892, 0.9884, 0.9893, 0.9876, 0.9887, 0.9872]}


class Parent:
    """The parent run: records the decisions and the looks."""

    def __init__(self, session):
        self.session = session

    def decide(self, text, targets):
        if text != (self.session.decisions or "{}"):  # what the decisions became, when they changed
            self.session.log.append(("decide", {k: (d.verdict, d.look) for k, d in sequential.load(text).items()}))
        self.session.decisions = text  # where compare reads them from, as from the parent's tag
        self.session.targets = targets  # the next look's seeds, recorded before it runs

    def look(self, k, comparison):
        self.session.log.append(("look", k, comparison))


class Session:
    """What until_decided needs of driver.Session, with the runs made by hand."""

    def __init__(self, p, accuracy, decisions=None, failing=(), runs=0):
        self.plan, self.accuracy, self.failing = p, accuracy, set(failing)
        self.state, self.decisions = State("PARENT", set(), {}, decisions), decisions
        self.parent, self.records, self.log = Parent(self), [], []
        if runs:  # an earlier process ran these seeds of every condition
            self._make([pt for pts in p.conditions().values() for pt in pts[:runs]])

    def echo(self, text):
        self.log.append(("echo", text))

    def compare(self):
        return compared(self.records, self.plan.study, grid=self.plan.grid, decisions=self.decisions) \
            if self.records else None

    def run(self, points):
        self.log.append(("run", [pt.cfg.name for pt in points]))
        return self._make([pt for pt in points if pt.cfg.name not in self.state.done])

    def _make(self, points):
        ran = {"finished": 0, "failed": 0}
        for pt in points:
            failed = pt.cfg.name in self.failing
            value = self.accuracy[pt.cfg.norm][pt.cfg.seed - 1]
            self.records.append(tracker_run(pt.cfg.norm, pt.cfg.seed, value, "FAILED" if failed else "FINISHED"))
            ran["failed" if failed else "finished"] += 1
            if not failed:
                self.state.done.add(pt.cfg.name)
        return ran

    def kinds(self):
        return [e[0] for e in self.log]

    def said(self):
        """The one-line echoes (the tables aside)."""
        return [e[1] for e in self.log if e[0] == "echo" and "\n" not in e[1]]


def adaptive(norms, study=Study(margin=0.5)):
    return plan(Experiment("exps/norms.toml", {"epochs": 1}, {"norm": list(norms)}, study), until_decided=True)


def names(norm, seeds):
    return [f"mnist-small-{norm}-seed{s}" for s in seeds]


def test_each_look_adds_seeds_only_where_a_comparison_is_open():
    s = Session(adaptive(THREE), THREE)
    last = until_decided(s)
    assert s.kinds() == ["run", "decide", "echo", "echo", "look",
                         "run", "echo", "echo", "look",
                         "run", "decide", "echo", "echo", "look"]
    runs = [e[1] for e in s.log if e[0] == "run"]
    assert runs[0] == names("batch", [1, 2, 3]) + names("group", [1, 2, 3]) + names("layer", [1, 2, 3])
    # layer was decided at look 1: group and the baseline go on, to 5 then 10 seeds
    assert runs[1] == names("batch", range(1, 6)) + names("group", range(1, 6))
    assert runs[2] == names("batch", range(1, 11)) + names("group", range(1, 11))
    assert [e[1] for e in s.log if e[0] == "decide"] == [{"norm=layer": ("equivalent", 1)},
                                                         {"norm=layer": ("equivalent", 1), "norm=group": ("equivalent", 3)}]
    assert s.said() == [
        "look 1: norm=batch 3, norm=group 3, norm=layer 3 seeds; 1 undecided: seeds added to them",
        "look 2: norm=batch 5, norm=group 5, norm=layer 3 seeds; 1 undecided: seeds added to them",
        "look 3: norm=batch 10, norm=group 10, norm=layer 3 seeds; every comparison decided"]
    looks = [e for e in s.log if e[0] == "look"]
    assert [e[1] for e in looks] == [1, 2, 3] and looks[-1][2] is last
    # each look's table is printed as compare prints it
    tables = [e[1] for e in s.log if e[0] == "echo" and "\n" in e[1]]
    assert tables == [e[2].render().rstrip("\n") for e in looks]
    rows = last.rows.set_index("norm")
    assert rows.loc["layer", "decided_at_look"] == 1  # carried from look 1
    assert rows.loc["group", "verdict"] == "equivalent" and pd.isna(rows.loc["group", "decided_at_look"])  # now
    assert rows.loc["layer", "verdict_reason"].startswith("decided at look 1 (3 seeds): equivalent: ")


def test_a_decision_is_recorded_before_the_next_look_runs_anything():
    s = Session(adaptive(THREE), THREE)
    until_decided(s)
    first_decide, second_run = s.kinds().index("decide"), [i for i, k in enumerate(s.kinds()) if k == "run"][1]
    assert first_decide < second_run


def test_a_comparison_the_plan_cannot_decide_is_stopped_at_its_look():
    s = Session(adaptive(STOPPED, Study(margin=0.1)), STOPPED)
    last = until_decided(s)
    assert s.kinds() == ["run", "decide", "echo", "echo", "look"]
    assert s.said() == ["look 1: norm=batch 3, norm=group 3 seeds; every comparison decided or stopped (1 would need "
                        "more seeds than the plan has)"]
    row = last.rows.set_index("norm").loc["group"]
    assert row["verdict"] == "undecided" and row["futile"] and row["seeds_needed"] > 10


def test_the_plans_last_look_ends_it_with_what_is_still_open():
    s = Session(adaptive(OPEN, Study(margin=0.1)), OPEN)
    until_decided(s)
    assert [len(e[1]) for e in s.log if e[0] == "run"] == [6, 10, 20] and "decide" not in s.kinds()
    assert s.said()[-1] == "look 3: norm=batch 10, norm=group 10 seeds; the plan's last look reached, 1 still undecided"


def test_a_failed_run_stops_the_plan_at_that_look():
    s = Session(adaptive(THREE), THREE, failing=names("group", [2]))
    assert until_decided(s) is None  # nothing counted before this look
    assert s.kinds() == ["run", "echo"]
    assert s.said() == ["1 run(s) failed at this look; the plan stops here (run the sweep again to retry them)"]


def decided(verdict, baseline):
    j = Judgement(verdict, f"{verdict}: decided by an earlier process", 0.0, None, None, 0.5, 0.5, None, None,
                  None, None)
    return sequential.dump({"norm=layer": sequential.Decision(j, 1, 3, 3, baseline)})


def test_decisions_an_earlier_process_recorded_stand():
    # killed after look 1 had recorded layer (as worse, whatever its data say now) and run 3 seeds each
    s = Session(adaptive(THREE), THREE, decisions=decided("worse", "norm=batch"), runs=3)
    last = until_decided(s)
    runs = [e[1] for e in s.log if e[0] == "run"]
    assert all("layer" not in name for todo in runs for name in todo)  # layer gets no more seeds
    assert s.said()[0] == "look 1: norm=batch 3, norm=group 3, norm=layer 3 seeds; 1 undecided: seeds added to them"
    row = last.rows.set_index("norm").loc["layer"]
    assert (row["verdict"], row["decided_at_look"]) == ("worse", 1)
    # layer's carried p-values stay in Holm's families: it has no TOST p, so group's equivalence is a family of one
    assert [e[1] for e in s.log if e[0] == "decide"] == [{"norm=layer": ("worse", 1), "norm=group": ("equivalent", 3)}]


def test_decisions_made_against_another_baseline_are_not_this_plans():
    s = Session(adaptive(THREE), THREE, decisions=decided("worse", "norm=group"), runs=3)
    until_decided(s)  # judged afresh: layer is equivalent to batch at look 1
    assert [e[1] for e in s.log if e[0] == "decide"][0] == {"norm=layer": ("equivalent", 1)}


def test_the_baseline_is_the_declared_one_before_any_data():
    s = Session(adaptive(THREE, Study(margin=0.5, baseline="group")), THREE)
    last = until_decided(s)
    assert last.baseline == "norm=group" and last.rows.set_index("norm").loc["group", "verdict"] == "baseline"


@pytest.mark.parametrize("norms", [["batch", "group"], ["group", "batch"]])
def test_without_a_declared_baseline_it_is_the_grids_first(norms):
    s = Session(adaptive(norms), THREE)
    assert until_decided(s).baseline == f"norm={norms[0]}"


def test_a_look_a_stop_interrupted_is_completed_before_it_is_judged():
    """Killed during look 2 (group and the baseline to 5 seeds), with 4 of group's seeds done:
    run again, the plan first completes that look, then judges it, as if it had not stopped."""
    s = Session(adaptive(THREE), THREE)
    s.state.targets = json.dumps({"norm=batch": 5, "norm=group": 5})
    s._make([pt for pts in s.plan.conditions().values() for pt in pts[:3]])
    s._make([s.plan.conditions()["norm=batch"][i] for i in (3, 4)] + [s.plan.conditions()["norm=group"][3]])
    s.state.look = 1
    until_decided(s)
    assert s.said()[0] == "completing the look a stop interrupted: norm=group to 5 seeds"
    assert [e[1] for e in s.log if e[0] == "run"][0] == names("group", range(1, 6))
    assert s.said()[1].startswith("look 2: norm=batch 5, norm=group 5, norm=layer 3 seeds")  # numbered on
