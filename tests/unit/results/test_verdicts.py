"""Verdicts on hand-made samples: each field against statsmodels and scipy.stats (Holm across the
family, the intervals each verdict was decided on), the reasons with their real levels, ties and
identical seeds, the goal, carried decisions, futility and the JSON form."""
import math
import subprocess
import sys
import warnings

import numpy as np
import pytest
from scipy import stats as sp
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW, ttost_ind

from tracker.results import power, stats
from tracker.results.verdicts import Judgement, judge, percent

BASE = [0.974, 0.970, 0.978, 0.969, 0.972]
SAMPLES = {"batch": BASE,
           "layer": [0.966, 0.962, 0.968, 0.961],  # worse
           "group": [0.9745, 0.9712, 0.9768, 0.9702],  # close to batch
           "wide": [0.985, 0.988, 0.984, 0.987],  # better
           "inst": [0.960]}  # one seed: no test
TESTED = ["layer", "group", "wide"]  # the family: n >= 2 on both sides


def interval(row, confidence, base=BASE):
    return CompareMeans(DescrStatsW(row), DescrStatsW(base)).tconfint_diff(alpha=1 - confidence, usevar="unequal")


@pytest.mark.parametrize("alpha, level", [(0.05, None), (0.1, None), (0.05, 0.0221), (0.01, None)])
def test_judge_fields_match_statsmodels_with_holm_across_the_family(alpha, level):
    margin, at = 0.005, level or alpha
    out = judge(SAMPLES, "batch", margin=margin, alpha=alpha, level=level)
    p = [sp.ttest_ind(SAMPLES[k], BASE, equal_var=False).pvalue for k in TESTED]
    tost = [ttost_ind(np.array(SAMPLES[k]), np.array(BASE), -margin, margin, usevar="unequal")[0] for k in TESTED]
    holm, holm_tost = multipletests(p, method="holm")[1], multipletests(tost, method="holm")[1]
    for k, p_k, t_k, h_k, ht_k in zip(TESTED, p, tost, holm, holm_tost):
        j = out[k]
        assert j.diff == pytest.approx(np.mean(SAMPLES[k]) - np.mean(BASE), abs=1e-15)
        assert (j.ci_low, j.ci_high) == pytest.approx(interval(SAMPLES[k], 1 - alpha), rel=1e-9)
        assert (j.p, j.p_adjusted) == pytest.approx((p_k, h_k), rel=1e-9)
        assert (j.p_equivalence, j.p_equivalence_adjusted) == pytest.approx((t_k, ht_k), rel=1e-9)
        # the interval decided on: 1 - 2 level for equivalent, 1 - level otherwise
        confidence = 1 - 2 * at if j.verdict == "equivalent" else 1 - at
        assert j.decision_ci_level == pytest.approx(confidence)
        assert (j.decision_ci_low, j.decision_ci_high) == pytest.approx(interval(SAMPLES[k], confidence), rel=1e-9)
        assert f"({percent(confidence)} CI {j.decision_ci_low * 100:+.2f} to {j.decision_ci_high * 100:+.2f}" in j.reason
        if j.verdict == "equivalent":
            assert -margin < j.decision_ci_low and j.decision_ci_high < margin
        if j.verdict in ("better", "worse"):
            assert not j.decision_ci_low <= 0 <= j.decision_ci_high
    assert out["inst"].p is None and out["inst"].p_adjusted is None and out["inst"].ci_low is None
    assert all(j.p_equivalence is None for j in judge(SAMPLES, "batch").values())


def test_no_literal_levels_in_the_reasons():
    out = judge(SAMPLES, "batch", margin=0.01, alpha=0.1, power=0.9)
    reasons = " ".join(j.reason for j in out.values())
    assert "95%" not in reasons and "80% power" not in reasons
    assert "worse: -0.83 pp (90% CI -1.27 to -0.40), Holm p 0.0177 < 0.1" == out["layer"].reason
    assert out["group"].reason.startswith("equivalent: +0.06 pp (80% CI ")  # 1 - 2 x 0.1
    j = judge(SAMPLES, "batch", power=0.9)["group"]
    assert j.reason.endswith(f"about {j.seeds_needed} seeds per condition would decide it "
                             "(an estimate from the observed difference and spreads, 90% power)")
    assert percent(1 - 0.024464858848456093) == "97.55%" and percent(0.95) == "95%"


