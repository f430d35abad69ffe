"""Figures read from a run's per-epoch metrics, already logged: the training seconds it took
to first reach a test accuracy, and the test accuracy at its best validation epoch.

    tracker compare --experiment mnist-fast --target 0.994
"""
from __future__ import annotations

import math

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


def parse_target(value: float) -> float:
    """--target as a fraction: 0.994 or 99.4 (percent) both mean 99.4%."""
    if not math.isfinite(value) or value <= 0 or value > 100:
        from ..errors import UserError

        raise UserError(f"--target {value}: expected a test accuracy, as a fraction (0.994) or a "
                        "percentage (99.4)")
    return round(value / 100, 12) if value > 1 else value  # 99.4 / 100 is 0.9940000000000001
