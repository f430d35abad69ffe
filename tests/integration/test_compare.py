"""compare on hand-made runs in a real MLflow store; every table value checked independently."""
import io
import json
import math

import numpy as np
import pandas as pd
import pytest
from mlflow.entities import Param, RunTag
from scipy import stats

from tests.helpers import BEST, cli, log_run, store_client

def welch(a, b):
    a, b = np.array(a), np.array(b)
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    t = (a.mean() - b.mean()) / math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
    return 2 * stats.t.sf(abs(t), df)


def test_json_rows_match_independent_statistics(experiment):
    result = cli("compare", "--experiment", experiment, "--by", "norm", "--format", "json")
    assert result.exit_code == 0
    rows = json.loads(result.stdout)
    assert [r["norm"] for r in rows] == ["batch", "layer", "group"]  # best first
    for row in rows:  # judged on the final test accuracy: each run's best minus 0.002 here
        v = np.array(BEST[row["norm"]]) - 0.002
        assert row["n"] == len(v)
        assert row["test_acc_final_mean"] == pytest.approx(v.mean(), abs=1e-12)
        assert row["test_acc_best_mean"] == pytest.approx(v.mean() + 0.002, abs=1e-12)  # for reference
        assert row["train_acc_best_mean"] == pytest.approx(v.mean() - 0.008, abs=1e-12)
        assert row["params"] == 47890 and row["epochs"] == 2
        assert row["epoch_time_s"] == pytest.approx(np.mean([10.0 + s for s in range(1, len(v) + 1)]))
        if len(v) > 1:
            assert row["test_acc_final_std"] == pytest.approx(v.std(ddof=1), abs=1e-12)
            half = stats.t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / math.sqrt(len(v))
            assert row["test_acc_final_ci_low"] == pytest.approx(v.mean() - half, abs=1e-12)
            assert row["test_acc_final_ci_high"] == pytest.approx(v.mean() + half, abs=1e-12)
        else:  # n = 1: a value, no spread and no interval
            assert row["test_acc_final_std"] is None and row["test_acc_final_ci_low"] is None
    assert rows[0]["baseline"] is True and rows[0]["verdict"] == "baseline"
    assert rows[0]["p_vs_baseline"] is None and rows[0]["p_holm"] is None  # nothing beside a 1.0
    layer_p = welch(BEST["layer"], BEST["batch"])
    assert rows[1]["p_vs_baseline"] == pytest.approx(layer_p, rel=1e-9)
    assert rows[1]["p_holm"] == pytest.approx(layer_p, rel=1e-9)  # group (n = 1) is no test: m = 1
    assert rows[1]["verdict"] == "worse" and f"Holm p {layer_p:.3g} < 0.05" in rows[1]["verdict_reason"]
    assert rows[2]["p_vs_baseline"] is None and rows[2]["verdict"] == "undecided"  # n = 1: no test
    assert rows[2]["seeds_needed"] is None and rows[2]["detectable_diff"] is None
    assert "left out 2 run(s)" in result.stderr and "status FAILED" in result.stderr


def test_a_seed_run_twice_counts_once():
    c = store_client()
    exp = c.create_experiment("twice")
    for seed, best in ((1, 0.97), (2, 0.95), (2, 0.99)):  # seed 2 run again: the newest counts
        log_run(c, exp, "batch", seed, best)
    rows = json.loads(cli("compare", "--experiment", "twice", "--format", "json").stdout)
    assert rows[0]["n"] == 2 and rows[0]["test_acc_final_mean"] == pytest.approx(0.98 - 0.002)
    result = cli("compare", "--experiment", "twice")
    assert "1 a duplicate of a seed already counted" in result.stderr


def test_an_accuracy_interval_stays_inside_0_to_100():
    c = store_client()
    exp = c.create_experiment("wide")
    for seed, best in ((1, 0.202), (2, 0.92)):  # final 0.20 and 0.918: a t interval below 0
        log_run(c, exp, "batch", seed, best)
    (row,) = json.loads(cli("compare", "--experiment", "wide", "--format", "json").stdout)
    assert row["test_acc_final_ci_low"] == 0.0 and row["test_acc_final_ci_high"] == 1.0
    assert "0.00–100.00" in cli("compare", "--experiment", "wide").stdout


