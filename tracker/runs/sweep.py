"""A sweep's bookkeeping in the store: its parent run (found by its tag, or made), which children
FINISHED, which were KILLED (resumed, not redone), a child left RUNNING by a process that is
gone (ended KILLED, then resumed), and one grid point run for every executor.

    tracker sweep experiments/mnist-norms.toml
"""
from __future__ import annotations

import json
import socket
import time
from dataclasses import dataclass

from .. import names
from ..config import RunConfig
from ..errors import TrackingError, UserError
from ..settings import STALE_AFTER, outage_wait
from .plan import Plan, parent_tags


@dataclass
class State:
    parent_id: str
    done: set[str]  # names of the FINISHED children
    killed: dict[str, str]  # name -> run id of the KILLED children, resumed rather than redone
    decisions: str | None = None  # an adaptive plan's decisions so far (JSON), made under this analysis
    targets: str | None = None  # the seeds per condition of the look a stop interrupted (JSON)
    look: int = 0  # the last look judged


def _gone(run) -> bool:
    """A RUNNING child whose process is gone: on this host, its pid no longer exists; elsewhere,
    its heartbeat is older than STALE_AFTER."""
    from ..tracking import store

    if run.tags.get(names.HOST) == socket.gethostname():
        return not store.is_live(run)
    beat = float(run.tags.get(names.HEARTBEAT, run.start_time / 1000))
    return time.time() - beat > STALE_AFTER


def open_parent(p: Plan) -> State:
    """The sweep's parent run (found by its tag, or made), RUNNING, and its children's state. A
    child left RUNNING by a process that is gone is ended KILLED here, so that it resumes into its
    own run; one whose process still runs is refused (one line), not run twice."""
    from ..tracking import store

    experiment = p.points[0].cfg.experiment
    try:
        found = store.search(experiment, f"tags.`{names.SWEEP}` = '{p.name}'")
    except TrackingError:  # a new experiment: made with the parent
        found = []
    parents = [r for r in found if r.tags.get(names.KIND) == names.SWEEP_KIND]
    children = [r for r in found if r.tags.get(names.KIND) == names.TRAIN]
    done = {r.name for r in children if r.status == "FINISHED"}
    for r in children:
        if r.status != "RUNNING":
            continue
        if not _gone(r):
            if r.name not in done:
                raise UserError(f"run {r.run_id} ({r.name}) of sweep {p.name} is still running (pid "
                                f"{r.tags.get(names.PID)} on {r.tags.get(names.HOST)}); wait for it or stop it, "
                                "then run the sweep again")
            continue
        store.mark_killed(r.run_id, "its process is gone (found by a re-run of its sweep)")
        r.status = "KILLED"
    adaptive: dict = {}  # an adaptive plan's record: it stands under the analysis it was made under
    if parents:
        parent_id = parents[0].run_id
        tags = parent_tags(p)  # the file's grid and [study], as they are now
        if parents[0].tags.get(names.STUDY) == tags[names.STUDY]:
            adaptive = {"decisions": parents[0].tags.get(names.DECISIONS), "targets": parents[0].tags.get(
                names.LOOK_TARGETS), "look": int(parents[0].tags.get(names.LOOK, "0") or 0)}
        else:
            tags.update({names.DECISIONS: "{}", names.LOOK_TARGETS: "{}"})
        store.set_status(parent_id, "RUNNING", tags)
    else:
        parent_id = store.create_run(experiment, p.name, parent_tags(p),
                                     {f"grid.{k}": json.dumps(v) for k, v in p.grid.items()}, p.file, names.CONFIG_DIR)
    killed: dict[str, str] = {}  # the newest KILLED run of each point
    for r in sorted(children, key=lambda r: r.start_time):
        if r.status == "KILLED" and r.name not in done:
            killed[r.name] = r.run_id
    return State(parent_id, done, killed, **adaptive)


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
