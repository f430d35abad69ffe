"""The findings in plain sentences, on hand-made records: each verdict says as much as it allows
and no more, with the interval it was decided on and its real level, the seeds on each side,
what an undecided one would need, a plan's stop and earlier decisions, runs lost, confounds and
which could be the best.

The findings in short, as a sweep's parent run leads its description with them: a line per
comparison that says what its verdict allows and no more, on hand-made runs judged at alpha 0.1."""
import dataclasses
from tests.helpers import comparison
from tracker.results import findings
from tracker.study import Study
import numpy as np
from scipy import stats as sp
from tests.helpers import compared, record, runs_of, tracker_run
from tracker.results import sequential
from tracker.results.findings import blocks, sentences
from tracker.results.verdicts import Judgement


SHORT = {"batch": [0.970, 0.972, 0.974], "wide": [0.985, 0.986, 0.987], "group": [0.9705, 0.9722, 0.9738],
          "noisy": [0.90, 0.99, 0.95], "inst": [0.96]}


STUDY = Study(baseline="batch", margin=1.0, alpha=0.1)


def test_a_line_per_comparison_as_its_verdict_allows():
    c = comparison(SHORT, STUDY)
    rows = c.rows.set_index("norm")
    assert rows["verdict"].to_dict() == {"wide": "better", "group": "equivalent", "batch": "baseline",
                                         "inst": "undecided", "noisy": "undecided"}
    lead, *lines = findings.short(c)
    assert lead == "Judged on the final test accuracy (the last epoch's), against **norm=batch**, at alpha 0.1 (Holm):"
    by_name = {line.split("**")[1]: line for line in lines}
    assert list(by_name) == ["norm=wide", "norm=group", "norm=inst", "norm=noisy"]  # the table's order, no baseline

    def diff(norm):
        return f"{rows.loc[norm, 'diff_vs_baseline'] * 100:+.2f} pp"

    assert by_name["norm=wide"].startswith(f"- **norm=wide** is better: {diff('wide')} (")
    assert by_name["norm=wide"].endswith(f"Holm-adjusted p = {rows.loc['wide', 'p_holm']:.3g}")
    assert by_name["norm=group"].startswith(f"- **norm=group** is equivalent within ±1 pp: {diff('group')} (")
    assert by_name["norm=inst"] == "- **norm=inst**: one counted run, nothing concluded yet"
    assert by_name["norm=noisy"].startswith(f"- **norm=noisy**: no difference established, {diff('noisy')} (")
    assert by_name["norm=noisy"].endswith(f"; about {int(rows.loc['noisy', 'seeds_needed'])} seeds per "
                                          "condition would decide it")
    assert not any("better" in line or "worse" in line or "equivalent" in line
                   for line in (by_name["norm=inst"], by_name["norm=noisy"]))


def test_a_confound_is_a_caution_and_one_condition_has_nothing_to_compare():
    c = comparison(SHORT, STUDY)
    c = dataclasses.replace(c, found=dataclasses.replace(c.found, confounds={"lr": {}, "optimizer": {}}))
    assert findings.short(c)[-1] == "- caution: the conditions also differ in lr, optimizer"
    assert findings.short(comparison({"batch": [0.97, 0.98]}))[1:] == ["- one condition only: nothing to compare"]


VALUES = {"batch": [0.990, 0.985, 0.988, 0.987], "group": [0.975, 0.970, 0.978], "layer": [0.960]}


def test_worse_and_one_seed_at_alpha_0_1():
    worse, single = sentences(compared(runs_of(VALUES), Study(alpha=0.1, margin=0.5)))
    p = sp.ttest_ind(VALUES["group"], VALUES["batch"], equal_var=False).pvalue
    assert worse == ("**norm=group** is worse than **norm=batch**, by 1.32 points (90% CI -1.94 pp to -0.70 pp), "
                     f"Holm-adjusted p = {p:.3g} (3 and 4 seeds).")
    assert single == ("**norm=layer** has one counted run: it has no spread and no test, so nothing can be concluded "
                      "about it yet (it differs from **norm=batch** by -2.75 pp in that one run).")


def test_equivalent_within_the_margin_with_its_1_minus_2_alpha_interval():
    eq = {"batch": [0.990, 0.985, 0.988, 0.987], "group": [0.989, 0.986, 0.987, 0.988]}
    (line,) = sentences(compared(runs_of(eq), Study(margin=0.5, baseline="group")))
    assert line.startswith("**norm=batch** and **norm=group** are equivalent within the margin of ±0.5 pp: the "
                           "difference is +0.00 pp (90% CI -0.25 pp to +0.25 pp), and two one-sided tests put it "
                           "inside the margin (Holm-adjusted p = ")
    assert line.endswith("; 4 seeds each).")


def test_undecided_says_what_it_could_have_missed_and_what_would_decide_it():
    runs = runs_of({"batch": [0.990, 0.985, 0.988], "group": [0.987, 0.982, 0.990]})
    c = compared(runs)
    (line,) = sentences(c)
    row = c.rows.set_index("norm").loc["group"]
    assert line == ("No difference between **norm=group** and **norm=batch** was established: -0.13 pp (95% CI "
                    f"{row['decision_ci_low'] * 100:+.2f} pp to {row['decision_ci_high'] * 100:+.2f} pp); with 3 seeds "
                    f"each, a true difference smaller than {row['detectable_diff'] * 100:.2f} points would have been "
                    "missed more often than 20% of the time; no margin was declared, so equivalence could not be "
                    f"tested. About {row['seeds_needed']} seeds per condition would decide it (an estimate).")


