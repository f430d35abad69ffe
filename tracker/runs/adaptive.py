"""`tracker sweep FILE --until-decided`: seeds added look by look until the question is decided.
Every condition runs to the first planned look (e.g. 3 seeds); at each later look (e.g. 5, 10)
only the conditions whose comparison with the baseline is still undecided get more seeds, until
all are decided or the plan's last look is reached. Each look is judged at the plan's Pocock-type
per-look level (results/sequential.py), which keeps the overall wrong-verdict rate at alpha.
Stateless between looks: a killed adaptive sweep, run again, judges what is in the store and
continues where it stopped.

    tracker sweep experiments/mnist-demo.toml --until-decided
"""
from __future__ import annotations

import dataclasses
from typing import Callable

from ..errors import UserError
from ..study import DEFAULT_LOOKS, Study
from . import sweep


def plan(config_file: str, sets: tuple[str, ...] = (), extra: dict | None = None) -> sweep.Plan:
    """The sweep's plan with seeds for the largest look, and its study (declared or default)."""
    declared = sweep.plan(config_file, sets, extra).study or Study()
    study = dataclasses.replace(declared, looks=declared.looks or DEFAULT_LOOKS)
    p = sweep.plan(config_file, sets, extra, seeds=study.looks[-1])
    if not [k for k in p.grid if k != "seed"]:
        raise UserError(f"--until-decided compares conditions, but the [grid] of {config_file} has no "
                        "key besides seed; add the key whose values are compared (e.g. norm)")
    return dataclasses.replace(p, study=study)


def _samples(parent_id: str, conditions: list[str]):
    """The judged metric of each condition's counted seeds so far, and the comparison."""
    from ..results.compare import compare

    try:
        comparison = compare(None, parent_id)
    except UserError:  # nothing counts yet: the first look
        return {c: [] for c in conditions}, None
    return {**{c: [] for c in conditions}, **comparison.counted.values()}, comparison


def until_decided(p: sweep.Plan, config_file: str, workers: int = 1, echo: Callable[[str], None] = print,
                  ray: dict | None = None) -> tuple[str, dict[str, int], object]:
    """Run the plan look by look; returns (parent id, counts by outcome, the final comparison)."""
    from ..results import sequential
    from ..results.counted import baseline_label, default_by
    from .executors import ray_pool, run_points  # torch: not for --dry-run
    from .parent import Parent

    study = p.study
    by_condition = sweep.planned(p)
    points = {c: sorted((pt for pt in p.points if pt.cfg.name in names), key=lambda pt: pt.cfg.seed)
              for c, names in by_condition.items()}
    tasks = ray_pool(p, ray)
    state = sweep.open_parent(p, config_file)
    parent = Parent(state.parent_id, by_condition)
    before = set(state.done)  # FINISHED before this invocation: skipped, look by look
    counts = {"skipped": 0, "finished": 0, "failed": 0}
    comparison, look = None, 0
    try:
        while True:
            samples, comparison = _samples(state.parent_id, list(points))
            if comparison is not None and study.baseline is None:  # the first look's best, kept
                study = dataclasses.replace(study, baseline=comparison.baseline)
                p = sweep.with_study(p, study, state.parent_id)
                samples, comparison = _samples(state.parent_id, list(points))
            baseline = (baseline_label(list(samples), default_by((), list(p.grid)), study.baseline, "baseline")
                        if study.baseline else next(iter(samples)))
            margin = None if study.margin is None else study.margin / 100  # pp -> fraction
            step = sequential.step(study.looks, samples, baseline, margin, study.alpha)
            if comparison is not None:
                look += 1
                echo(f"look {look}: " + ", ".join(f"{c} {len(v)}" for c, v in samples.items())
                     + " seeds" + ("; decided" if step.decided else ""))
                echo(comparison.render().rstrip("\n"))
                parent.look(look, comparison)
            if step.decided:
                break
            todo = [pt for c, n in step.targets.items() for pt in points[c][:n]]
            ran = run_points(p, state, todo, config_file, workers, echo, tasks, parent)
            counts["finished"] += ran["finished"]
            counts["failed"] += ran["failed"]
            if ran["failed"]:
                echo(f"{ran['failed']} run(s) failed at this look; the plan stops here (run the sweep "
                     "again to retry them)")
                break
    finally:
        counts["skipped"] = len(before & {pt.cfg.name for pts in points.values() for pt in pts})
        if tasks is not None:
            tasks.close()
        parent.end(ok=counts["failed"] == 0)
    return state.parent_id, counts, comparison
