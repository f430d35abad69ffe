"""Running a sweep's plan: here, one run after another or in worker processes, or as Ray tasks.

    tracker sweep experiments/mnist-norms.toml --workers 2
"""
from __future__ import annotations

import dataclasses
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Callable

from ..errors import UserError
from ..ml.device import claim_slot, cores, gpu_count
from . import sweep
from .sweep import run_point


def threads_for(workers: int) -> int:
    """Each of `workers` parallel runs gets its share of the cores."""
    return max(1, cores() // workers)


def worker_pool(workers: int) -> ProcessPoolExecutor:
    """`workers` spawned processes; worker k trains device auto or cuda on GPU k mod the GPUs
    visible (round-robin), so N workers spread over the GPUs instead of crowding cuda:0."""
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    return ProcessPoolExecutor(workers, mp_context=ctx, initializer=claim_slot, initargs=(ctx.Value("i", 0),))


def execute(p: sweep.Plan, config_file: str, workers: int = 1,
            echo: Callable[[str], None] = print, ray: dict | None = None) -> tuple[str, dict[str, int]]:
    """Run the children that have not FINISHED yet, the parent run showing the study as they
    end; returns (parent id, counts by outcome).

    ray: {"address", "cpus", "gpus"} runs each child as a Ray task (tracker/ray_executor.py)."""
    from .parent import Parent

    if p.study is not None and p.study.looks:  # looks are for --until-decided; this is one look
        p = dataclasses.replace(p, study=dataclasses.replace(p.study, looks=()))
    tasks = ray_pool(p, ray)  # refuses a local store, or a missing Ray, before any run exists
    state = sweep.open_parent(p, config_file)
    parent = Parent(state.parent_id, sweep.planned(p))
    counts = {"skipped": 0, "finished": 0, "failed": 0}
    try:
        counts = run_points(p, state, p.points, config_file, workers, echo, tasks, parent)
    finally:
        if tasks is not None:
            tasks.close()
        parent.end(ok=counts["failed"] == 0 and counts["finished"] + counts["skipped"] == len(p.points))
    return state.parent_id, counts


def ray_pool(p: sweep.Plan, ray: dict | None):
    if ray is None:
        return None
    from .ray_executor import RayPool

    return RayPool(ray.get("address"), ray.get("cpus", 1), ray.get("gpus", 0), {pt.cfg.device for pt in p.points})


def run_points(p: sweep.Plan, state: sweep.State, points: list, config_file: str, workers: int,
               echo: Callable[[str], None], tasks, parent) -> dict[str, int]:
    """Run those of `points` that have not FINISHED (one after another, in worker processes, or
    as Ray tasks); after each ends, the parent run is updated. Returns counts by outcome."""
    todo = [pt for pt in points if pt.cfg.name not in state.done]
    counts = {"skipped": len(points) - len(todo), "finished": 0, "failed": 0}
    resumed = sum(pt.cfg.name in state.killed for pt in todo)
    echo(f"sweep {p.name}: {len(points)} runs, {counts['skipped']} already FINISHED, "
         f"{len(todo)} to run, {resumed} of them resumed (parent run {state.parent_id})")
    jobs = [(pt.cfg, config_file, sweep.child_tags(p, pt, state.parent_id)) for pt in todo]
    resume_ids = [state.killed.get(pt.cfg.name) for pt in todo]
    ended = set(state.done)

    def after(name: str, outcome: str) -> None:
        counts[outcome] += 1
        ended.add(name)
        if outcome == "finished":
            state.done.add(name)
        parent.update(ended)

    if tasks is not None:
        futures = {tasks.submit(*args, rid): args[0].name for args, rid in zip(jobs, resume_ids)}
        for i, fut in enumerate(tasks.as_completed(futures), 1):
            echo(f"[run {i} of {len(jobs)} done] {futures[fut]}")
            after(futures[fut], _outcome(lambda: tasks.result(fut), echo))
    elif workers <= 1:
        for i, (args, rid) in enumerate(zip(jobs, resume_ids), 1):
            echo(f"[run {i} of {len(jobs)}] {args[0].name}" + (f" (resuming {rid})" if rid else ""))
            after(args[0].name, _outcome(lambda: run_point(*args, None, rid), echo))
    else:
        if (gpus := gpu_count()) > 1:
            echo(f"{workers} workers over {gpus} GPUs, round-robin: worker k trains on "
                 f"cuda:(k mod {gpus}) (device auto or cuda; cuda:N stays on N)")
        with worker_pool(workers) as pool:
            futures = {pool.submit(run_point, *args, threads_for(workers), rid): args[0].name
                       for args, rid in zip(jobs, resume_ids)}
            for i, fut in enumerate(as_completed(futures), 1):
                echo(f"[run {i} of {len(jobs)} done] {futures[fut]}")
                after(futures[fut], _outcome(fut.result, echo))
    return counts


def sweep_and_compare(config_file: str, extra: dict, echo: Callable[[str], None] = print):
    """`tracker demo`: run a sweep file's grid here, then compare its children."""
    from ..results.compare import compare

    parent, _ = execute(sweep.plan(config_file, (), extra), config_file, echo=echo)
    return compare(None, parent)


def _outcome(fn, echo) -> str:
    try:
        fn()
        return "finished"
    except (UserError, FloatingPointError) as e:
        echo(f"  failed: {e}")
        return "failed"
