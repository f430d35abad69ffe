"""A sweep: the grid of a config file as child runs under one parent run.

    tracker sweep experiments/mnist-norms.toml --dry-run
"""
from __future__ import annotations

import hashlib
import itertools
import json
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from .config import RunConfig, make_config, parse_overrides, read_toml, split_grid


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

    @property
    def grid_keys(self) -> list[str]:
        return list(self.grid)


def plan(path: str, sets: tuple[str, ...] = (), extra: dict | None = None) -> Plan:
    """Every grid point as a validated config, before anything runs."""
    base, grid = split_grid(read_toml(path))
    base = {**base, **(extra or {}), **parse_overrides(sets)}
    for key in grid:
        base.pop(key, None)  # a grid key in the base is overridden by the grid
    points = []
    for combo in itertools.product(*grid.values()):
        values = dict(zip(grid, combo))
        cfg = make_config({**base, **values})
        extra_keys = [k for k in values if k not in ("dataset", "arch", "norm", "seed")]
        if not base.get("run_name") and extra_keys:  # names stay unique within the sweep
            suffix = "".join(f"-{k}{values[k]}" for k in extra_keys)
            cfg = make_config({**base, **values, "run_name": cfg.name + suffix})
        points.append(Point(values, cfg))
    # where the data lives does not change what a run computes
    ident = {k: v for k, v in base.items() if k not in ("data_dir", "download")}
    digest = hashlib.sha1(json.dumps([ident, grid], sort_keys=True, default=str).encode()).hexdigest()[:8]
    return Plan(f"{Path(path).stem}-{digest}", grid, points, base)


def child_tags(p: Plan, point: Point, parent_id: str) -> dict[str, str]:
    return {"mlflow.parentRunId": parent_id, "tracker.sweep": p.name,
            "tracker.grid_keys": ",".join(p.grid_keys),
            **{f"tracker.grid.{k}": str(v) for k, v in point.values.items()}}


def _threads_for(workers: int) -> int:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, cores // workers)


def _child(cfg: RunConfig, config_file: str, tags: dict, threads: int | None,
           resume_id: str | None = None) -> str:
    from . import job

    if threads:  # job.prepare's set_threads keeps to it
        os.environ["TRACKER_THREADS"] = str(threads)
    if resume_id:
        return job.resume(resume_id, {"data_dir": cfg.data_dir, "download": cfg.download})
    return job.run(cfg, config_file, tags=tags)


def execute(p: Plan, config_file: str, workers: int = 1,
            echo: Callable[[str], None] = print, ray: dict | None = None) -> tuple[str, dict[str, int]]:
    """Run the children that have not FINISHED yet; returns (parent id, counts by outcome).

    ray: {"address", "cpus", "gpus"} runs each child as a Ray task (tracker/ray_executor.py)."""
    from . import tracking

    tasks = None
    if ray is not None:  # refuses a local store, or a missing Ray, before any run exists
        from .ray_executor import RayPool

        tasks = RayPool(ray.get("address"), ray.get("cpus", 1), ray.get("gpus", 0))
    parent_id, done, killed = tracking.sweep_state(p.name, p.points[0].cfg.experiment, p.grid, config_file)
    todo = [pt for pt in p.points if pt.cfg.name not in done]
    counts = {"skipped": len(p.points) - len(todo), "finished": 0, "failed": 0}
    resumed = sum(pt.cfg.name in killed for pt in todo)
    echo(f"sweep {p.name}: {len(p.points)} runs, {counts['skipped']} already FINISHED, "
         f"{len(todo)} to run, {resumed} of them resumed (parent run {parent_id})")
    jobs = [(pt.cfg, config_file, child_tags(p, pt, parent_id)) for pt in todo]
    resume_ids = [killed.get(pt.cfg.name) for pt in todo]
    try:
        if tasks is not None:
            futures = {tasks.submit(*args, rid): args[0].name for args, rid in zip(jobs, resume_ids)}
            for i, fut in enumerate(tasks.as_completed(futures), 1):
                echo(f"[run {i} of {len(jobs)} done] {futures[fut]}")
                counts[_outcome(lambda: tasks.result(fut), echo)] += 1
        elif workers <= 1:
            for i, (args, rid) in enumerate(zip(jobs, resume_ids), 1):
                echo(f"[run {i} of {len(jobs)}] {args[0].name}" + (f" (resuming {rid})" if rid else ""))
                counts[_outcome(lambda: _child(*args, None, rid), echo)] += 1
        else:
            import multiprocessing as mp

            with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn")) as pool:
                futures = {pool.submit(_child, *args, _threads_for(workers), rid): args[0].name
                           for args, rid in zip(jobs, resume_ids)}
                for i, fut in enumerate(as_completed(futures), 1):
                    echo(f"[run {i} of {len(jobs)} done] {futures[fut]}")
                    counts[_outcome(fut.result, echo)] += 1
    finally:
        if tasks is not None:
            tasks.close()
        tracking.end_sweep(parent_id, ok=counts["failed"] == 0 and
                           counts["finished"] + counts["skipped"] == len(p.points))
    return parent_id, counts


def _outcome(fn, echo) -> str:
    from .config import UserError

    try:
        fn()
        return "finished"
    except (UserError, FloatingPointError) as e:
        echo(f"  failed: {e}")
        return "failed"
