"""Figures read from runs' per-epoch metrics, already logged: the training seconds a run took
to first reach a test accuracy, the test accuracy at its best validation epoch, and the band of
a condition's curve across its seeds (the one band every plot and the parent run draw).

    tracker compare --experiment mnist-fast --target 0.994
"""
from __future__ import annotations

import math

from .. import names
from . import stats

HISTORY_KEYS = (names.TEST_ACC, names.EPOCH_TIME, names.VAL_ACC)  # what these figures read


def time_to_target(history: dict[str, list[float]], target: float) -> float | None:
    """Seconds of training (the epochs' times summed, evaluation included) until the end of
    the first epoch whose test accuracy is >= target; None when no epoch reached it."""
    spent = 0.0
    for acc, seconds in zip(history.get(names.TEST_ACC, []), history.get(names.EPOCH_TIME, [])):
        spent += seconds
        if acc >= target:
            return spent
    return None


def at_best_val(history: dict[str, list[float]]) -> float:
    """The test accuracy of the epoch with the best validation accuracy (the first such epoch);
    NaN when the run logged no validation accuracy."""
    val, test = history.get(names.VAL_ACC, []), history.get(names.TEST_ACC, [])
    pairs = [(v, -i) for i, v in enumerate(val[:len(test)]) if not math.isnan(v)]
    if not pairs:
        return math.nan
    return test[-max(pairs)[1]]


def parse_target(value: float) -> float:
    """--target as a fraction: 0.994 or 99.4 (percent) both mean 99.4%."""
    if not math.isfinite(value) or value <= 0 or value > 100:
        from ..errors import UserError

        raise UserError(f"--target {value}: expected a test accuracy, as a fraction (0.994) or a "
                        "percentage (99.4)")
    return round(value / 100, 12) if value > 1 else value  # 99.4 / 100 is 0.9940000000000001


def bands(histories: list[dict[str, list[float]]], key: str, confidence: float,
          bounds: tuple[float, float] | None = None) -> dict[str, list[float]]:
    """Per step, over the runs' `key` (up to the shortest run): the mean and its t interval at
    `confidence` (the mean itself at n = 1), kept inside the metric's bounds (an accuracy's
    interval never passes 100%)."""
    import numpy as np

    length = min(len(h.get(key, [])) for h in histories)
    values = np.array([h[key][:length] for h in histories], dtype=float).reshape(len(histories), length)
    out: dict[str, list[float]] = {stat: [] for stat in names.CURVE_STATS}  # mean, ci_low, ci_high
    for column in values.T:
        low, high = stats.t_interval(column, confidence)
        if bounds is not None:
            low, high = max(bounds[0], low), min(bounds[1], high)
        for stat, v in zip(names.CURVE_STATS, (column.mean(), low, high)):
            out[stat].append(float(v))
    return out
