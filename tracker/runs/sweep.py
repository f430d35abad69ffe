"""A sweep: the grid of a config file as child runs under one parent run, its bookkeeping in
the store (the parent, which children FINISHED, which were KILLED), and one grid point run for
every executor. Running the plan: executors.py (local) and ray_executor.py.

    tracker sweep experiments/mnist-norms.toml --dry-run
"""
from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import RUN_KEYS, RunConfig, make_config, parse_overrides, read_toml, split_grid
from ..errors import ConfigError, TrackingError
from .. import study as studies
from ..settings import outage_wait
from ..study import Study
from .. import names


@dataclass(frozen=True)
class Point:
    values: dict[str, Any]  # grid key -> value
    cfg: RunConfig


@dataclass(frozen=True)
class Plan:
    name: str  # the sweep's id: file stem + a hash of base and grid
    grid: dict[str, list]
    points: list[Point]
    base: dict[str, Any]
    study: Study | None = None  # the file's [study] table, when it has one

    @property
    def grid_keys(self) -> list[str]:
        return list(self.grid)


def plan(path: str, sets: tuple[str, ...] = (), extra: dict | None = None,
         seeds: int | None = None) -> Plan:
    """Every grid point as a validated config, before anything runs. seeds: that many seeds per
    condition (an adaptive plan's largest look): the grid's seeds first, then the next ones."""
    raw = read_toml(path)
    declared = studies.parse(raw["study"]) if "study" in raw else None
    base, grid = split_grid(raw)
    overrides = parse_overrides(sets)
    clash = [k for k in overrides if k in grid]
    if clash:
        k = clash[0]
        raise ConfigError(f"--set {k}=...: {k} is a [grid] key of {Path(path).name} "
                          f"({', '.join(map(str, grid[k]))}), so a sweep runs every value; edit the "
                          f"grid, or train one point with `tracker train {path} --set {k}=...`")
    base = {**base, **(extra or {}), **overrides}
    if seeds is not None:
        grid = {**grid, "seed": _seeds(grid.get("seed") or [base.get("seed", 1)], seeds)}
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
    # where the data lives does not change what a run computes
    ident = {k: v for k, v in base.items() if k not in ("data_dir", "download")}
    digest = hashlib.sha1(json.dumps([ident, grid], sort_keys=True, default=str).encode()).hexdigest()[:8]
    return Plan(f"{Path(path).stem}-{digest}", grid, points, base, declared)


def _seeds(given: list, n: int) -> list[int]:
    """n seeds: the given ones first, then the next integers after the largest."""
    out = [int(s) for s in given][:n]
    while len(out) < n:
        out.append(max(out) + 1)
    return out


def run_point(cfg: RunConfig, config_file: str, tags: dict, threads: int | None = None,
              resume_id: str | None = None) -> str:
    """One grid point, for every executor: resume resume_id (a KILLED child), or train a new
    run; at most `threads` torch threads. Returns the run id."""
    from ..tracking.uri import wait_up
    from . import job, resume

    wait = outage_wait()  # an outage mid-sweep delays a run, fails none (the run's start waits)
    if resume_id:
        wait_up(wait, f"resuming {cfg.name}")  # its checkpoint is read before the run reopens
        return resume.resume(resume_id, {"data_dir": cfg.data_dir, "download": cfg.download}, threads, wait)
    return job.train(cfg, config_file, tags=tags, threads=threads, wait=wait).run_id


def child_tags(p: Plan, point: Point, parent_id: str) -> dict[str, str]:
    return {names.PARENT: parent_id, names.SWEEP: p.name, names.GRID_KEYS: ",".join(p.grid_keys),
            **{names.GRID + k: str(v) for k, v in point.values.items()}, **_study_tag(p)}


def _study_tag(p: Plan) -> dict[str, str]:
    return {names.STUDY: p.study.as_json()} if p.study is not None else {}


@dataclass
class State:
    parent_id: str
    done: set[str]  # names of the FINISHED children
    killed: dict[str, str]  # name -> run id of the KILLED children, resumed rather than redone


def open_parent(p: Plan, config_file: str) -> State:
    """The sweep's parent run (found by its tag, or made), RUNNING, and its children's state."""
    from ..tracking import store

    experiment = p.points[0].cfg.experiment
    try:
        found = store.search(experiment, f"tags.`{names.SWEEP}` = '{p.name}'")
    except TrackingError:  # a new experiment: made with the parent
        found = []
    parents = [r for r in found if r.tags.get(names.KIND) == names.SWEEP_KIND]
    if parents:
        parent_id = parents[0].run_id
        store.set_status(parent_id, "RUNNING", _study_tag(p))  # the file's [study], as it is now
    else:
        tags = {names.KIND: names.SWEEP_KIND, names.SWEEP: p.name, names.GRID_KEYS: ",".join(p.grid),
                **names.source(config_file, "tracker sweep"),
                **{names.GRID + k: json.dumps(v) for k, v in p.grid.items()}, **_study_tag(p)}
        parent_id = store.create_run(experiment, p.name, tags,
                                     {f"grid.{k}": json.dumps(v) for k, v in p.grid.items()},
                                     config_file, "config")
    children = [r for r in found if r.tags.get(names.KIND) == names.TRAIN]
    done = {r.name for r in children if r.status == "FINISHED"}
    killed = {r.name: r.run_id for r in children if r.status == "KILLED" and r.name not in done}
    return State(parent_id, done, killed)


def find_child(sweep: str, experiment: str, run_name: str):
    """The newest RUNNING or KILLED child of a sweep with this run name, or None."""
    from ..tracking import store

    try:
        found = store.search(experiment, f"tags.`{names.SWEEP}` = '{sweep}' and tags.`{names.KIND}` = "
                             f"'{names.TRAIN}' and attributes.run_name = '{run_name}'",
                             order_by=["attributes.start_time DESC"])
    except TrackingError:
        return None
    return next((r for r in found if r.status in ("RUNNING", "KILLED")), None)


def with_study(p: Plan, study: Study, parent_id: str) -> Plan:
    """The plan with its study changed (an adaptive sweep's baseline, fixed at its first look),
    and the parent run's record of it."""
    from ..tracking import store

    p = dataclasses.replace(p, study=study)
    store.set_status(parent_id, "RUNNING", _study_tag(p))
    return p


def planned(p: Plan) -> dict[str, set[str]]:
    """Each condition's label (its grid values but the seed) and the run names planned for it."""
    from ..results.counted import default_by, label

    keys = default_by((), list(p.grid))  # as compare groups the children
    out: dict[str, set[str]] = {}
    for pt in p.points:
        out.setdefault(label(keys, [pt.cfg.as_params()[k] for k in keys]), set()).add(pt.cfg.name)
    return out
