"""Figures read from a run's per-epoch metrics, on hand-made histories: the seconds to a target,
the test accuracy at the best validation epoch, --target's two spellings, and a curve's band.

The one band of a condition's curves (per_epoch.bands): per epoch, the mean of its runs and
the t interval of that mean at the study's level, held to scipy.stats; the figure compare and
report draw uses it, at the level it is given."""
import numpy as np
import pytest
from scipy import stats as sp
from tracker.results import per_epoch, plots
import math
from tracker.errors import UserError
from tracker.results.per_epoch import at_best_val, bands, parse_target, time_to_target


RUNS = [{"test_acc": [0.50, 0.70, 0.80], "test_loss": [1.9, 1.2, 0.9]},
        {"test_acc": [0.55, 0.72, 0.83], "test_loss": [1.7, 1.1, 0.8]},
        {"test_acc": [0.48, 0.69], "test_loss": [2.0, 1.3]}]  # one epoch shorter: the band stops there


@pytest.mark.parametrize("level", [0.8, 0.9, 0.95, 0.99])
def test_the_band_is_the_t_interval_of_the_mean_at_the_level(level):
    band = per_epoch.bands(RUNS, "test_acc", level)
    values = np.array([r["test_acc"][:2] for r in RUNS])
    low, high = sp.t.interval(level, 2, loc=values.mean(0), scale=sp.sem(values, axis=0))
    assert band["mean"] == pytest.approx(values.mean(0), abs=1e-12)
    assert band["ci_low"] == pytest.approx(low, abs=1e-12) and band["ci_high"] == pytest.approx(high, abs=1e-12)


def test_one_run_is_its_own_band_and_the_level_is_the_studys():
    assert per_epoch.bands(RUNS[:1], "test_loss", 0.95) == {"mean": [1.9, 1.2, 0.9], "ci_low": [1.9, 1.2, 0.9],
                                                           "ci_high": [1.9, 1.2, 0.9]}
    bounded = per_epoch.bands(RUNS[:2], "test_acc", 0.999, (0.0, 0.84))  # an accuracy's band stops at its bound
    assert max(bounded["ci_high"]) == 0.84 and bounded["mean"] == pytest.approx([0.525, 0.71, 0.815])


def test_the_condition_figure_draws_that_band():
    level = 0.9
    fig = plots.condition_curves({"norm=batch": RUNS, "norm=group": RUNS[:2]}, ("test_acc", "test_loss"), level)
    acc = fig.axes[0]
    for label, runs, fill in (("norm=batch", RUNS, acc.collections[0]), ("norm=group", RUNS[:2], acc.collections[1])):
        band = per_epoch.bands(runs, "test_acc", level)
        vertices = fill.get_paths()[0].vertices
        for epoch, (low, high) in enumerate(zip(band["ci_low"], band["ci_high"]), 1):
            ys = vertices[np.isclose(vertices[:, 0], epoch)][:, 1]
            assert (ys.min(), ys.max()) == pytest.approx((low, high), abs=1e-12), (label, epoch)
    assert "90% interval" in acc.get_title()


def test_time_to_target_sums_the_epochs_up_to_the_first_that_reached_it():
    history = {"test_acc": [0.90, 0.995, 0.99, 0.999], "epoch_time_s": [10.0, 12.5, 11.0, 9.0]}
    assert time_to_target(history, 0.995) == 22.5  # reached exactly counts
    assert time_to_target(history, 0.999) == 42.5
    assert time_to_target(history, 0.9991) is None
    assert time_to_target({"test_acc": [math.nan, 0.99], "epoch_time_s": [5.0, 5.0]}, 0.98) == 10.0
    assert time_to_target({}, 0.5) is None


H = {"test_acc": [0.95, 0.985, 0.991, 0.989, 0.994], "epoch_time_s": [10.0, 9.0, 9.5, 9.0, 8.5],
     "val_acc": [0.94, 0.98, 0.99, 0.992, 0.992]}


def test_five_epochs_by_hand():
    assert time_to_target(H, 0.99) == pytest.approx(10.0 + 9.0 + 9.5)
    assert time_to_target(H, 0.95) == pytest.approx(10.0)
    assert time_to_target(H, 0.994) == pytest.approx(46.0)
    assert time_to_target(H, 0.995) is None
    assert at_best_val(H) == 0.989  # val 0.992 first at epoch 4


def test_at_best_val_takes_the_first_best_validation_epoch():
    assert at_best_val({"val_acc": [0.90, 0.95, 0.95, 0.94], "test_acc": [0.91, 0.96, 0.97, 0.98]}) == 0.96
    assert at_best_val({"val_acc": [math.nan, 0.9, math.nan], "test_acc": [0.99, 0.92, 0.93]}) == 0.92
    assert at_best_val({"val_acc": [0.8, 0.99], "test_acc": [0.7]}) == 0.7  # a val step with no test: not read
    assert math.isnan(at_best_val({"test_acc": [0.9]}))
    assert math.isnan(at_best_val({"val_acc": [math.nan], "test_acc": [0.9]}))


@pytest.mark.parametrize("given, fraction", [(0.994, 0.994), (99.4, 0.994), (100, 1.0), (1, 1.0), (0.5, 0.5),
                                             (99.95, 0.9995)])
def test_target_as_a_fraction_or_a_percentage(given, fraction):
    assert parse_target(given) == fraction  # exactly: 99.4 / 100 is 0.9940000000000001


@pytest.mark.parametrize("given", [0, -1, 100.5, math.nan, math.inf])
def test_a_target_that_is_no_accuracy_is_one_line(given):
    with pytest.raises(UserError) as e:
        parse_target(given)
    assert str(e.value) == (f"--target {given}: expected a test accuracy, as a fraction (0.994) or a "
                            "percentage (99.4)")


def test_bands_are_the_mean_and_its_t_interval_up_to_the_shortest_run():
    runs = [{"a": [0.1, 0.2, 0.3]}, {"a": [0.3, 0.4]}, {"a": [0.2, 0.9]}]
    out = bands(runs, "a", 0.9)
    assert set(out) == {"mean", "ci_low", "ci_high"} and len(out["mean"]) == 2
    for step, column in enumerate(np.array([[0.1, 0.3, 0.2], [0.2, 0.4, 0.9]])):
        half = sp.t.ppf(0.95, 2) * column.std(ddof=1) / math.sqrt(3)
        assert out["mean"][step] == pytest.approx(column.mean())
        assert (out["ci_low"][step], out["ci_high"][step]) == pytest.approx((column.mean() - half, column.mean() + half))


def test_bands_stay_inside_the_bounds_and_one_run_is_its_own_band():
    out = bands([{"a": [0.99, 1.0]}, {"a": [0.95, 1.0]}], "a", 0.95, (0.0, 1.0))
    assert out["ci_high"] == [1.0, 1.0] and out["ci_low"][1] == 1.0
    assert out["ci_low"][0] == pytest.approx(0.97 - sp.t.ppf(0.975, 1) * np.std([0.99, 0.95], ddof=1) / math.sqrt(2))
    assert bands([{"a": [0.5, 0.6]}], "a", 0.9) == {"mean": [0.5, 0.6], "ci_low": [0.5, 0.6], "ci_high": [0.5, 0.6]}
