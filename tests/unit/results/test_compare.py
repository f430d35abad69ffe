"""compare() on hand-made selections (tracker.tracking.query monkeypatched: no store) and the
comparison rendered in every format: what it refuses and how it says so, the declared analysis
and the options over it, decisions carried only under the analysis they were made under, a
metric at its best step, the test accuracy at the best validation epoch from the epochs."""
import io
import json
import math

import pandas as pd
import pytest

from tests.helpers import compared, record, runs_of, tracker_run
from tracker.errors import NoRunsMatch
from tracker.results import sequential
from tracker.results.cells import cells, notes
from tracker.results.compare import compare
from tracker.results.verdicts import Judgement
from tracker.study import Study
from tracker.tracking import query
from tracker.tracking.records import Selection

VALUES = {"batch": [0.990, 0.985, 0.988, 0.987], "group": [0.975, 0.970, 0.978], "layer": [0.960]}


@pytest.fixture
def selected(monkeypatch):
    """Set what query.select answers; records what it was asked."""
    asked = []

    def use(runs, study=None, decisions=None, grid=None):
        found = Selection(runs, "e", list(grid or {}), study, grid or {}, None, decisions)
        monkeypatch.setattr(query, "select", lambda *args: asked.append(args) or found)
        return asked
    return use


def test_compare_selects_what_it_was_asked(selected):
    asked = selected(runs_of(VALUES))
    c = compare("e", "parent1", "params.lr = '0.1'")
    assert asked == [("e", "parent1", "params.lr = '0.1'")]
    assert (c.experiment, c.baseline, c.baseline_rule, c.level, c.power) == (
        "e", "norm=batch", "the first condition in sorted order", 0.95, 0.8)
    assert list(c.rows["norm"]) == ["batch", "group", "layer"]


@pytest.mark.parametrize("sweep, filter_string, line", [
    (None, "", "no runs match: experiment 'e' has no training runs"),
    ("abc", "", "no runs match: sweep abc has no training runs"),
    (None, "params.lr = '1'", "no runs match: experiment 'e' has no training runs that match the filter "
                              "\"params.lr = '1'\""),
])
def test_no_runs_is_one_line(selected, sweep, filter_string, line):
    selected([])
    with pytest.raises(NoRunsMatch) as e:
        compare("e", sweep, filter_string)
    assert str(e.value) == line


def test_runs_none_of_which_counts_say_why(selected):
    selected([tracker_run("batch", 1, 0.9, "FAILED"), tracker_run("batch", 2, 0.9, "KILLED")])
    with pytest.raises(NoRunsMatch) as e:
        compare("e", None)
    assert str(e.value) == ("no runs match: none of the 2 runs of experiment 'e' counts (1 with status FAILED, "
                            "1 with status KILLED)")


def test_a_metric_key_no_run_logged_names_the_keys_they_did(selected):
    selected([record({"m": "a"}, {"loss": 0.3, "acc": 0.9, "system/cpu": 3.0})])
    with pytest.raises(NoRunsMatch) as e:
        compare("e", None, by=("m",), options={"metric_key": "rmse", "goal": "minimize"})
    assert str(e.value) == "--metric-key 'rmse': no run of experiment 'e' logged it; they logged: acc, loss"
    selected([record({"m": "a"}, {})])
    with pytest.raises(NoRunsMatch, match="they logged: no metrics$"):
        compare("e", None, by=("m",), options={"metric_key": "rmse", "goal": "minimize"})


def test_the_declared_analysis_is_used_and_options_go_over_it(selected):
    selected(runs_of(VALUES), Study(baseline="group", alpha=0.1).as_json())
    c = compare("e", None)
    assert c.baseline == "norm=group" and c.study == c.declared == Study(baseline="group", alpha=0.1)
    assert c.level == pytest.approx(0.9) and "90% CI" in cells(c).columns
    over = compare("e", None, options={"alpha": 0.01, "baseline": None, "margin": 0.2})
    assert over.study == Study(baseline="group", alpha=0.01, margin=0.2) and over.declared.alpha == 0.1
    assert "this analysis differs from the one the sweep declared: margin 0.2 (declared default); alpha 0.01 " \
           "(declared 0.1)" in notes(over)
    selected(runs_of(VALUES))  # declared none: the defaults
    assert compare("e", None).declared is None and compare("e", None).study == Study()


def test_decisions_are_carried_only_under_the_analysis_they_were_made_under(selected):
    j = Judgement("better", "better: decided earlier", 0.01, 0.005, 0.015, 0.001, 0.001, None, None, 0.005, None,
                  0.005, 0.015, 0.98)
    made = sequential.dump({"norm=group": sequential.Decision(j, 1, 3, 3, "norm=batch")})
    study = Study(looks=(3, 5)).as_json()
    selected(runs_of(VALUES), study, made)
    rows = compare("e", None).rows.set_index("norm")
    assert rows.loc["group", "verdict"] == "better" and rows.loc["group", "decided_at_look"] == 1
    rows = compare("e", None, options={"alpha": 0.1}).rows.set_index("norm")  # another analysis: judged afresh
    assert rows.loc["group", "verdict"] == "worse" and pd.isna(rows.loc["group", "decided_at_look"])
    selected(runs_of(VALUES), None, made)  # no declared analysis: no plan's decisions either
    assert compare("e", None).rows.set_index("norm").loc["group", "verdict"] == "worse"


