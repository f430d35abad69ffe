"""What else differs between the conditions compared, on hand-made records: params and MLflow's
source tags, but never the compared keys, the seed, the keys tuned per condition or where a run
executed; a key some runs did not record judged on those that did; one line each."""
from tests.helpers import record, tracker_run
from tracker.results.confounds import candidates, find, lines, of_row

GIT, SOURCE = "mlflow.source.git.commit", "mlflow.source.name"


def groups(**per):
    return {f"norm={norm}": runs for norm, runs in per.items()}


def test_what_may_be_a_confound_and_what_never_is():
    runs = [tracker_run("batch", 1, 0.9, lr=0.1, device="cuda", data_dir="/d", device_used="cuda",
                        channels_last="True", run_name="x", experiment="e")]
    assert candidates(runs, ["norm"]) == ["dataset", "arch", "epochs", "params_total", "lr", "device_used",
                                          SOURCE, GIT]
    assert candidates(runs, ["norm", "lr"], tuned=("epochs",)) == ["dataset", "arch", "params_total",
                                                                  "device_used", SOURCE, GIT]
    assert candidates([record({"rs": "1", "lr": "0.1"})], [], seed="rs") == ["lr", SOURCE, GIT]


def test_a_param_that_differs_between_conditions_and_one_that_varies_within():
    found = find(groups(batch=[tracker_run("batch", 1, 0.9), tracker_run("batch", 2, 0.9, lr=0.1)],
                        group=[tracker_run("group", 1, 0.9, epochs=3), tracker_run("group", 2, 0.9, lr=0.1, epochs=3)]),
                 ["norm"])
    # lr recorded by some runs only, the same where it is: no confound; epochs 2 vs 3: one
    assert found == {"epochs": {"norm=batch": frozenset({"2"}), "norm=group": frozenset({"3"})}}
    mixed = find(groups(batch=[tracker_run("batch", 1, 0.9, lr=0.1), tracker_run("batch", 2, 0.9, lr=0.2)],
                        group=[tracker_run("group", 1, 0.9, lr=0.1)]), ["norm"])
    assert mixed == {"lr": {"norm=batch": frozenset({"0.1", "0.2"}), "norm=group": frozenset({"0.1"})}}


def test_where_a_run_executed_is_no_confound_but_what_it_ran_on_is():
    a = tracker_run("batch", 1, 0.9, device="cuda", data_dir="/a", channels_last="True", device_used="cuda")
    b = tracker_run("group", 1, 0.9, device="cpu", data_dir="/b", channels_last="False", device_used="cpu")
    assert list(find(groups(batch=[a], group=[b]), ["norm"])) == ["device_used"]


def test_source_tags_are_compared_and_a_commit_is_named_once():
    a = tracker_run("batch", 1, 0.9, git_commit="abc", tags={GIT: "abc", SOURCE: "train.py"})
    b = tracker_run("group", 1, 0.9, git_commit="def", tags={GIT: "def", SOURCE: "train2.py"})
    assert list(find(groups(batch=[a], group=[b]), ["norm"])) == ["git_commit", SOURCE]
    plain = [record({"model": "a"}, tags={GIT: "abc"}), record({"model": "b"}, tags={GIT: "def"})]
    assert list(find({"model=a": plain[:1], "model=b": plain[1:]}, ["model"])) == [GIT]  # no param twin


def test_of_row_names_the_keys_a_condition_differs_from_the_baseline_in():
    found = find({"norm=batch": [tracker_run("batch", 1, 0.9)],
                  "norm=group": [tracker_run("group", 1, 0.9, epochs=3)],
                  "norm=layer": [tracker_run("layer", 1, 0.9, lr=0.5)],
                  "norm=none": [tracker_run("none", 1, 0.9, epochs=3, lr=0.1)]}, ["norm"])
    assert of_row(found, "norm=group", "norm=batch") == ["epochs"]
    assert of_row(found, "norm=layer", "norm=batch") == []  # the baseline did not record lr
    assert of_row(found, "norm=none", "norm=layer") == ["epochs", "lr"]
    assert of_row(found, "norm=batch", "norm=batch") == []


def test_one_line_per_key_large_numbers_grouped_and_missing_said():
    found = find({"norm=batch": [tracker_run("batch", 1, 0.9, params_total=1234567)],
                  "norm=group": [tracker_run("group", 1, 0.9, params_total=8000), tracker_run("group", 2, 0.9,
                                                                                             params_total=47890)],
                  "norm=layer": [record({"norm": "layer"})]}, ["norm"])
    assert lines(found) == ["confound: params_total differs between conditions (norm=batch 1,234,567; "
                            "norm=group 47,890/8000; norm=layer not recorded)"]
    assert lines({}) == []