def test_better_worse_and_the_baseline_row():
    out = judge(SAMPLES, "batch")
    assert [j.verdict for j in out.values()] == ["baseline", "worse", "undecided", "better", "undecided"]
    b = out["batch"]
    assert b.diff == 0.0 and b.reason == "baseline: every other condition is compared with batch"
    assert (b.ci_low, b.ci_high, b.p, b.p_adjusted, b.p_equivalence, b.p_equivalence_adjusted,
            b.detectable_diff, b.seeds_needed, b.decision_ci_level) == (None,) * 9
    assert out["layer"].reason == "worse: -0.83 pp (95% CI -1.38 to -0.29), Holm p 0.0177 < 0.05"
    assert out["wide"].reason == "better: +1.34 pp (95% CI +0.89 to +1.79), Holm p 0.000915 < 0.05"
    assert out["layer"].seeds_needed is None and out["wide"].seeds_needed is None


def test_minimize_makes_a_lower_value_better():
    out = judge(SAMPLES, "batch", goal="minimize")
    assert (out["layer"].verdict, out["wide"].verdict) == ("better", "worse")
    assert out["layer"].reason.startswith("better: -0.83 pp (95% CI -1.38 to -0.29)")
    assert out["layer"].diff == judge(SAMPLES, "batch")["layer"].diff  # the difference keeps its sign
    with pytest.raises(ValueError, match="goal"):
        judge(SAMPLES, "batch", goal="lowest")


def test_equivalent_is_shown_with_the_interval_it_was_decided_on():
    g = judge(SAMPLES, "batch", margin=0.01)["group"]
    low, high = interval(SAMPLES["group"], 0.9)
    assert g.verdict == "equivalent" and g.p_equivalence_adjusted < 0.05 <= g.p_adjusted
    assert g.reason == (f"equivalent: +0.06 pp (90% CI {low * 100:+.2f} to {high * 100:+.2f}, inside ±1.00 pp), "
                        f"TOST Holm p {g.p_equivalence_adjusted:.3g} < 0.05")
    # the 95% interval may cross the margin where the 90% one does not: the verdict shows the 90%
    pair = {"batch": BASE, "layer": SAMPLES["layer"]}  # 90% CI -1.27 to -0.40 pp, 95% -1.38 to -0.29
    lay = judge(pair, "batch", margin=0.0132)["layer"]
    assert lay.verdict == "equivalent" and lay.ci_low < -0.0132 < lay.decision_ci_low
    assert lay.reason.startswith("equivalent: -0.83 pp (90% CI -1.27 to -0.40, inside ±1.32 pp)")
    assert "; a difference was detected (Holm p 0.00885 < 0.05) but lies inside ±1.32 pp" in lay.reason


def test_undecided_reasons_and_the_seeds_estimate():
    g = judge(SAMPLES, "batch", margin=0.001)["group"]
    assert g.reason.startswith("undecided: +0.06 pp (95% CI -0.46 to +0.58) includes 0 (Holm p 0.802 ≥ 0.05) "
                               "and is not shown inside ±0.10 pp (TOST Holm p ")
    sds = stats.sd(SAMPLES["group"]), stats.sd(BASE)
    assert g.seeds_needed == power.seeds_to_decide(g.diff, *sds, 0.001, 0.05 / 3, 0.8) == 699
    assert "about 699 seeds per condition would decide it (an estimate" in g.reason
    # the interval excludes 0 but Holm across the family does not decide it
    lay = judge(SAMPLES, "batch", level=0.015)["layer"]
    assert lay.verdict == "undecided" and lay.decision_ci_high < 0 and lay.decision_ci_level == 0.985
    assert "(98.5% CI -1.58 to -0.09) excludes 0 but Holm p 0.0177 ≥ per-look level 0.015" in lay.reason
    j = judge({"a": [0.5, 0.7], "b": [0.7, 0.5]}, "a")["b"]
    assert (j.verdict, j.diff, j.p, j.seeds_needed) == ("undecided", 0.0, pytest.approx(1.0), None)
    assert "declare a margin" in j.reason
    capped = judge({"a": BASE, "b": [x + 1e-5 for x in BASE]}, "a")["b"]
    assert capped.seeds_needed == 1000 and "more than 1000 seeds per condition would be needed" in capped.reason


