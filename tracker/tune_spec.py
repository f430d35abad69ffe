"""The tuning an experiment file declares: its `[tune]` table, read once into a frozen Tune. Each
condition of the sweep (the grid minus the seed) is tuned with the same budget, `trials` trials
of `epochs` epochs each, over the same `[tune.space]`, before its seeds run (runs/tune.py).

    [tune]
    trials = 8            # per condition
    epochs = 2            # per trial
    sampler_seed = 0      # TPE's seed (condition k's sampler: sampler_seed + k)
    pruner = "median"     # median | hyperband | none: a trial stopped at an epoch
    [tune.space]
    lr = { low = 1e-3, high = 0.5, log = true }   # a range: float, or int when low and high are
    optimizer = ["sgd", "adam"]                   # a choice

    tracker tune experiments/mnist-norms-tuned.toml
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from .config import FIELDS, NAMING, PLACEMENT
from .errors import ConfigError, unknown_key

PRUNERS = ("median", "hyperband", "none")
KEYS = ("trials", "epochs", "sampler_seed", "pruner", "space")
RANGE_KEYS = ("low", "high", "log")
FIXED = ("seed", "epochs", "val_split")  # a trial's own: its seed, its epochs, its held-out split
DEFAULT_VAL_SPLIT = 0.1  # a trial's validation split when the file's val_split is 0


@dataclass(frozen=True)
class Range:
    low: float
    high: float
    log: bool = False

    @property
    def integer(self) -> bool:
        return _int(self.low) and _int(self.high)

    def spec(self) -> dict:
        return {"low": self.low, "high": self.high, "log": self.log}


@dataclass(frozen=True)
class Tune:
    trials: int  # per condition
    epochs: int  # per trial
    space: dict[str, Range | tuple] = field(default_factory=dict)  # key -> a range, or a choice's values
    sampler_seed: int = 0
    pruner: str = "median"

    @property
    def keys(self) -> list[str]:
        return list(self.space)

    def spec(self) -> dict[str, Any]:
        """The space as JSON values: {low, high, log} or the choice's list."""
        return {k: v.spec() if isinstance(v, Range) else list(v) for k, v in self.space.items()}

    def budget(self) -> dict[str, Any]:
        """What two tunings must share to be equal: keys, trials, epochs, space."""
        return {"keys": self.keys, "trials": self.trials, "epochs": self.epochs, "space": self.spec()}

    def as_json(self) -> str:
        return json.dumps({**self.budget(), "sampler_seed": self.sampler_seed, "pruner": self.pruner},
                          sort_keys=True)


def _int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _count(table: dict, key: str, default=None) -> int:
    value = table.get(key, default)
    if not _int(value) or (key != "sampler_seed" and value <= 0):
        what = "a whole number" if key == "sampler_seed" else "a positive whole number"
        raise ConfigError(f"tune key '{key}': expected {what}, got {value!r}")
    return value


def _range(key: str, spec: dict) -> Range:
    for k in spec:
        if k not in RANGE_KEYS:
            raise ConfigError(unknown_key(f"tune.space.{key} key", k, RANGE_KEYS))
    low, high, log = spec.get("low"), spec.get("high"), spec.get("log", False)
    if not (_number(low) and _number(high)):
        raise ConfigError(f"tune.space key '{key}': a range needs numbers low and high, e.g. "
                          f"{{ low = 0.001, high = 0.5, log = true }}; got {spec!r}")
    if not low < high:
        raise ConfigError(f"tune.space key '{key}': low must be below high, got low = {low}, high = {high}")
    if not isinstance(log, bool):
        raise ConfigError(f"tune.space key '{key}': log must be true or false, got {log!r}")
    if log and low <= 0:
        raise ConfigError(f"tune.space key '{key}': a log range needs low > 0, got low = {low}")
    kind = str(FIELDS[key].type)  # the annotation as written: "float", "int", "str", ...
    if kind in ("bool", "str"):
        raise ConfigError(f"tune.space key '{key}': a {kind} key takes a list of values to choose from, not a range")
    if kind in ("int", "Optional[int]") and not (_int(low) and _int(high)):
        raise ConfigError(f"tune.space key '{key}': an integer key needs whole low and high, got {low}, {high}")
    return Range(low, high, log)


def _entry(key: str, spec: Any, grid: dict) -> Range | tuple:
    if key not in FIELDS:
        raise ConfigError(unknown_key("tune.space key", key, FIELDS))
    if key in grid:
        raise ConfigError(f"tune.space key '{key}': it is a [grid] key too; a condition either fixes it "
                          "(the grid) or has it tuned ([tune.space]), not both")
    if key in FIXED or key in PLACEMENT or key in NAMING:
        raise ConfigError(f"tune.space key '{key}': not tunable (a trial's seed, epochs and val_split are set by "
                          "[tune]; placement and naming keys do not change what a run computes)")
    if isinstance(spec, list):
        if not spec:
            raise ConfigError(f"tune.space key '{key}': a choice needs a non-empty list of values")
        return tuple(spec)
    if isinstance(spec, dict):
        return _range(key, spec)
    raise ConfigError(f"tune.space key '{key}': expected a range {{ low, high, log }} or a list of values, "
                      f"got {spec!r}")


def parse(table: Any, grid: dict | None = None) -> Tune:
    """A [tune] table; an unknown key, a bad range or budget, or a space key that is also a
    [grid] key is one line (ConfigError)."""
    if not isinstance(table, dict):
        raise ConfigError("config key 'tune': expected a table ([tune])")
    for key in table:
        if key not in KEYS:
            raise ConfigError(unknown_key("tune key", key, KEYS))
    for key in ("trials", "epochs"):
        if key not in table:
            raise ConfigError(f"tune key '{key}': missing; [tune] needs trials (per condition) and epochs (per trial)")
    pruner = table.get("pruner", "median")
    if pruner not in PRUNERS:
        raise ConfigError(f"tune key 'pruner': unknown value {pruner!r}; expected one of {', '.join(PRUNERS)}")
    space = table.get("space")
    if not isinstance(space, dict) or not space:
        raise ConfigError("tune key 'space': expected a non-empty table [tune.space], e.g. "
                          "lr = { low = 0.001, high = 0.5, log = true }")
    return Tune(_count(table, "trials"), _count(table, "epochs"),
                {k: _entry(k, v, grid or {}) for k, v in space.items()},
                _count(table, "sampler_seed", 0), pruner)
