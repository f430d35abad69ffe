"""Verdicts and their numbers: every interval, Welch p, TOST p, Holm adjustment, detectable
difference and seeds_needed against statsmodels, scipy.stats and hand computations; each verdict
on hand-made samples, with the numbers in its reason."""
import math
import subprocess
import sys
import warnings

import numpy as np
import pytest
from scipy import stats as sp
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import TTestIndPower
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW, ttost_ind

from tracker.results import stats
from tracker.results.verdicts import VERDICTS, judge

BASE = [0.974, 0.970, 0.978, 0.969, 0.972]
SAMPLES = {"batch": BASE,
           "layer": [0.966, 0.962, 0.968, 0.961],  # worse
           "group": [0.9745, 0.9712, 0.9768, 0.9702],  # close to batch
           "wide": [0.985, 0.988, 0.984, 0.987],  # better
           "inst": [0.960]}  # one seed: no test
TESTED = ["layer", "group", "wide"]  # the family: n >= 2 on both sides


def pooled(a, b):
    return math.sqrt(((len(a) - 1) * np.var(a, ddof=1) + (len(b) - 1) * np.var(b, ddof=1)) / (len(a) + len(b) - 2))


def random_pairs():
    rng = np.random.default_rng(11)
    for n1, n2, sd1, sd2, shift in [(3, 5, 0.004, 0.002, 0.003), (4, 4, 0.003, 0.003, -0.001),
                                    (2, 6, 0.001, 0.005, 0.0), (7, 3, 0.006, 0.001, 0.008)]:
        yield 0.97 + shift + sd1 * rng.standard_normal(n1), 0.97 + sd2 * rng.standard_normal(n2)


# the numbers, one by one


def test_interval_welch_p_and_tost_by_hand():
    # a - b = -1, both variances 5/3, se = sqrt(2 * 5/3 / 4) = sqrt(5/6), df = 2 (n - 1) = 6
    w = stats.welch([1, 2, 3, 4], [2, 3, 4, 5])
    assert (w.diff, w.se, w.df) == pytest.approx((-1.0, math.sqrt(5 / 6), 6.0), rel=1e-12)
    assert w.p() == pytest.approx(0.315334, abs=1e-6)  # t = -1.0954, df 6 (a t table: ~0.315)
    low, high = w.interval(0.95)  # t(0.975, 6) = 2.446912 (t table)
    assert (low, high) == pytest.approx((-1 - 2.446912 * math.sqrt(5 / 6), -1 + 2.446912 * math.sqrt(5 / 6)), abs=1e-6)
    # margin 2: the lower test's t is +1.0954, the mirror of the two-sided one: half its p;
    # the upper test's t = -3/se = -3.286 is far smaller
    assert w.tost_p(2.0) == pytest.approx(0.315334 / 2, abs=1e-6)
    assert w.tost_p(2.0) == pytest.approx(sp.t.sf(1 / math.sqrt(5 / 6), 6), rel=1e-10)
    # unequal variances: a = [0, 2] (var 2), b = [0, 0, 3] (var 3): df = 2^2 / (1 + 1/2) = 8/3
    w = stats.welch([0.0, 2.0], [0.0, 0.0, 3.0])
    assert w.df == pytest.approx(8 / 3, rel=1e-12) and w.diff == 0 and w.p() == pytest.approx(1.0)


@pytest.mark.parametrize("confidence", [0.95, 0.90])
def test_interval_welch_p_and_tost_match_statsmodels_and_scipy(confidence):
    for row, base in random_pairs():
        w = stats.welch(row, base)
        sm = CompareMeans(DescrStatsW(row), DescrStatsW(base))
        expected = sm.tconfint_diff(alpha=1 - confidence, usevar="unequal")
        assert w.interval(confidence) == pytest.approx(expected, rel=1e-9)
        assert w.p() == pytest.approx(sp.ttest_ind(row, base, equal_var=False).pvalue, rel=1e-9)
        for margin in (0.001, 0.004, 0.02):
            expected = ttost_ind(row, base, -margin, margin, usevar="unequal")[0]
            assert w.tost_p(margin) == pytest.approx(expected, rel=1e-9)


