"""The comparison as a reader sees it, on hand-made records: each condition's line (every interval
labelled with its real level: alpha 0.1 gives 90%), a metric in its own units, and the lines under
the table (the analysis, each verdict's reason, power, the seeds that would decide, what differs
from the declared analysis, Hsu's MCB, spreads out of range, confounds)."""
import math

import numpy as np
from scipy import stats as sp

from tests.helpers import compared, record, runs_of
from tracker.results.cells import analysis_line, best_lines, cells, level_label, notes
from tracker.study import Study

VALUES = {"batch": [0.990, 0.985, 0.988, 0.987], "group": [0.975, 0.970, 0.978], "layer": [0.960]}


def interval(values, confidence):
    v = np.array(values)
    half = sp.t.ppf((1 + confidence) / 2, len(v) - 1) * v.std(ddof=1) / math.sqrt(len(v))
    return f"{(v.mean() - half) * 100:.2f}–{(v.mean() + half) * 100:.2f}"


def test_level_label():
    assert [level_label(c) for c in (0.95, 0.9, 0.99, 1 - 0.024464858848456093, 0.8)] == [
        "95%", "90%", "99%", "97.55%", "80%"]


def test_each_conditions_line_at_alpha_0_1():
    view = cells(compared(runs_of(VALUES), Study(alpha=0.1, margin=0.5)))
    assert list(view.columns) == ["norm", "n", "test final %", "90% CI", "test best % (picked on test)",
                                  "train best %", "params", "epochs", "s/epoch", "p Holm",
                                  "Δ vs baseline (CI decided on), pp", "verdict"]
    batch, group, layer = view.to_dict("records")
    assert batch == {"norm": "batch", "n": "4", "test final %": "98.75 ± 0.21", "90% CI": interval(VALUES["batch"], 0.9),
                     "test best % (picked on test)": "98.75 ± 0.21", "train best %": "99.25 ± 0.21", "params": "47,890",
                     "epochs": "2", "s/epoch": "10.0", "p Holm": "—", "Δ vs baseline (CI decided on), pp": "baseline",
                     "verdict": "baseline"}
    p = sp.ttest_ind(VALUES["group"], VALUES["batch"], equal_var=False).pvalue
    assert (group["90% CI"], group["p Holm"], group["verdict"]) == (interval(VALUES["group"], 0.9), f"{p:.3g}", "worse")
    assert group["Δ vs baseline (CI decided on), pp"] == "-1.32 (90%: -1.94 to -0.70)"
    # one seed: a value, no spread, no interval, no test
    assert (layer["test final %"], layer["90% CI"], layer["p Holm"]) == ("96.00", "—", "—")
    assert layer["Δ vs baseline (CI decided on), pp"] == "-2.75"


def test_an_equivalence_shows_the_1_minus_2_alpha_interval_it_was_decided_on():
    eq = {"batch": [0.990, 0.985, 0.988, 0.987], "group": [0.989, 0.986, 0.987, 0.988]}
    view = cells(compared(runs_of(eq), Study(margin=0.5, baseline="group", alpha=0.1)))
    assert view["verdict"].tolist() == ["equivalent", "baseline"]
    assert view["Δ vs baseline (CI decided on), pp"][0].startswith("+0.00 (80%: -")
    assert "90% CI" in view.columns  # the conditions' own intervals stay 1 - alpha


def test_a_metric_in_its_own_units_has_no_model_columns_and_no_pp():
    runs = [record({"model": m, "rs": str(s)}, {"loss": v}) for m, vs in (("a", [0.30, 0.32, 0.31]),
                                                                          ("b", [0.20, 0.21, 0.19]))
            for s, v in enumerate(vs, 1)]
    view = cells(compared(runs, Study(metric_key="loss", goal="minimize", alpha=0.1), by=("model",), seed_param="rs"))
    assert view.to_dict("records") == [
        {"model": "b", "n": "3", "loss (last)": "0.2 ± 0.01", "90% CI": "0.1831–0.2169", "p Holm": "0.000176",
         "Δ vs baseline (CI decided on)": "-0.11 (90%: -0.1274 to -0.09259)", "verdict": "better"},
        {"model": "a", "n": "3", "loss (last)": "0.31 ± 0.01", "90% CI": "0.2931–0.3269", "p Holm": "—",
         "Δ vs baseline (CI decided on)": "baseline", "verdict": "baseline"}]
    assert f"{sp.ttest_ind([0.20, 0.21, 0.19], [0.30, 0.32, 0.31], equal_var=False).pvalue:.3g}" == "0.000176"


def test_the_seconds_to_a_target_column(monkeypatch):
    from tracker.tracking import query

    runs = runs_of({"batch": [0.99, 0.99, 0.99]})
    history = {runs[0].run_id: {"test_acc": [0.9, 0.995], "epoch_time_s": [10.0, 12.0]},
               runs[1].run_id: {"test_acc": [0.996, 0.99], "epoch_time_s": [9.0, 9.0]},
               runs[2].run_id: {"test_acc": [0.9, 0.98], "epoch_time_s": [9.0, 9.0]}}
    monkeypatch.setattr(query, "histories", lambda ids, keys: history)
    from tracker.results.compare import compare
    from tracker.tracking.records import Selection

    monkeypatch.setattr(query, "select", lambda *a: Selection(runs, "e", []))
    view = cells(compare("e", None, target=99.5))
    assert view["s to 99.50% (reached)"].tolist() == [f"15.5 ± {np.std([22.0, 9.0], ddof=1):.1f} (2/3)"]


