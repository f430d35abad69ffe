"""A sweep's plan, a pure function of its experiment file: every grid point as a validated config,
the sweep's id, its conditions and the analysis it runs with, before anything runs. A plain
sweep runs every point once; an adaptive one (`--until-decided`) plans seeds up to its last look
and runs them look by look (runs/driver.py).

    tracker sweep experiments/mnist-norms.toml --dry-run
"""
from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .. import names
from ..config import PLACEMENT, RUN_KEYS, RunConfig, make_config, parse_overrides
from ..errors import ConfigError, UserError
from ..experiment import Experiment
from ..results.counted import SEED, baseline_label, default_by, label
from ..study import DEFAULT_LOOKS, Study
from ..tune_spec import Range, Tune


@dataclass(frozen=True)
class Point:
    values: dict[str, Any]  # grid key -> value
    cfg: RunConfig
    tags: dict[str, str] = field(default_factory=dict)  # its own, beside the sweep's (a tuned run's values)


@dataclass(frozen=True)
class Plan:
    name: str  # the sweep's id: the file's stem + a hash of what its runs compute
    file: str  # the experiment file
    grid: dict[str, list]  # as run: an adaptive plan's seeds extended to its last look
    points: list[Point]
    study: Study  # the analysis it runs with: the file's [study], else the defaults
    adaptive: bool = False  # --until-decided: seeds look by look (study.looks)
    tune: Tune | None = None  # [tune]: each condition tuned with this budget before its seeds run

    @property
    def grid_keys(self) -> list[str]:
        return list(self.grid)

    @property
    def by(self) -> list[str]:
        """The keys that define a condition: the grid's, but the seed (as compare groups them)."""
        return default_by((), self.grid_keys)

    def conditions(self) -> dict[str, list[Point]]:
        """Each condition's label and its points, in the grid's order, seeds ascending."""
        out: dict[str, list[Point]] = {}
        for pt in self.points:
            out.setdefault(label(self.by, [pt.cfg.as_params()[k] for k in self.by]), []).append(pt)
        return {c: sorted(pts, key=lambda pt: pt.cfg.seed) for c, pts in out.items()}

    def planned(self) -> dict[str, set[str]]:
        """Each condition's label and the run names planned for it."""
        return {c: {pt.cfg.name for pt in pts} for c, pts in self.conditions().items()}

    def resume_command(self) -> str:
        return f"tracker sweep {self.file}" + (" --until-decided" if self.adaptive else "")


def plan(exp: Experiment, sets: tuple[str, ...] = (), extra: dict | None = None,
         until_decided: bool = False) -> Plan:
    """Every grid point of `exp` as a validated config; with until_decided, seeds for the
    largest look (the grid's seeds first, then the next ones)."""
    overrides = parse_overrides(sets)
    clash = [k for k in overrides if k in exp.grid]
    if clash:
        k = clash[0]
        raise ConfigError(f"--set {k}=...: {k} is a [grid] key of {exp.name} "
                          f"({', '.join(map(str, exp.grid[k]))}), so a sweep runs every value; edit the "
                          f"grid, or train one point with `tracker train {exp.path} --set {k}=...`")
    base = {**exp.base, **(extra or {}), **overrides}
    study, grid = exp.study or Study(), dict(exp.grid)
    if until_decided:
        study = replace(study, looks=study.looks or DEFAULT_LOOKS)
        if not [k for k in grid if k != SEED]:
            raise UserError(f"--until-decided compares conditions, but the [grid] of {exp.path} has no "
                            "key besides seed; add the key whose values are compared (e.g. norm)")
        grid[SEED] = seeds(grid.get(SEED) or [base.get(SEED, 1)], study.looks[-1])
    else:
        study = replace(study, looks=())  # looks are for --until-decided; this is one look
    study.judged()  # a metric_key without its goal is refused here, before any run
    for key in grid:
        base.pop(key, None)  # a grid key in the base is overridden by the grid
    points = []
    for combo in itertools.product(*grid.values()):
        values = dict(zip(grid, combo))
        cfg = make_config({**base, **values})
        extra_keys = [k for k in values if k not in RUN_KEYS]
        if not base.get("run_name") and extra_keys:  # names stay unique within the sweep
            suffix = "".join(f"-{k}{values[k]}" for k in extra_keys)
            cfg = make_config({**base, **values, "run_name": cfg.name + suffix})
        points.append(Point(values, cfg))
    seen = [pt.cfg.name for pt in points]  # a run is found again by its name: one name, one run
    twice = next((n for n in seen if seen.count(n) > 1), None)
    if twice is not None:
        raise ConfigError(f"{exp.name}: {seen.count(twice)} runs of its [grid] would be named {twice!r}; each run "
                          "of a sweep needs its own name (remove run_name, or a value the grid lists twice)")
    if exp.tune is not None:
        check_space(exp.tune, points[0].cfg)
    # where and how a run executes does not change what it computes, nor the sweep
    ident = {k: v for k, v in base.items() if k not in PLACEMENT}
    what = [ident, exp.grid] + ([json.loads(exp.tune.as_json())] if exp.tune else [])  # a new [tune]: a new sweep
    digest = hashlib.sha1(json.dumps(what, sort_keys=True, default=str).encode()).hexdigest()[:8]
    p = Plan(f"{Path(exp.path).stem}-{digest}", exp.path, grid, points, study, until_decided, exp.tune)
    if study.baseline is not None:  # a baseline that names no condition: before any run
        baseline_label(list(p.conditions()), p.by, study.baseline, "study key 'baseline'")
    return p


def check_space(tune: Tune, cfg: RunConfig) -> None:
    """Each end of a range and each choice of [tune.space] makes a valid config, before any run."""
    for key, spec in tune.space.items():
        for value in (spec.low, spec.high) if isinstance(spec, Range) else spec:
            try:
                make_config({**cfg.__dict__, key: value})
            except ConfigError as e:
                raise ConfigError(f"tune.space key '{key}': {e}") from None


def seeds(given: list, n: int) -> list[int]:
    """n seeds: the given ones first, then the next integers after the largest."""
    out = [int(s) for s in given][:n]
    while len(out) < n:
        out.append(max(out) + 1)
    return out


def study_tag(p: Plan) -> dict[str, str]:
    """The one analysis of a sweep, on its parent and on every child."""
    return {names.STUDY: p.study.as_json()}


def child_tags(p: Plan, point: Point, parent_id: str) -> dict[str, str]:
    return {names.PARENT: parent_id, names.SWEEP: p.name, names.GRID_KEYS: ",".join(p.grid_keys),
            **{names.GRID + k: str(v) for k, v in point.values.items()}, **study_tag(p), **point.tags}


def parent_tags(p: Plan) -> dict[str, str]:
    return {names.KIND: names.SWEEP_KIND, names.SWEEP: p.name, names.GRID_KEYS: ",".join(p.grid),
            **names.source(p.file, "tracker sweep"),
            **{names.GRID + k: json.dumps(v) for k, v in p.grid.items()}, **study_tag(p)}
