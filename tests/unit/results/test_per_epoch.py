"""The one band of a condition's curves (per_epoch.bands): per epoch, the mean of its runs and
the t interval of that mean at the study's level, held to scipy.stats; the figure compare and
report draw uses it, at the level it is given."""
import numpy as np
import pytest
from scipy import stats as sp

from tracker.results import per_epoch, plots

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