def test_judge_fields_match_statsmodels_with_holm_across_the_family():
    margin = 0.005
    out = judge(SAMPLES, "batch", margin=margin)
    p = [sp.ttest_ind(SAMPLES[k], BASE, equal_var=False).pvalue for k in TESTED]
    tost = [ttost_ind(np.array(SAMPLES[k]), np.array(BASE), -margin, margin, usevar="unequal")[0] for k in TESTED]
    holm, holm_tost = multipletests(p, method="holm")[1], multipletests(tost, method="holm")[1]
    for k, p_k, t_k, h_k, ht_k in zip(TESTED, p, tost, holm, holm_tost):
        j = out[k]
        sm = CompareMeans(DescrStatsW(SAMPLES[k]), DescrStatsW(BASE))
        assert j.diff == pytest.approx(np.mean(SAMPLES[k]) - np.mean(BASE), abs=1e-15)
        assert (j.ci_low, j.ci_high) == pytest.approx(sm.tconfint_diff(alpha=0.05, usevar="unequal"), rel=1e-9)
        assert (j.p, j.p_adjusted) == pytest.approx((p_k, h_k), rel=1e-9)
        assert (j.p_equivalence, j.p_equivalence_adjusted) == pytest.approx((t_k, ht_k), rel=1e-9)
    # by hand: sorted p's times 3, 2, 1, made monotone
    ranked = sorted(p)
    assert sorted(out[k].p_adjusted for k in TESTED) == pytest.approx(
        [3 * ranked[0], max(3 * ranked[0], 2 * ranked[1]), min(1, max(3 * ranked[0], 2 * ranked[1], ranked[2]))])
    # inst (n = 1) is no part of the family; without a margin no TOST at all
    assert out["inst"].p is None and out["inst"].p_adjusted is None and out["inst"].ci_low is None
    assert all(j.p_equivalence is None and j.p_equivalence_adjusted is None for j in judge(SAMPLES, "batch").values())


def test_detectable_diff_matches_statsmodels_solve_power():
    out = judge(SAMPLES, "batch", margin=0.005, level=0.03)
    for k in TESTED:
        n_row, n_base = len(SAMPLES[k]), len(BASE)
        effect = TTestIndPower().solve_power(effect_size=None, nobs1=n_row, ratio=n_base / n_row,
                                             alpha=0.03 / 3, power=0.8)
        assert out[k].detectable_diff == pytest.approx(effect * pooled(SAMPLES[k], BASE), rel=1e-4)
    assert out["batch"].detectable_diff is None and out["inst"].detectable_diff is None
    # by hand, many seeds: the normal approximation (z_0.975 + z_0.8) * sqrt(1/n1 + 1/n2)
    normal = (1.959964 + 0.841621) * math.sqrt(2 / 1000)
    assert stats.detectable_effect(1000, 1000, 0.05) == pytest.approx(normal, rel=2e-3)
    assert stats.pooled_sd(SAMPLES["layer"], BASE) == pytest.approx(pooled(SAMPLES["layer"], BASE), rel=1e-12)


def test_seeds_to_detect_match_statsmodels_and_cohens_table():
    # cohen (1988): d = 0.5 -> 64 per group, d = 0.8 -> 26 (two-sided 0.05, power 0.8)
    assert stats.seeds_to_detect(0.5, 0.05) == 64 and stats.seeds_to_detect(0.8, 0.05) == 26
    power = TTestIndPower()
    for effect, alpha in [(0.3, 0.05), (1.7, 0.0245 / 2), (0.9, 0.01), (3.0, 0.025)]:
        n = stats.seeds_to_detect(effect, alpha)
        assert n == math.ceil(power.solve_power(effect_size=effect, nobs1=None, alpha=alpha, power=0.8))
        assert power.power(effect, n, alpha) >= 0.8 > (power.power(effect, n - 1, alpha) if n > 2 else 0)
    assert stats.seeds_to_detect(0.01, 0.05) is None  # more than 1000
    assert stats.seeds_to_detect(0.0, 0.05) is None


def test_tost_power_and_seeds_for_equivalence_match_statsmodels_one_sided_powers():
    power = TTestIndPower()
    n = np.arange(2, 1001)
    for effect, margin, alpha in [(0.0, 1.0, 0.05), (0.3, 1.0, 0.0245 / 2), (-0.2, 0.5, 0.05), (0.9, 1.0, 0.025)]:
        # power = P(lower passes) + P(upper passes) - 1, each the one-sided t-test's power
        low = power.power(effect + margin, n, alpha, alternative="larger")
        upp = power.power(effect - margin, n, alpha, alternative="smaller")
        expected = np.maximum(0, low + upp - 1)
        ours = np.array([stats.tost_power(effect, margin, int(k), alpha) for k in n])
        known = np.isfinite(expected)  # statsmodels is nan in nctdtr's far tail (many seeds)
        assert known.mean() > 0.9 and np.isfinite(ours).all()
        assert ours[known] == pytest.approx(expected[known], abs=1e-9)
        needed = stats.seeds_for_equivalence(effect, margin, alpha)
        if needed is None:
            assert (expected[known] < 0.8).all()
        else:  # statsmodels' power crosses 0.8 there
            assert expected[needed - 2] >= 0.8 and (needed == 2 or expected[needed - 3] < 0.8)
    # by hand, diff 0 and margin 1 sd: large n, normal approx 2 (z_0.95 + z_0.9)^2 = 17.1 -> about 18-19
    assert stats.seeds_for_equivalence(0.0, 1.0, 0.05) in (18, 19)