def test_the_analysis_line_says_what_was_judged_and_how_the_baseline_was_chosen():
    runs = runs_of({"batch": [0.99, 0.98], "group": [0.97, 0.96]})
    assert analysis_line(compared(runs)) == ("judged on the final test accuracy (the last epoch's); baseline "
                                             "norm=batch (the first condition in sorted order); no margin (no "
                                             "equivalence verdicts); alpha 0.05")
    grid = {"norm": ["group", "batch"], "seed": [1, 2]}
    assert analysis_line(compared(runs, grid=grid)).startswith(
        "judged on the final test accuracy (the last epoch's); baseline norm=group (the grid's first value); ")
    line = analysis_line(compared(runs, Study(baseline="batch", margin=0.25, alpha=0.01, looks=(2, 4))))
    assert line == ("judged on the final test accuracy (the last epoch's); baseline norm=batch; margin ±0.25 pp; "
                    "alpha 0.01; looks 2, 4 seeds per condition")
    unseeded = [record({"model": m}, {"loss": v}) for m, v in (("a", 0.3), ("a", 0.31), ("b", 0.2), ("b", 0.21))]
    assert analysis_line(compared(unseeded, Study(metric_key="loss", goal="minimize", margin=0.05), by=("model",))) == (
        "judged on loss, its last logged value, lower is better; baseline model=a (the first condition in sorted "
        "order); margin ±0.05; alpha 0.05; the runs name no seed, so each run is one replicate")


def test_the_notes_under_the_table():
    out = notes(compared(runs_of(VALUES), Study(alpha=0.1, margin=0.5)))
    p = sp.ttest_ind(VALUES["group"], VALUES["batch"], equal_var=False).pvalue
    assert out[0].startswith("judged on the final test accuracy")
    assert out[1].startswith("norm=group vs norm=batch: worse: -1.32 pp (90% CI -1.94 to -0.70), ")
    assert out[1].endswith(f"Holm p {p:.3g} < 0.1")
    assert out[2] == "norm=layer vs norm=batch: undecided: -2.75 pp, but norm=layer has 1 seed: no spread at n = 1, no test"
    assert out[3].startswith("power: with n = 1, 3, 4 per condition and the observed spread, differences smaller than "
                             "these could not have been detected with 80% power: norm=group ")
    assert out[4] == ("could be the best (90% simultaneous intervals to the best of the others, Hsu's MCB): norm=batch "
                      "(+0.00 pp to +1.80 pp); not the best: norm=group (-1.80 pp to +0.00 pp); not judged (fewer "
                      "than 2 seeds or no spread): norm=layer")
    assert len(out) == 5


def test_what_differs_from_the_declared_analysis_and_the_seeds_that_would_decide():
    runs = runs_of({"batch": [0.990, 0.985, 0.988], "group": [0.987, 0.982, 0.990]})
    declared = Study(margin=0.5)
    same = notes(compared(runs, declared))
    assert not any(line.startswith("this analysis differs") for line in same)
    out = notes(compared(runs, declared, options={"margin": 0.1, "alpha": 0.1, "baseline": "group"}))
    assert out[1] == ("this analysis differs from the one the sweep declared: baseline group (declared default); "
                      "margin 0.1 (declared 0.5); alpha 0.1 (declared 0.05)")
    assert out[2].startswith("norm=batch vs norm=group: undecided: ")
    (seeds,) = [line for line in out if line.startswith("seeds per condition")]
    assert seeds.startswith("seeds per condition that would decide the undecided comparisons (an estimate, at the "
                            "observed difference and spread): norm=batch about ")


def test_a_confound_and_a_flag_close_the_notes():
    runs = runs_of({"batch": VALUES["batch"]}) + runs_of({"group": [0.97, 0.971, 0.90]}, epochs=3)
    out = notes(compared(runs))
    assert out[-2:] == ["confound: epochs differs between conditions (norm=batch 2; norm=group 3)",
                        "flag: norm=group: its seeds disagree wildly (90.00 to 97.10); seed 3 gave 90.00: check that "
                        "run before trusting this row"]


def test_spreads_beyond_an_adaptive_plans_range_are_said():
    rng = np.random.default_rng(3)
    runs = runs_of({"batch": [0.95 + 0.0003 * k for k in range(10)], "group": list(0.95 + 0.02 * rng.standard_normal(10))})
    out = notes(compared(runs, Study(looks=(3, 5, 10))))
    assert ("error rate not held: the spreads of norm=group and the baseline differ beyond the 3x this plan's "
            "per-look level is calibrated for, so its verdicts may be wrong more often than alpha") in out


def test_one_condition_has_no_mcb_line():
    c = compared(runs_of({"batch": [0.99, 0.98, 0.985]}))
    assert best_lines(c) == [] and notes(c) == [analysis_line(c)]