def test_runs_with_a_validation_split_are_judged_at_their_best_validation_epoch(selected, monkeypatch):
    old = tracker_run("batch", 1, 0.97, metrics={"val_acc": 0.96})  # from before test_acc_at_best_val was logged
    new = tracker_run("batch", 2, 0.97, metrics={"val_acc": 0.95, "test_acc_at_best_val": 0.975})
    selected([old, new])
    asked = []
    monkeypatch.setattr(query, "histories", lambda ids, keys: asked.append((list(ids), tuple(keys))) or {
        old.run_id: {"test_acc": [0.95, 0.98, 0.97], "val_acc": [0.9, 0.96, 0.96], "epoch_time_s": [1, 1, 1]},
        new.run_id: {"test_acc": [0.97], "val_acc": [0.95], "epoch_time_s": [1]}})
    c = compare("e", None)
    assert c.judged.key == "best_val" and asked == [([old.run_id, new.run_id], ("test_acc", "epoch_time_s", "val_acc"))]
    assert c.rows["test_acc_at_best_val_mean"][0] == pytest.approx((0.98 + 0.975) / 2)


def test_at_best_takes_each_runs_best_step_by_the_goal(selected, monkeypatch):
    a, b = record({"m": "x", "seed": "1"}, {"loss": 0.5}), record({"m": "x", "seed": "2"}, {"loss": 0.4})
    selected([a, b])
    monkeypatch.setattr(query, "histories", lambda ids, keys: {a.run_id: {"loss": [0.9, 0.2, math.nan, 0.5]},
                                                               b.run_id: {"loss": [0.3, 0.4]}})
    c = compare("e", None, by=("m",), options={"metric_key": "loss", "goal": "minimize", "at": "best"})
    assert c.rows["loss_mean"][0] == pytest.approx(0.25) and c.judged.title == "loss (best)"
    selected([record({"m": "x"}, {"loss": 0.5})])
    monkeypatch.setattr(query, "histories", lambda ids, keys: {ids[0]: {"loss": [0.1, 0.9]}})
    assert compare("e", None, by=("m",), options={"metric_key": "loss", "goal": "maximize",
                                                  "at": "best"}).rows["loss_mean"][0] == 0.9


def test_the_seed_param_of_runs_tracker_did_not_make(selected):
    selected([record({"m": "x", "rs": str(s)}, {"loss": v}) for s, v in ((1, 0.3), (1, 0.2), (2, 0.4))])
    c = compare("e", None, by=("m",), options={"metric_key": "loss", "goal": "minimize"}, seed_param="rs")
    assert c.rows["n"][0] == 2 and c.footnote == "left out 1 run(s) that did not count: 1 a duplicate of a seed already counted"


# the comparison rendered


@pytest.fixture
def comparison():
    return compared(runs_of(VALUES) + [tracker_run("group", 9, 0.5, "FAILED")], Study(alpha=0.1))


def test_json_and_csv_keep_the_rows(comparison):
    rows = json.loads(comparison.render("json"))
    assert [r["norm"] for r in rows] == ["batch", "group", "layer"]
    assert rows[1]["test_acc_final_mean"] == pytest.approx(sum(VALUES["group"]) / 3, abs=1e-15)
    assert rows[1]["runs_left_out"] == 1 and rows[2]["p_vs_baseline"] is None and rows[0]["decided_at_look"] is None
    assert rows[1]["decision_ci_level"] == pytest.approx(0.9)
    frame = pd.read_csv(io.StringIO(comparison.render("csv")))
    assert list(frame.columns) == list(comparison.rows.columns)
    assert list(frame["verdict"]) == ["baseline", "worse", "undecided"]


def test_the_table_and_its_notes(comparison):
    text = comparison.render("table")
    table, lines = text.split("\n\n", 1)
    assert table.splitlines()[0].split() == ["norm", "n", "test", "final", "%", "90%", "CI", "test", "best", "%",
                                             "(picked", "on", "test)", "train", "best", "%", "params", "epochs",
                                             "s/epoch", "p", "Holm", "Δ", "vs", "baseline", "(CI", "decided", "on),",
                                             "pp", "verdict"]
    assert lines.splitlines() == notes(comparison) and text.endswith("\n")


def test_markdown_is_the_table_and_the_notes_as_a_list(comparison):
    md = comparison.render("markdown").splitlines()
    assert md[0] == ("| norm | n | test final % | 90% CI | test best % (picked on test) | train best % | params | "
                     "epochs | s/epoch | p Holm | Δ vs baseline (CI decided on), pp | verdict |")
    assert md[2].startswith("| batch | 4 | 98.75 ± 0.21 | ") and md[2].endswith("| — | baseline | baseline |")
    assert md[5:] == ["", *(f"- {line}" for line in notes(comparison))]


def test_html_is_one_page_with_the_figure_inline(comparison):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    page = comparison.render("html")
    assert "<title>tracker compare: hand</title>" in page
    assert "<h1>hand: the final test accuracy (the last epoch&#x27;s)</h1>" in page
    assert "<td>batch</td>" in page and "<img" not in page
    fig = plt.figure(figsize=(2, 1))
    try:
        with_figure = comparison.render("html", figure=fig)
    finally:
        plt.close(fig)
    assert with_figure.count('<img alt="test_acc per step, per condition" src="data:image/png;base64,iVBORw0KGgo') == 1