def test_power_stays_finite_where_nctdtr_answers_nan():
    # statsmodels' power is nan here (nctdtr's far tail); ours reads that tail as 0
    assert math.isnan(TTestIndPower().power(2.3, 500, 0.011))
    assert stats.t_power(2.3, 500, 500, 0.011) == 1.0
    assert stats.seeds_to_detect(2.3, 0.011) == math.ceil(TTestIndPower().solve_power(2.3, None, 0.011, 0.8))


def test_seeds_needed_in_judge_uses_the_decision_level_and_the_pooled_sd():
    out = judge(SAMPLES, "batch", margin=0.001)  # group: |diff| < margin, TOST branch, capped
    assert out["group"].verdict == "undecided" and out["group"].seeds_needed == 1000
    assert "more than 1000 seeds per condition" in out["group"].reason
    out = judge(SAMPLES, "batch", level=0.0245)  # no margin: the two-sided branch
    g = out["group"]
    effect = abs(g.diff) / pooled(SAMPLES["group"], BASE)
    assert g.seeds_needed == math.ceil(TTestIndPower().solve_power(effect, None, 0.0245 / 3, 0.8))
    assert f"{g.seeds_needed} seeds per condition would decide it (80% power)" in g.reason
    row, base = [0.970, 0.975, 0.968], [0.971, 0.969, 0.974]
    j = judge({"a": base, "b": row}, "a", margin=0.004)["b"]  # inside the margin, n = 3: TOST branch
    sd = pooled(row, base)
    assert j.verdict == "undecided"
    assert j.seeds_needed == stats.seeds_for_equivalence(j.diff / sd, 0.004 / sd, 0.05) == 12


# the verdicts


def test_better_worse_and_the_baseline_row():
    out = judge(SAMPLES, "batch")
    assert [j.verdict for j in out.values()] == ["baseline", "worse", "undecided", "better", "undecided"]
    assert set(j.verdict for j in out.values()) <= set(VERDICTS)
    b = out["batch"]
    assert b.diff == 0.0 and b.reason == "baseline: every other condition is compared with batch"
    assert (b.ci_low, b.ci_high, b.p, b.p_adjusted, b.p_equivalence, b.p_equivalence_adjusted,
            b.detectable_diff, b.seeds_needed) == (None,) * 8
    w = out["layer"]
    assert w.reason == (f"worse: {w.diff * 100:+.2f} pp (95% CI {w.ci_low * 100:+.2f} to {w.ci_high * 100:+.2f}), "
                        f"Holm p {w.p_adjusted:.3g} < 0.05")
    assert w.reason == "worse: -0.83 pp (95% CI -1.38 to -0.29), Holm p 0.0177 < 0.05"
    assert out["wide"].reason == "better: +1.34 pp (95% CI +0.89 to +1.79), Holm p 0.000915 < 0.05"
    assert w.seeds_needed is None and out["wide"].seeds_needed is None


def test_equivalent_and_a_real_difference_inside_the_margin():
    out = judge(SAMPLES, "batch", margin=0.01)
    g = out["group"]
    assert g.verdict == "equivalent" and g.p_equivalence_adjusted < 0.05 <= g.p_adjusted
    assert g.reason == f"equivalent: +0.06 pp, TOST Holm p {g.p_equivalence_adjusted:.3g} < 0.05: within ±1.00 pp"
    # layer is different from batch (Holm p 0.018) and also inside ±2 pp: equivalent, says both
    out = judge(SAMPLES, "batch", margin=0.02)
    lay = out["layer"]
    assert lay.verdict == "equivalent" and lay.p_adjusted < 0.05 and lay.p_equivalence_adjusted < 0.05
    assert "a difference was detected (Holm p 0.0177 < 0.05) but lies inside ±2.00 pp" in lay.reason
    assert lay.reason.startswith("equivalent: -0.83 pp, TOST Holm p ")


def test_undecided_reasons():
    out = judge(SAMPLES, "batch", margin=0.001)
    g = out["group"]
    assert g.reason.startswith("undecided: +0.06 pp (95% CI -0.46 to +0.58) includes 0 (Holm p 0.802 ≥ 0.05) "
                               "and is not shown inside ±0.10 pp (TOST Holm p ")
    # the interval excludes 0 but holm across the family (at a per-look level) does not decide it
    lay = judge(SAMPLES, "batch", level=0.015)["layer"]
    assert lay.verdict == "undecided" and lay.ci_high < 0
    assert "(95% CI -1.38 to -0.29) excludes 0 but Holm p 0.0177 ≥ per-look level 0.015" in lay.reason
    assert "no margin was given to test equivalence" in lay.reason
    # no difference at all and no margin: nothing to detect
    j = judge({"a": [0.5, 0.7], "b": [0.7, 0.5]}, "a")["b"]
    assert (j.verdict, j.diff, j.p, j.seeds_needed) == ("undecided", 0.0, pytest.approx(1.0), None)
    assert "declare a margin" in j.reason