def test_a_comparison_the_plan_stopped_says_so():
    rng = np.random.default_rng(4)
    a, b = 0.99 + 0.0015 * rng.standard_normal(3), 0.99 + 0.0015 * rng.standard_normal(3)
    b += np.mean(a) - np.mean(b) + 0.0001  # a difference of 0.01 pp, a margin of 0.05 pp: hundreds of seeds
    c = compared(runs_of({"batch": list(a), "group": list(b)}), Study(margin=0.05, looks=(3, 10)))
    (line,) = sentences(c)
    needed = int(c.rows.set_index("norm").loc["group", "seeds_needed"])
    assert needed > 10 and line.endswith(f". It was stopped: about {needed} seeds per condition would be needed, "
                                         "more than the plan has (an estimate).")
    assert "97.49% CI" in line  # the plan's per-look level, not a literal 95%


def test_a_decision_made_at_an_earlier_look_and_runs_lost_are_said():
    j = Judgement("worse", "worse: decided earlier", -0.013, -0.02, -0.006, 0.01, 0.01, None, None, 0.005, None,
                  -0.02, -0.006, 0.9)
    made = sequential.dump({"norm=group": sequential.Decision(j, 1, 3, 3, "norm=batch")})
    runs = runs_of({"batch": [0.990, 0.985, 0.988], "group": [0.975, 0.970, 0.978]}) + [
        tracker_run("group", 4, 0.5, "FAILED"), tracker_run("group", 5, 0.5, "KILLED")]
    (line,) = sentences(compared(runs, Study(looks=(3, 5)), decisions=made))
    assert line == ("Decided at look 1: **norm=group** is worse than **norm=batch**, by 1.30 points (90% CI -2.00 pp "
                    "to -0.60 pp), Holm-adjusted p = 0.01 (3 seeds each). **norm=group** is judged on the 3 seeds "
                    "that survived: 2 of its runs were left out (see the runs left out), so it may look better than "
                    "it is.")


def test_the_findings_section():
    runs = runs_of({"batch": VALUES["batch"]}) + runs_of({"group": VALUES["group"]}, epochs=3) + runs_of(
        {"layer": VALUES["layer"]})
    out = blocks(compared(runs, Study(alpha=0.1)))
    assert [b[0] for b in out] == ["h2", "p", "list", "p", "p"]
    assert out[1][1] == ("Judged on the final test accuracy (the last epoch's); baseline norm=batch (the first condition "
                         "in sorted order); no margin (no equivalence verdicts); alpha 0.1; Holm's adjustment for 1 "
                         "comparison(s). Each run's best test accuracy over its epochs is in the table for reference "
                         "only: it is picked on the test set, so it is biased up.")
    assert out[3][1] == ("Caution: the conditions differ in more than norm: epochs (see the table's notes). A difference "
                         "between them cannot be put down to norm alone.")
    assert out[4][1] == ("Which could be the best, all at once at 90% (Hsu's multiple comparisons with the best): "
                         "**norm=batch**; norm=group cannot be.")


def test_the_holm_family_is_the_comparisons_tested():
    # two tested comparisons and one of a single seed: Holm adjusts over two
    runs = runs_of({**VALUES, "none": [0.980, 0.982, 0.981]})
    assert "Holm's adjustment for 2 comparison(s)." in blocks(compared(runs))[1][1]


def test_one_condition_and_a_metric_picked_on_test_or_in_its_own_units():
    out = blocks(compared(runs_of({"batch": [0.9, 0.91]})))
    assert out[2] == ("list", ["There is one condition only: nothing to compare."])
    assert "Holm's adjustment for 0 comparison(s)." in out[1][1]
    picked = blocks(compared(runs_of(VALUES), Study(metric="best_test")))[1][1]
    assert "for reference only" not in picked and picked.startswith("Judged on each run's best test accuracy")
    loss = [record({"model": m, "seed": str(s)}, {"loss": v}) for m, vs in (("a", [0.3, 0.31]), ("b", [0.2, 0.22]))
            for s, v in enumerate(vs, 1)]
    out = blocks(compared(loss, Study(metric_key="loss", goal="minimize", alpha=0.1), by=("model",)))
    assert out[1][1].endswith("alpha 0.1; Holm's adjustment for 1 comparison(s).")
    p = sp.ttest_ind([0.2, 0.22], [0.3, 0.31], equal_var=False).pvalue
    low, high = welch_interval([0.2, 0.22], [0.3, 0.31], 0.9)
    assert out[2][1] == [f"**model=b** is better than **model=a**, by 0.095 (90% CI {low:+.4g} to {high:+.4g}), "
                         f"Holm-adjusted p = {p:.3g} (2 seeds each)."]  # lower is better: a negative difference


def welch_interval(a, b, confidence):
    a, b = np.array(a), np.array(b)
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
    half = sp.t.ppf((1 + confidence) / 2, df) * np.sqrt(va + vb)
    return a.mean() - b.mean() - half, a.mean() - b.mean() + half
