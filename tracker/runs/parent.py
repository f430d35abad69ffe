"""A sweep's parent run while its sweep runs: it carries the study where MLflow users look.
After each child ends it holds the comparison as `compare` prints it, led by its findings in a
few lines (its description, rendered as markdown on the run page, with the time it was last
updated), and compare.json / compare.md; an adaptive sweep's looks as looks/look-K.*. All
through the run's outbox, like every other call. Once a condition's planned runs have ended,
its curves across them go to a run of its own (runs/conditions.py), which the experiment's
chart view overlays with the other conditions'.

    tracker sweep experiments/mnist-demo.toml
"""
from __future__ import annotations

import datetime
import json
import sys
import time

from .. import names
from ..errors import NoRunsMatch, UserError
from ..settings import outage_wait


def chart_link(experiment_id: str) -> str:
    """The experiment's chart view, as a link inside the MLflow UI (a description's markdown)."""
    return f"#/experiments/{experiment_id}/runs?compareRunsMode=CHART"


def description(comparison, done: int, total: int, now: str, experiment_id: str) -> str:
    """The parent's description: the findings in a few lines, where to see the curves, then the
    table as `compare` prints it (its notes and footnote included)."""
    from ..results import findings
    from ..results.counted import label
    from .conditions import run_name

    lead, *lines = findings.short(comparison)
    named = run_name(label(comparison.counted.by, ["…"] * len(comparison.counted.by)), "n")
    return (f"**Findings** after {done} of {total} planned runs. {lead}\n" + "\n".join(lines)
            + f"\n\nCurves per condition, side by side: the experiment's [chart view]({chart_link(experiment_id)})"
            f" (the runs \"{named}\", once a condition's planned runs have ended).\n\n"
            f"The table is `tracker compare --sweep` on this run's children, updated {now}:\n\n"
            + comparison.render("markdown")
            + (f"\n{comparison.footnote}\n" if comparison.footnote else ""))


class Parent:
    """The parent run of one sweep, opened by this process for the sweep's length."""

    def __init__(self, parent_id: str, planned: dict[str, set[str]]):
        from ..tracking import live

        self.id, self.planned = parent_id, planned
        self.run = live.attach_run(parent_id)
        self.curves_at: dict[str, int] = {}  # condition -> n whose curves were logged last
        self.ended: set[str] = set()
        self.stale = False  # an update was skipped (the server was away): the end tries again

    def update(self, ended: set[str]) -> object:
        """The description, the artifacts and the curves of the conditions whose planned runs
        (by name) have all ended; returns the comparison (None while none counts yet, or when
        the store refused a part: then `end` tries again)."""
        from ..results.compare import compare

        self.ended = set(ended)
        try:
            comparison = compare(None, self.id)
        except NoRunsMatch:  # no run counts yet: nothing to show
            return None
        except UserError as e:  # the server is away: the next update catches up
            self.stale = True
            print(f"parent run {self.id} not updated: {e}", file=sys.stderr, flush=True)
            return None
        self.stale = False
        now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
        done = sum(len(names_ & ended) for names_ in self.planned.values())
        total = sum(len(names_) for names_ in self.planned.values())
        self.run.set_tags({names.NOTE: description(comparison, done, total, now, self.run.experiment_id)})
        self.run.log_text(comparison.render("json"), names.COMPARE_JSON)
        self.run.log_text(comparison.render("markdown"), names.COMPARE_MD)
        self._curves(comparison, ended)
        return None if self.stale else comparison

    def _curves(self, comparison, ended: set[str]) -> None:
        """The condition runs of the conditions whose planned runs have all ended and whose
        counted runs changed since; one the store refuses is tried again at the next update."""
        from .conditions import publish

        groups = comparison.counted.groups()
        ready = {lab: runs for lab, runs in groups.items()
                 if self.planned.get(lab, set()) <= ended and self.curves_at.get(lab) != len(runs)}
        if not ready:
            return
        try:
            publish(self.id, comparison, ready)
        except UserError as e:  # the server went away: the end (or the next update) tries again
            self.stale = True
            print(f"condition curves of sweep {self.id} not logged: {e}", file=sys.stderr, flush=True)
            return
        self.curves_at.update({lab: len(runs) for lab, runs in ready.items()})

    def decide(self, decisions: str, targets: dict[str, int]) -> None:
        """An adaptive sweep's decisions so far (sequential.dump; final: compare carries them from
        there) and the seeds per condition of its next look, on the run before that look runs
        anything: a sweep stopped during the look completes it when run again."""
        self.run.set_tags({names.DECISIONS: decisions, names.LOOK_TARGETS: json.dumps(targets, sort_keys=True)})
        self.run.wait()

    def look(self, k: int, comparison) -> None:
        """An adaptive sweep's look k: its table and rows, kept as artifacts; the tag says which."""
        self.run.set_tags({names.LOOK: str(k)})
        self.run.log_text(comparison.render("markdown"), f"{names.LOOKS_DIR}/look-{k}.md")
        self.run.log_text(comparison.render("json"), f"{names.LOOKS_DIR}/look-{k}.json")

    def end(self, status: str) -> None:
        """The last update, if the one before was skipped (waiting up to TRACKER_OUTAGE_WAIT s for
        the server; not for a stopped sweep), then the parent's status: FINISHED, FAILED or KILLED."""
        deadline = time.time() + (outage_wait() if status != "KILLED" else 0)
        while self.stale and self.update(self.ended) is None and self.stale and time.time() < deadline:
            time.sleep(min(5.0, max(0.0, deadline - time.time())))
        self.run.end(status)