def test_every_format_parses(experiment, tmp_path):
    out = cli("compare", "--experiment", experiment, "--format", "csv").stdout
    frame = pd.read_csv(io.StringIO(out))
    assert list(frame["norm"]) == ["batch", "layer", "group"] and list(frame["n"]) == [3, 3, 1]
    assert list(frame["verdict"]) == ["baseline", "worse", "undecided"]
    md = cli("compare", "--experiment", experiment, "--format", "markdown").stdout
    lines = md.splitlines()
    assert lines[0].startswith("| norm | n | test final % | 95% CI | test best % (picked on test) |")
    assert lines[0].endswith("| p Holm | Δ vs baseline (CI decided on), pp | verdict |")
    assert "| batch | 3 | 98.57 ± 0.25 |" in md and "| group | 1 | 95.80 | — |" in md  # n = 1: no spread
    assert lines[2].endswith("| baseline | baseline |") and lines[3].endswith("| worse |")
    assert "- judged on the final test accuracy (the last epoch's); baseline norm=batch (the first condition in sorted order)" in md
    assert "- norm=layer vs norm=batch: worse: " in md and "- power: with n = 1, 3 per condition" in md
    table = cli("compare", "--experiment", experiment).stdout
    assert "98.57 ± 0.25" in table and "norm=group vs norm=batch: undecided" in table
    page, png = tmp_path / "c.html", tmp_path / "c.png"
    result = cli("compare", "--experiment", experiment, "--format", "html", "--output", str(page),
                 "--plot", str(png))
    assert result.exit_code == 0
    html = page.read_text()
    assert "<table>" in html and "<td>batch</td>" in html and "data:image/png;base64," in html
    from PIL import Image

    with Image.open(png) as im:
        assert im.size[0] > 500 and im.format == "PNG"


def test_by_takes_several_params_and_refuses_an_unknown_one(experiment):
    both = json.loads(cli("compare", "--experiment", experiment, "--by", "norm,params_total",
                          "--format", "json").stdout)
    assert [(r["norm"], r["params_total"], r["n"]) for r in both] == [
        ("batch", "47890", 3), ("layer", "47890", 3), ("group", "47890", 1)]
    again = json.loads(cli("compare", "--experiment", experiment, "--by", "norm", "--by", "params_total",
                           "--format", "json").stdout)
    assert again == both
    result = cli("compare", "--experiment", experiment, "--by", "norm,precision")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.startswith("error: --by 'precision': no run here has that param; they have: epochs, norm,")
    assert result.stderr.count("\n") == 1


def test_an_experiment_of_one_grid_is_grouped_by_its_keys():
    c = store_client()
    exp = c.create_experiment("grid")
    for lr, seed, best in (("0.1", 1, 0.91), ("0.1", 2, 0.93), ("0.01", 1, 0.97), ("0.01", 2, 0.95)):
        rid = log_run(c, exp, "batch", seed, best)
        c.log_batch(rid, params=[Param("lr", lr)], tags=[RunTag("tracker.grid_keys", "lr,seed")])
    rows = json.loads(cli("compare", "--experiment", "grid", "--format", "json").stdout)
    assert [(r["lr"], r["n"]) for r in rows] == [("0.01", 2), ("0.1", 2)]  # not one row for norm=batch
    assert rows[0]["test_acc_best_mean"] == pytest.approx(0.96, abs=1e-12)
    log_run(c, exp, "batch", 3, 0.5)  # a run from no sweep: back to norm
    rows = json.loads(cli("compare", "--experiment", "grid", "--format", "json").stdout)
    assert [(r["norm"], r["n"]) for r in rows] == [("batch", 5)]


def test_compare_needs_one_selection_and_known_runs(experiment):
    assert cli("compare").exit_code == 2
    result = cli("compare", "--sweep", "0" * 32)
    assert result.exit_code == 2 and "not found" in result.stderr
    result = cli("compare", "--experiment", "nope")
    assert result.exit_code == 2 and "'nope' not found" in result.stderr


def test_compare_json_csv_and_markdown_carry_holm_and_the_difference(experiment):
    rows = json.loads(cli("compare", "--experiment", "hand", "--format", "json").stdout)
    assert [r["norm"] for r in rows] == ["batch", "layer", "group"]
    # judged on the final accuracy: each run's best - 0.002, so differences and p are the best's
    p_layer = stats.ttest_ind(BEST["layer"], BEST["batch"], equal_var=False).pvalue
    # one valid comparison (group has n = 1): Holm leaves it as it is
    assert rows[1]["p_holm"] == pytest.approx(p_layer, rel=1e-9)
    assert rows[0]["p_holm"] is None and rows[2]["p_holm"] is None
    ci = stats.ttest_ind(BEST["layer"], BEST["batch"], equal_var=False).confidence_interval(0.95)
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
