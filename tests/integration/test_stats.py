"""Holm's adjustment and the interval of a difference, against hand computations and scipy.stats
(statsmodels' Holm: tests/unit/results/test_stats.py);
and compare's new columns, in every format, on hand-made runs."""
import json
import math

import numpy as np
import pytest
from scipy import stats as sp

from tests.helpers import cli
from tests.integration.test_compare import BEST, experiment  # noqa: F401  (the fixture)
from tracker.results import stats


def test_holm_by_hand():
    # m = 3: sorted 0.01, 0.03, 0.04 -> 3 x 0.01, 2 x 0.03, then max(0.06, 1 x 0.04)
    assert stats.holm([0.01, 0.04, 0.03, None]) == pytest.approx([0.03, 0.06, 0.06, None])
    assert stats.holm([0.5, 0.2]) == [0.5, 0.4]  # 2 x 0.2, then max(0.4, 1 x 0.5)
    assert stats.holm([0.7, 0.6]) == [1.0, 1.0]  # 2 x 0.6 capped at 1, and monotone
    assert stats.holm([None, 0.02]) == [None, 0.02]  # one comparison: unchanged
    assert stats.holm([]) == [] and stats.holm([None]) == [None]


def test_difference_interval_matches_scipy_welch():
    a, b = [0.974, 0.970, 0.978, 0.969], [0.990, 0.985, 0.988]
    w = stats.welch(a, b)
    diff, (low, high) = w.diff, w.interval(0.95)
    ci = sp.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
    assert diff == pytest.approx(np.mean(a) - np.mean(b), abs=1e-15)
    assert (low, high) == pytest.approx((ci.low, ci.high), rel=1e-10)
    # by hand: Welch–Satterthwaite degrees of freedom and the t quantile
    va, vb = np.var(a, ddof=1) / 4, np.var(b, ddof=1) / 3
    df = (va + vb) ** 2 / (va ** 2 / 3 + vb ** 2 / 2)
    half = sp.t.ppf(0.975, df) * math.sqrt(va + vb)
    assert (low, high) == pytest.approx((diff - half, diff + half), rel=1e-10)


def test_difference_interval_edge_cases():
    assert stats.welch([0.5], [0.4, 0.6]) is None  # n = 1: no interval
    w = stats.welch([0.5, 0.5], [0.4, 0.4])  # no spread: the interval is the difference itself
    assert (w.diff, *w.interval(0.95)) == pytest.approx((0.1, 0.1, 0.1))


@pytest.mark.usefixtures("experiment")  # test_compare's runs, in the experiment "hand"
def test_compare_json_csv_and_markdown_carry_holm_and_the_difference():
    rows = json.loads(cli("compare", "--experiment", "hand", "--format", "json").stdout)
    assert [r["norm"] for r in rows] == ["batch", "layer", "group"]
    # judged on the final accuracy: each run's best - 0.002, so differences and p are the best's
    p_layer = sp.ttest_ind(BEST["layer"], BEST["batch"], equal_var=False).pvalue
    # one valid comparison (group has n = 1): Holm leaves it as it is
    assert rows[1]["p_holm"] == pytest.approx(p_layer, rel=1e-9)
    assert rows[0]["p_holm"] is None and rows[2]["p_holm"] is None
    ci = sp.ttest_ind(BEST["layer"], BEST["batch"], equal_var=False).confidence_interval(0.95)
    diff = np.mean(BEST["layer"]) - np.mean(BEST["batch"])
    assert rows[1]["diff_vs_baseline"] == pytest.approx(diff, abs=1e-12)
    assert (rows[1]["diff_ci_low"], rows[1]["diff_ci_high"]) == pytest.approx((ci.low, ci.high), rel=1e-9)
    assert rows[0]["diff_vs_baseline"] == 0 and rows[0]["diff_ci_low"] is None
    assert rows[2]["diff_vs_baseline"] == pytest.approx(0.960 - np.mean(BEST["batch"]), abs=1e-12)
    assert rows[2]["diff_ci_low"] is None  # n = 1: no interval
    csv = cli("compare", "--experiment", "hand", "--format", "csv").stdout.splitlines()[0].split(",")
    assert {"p_holm", "diff_vs_baseline", "diff_ci_low", "diff_ci_high", "verdict", "verdict_reason",
            "detectable_diff", "seeds_needed"} <= set(csv)
    md = cli("compare", "--experiment", "hand", "--format", "markdown").stdout.splitlines()
    assert md[0].endswith("| p Holm | Δ vs baseline (CI decided on), pp | verdict |")
    layer = md[3].split(" | ")  # a worse at one look: decided on the 1 - alpha interval, 95%
    assert layer[-2] == f"{diff * 100:+.2f} (95%: {ci.low * 100:+.2f} to {ci.high * 100:+.2f})"
    assert layer[-3] == f"{p_layer:.3g}" and layer[-1] == "worse |"
    assert md[2].split(" | ")[-2:] == ["baseline", "baseline |"]