def test_one_seed_no_seeds_and_a_diverged_run_are_undecided_without_a_test():
    out = judge({"a": [0.97, 0.98], "b": [0.96], "c": []}, "a", margin=0.01)
    assert out["b"].reason == "undecided: -1.50 pp, but b has 1 seed: no spread at n = 1, no test"
    assert out["c"].reason == "undecided: c has no seeds yet, no test" and math.isnan(out["c"].diff)
    nan = judge({"a": [0.97, 0.98], "b": [0.96, math.nan]}, "a")["b"]
    assert nan.reason == "undecided: b has a value that is not finite: no test" and nan.p is None


# ties and identical seeds (the item 1)


def test_one_test_image_apart_is_not_better():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        known = judge({"a": [0.9953] * 3, "b": [0.9954] * 3}, "a", resolution=1e-4)["b"]
        unknown = judge({"a": [0.9953] * 3, "b": [0.9954] * 3}, "a")["b"]
    # the resolution is the smallest spread: sd 1e-4 each side, so t = 1.22 at 4 df
    assert known.verdict == "undecided" and known.p == pytest.approx(2 * sp.t.sf(1 / math.sqrt(2 / 3), 4), rel=1e-9)
    assert known.p > 0.2 and known.decision_ci_low < 0 < known.decision_ci_high
    assert ("the 3 seeds of b and the 3 seeds of a each gave identical results: does the seed change anything? "
            "(their spreads are taken as the metric's resolution, 0.01 pp)") in known.reason
    # no resolution known: no test at all, and the reason says why
    assert unknown.verdict == "undecided" and unknown.p is None and unknown.detectable_diff is None
    assert unknown.reason == ("undecided: +0.01 pp, but the 3 seeds of b and the 3 seeds of a each gave identical "
                              "results: does the seed change anything? With no resolution known for the metric "
                              "there is no spread to test with: no test")


def test_two_tied_seeds_per_side_with_a_margin_never_give_p_zero():
    samples = {"a": [0.99, 0.99], "b": [0.99, 0.99]}
    known = judge(samples, "a", margin=0.001, resolution=1e-4)["b"]
    # sd 1e-4 each side, n = 2: se = 1e-4, df = 2; the tighter one-sided test has t = 10
    assert known.p_equivalence == pytest.approx(sp.t.sf(10, 2), rel=1e-9) and known.p_equivalence > 0.004
    assert known.verdict == "equivalent" and known.decision_ci_level == 0.9
    assert judge(samples, "a", margin=0.0002, resolution=1e-4)["b"].verdict == "undecided"  # t = 2 at 2 df
    unknown = judge(samples, "a", margin=0.001)["b"]
    assert unknown.verdict == "undecided" and unknown.p_equivalence is None and "no test" in unknown.reason


def test_one_identical_side_is_tested_on_the_other_sides_spread_and_named():
    j = judge({"a": [0.97, 0.971, 0.969], "b": [0.975] * 3}, "a")["b"]
    # welch with b's variance 0: se = sd(a) / sqrt(3) = 0.001 / sqrt(3), df = 2
    assert j.p == pytest.approx(2 * sp.t.sf(0.005 / (0.001 / math.sqrt(3)), 2), rel=1e-6)
    assert j.reason.endswith("; the 3 seeds of b gave identical results: does the seed change anything?")
    base = judge({"a": [0.97] * 3, "b": [0.9, 0.91]}, "a")["a"]
    assert base.reason.endswith("; the 3 seeds of a gave identical results: does the seed change anything?")


# carried decisions, futility, JSON


def test_carried_judgements_are_kept_and_their_p_stays_in_the_holm_family():
    first = judge(SAMPLES, "batch")
    later = {**SAMPLES, "layer": [0.98, 0.99, 0.97, 0.985]}  # would now judge differently
    out = judge(later, "batch", carried={"layer": first["layer"]})
    assert out["layer"] is first["layer"]
    p_group, p_wide = (sp.ttest_ind(SAMPLES[k], BASE, equal_var=False).pvalue for k in ("group", "wide"))
    expected = multipletests([first["layer"].p, p_group, p_wide], method="holm")[1]
    assert (out["group"].p_adjusted, out["wide"].p_adjusted) == pytest.approx(tuple(expected[1:]), rel=1e-9)


