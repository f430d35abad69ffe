"""The analysis a study declares with its grid: the `[study]` table of an experiment file. The
metric it is judged on, the baseline condition, the margin that matters, alpha, and the seeds
per condition at each look of an adaptive plan. A sweep logs it on its parent run, and
`tracker compare --sweep` judges by it unless options override it.

    [study]
    metric = "final"      # final | best_val | best_test
    baseline = "batch"    # a value of the compared key; default: the best row
    margin = 0.1          # percentage points for accuracies: the smallest difference that matters
    alpha = 0.05
    looks = [3, 5, 10]    # seeds per condition at each look of `tracker sweep --until-decided`

    tracker sweep experiments/mnist-demo.toml --until-decided
"""
from __future__ import annotations

import json
import math
import numbers
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Sequence

from .errors import ConfigError, unknown_key

METRICS = ("final", "best_val", "best_test")
DEFAULT_LOOKS = (3, 5, 10)  # when a file declares none and the sweep runs --until-decided


@dataclass(frozen=True)
class Study:
    metric: str | None = None  # None: final, or best_val when the runs held out a validation split
    baseline: str | None = None  # a condition (its value, or its label norm=batch); None: the best row
    margin: float | None = None  # in display units (percentage points for accuracies); None: no equivalence
    alpha: float = 0.05
    looks: tuple[int, ...] = ()  # seeds per condition at each look; () = one look at the seeds there are

    def __post_init__(self) -> None:
        if self.metric is not None and self.metric not in METRICS:
            raise ConfigError(f"study key 'metric': unknown value {self.metric!r}; expected one of {', '.join(METRICS)}")
        if self.baseline is not None and (not isinstance(self.baseline, str) or not self.baseline.strip()):
            raise ConfigError(f"study key 'baseline': expected a condition's value, got {self.baseline!r}")
        if self.margin is not None and not (_number(self.margin) and 0 < self.margin < 100):
            raise ConfigError(f"study key 'margin': expected a positive number of percentage points "
                              f"below 100, e.g. 0.1; got {self.margin!r}")
        if not (_number(self.alpha) and 0 < self.alpha < 0.5):
            raise ConfigError(f"study key 'alpha': expected a number in (0, 0.5), e.g. 0.05; got {self.alpha!r}")
        if self.looks:
            object.__setattr__(self, "looks", check_looks(self.looks))

    def as_json(self) -> str:
        return json.dumps({k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()},
                          sort_keys=True)

    def differences(self, other: "Study") -> list[str]:
        """What `other` (the analysis used) changes of this one (the declared): 'margin 0.2 (declared 0.1)'."""
        return [f"{f.name} {_show(getattr(other, f.name))} (declared {_show(getattr(self, f.name))})"
                for f in fields(self) if getattr(self, f.name) != getattr(other, f.name)]

    def with_options(self, **options: Any) -> "Study":
        """Options given on the command line (None: not given) over the declared analysis."""
        return replace(self, **{k: v for k, v in options.items() if v is not None})


def check_looks(looks: Sequence[int]) -> tuple[int, ...]:
    """The looks as a tuple, or ConfigError (a ValueError): strictly increasing whole numbers >= 2."""
    looks = tuple(looks)
    whole = all(isinstance(n, numbers.Integral) and not isinstance(n, bool) for n in looks)
    if not looks or not whole or looks[0] < 2 or any(a >= b for a, b in zip(looks, looks[1:])):
        raise ConfigError(f"study key 'looks': must be strictly increasing whole numbers of seeds "
                          f">= 2, e.g. [3, 5, 10]; got {list(looks)}")
    return tuple(int(n) for n in looks)


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _show(v) -> str:
    return "default" if v is None or v == () else ",".join(map(str, v)) if isinstance(v, tuple) else str(v)


def parse(table: Any) -> Study:
    """A [study] table (missing: the defaults); an unknown key or a wrong type is one line."""
    if table is None:
        return Study()
    if not isinstance(table, dict):
        raise ConfigError("config key 'study': expected a table ([study])")
    known = {f.name for f in fields(Study)}
    for key in table:
        if key not in known:
            raise ConfigError(unknown_key("study key", key, sorted(known)))
    values = dict(table)
    if "looks" in values:
        looks = values["looks"]
        if not isinstance(looks, list):
            raise ConfigError(f"study key 'looks': expected a list of seeds per look, e.g. [3, 5, 10]; got {looks!r}")
        values["looks"] = tuple(looks)
    if isinstance(values.get("alpha"), int) and not isinstance(values.get("alpha"), bool):
        values["alpha"] = float(values["alpha"])
    return Study(**values)


def from_json(text: str | None) -> Study | None:
    """The analysis a sweep's parent run logged (None when it logged none)."""
    if not text:
        return None
    values = json.loads(text)
    values["looks"] = tuple(values.get("looks") or ())
    return Study(**values)
