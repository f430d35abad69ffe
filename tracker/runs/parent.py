"""A sweep's parent run while its sweep runs: it carries the study where MLflow users look.
After each child ends it holds the comparison as `compare` prints it (its description, rendered
as markdown on the run page, with the time it was last updated), the seed-aggregated curves of
each condition (mean and band at the study's level of test accuracy and loss per epoch, logged once the
condition's planned runs have ended) and compare.json / compare.md; an adaptive sweep's looks
as looks/look-K.*. All through the run's outbox, like every other call.

    tracker sweep experiments/mnist-demo.toml
"""
from __future__ import annotations

import datetime
import re
import sys
import time

from .. import names
from ..errors import NoRunsMatch, UserError
from ..results.per_epoch import bands
from ..settings import outage_wait


def slug(label: str) -> str:
    """A condition's label as a metric-key prefix: norm=batch lr=0.1 -> norm-batch_lr-0.1."""
    return re.sub(r"[^\w.\- ]", "-", label.replace(" ", "_"))


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
        (by name) have all ended; returns the comparison (None while none counts yet)."""
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
        text = comparison.render("markdown")
        done = sum(len(names_ & ended) for names_ in self.planned.values())
        total = sum(len(names_) for names_ in self.planned.values())
        note = (f"**Study:** {done} of {total} planned runs ended; updated {now}. The table is "
                "`tracker compare --sweep` on this run's children.\n\n" + text
                + (f"\n{comparison.footnote}\n" if comparison.footnote else ""))
        self.run.set_tags({names.NOTE: note})
        self.run.log_text(comparison.render("json"), names.COMPARE_JSON)
        self.run.log_text(text, names.COMPARE_MD)
        self._curves(comparison, ended)
        return comparison

    def _curves(self, comparison, ended: set[str]) -> None:
        from ..tracking import query

        groups = comparison.counted.groups()
        ready = {lab: runs for lab, runs in groups.items()
                 if self.planned.get(lab, set()) <= ended and self.curves_at.get(lab) != len(runs)}
        if not ready:
            return
        hist = query.histories([r.run_id for runs in ready.values() for r in runs], names.CURVES)
        for lab, runs in ready.items():
            per_epoch: dict[int, dict[str, float]] = {}
            for key in names.CURVES:
                bounds = comparison.judged.bounds if key == names.TEST_ACC else None
                for stat, values in bands([hist[r.run_id] for r in runs], key, comparison.level, bounds).items():
                    for epoch, v in enumerate(values, 1):
                        per_epoch.setdefault(epoch, {})[f"{slug(lab)}/{key}_{stat}"] = v
            for epoch, metrics in per_epoch.items():
                self.run.log_metrics(epoch, metrics)
            self.curves_at[lab] = len(runs)

    def decide(self, decisions: str) -> None:
        """An adaptive sweep's decisions so far (sequential.dump): final, on the run before its
        next look runs anything (compare carries them from there)."""
        self.run.set_tags({names.DECISIONS: decisions})
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