def test_a_plan_stops_a_comparison_its_last_look_could_not_decide():
    # a margin of 0.05 pp with a 0.15 pp seed spread: about 190 seeds, and the plan stops at 10
    rng = np.random.default_rng(4)
    a, b = 0.99 + 0.0015 * rng.standard_normal(3), 0.99 + 0.0015 * rng.standard_normal(3)
    b += np.mean(a) - np.mean(b) + 0.0001  # observed difference 0.01 pp
    j = judge({"a": a, "b": b}, "a", margin=0.0005, level=0.018, plan=10)["b"]
    needed = power.seeds_at_best(j.diff, stats.sd(b), stats.sd(a), 0.0005, 0.018, 0.8)
    assert j.futile and j.verdict == "undecided" and j.seeds_needed == needed > 10
    assert j.reason.startswith(f"undecided: would need about {needed} seeds per condition, more than the plan's 10: stopped")
    # at the plan's end, or within reach of it, nothing is stopped
    assert not judge({"a": a, "b": b}, "a", margin=0.0005, level=0.018, plan=3)["b"].futile
    assert not judge({"a": a, "b": b}, "a", margin=0.0005, level=0.018, plan=1000)["b"].futile


def test_judgements_round_trip_through_json():
    import json

    for j in judge({**SAMPLES, "c": []}, "batch", margin=0.01).values():
        assert Judgement.from_json(json.loads(json.dumps(j.to_json()))) == j or math.isnan(j.diff)
    empty = judge({"a": [0.9, 0.91], "c": []}, "a")["c"]
    again = Judgement.from_json(json.loads(json.dumps(empty.to_json())))
    assert math.isnan(again.diff) and again.reason == empty.reason


@pytest.mark.parametrize("kwargs, key", [({"baseline": "nope"}, "baseline"), ({"margin": 0.0}, "margin"),
                                         ({"margin": -0.1}, "margin"), ({"alpha": 1.5}, "alpha"),
                                         ({"level": 0.0}, "level"), ({"power": 1.0}, "power"),
                                         ({"resolution": 0.0}, "resolution"), ({"goal": "max"}, "goal")])
def test_bad_arguments_name_the_key(kwargs, key):
    with pytest.raises(ValueError, match=key):
        judge(SAMPLES, **{"baseline": "batch", **kwargs})


def test_no_slow_imports():
    # tracker compare has one second: judging and planning must not pull in scipy.stats & co
    code = ("import sys; from tracker.results.sequential import step; from tracker.results.mcb import best; "
            "step((3, 5), {'a': [0.9, 0.91, 0.92], 'b': [0.93, 0.95, 0.94]}, 'a', margin=0.01); "
            "best({'a': [0.9, 0.91], 'b': [0.93, 0.95]}); "
            "slow = ('scipy.stats', 'scipy.optimize', 'statsmodels'); "
            "print(sorted(m for m in sys.modules if any(m == s or m.startswith(s + '.') for s in slow)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("alpha, level", [(0.05, None), (0.1, None), (0.05, 0.018)])
def test_each_verdict_is_its_test_at_the_level_no_more_no_less(alpha, level):
    # one comparison (no Holm): equivalent exactly when statsmodels' TOST p < level, better or
    # worse exactly when scipy's Welch p < level; a doubled TOST level fails here
    at = level or alpha
    rng = np.random.default_rng(8)
    seen = set()
    for shift in np.linspace(-0.006, 0.006, 7):
        row, base = 0.97 + shift + 0.003 * rng.standard_normal(5), 0.97 + 0.002 * rng.standard_normal(4)
        p = sp.ttest_ind(row, base, equal_var=False).pvalue
        for margin in np.linspace(0.001, 0.012, 12):
            j = judge({"b": base, "r": row}, "b", margin=margin, alpha=alpha, level=level)["r"]
            tost = ttost_ind(row, base, -margin, margin, usevar="unequal")[0]
            assert (j.verdict == "equivalent") == (tost < at)
            assert (j.verdict in ("better", "worse")) == (p < at and tost >= at)
            seen.add((j.verdict, bool(at <= tost < 2 * at)))
    assert ("undecided", True) in seen or ("better", True) in seen or ("worse", True) in seen
