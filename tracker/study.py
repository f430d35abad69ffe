"""The analysis a study declares with its grid: the `[study]` table of an experiment file. What it
is judged on (one of tracker's accuracies, or any metric the runs logged, with its goal), the
baseline condition, the margin that matters, alpha, and the seeds per condition at each look of
an adaptive plan. A sweep logs it on its parent run and its children, and `tracker compare`
judges by it unless options override it. Also the judged metrics themselves: one record each.

    [study]
    metric = "final"      # final | best_val | best_test; or metric_key = "rmse", goal = "minimize"
    baseline = "batch"    # a value of the compared key; default: the grid's first value
    margin = 0.1          # in the metric's display units (percentage points for accuracies)
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

from . import names
from .errors import ConfigError, unknown_key

DEFAULT_LOOKS = (3, 5, 10)  # when a file declares none and the sweep runs --until-decided
POWER = 0.8  # the power the detectable difference and the seeds needed are computed for
GOALS = ("maximize", "minimize")
AT = ("last", "best")  # a metric's value of a run: its last step's, or its best step's


@dataclass(frozen=True)
class Judged:
    """One metric a study may be judged on: where it comes from, and how it is shown."""
    key: str  # the study's name for it: final | best_val | best_test, or a run metric's key
    metric: str  # the run metric read (its latest value, or with at = best its best step's)
    column: str  # the prefix of its statistics in compare's rows: COLUMN_mean, COLUMN_ci_low, ...
    title: str  # its column in the table
    description: str  # what was judged, in the line under the table and in the findings
    goal: str = "maximize"
    scale: float = 100.0  # shown as value * scale: accuracies (fractions) as percent
    unit: str = "pp"  # a difference's unit as shown: percentage points, or "" (the metric's own)
    bounds: tuple[float, float] | None = (0.0, 1.0)  # an interval is shown inside these
    at: str = "last"
    on_test: bool = False  # picked on the test set (a run's best test epoch): biased up

    @property
    def percent(self) -> bool:
        return self.unit == "pp"

    def shown(self, value: float, sign: bool = False, digits: int = 2) -> str:
        """A value (or with sign, a difference) in display units: 99.53, +0.12 pp, 0.4213."""
        if not self.percent:
            return f"{value:{'+' if sign else ''}.4g}"
        text = f"{value * self.scale:{'+' if sign else ''}.{digits}f}"
        return f"{text} {self.unit}" if sign else text

    def better(self, diff: float) -> bool:
        """A difference (condition - baseline) in the goal's direction."""
        return diff > 0 if self.goal == "maximize" else diff < 0


# tracker's own accuracies, what a study may declare as `metric`; the columns of their
# statistics are the metrics' names, but the final accuracy's (test_acc is every epoch's)
JUDGED = {j.key: j for j in (
    Judged("final", names.TEST_ACC, names.TEST_ACC + "_final", "test final %",
           "the final test accuracy (the last epoch's)"),
    Judged("best_val", names.TEST_ACC_AT_BEST_VAL, names.TEST_ACC_AT_BEST_VAL, "test @ best val %",
           "the test accuracy at each run's best validation epoch"),
    Judged("best_test", names.TEST_ACC_BEST, names.TEST_ACC_BEST, "test best % (picked on test)",
           "each run's best test accuracy over its epochs (selected on the test set: biased up)",
           on_test=True),
)}
METRICS = tuple(JUDGED)
# shown beside the judged metric for reference, never judged
TRAIN = Judged("train_best", names.TRAIN_ACC_BEST, names.TRAIN_ACC_BEST, "train best %",
               "each run's best training accuracy")
REFERENCE = (*JUDGED.values(), TRAIN)


def custom(key: str, goal: str, at: str = "last") -> Judged:
    """Any metric a run logged, in its own units."""
    how = "its last logged value" if at == "last" else f"its best step (picked on {key} itself)"
    return Judged(key, key, key, f"{key} ({at})", f"{key}, {how}, {'higher' if goal == 'maximize' else 'lower'} "
                  "is better", goal, 1.0, "", None, at)


