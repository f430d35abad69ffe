"""The one sweep driver: a plain sweep, an adaptive one (`--until-decided`) and `tracker demo`
all run here, a plain sweep being a sweep with one look. `session()` owns what every sweep has:
its parent run and its pool of workers, opened before the first run and ended in one place
(FINISHED, FAILED, or KILLED on a stop signal, with the command that continues it).

    tracker sweep experiments/mnist-demo.toml
    tracker sweep experiments/mnist-demo.toml --until-decided
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable

from .. import names
from ..errors import NoRunsMatch
from ..signals import Interrupted, SignalGuard
from .parent import Parent
from .plan import Plan, Point, child_tags
from .pool import Job, Pool
from .sweep import State, open_parent


@dataclass
class Session:
    """A sweep being run: its plan, its state in the store, its parent run and its pool."""
    plan: Plan
    state: State
    parent: Parent
    pool: Pool
    echo: Callable[[str], None]
    counts: dict[str, int] = field(default_factory=lambda: {"skipped": 0, "finished": 0, "failed": 0})
    ok: bool = True  # False once a run failed

    def __post_init__(self) -> None:
        self.ended = set(self.state.done)  # names of the children that ended (finished or failed)

    def run(self, points: list[Point]) -> dict[str, int]:
        """Run those of `points` that have not FINISHED (resuming the KILLED ones); the parent run
        is updated after each ends. Returns this call's counts by outcome."""
        todo = [pt for pt in points if pt.cfg.name not in self.state.done]
        ran = {"skipped": len(points) - len(todo), "finished": 0, "failed": 0}
        resumed = sum(pt.cfg.name in self.state.killed for pt in todo)
        self.echo(f"sweep {self.plan.name}: {len(points)} runs, {ran['skipped']} already FINISHED, "
                  f"{len(todo)} to run, {resumed} of them resumed (parent run {self.state.parent_id})")
        jobs = [Job(pt.cfg, self.plan.file, child_tags(self.plan, pt, self.state.parent_id),
                    self.state.killed.get(pt.cfg.name)) for pt in todo]

        def ended(name: str, outcome: str) -> None:
            ran[outcome] += 1
            self.ended.add(name)
            if outcome == "finished":
                self.state.done.add(name)
            self.parent.update(self.ended)

        self.pool.run(jobs, ended, self.echo)
        if self.pool.used:  # Ray tasks: where the runs trained, on the parent run
            from ..ml.device import tally

            self.parent.run.set_tags({names.DEVICES: tally(self.pool.used)})
        for k in ("finished", "failed"):
            self.counts[k] += ran[k]
        self.ok = self.ok and not ran["failed"]
        return ran

    def compare(self):
        """The comparison of the children so far; None while no run counts."""
        from ..results.compare import compare

        try:
            return compare(None, self.state.parent_id)
        except NoRunsMatch:
            return None


@contextmanager
def session(plan: Plan, workers: int = 1, ray: dict | None = None, echo: Callable[[str], None] = print):
    """The sweep's parent run (found or made, RUNNING) and its pool, for the block; they end
    together: the parent FINISHED when every run did, FAILED when one failed, KILLED when a stop
    signal stopped the sweep (the Interrupted then says to run the sweep again)."""
    pool = Pool(workers, ray, {pt.cfg.device for pt in plan.points})  # a bad Ray set-up: before any run
    try:
        state = open_parent(plan)
    except BaseException:
        pool.close()
        raise
    parent = Parent(state.parent_id, plan.planned())
    s = Session(plan, state, parent, pool, echo)
    status, signum = "FAILED", None
    try:
        with SignalGuard():
            yield s
        status = "FINISHED" if s.ok else "FAILED"
    except Interrupted as e:
        status, signum = "KILLED", e.signum
        e.outcome = (f"the sweep's parent run {state.parent_id} and the runs it was training are marked "
                     "KILLED; running the sweep again skips the finished runs and resumes the others")
        e.run_id, e.resume = None, plan.resume_command()
        raise
    finally:
        pool.close(signum)
        parent.end(status)


@dataclass
class Outcome:
    parent_id: str
    counts: dict[str, int]
    comparison: object  # the last comparison (None when no run counts)
    tuned: dict | None = None  # [tune]: each condition's tuning (runs/tune.Best by label)


def tune(plan: Plan, workers: int = 1, echo: Callable[[str], None] = print) -> tuple[str, dict]:
    """`tracker tune`: each condition's tuning alone, under the sweep's parent run (which a
    later `tracker sweep` of the file continues). Returns the parent's id and each Best."""
    from . import tune as tuning

    with session(plan, 1, None, echo) as s:
        found = tuning.tune(plan, s.state.parent_id, s.parent.run, echo, workers)
    return s.state.parent_id, found


def run(plan: Plan, workers: int = 1, echo: Callable[[str], None] = print, ray: dict | None = None) -> Outcome:
    """Run a sweep's plan: every point once, or with plan.adaptive look by look (runs/looks.py)."""
    from . import looks

    found = None
    with session(plan, workers, ray, echo) as s:
        if plan.tune is not None:  # each condition tuned first; its seeds run at its best values
            from . import tune as tuning

            found = tuning.tune(plan, s.state.parent_id, s.parent.run, echo, workers, s.pool.tasks)
            s.plan = tuning.tuned_plan(plan, found)
        if plan.adaptive:
            comparison = looks.until_decided(s)
        else:
            s.run(s.plan.points)
            comparison = s.compare()
        s.counts["skipped"] = len(s.state.done & {pt.cfg.name for pt in plan.points}) - s.counts["finished"]
    return Outcome(s.state.parent_id, s.counts, comparison, found)
