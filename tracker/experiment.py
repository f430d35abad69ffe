"""An experiment file, read once into one value: the base run config, the `[grid]` of values a
sweep runs (in the file's order), the declared analysis (`[study]`) and the tuning (`[tune]`).
Every command that reads a file reads it here; nothing parses a file twice.

    tracker sweep experiments/mnist-demo.toml --dry-run
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import study as studies
from .config import ALIASES, FIELDS, RunConfig, make_config, read_toml
from .errors import ConfigError, unknown_key
from .study import Study
from .tune_spec import Tune, parse as parse_tune

SECTIONS = ("grid", "study", "tune")  # tables of a file that are not run config


@dataclass(frozen=True)
class Experiment:
    path: str | None  # None: no file (the defaults and --set alone)
    base: dict[str, Any] = field(default_factory=dict)  # the run config's keys
    grid: dict[str, list] = field(default_factory=dict)  # key -> values, in the file's order
    study: Study | None = None  # the declared analysis; None when the file has no [study]
    tune: Tune | None = None  # the tuning per condition ([tune], runs/tune.py); None when absent

    @property
    def name(self) -> str:
        return Path(self.path).name if self.path else "(no file)"

    @property
    def points(self) -> int:
        return math.prod(len(v) for v in self.grid.values()) if self.grid else 1


def read(path: str | None) -> Experiment:
    """PATH as an Experiment; a missing file, malformed TOML, an unknown key or a bad [grid] is one
    line. The run config's values are checked when a point is made (make_config)."""
    if path is None:
        return Experiment(None)
    raw = dict(read_toml(path))
    grid = raw.pop("grid", {}) or {}
    declared = studies.parse(raw.pop("study")) if "study" in raw else None
    tune = raw.pop("tune", None)
    if not isinstance(grid, dict):
        raise ConfigError("config key 'grid': expected a table of lists")
    for key, values in grid.items():
        if key not in FIELDS:
            raise ConfigError(unknown_key("grid key", key, FIELDS, ALIASES))
        if not isinstance(values, list) or not values:
            raise ConfigError(f"grid key '{key}': expected a non-empty list, got {values!r}")
    for key in raw:
        if key not in FIELDS:
            raise ConfigError(unknown_key("config key", key, FIELDS, ALIASES))
    return Experiment(str(path), raw, grid, declared, None if tune is None else parse_tune(tune, grid))


def point(exp: Experiment, overrides: dict[str, Any] | None = None) -> tuple[RunConfig, str]:
    """One run of the file (`tracker train FILE`), and a note saying which point of its [grid] it
    is (empty without a grid): each grid key from the overrides, else the grid's first value."""
    overrides = overrides or {}
    chosen = {k: overrides[k] if k in overrides else values[0] for k, values in exp.grid.items()}
    cfg = make_config({**exp.base, **chosen, **overrides})
    if not exp.grid:
        return cfg, ""
    source = {k: "--set" if k in overrides else "the grid's first" for k in chosen}
    how = ", ".join(f"{k}={v} ({source[k]})" for k, v in chosen.items())
    return cfg, (f"{exp.name} has a [grid] of {exp.points} runs; this is one of them: {how}. "
                 f"`tracker sweep {exp.path}` runs them all")
