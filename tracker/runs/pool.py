"""Where a sweep's runs execute: here one after another, in worker processes, or as Ray tasks
(ray_executor.py), behind one interface: `run(jobs, ended)` runs them and calls `ended` as each
ends; `close(interrupted)` stops what is left, so that no worker outlives the sweep.

    tracker sweep experiments/mnist-norms.toml --workers 2
"""
from __future__ import annotations

import os
import signal
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Callable

from ..errors import UserError
from ..ml.device import claim_slot, cores, gpu_count
from ..ml.memory import worker_share
from .sweep import run_point


@dataclass(frozen=True)
class Job:
    """One grid point to run: its config, file, tags, and the KILLED run it resumes (if any)."""
    cfg: object  # RunConfig
    config_file: str
    tags: dict
    resume_id: str | None = None

    @property
    def name(self) -> str:
        return self.cfg.name


def threads_for(workers: int) -> int:
    """Each of `workers` parallel runs gets its share of the cores."""
    return max(1, cores() // workers)


def outcome(fn: Callable[[], object], echo: Callable[[str], None]) -> str:
    """finished, or failed (a user error or a diverged run, said in one line)."""
    try:
        fn()
        return "finished"
    except (UserError, FloatingPointError) as e:
        echo(f"  failed: {e}")
        return "failed"


class Pool:
    """Runs jobs one after another (workers = 1), in `workers` spawned processes, or as Ray tasks
    (ray: {"address", "cpus", "gpus"}). Made before any run exists: a bad Ray set-up is refused."""

    def __init__(self, workers: int = 1, ray: dict | None = None, devices: set[str] = frozenset()):
        self.workers, self.tasks, self.executor = workers, None, None
        self.used: list[str] = []  # the device each Ray task's run trained on
        if ray is not None:
            from .ray_executor import RayPool

            self.tasks = RayPool(ray.get("address"), ray.get("cpus", 1), ray.get("gpus", 0), set(devices))
        # workers that share a GPU share its memory; too many for it are refused, before any run
        self.share = None if ray is not None else worker_share(workers, set(devices))

    def run(self, jobs: list[Job], ended: Callable[[str, str], None], echo: Callable[[str], None]) -> None:
        """Run every job; `ended(name, outcome)` as each ends (outcome: finished or failed)."""
        if self.tasks is not None:
            futures = {self.tasks.submit(j.cfg, j.config_file, j.tags, j.resume_id): j.name for j in jobs}
            for i, fut in enumerate(self.tasks.as_completed(futures), 1):
                echo(f"[run {i} of {len(jobs)} done] {futures[fut]}")
                ended(futures[fut], outcome(lambda: self.used.append(self.tasks.result(fut)[1]), echo))
        elif self.workers <= 1:
            for i, j in enumerate(jobs, 1):
                echo(f"[run {i} of {len(jobs)}] {j.name}" + (f" (resuming {j.resume_id})" if j.resume_id else ""))
                ended(j.name, outcome(lambda: run_point(j.cfg, j.config_file, j.tags, None, j.resume_id), echo))
        else:
            if (gpus := gpu_count()) > 1:
                echo(f"{self.workers} workers over {gpus} GPUs, round-robin: worker k trains on "
                     f"cuda:(k mod {gpus}) (device auto or cuda; cuda:N stays on N)")
            if self.share:
                echo(f"{self.workers} workers share the GPUs: each may allocate {self.share:.0%} of its GPU's memory")
            self.executor = self.executor or worker_pool(self.workers, self.share)
            futures = {self.executor.submit(run_point, j.cfg, j.config_file, j.tags, threads_for(self.workers),
                                            j.resume_id): j.name for j in jobs}
            for i, fut in enumerate(as_completed(futures), 1):
                echo(f"[run {i} of {len(jobs)} done] {futures[fut]}")
                ended(futures[fut], outcome(fut.result, echo))

    def close(self, signum: int | None = None) -> None:
        """Stop what is left: Ray's pending tasks are cancelled (they end their runs KILLED). A
        sweep stopped by a SIGTERM sent to it alone passes it on to its worker processes, so their
        runs end KILLED too (Ctrl-C and a hang-up reach the whole process group by themselves)."""
        if self.tasks is not None:
            self.tasks.close()
        if self.executor is not None:
            if signum == signal.SIGTERM:
                for pid in list(getattr(self.executor, "_processes", None) or {}):  # pid -> Process
                    try:
                        os.kill(pid, signal.SIGTERM)
                    except ProcessLookupError:
                        pass
            self.executor.shutdown(wait=True, cancel_futures=True)
            self.executor = None


def worker_pool(workers: int, share: float | None = None) -> ProcessPoolExecutor:
    """`workers` spawned processes; worker k trains device auto or cuda on GPU k mod the GPUs
    visible (round-robin), so N workers spread over the GPUs instead of crowding cuda:0; where
    several share a GPU, each may allocate `share` of its memory (memory.worker_share)."""
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    return ProcessPoolExecutor(workers, mp_context=ctx, initializer=claim_slot,
                               initargs=(ctx.Value("i", 0), share))