@dataclass(frozen=True)
class Study:
    metric: str | None = None  # METRICS; None: final, or best_val when the runs held out a validation split
    metric_key: str | None = None  # any metric the runs logged, judged in its own units
    goal: str | None = None  # maximize | minimize (required for a metric_key tracker does not know)
    at: str | None = None  # last | best: which step of metric_key (default last)
    baseline: str | None = None  # a condition (its value, or its label norm=batch); None: the grid's first
    margin: float | None = None  # in display units (percentage points for accuracies); None: no equivalence
    alpha: float = 0.05
    looks: tuple[int, ...] = ()  # seeds per condition at each look; () = one look at the seeds there are

    def __post_init__(self) -> None:
        if self.metric is not None and self.metric not in METRICS:
            raise ConfigError(f"study key 'metric': unknown value {self.metric!r}; expected one of "
                              f"{', '.join(METRICS)} (or metric_key for any logged metric)")
        if self.metric is not None and self.metric_key is not None:
            raise ConfigError("study keys 'metric' and 'metric_key': give one (metric for tracker's "
                              "accuracies, metric_key for any logged metric)")
        for key, allowed in (("goal", GOALS), ("at", AT)):
            if getattr(self, key) is not None and getattr(self, key) not in allowed:
                raise ConfigError(f"study key '{key}': unknown value {getattr(self, key)!r}; "
                                  f"expected one of {', '.join(allowed)}")
        if self.metric_key is not None and (not isinstance(self.metric_key, str) or not self.metric_key.strip()):
            raise ConfigError(f"study key 'metric_key': expected a metric's name, got {self.metric_key!r}")
        if _number(self.baseline) or isinstance(self.baseline, bool):
            object.__setattr__(self, "baseline", str(self.baseline))  # as MLflow logged the param
        if self.baseline is not None and (not isinstance(self.baseline, str) or not self.baseline.strip()):
            raise ConfigError(f"study key 'baseline': expected a condition's value, got {self.baseline!r}")
        if self.margin is not None and not (_number(self.margin) and self.margin > 0):
            raise ConfigError(f"study key 'margin': expected a positive number in the metric's display "
                              f"units (percentage points for accuracies, e.g. 0.1); got {self.margin!r}")
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
        """Options given on the command line (None: not given) over the declared analysis; a
        metric given there replaces a declared metric_key, and the other way round."""
        given = {k: v for k, v in options.items() if v is not None}
        if "metric" in given:
            given.setdefault("metric_key", None)
        if "metric_key" in given:
            given.setdefault("metric", None)
        return replace(self, **given)

    def judged(self, has_validation: bool = False) -> Judged:
        """The metric judged: metric_key in its own units (its goal required unless it is one of
        tracker's accuracies), else `metric`, else best_val when the runs held out a validation
        split (has_validation), else final."""
        if self.metric_key is None:
            return JUDGED[self.metric or ("best_val" if has_validation else "final")]
        known = next((j for j in REFERENCE if j.metric == self.metric_key), None)
        if known is not None and self.at in (None, "last") and self.goal in (None, known.goal):
            return known
        goal = self.goal or (known.goal if known is not None else None)  # tracker's own: known
        if goal is None:
            raise ConfigError(f"metric {self.metric_key!r}: say whether higher or lower is better "
                              "(--goal maximize|minimize, or goal in [study])")
        return custom(self.metric_key, goal, self.at or "last")


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
    known = [f.name for f in fields(Study)]
    for key in table:
        if key not in known:
            raise ConfigError(unknown_key("study key", key, known))
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
    """The analysis a sweep logged (None when it logged none)."""
    if not text:
        return None
    values = json.loads(text)
    values["looks"] = tuple(values.get("looks") or ())
    known = {f.name for f in fields(Study)}
    return Study(**{k: v for k, v in values.items() if k in known})
