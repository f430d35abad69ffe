"""Running a sweep's plan: here, one run after another or in worker processes, or as Ray tasks.

    tracker sweep experiments/mnist-norms.toml --workers 2
"""
from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Callable

from ..errors import UserError
from ..ml.device import cores
from . import sweep
from .sweep import run_point


def threads_for(workers: int) -> int:
    """Each of `workers` parallel runs gets its share of the cores."""
    return max(1, cores() // workers)


def execute(p: sweep.Plan, config_file: str, workers: int = 1,
            echo: Callable[[str], None] = print, ray: dict | None = None) -> tuple[str, dict[str, int]]:
    """Run the children that have not FINISHED yet; returns (parent id, counts by outcome).

    ray: {"address", "cpus", "gpus"} runs each child as a Ray task (tracker/ray_executor.py)."""
    tasks = None
    if ray is not None:  # refuses a local store, or a missing Ray, before any run exists
        from .ray_executor import RayPool

        tasks = RayPool(ray.get("address"), ray.get("cpus", 1), ray.get("gpus", 0))
    state = sweep.open_parent(p, config_file)
    todo = [pt for pt in p.points if pt.cfg.name not in state.done]
    counts = {"skipped": len(p.points) - len(todo), "finished": 0, "failed": 0}
    resumed = sum(pt.cfg.name in state.killed for pt in todo)
    echo(f"sweep {p.name}: {len(p.points)} runs, {counts['skipped']} already FINISHED, "
         f"{len(todo)} to run, {resumed} of them resumed (parent run {state.parent_id})")
    jobs = [(pt.cfg, config_file, sweep.child_tags(p, pt, state.parent_id)) for pt in todo]
    resume_ids = [state.killed.get(pt.cfg.name) for pt in todo]
    try:
        if tasks is not None:
            futures = {tasks.submit(*args, rid): args[0].name for args, rid in zip(jobs, resume_ids)}
            for i, fut in enumerate(tasks.as_completed(futures), 1):
                echo(f"[run {i} of {len(jobs)} done] {futures[fut]}")
                counts[_outcome(lambda: tasks.result(fut), echo)] += 1
        elif workers <= 1:
            for i, (args, rid) in enumerate(zip(jobs, resume_ids), 1):
                echo(f"[run {i} of {len(jobs)}] {args[0].name}" + (f" (resuming {rid})" if rid else ""))
                counts[_outcome(lambda: run_point(*args, None, rid), echo)] += 1
        else:
            import multiprocessing as mp

            with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn")) as pool:
                futures = {pool.submit(run_point, *args, threads_for(workers), rid): args[0].name
                           for args, rid in zip(jobs, resume_ids)}
                for i, fut in enumerate(as_completed(futures), 1):
                    echo(f"[run {i} of {len(jobs)} done] {futures[fut]}")
                    counts[_outcome(fut.result, echo)] += 1
    finally:
        if tasks is not None:
            tasks.close()
        sweep.close_parent(state.parent_id, ok=counts["failed"] == 0 and
                           counts["finished"] + counts["skipped"] == len(p.points))
    return state.parent_id, counts


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
