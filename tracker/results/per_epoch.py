"""Figures read from a run's per-epoch metrics, already logged: the training seconds it took
to first reach a test accuracy, the test accuracy at its best validation epoch, and the band of
a condition's runs per epoch (their mean and its interval at the study's level).

    tracker compare --experiment mnist-fast --target 0.994
"""
from __future__ import annotations

import math

from .. import names
from ..study import Study
from . import stats

HISTORY_KEYS = ("test_acc", "epoch_time_s", "val_acc")  # what these figures read


def time_to_target(history: dict[str, list[float]], target: float) -> float | None:
    """Seconds of training (the epochs' times summed, evaluation included) until the end of
    the first epoch whose test accuracy is >= target; None when no epoch reached it."""
    spent = 0.0
    for acc, seconds in zip(history.get("test_acc", []), history.get("epoch_time_s", [])):
        spent += seconds
        if acc >= target:
            return spent
    return None


def at_best_val(history: dict[str, list[float]]) -> float:
    """The test accuracy of the epoch with the best validation accuracy (the first such epoch);
    NaN when the run logged no validation accuracy."""
    val, test = history.get("val_acc", []), history.get("test_acc", [])
    pairs = [(v, -i) for i, v in enumerate(val[:len(test)]) if not math.isnan(v)]
    if not pairs:
        return math.nan
    return test[-max(pairs)[1]]


def band_level(study: Study) -> float:
    """The confidence of a study's bands: 1 - its alpha."""
    return 1 - study.alpha


DEFAULT_LEVEL = band_level(Study())  # where no study is at hand


def band(histories: list[dict[str, list[float]]], key: str, confidence: float) -> dict[str, list[float]]:
    """Per epoch, across the runs' `key` (up to the shortest run's last epoch): the mean and its
    two-sided t interval at `confidence` (the mean itself for one run), as names.CURVE_STATS.
    The one band of a condition's curves: in the MLflow UI (runs/conditions.py) and in plots."""
    length = min(len(h.get(key, [])) for h in histories)
    out: dict[str, list[float]] = {stat: [] for stat in names.CURVE_STATS}
    for epoch in range(length):
        values = [h[key][epoch] for h in histories]
        low, high = stats.t_interval(values, confidence)
        for stat, v in zip(names.CURVE_STATS, (stats.mean_std(values)[0], low, high)):
            out[stat].append(float(v))
    return out


def parse_target(value: float) -> float:
    """--target as a fraction: 0.994 or 99.4 (percent) both mean 99.4%."""
    if not math.isfinite(value) or value <= 0 or value > 100:
        from ..errors import UserError

        raise UserError(f"--target {value}: expected a test accuracy, as a fraction (0.994) or a "
                        "percentage (99.4)")
    return round(value / 100, 12) if value > 1 else value  # 99.4 / 100 is 0.9940000000000001