def test_one_seed_and_no_seeds_are_undecided_without_a_test():
    out = judge({"a": [0.97, 0.98], "b": [0.96], "c": []}, "a", margin=0.01)
    b, c = out["b"], out["c"]
    assert b.verdict == c.verdict == "undecided"
    assert b.reason == "undecided: -1.50 pp, but b has 1 seed: no spread at n = 1, no test"
    assert b.diff == pytest.approx(-0.015) and b.p is None and b.p_equivalence is None and b.seeds_needed is None
    assert c.reason == "undecided: c has no seeds yet, no test" and math.isnan(c.diff)
    one = judge({"a": [0.97], "b": [0.96, 0.95]}, "a")["b"]  # the baseline with one seed
    assert one.verdict == "undecided" and "a has 1 seed" in one.reason and one.detectable_diff is None
    nan = judge({"a": [0.97, 0.98], "b": [0.96, math.nan]}, "a")["b"]  # a diverged run: no test
    assert nan.verdict == "undecided" and nan.reason == "undecided: b has a value that is not finite: no test"
    assert nan.p is None and math.isnan(nan.diff)


def test_constant_samples_without_nan_or_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = judge({"a": [0.1, 0.1, 0.1], "b": [0.3, 0.3], "c": [0.1, 0.1], "d": [0.105, 0.105]}, "a", margin=0.01)
        none = judge({"a": [0.1, 0.1, 0.1], "c": [0.1, 0.1]}, "a")
    assert (out["b"].verdict, out["b"].p, out["b"].p_equivalence) == ("better", 0.0, 1.0)  # |diff| >= margin
    assert (out["b"].ci_low, out["b"].ci_high) == pytest.approx((0.2, 0.2))
    assert (out["c"].verdict, out["c"].p, out["c"].p_equivalence) == ("equivalent", 1.0, 0.0)
    # a real difference inside the margin: both tests pass, the verdict is equivalent
    assert (out["d"].verdict, out["d"].p, out["d"].p_equivalence) == ("equivalent", 0.0, 0.0)
    assert out["b"].detectable_diff == 0.0
    assert (none["c"].verdict, none["c"].p, none["c"].seeds_needed) == ("undecided", 1.0, None)


def test_no_margin_never_equivalent():
    rng = np.random.default_rng(5)
    for _ in range(200):
        n = rng.integers(2, 12, size=3)
        samples = {k: 0.97 + 1e-4 * rng.standard_normal(m) for k, m in zip("abc", n)}
        out = judge(samples, "a")
        assert all(j.verdict != "equivalent" and j.p_equivalence is None for j in out.values())


def test_the_display_unit_and_the_per_look_level():
    out = judge(SAMPLES, "batch", margin=0.001, level=0.0221, scale=1000, unit="‰")
    assert out["layer"].reason == "worse: -8.35 ‰ (95% CI -13.82 to -2.88), Holm p 0.0177 < per-look level 0.0221"
    assert "±1.00 ‰" in out["group"].reason and "per-look level 0.0221" in out["group"].reason
    assert judge(SAMPLES, "batch", scale=1, unit="")["wide"].reason.startswith("better: +0.01 (95% CI +0.01 to +0.02)")
    assert judge(SAMPLES, "batch", alpha=0.1)["layer"].reason.startswith("worse: -0.83 pp (90% CI")


@pytest.mark.parametrize("kwargs, key", [({"baseline": "nope"}, "baseline"), ({"margin": 0.0}, "margin"),
                                         ({"margin": -0.1}, "margin"), ({"alpha": 1.5}, "alpha"),
                                         ({"level": 0.0}, "level"), ({"power": 1.0}, "power")])
def test_bad_arguments_name_the_key(kwargs, key):
    with pytest.raises(ValueError, match=key):
        judge(SAMPLES, **{"baseline": "batch", **kwargs})


def test_no_slow_imports():
    # tracker compare has one second: judging and planning must not pull in scipy.stats & co
    code = ("import sys; from tracker.results.sequential import step; "
            "step((3, 5), {'a': [0.9, 0.91, 0.92], 'b': [0.93, 0.95, 0.94]}, 'a', margin=0.01); "
            "slow = ('scipy.stats', 'scipy.optimize', 'statsmodels'); "
            "print(sorted(m for m in sys.modules if any(m == s or m.startswith(s + '.') for s in slow)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
