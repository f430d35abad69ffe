"""`tracker sweep FILE --until-decided`: seeds added look by look until the question is decided.
Every condition runs to the first planned look (e.g. 3 seeds); at each later look (e.g. 5, 10)
only the conditions whose comparison with the baseline is still undecided get more seeds, until
all are decided or the plan's last look is reached. Each look is judged at the plan's per-look
level (results/sequential.py), which keeps the overall wrong-verdict rate at alpha. Stateless
between looks: a killed adaptive sweep, run again, judges what is in the store and continues
where it stopped.

    tracker sweep experiments/mnist-demo.toml --until-decided
"""
from __future__ import annotations

import json

from ..results import sequential
from ..results.aggregate import choose_baseline
from ..study import POWER


def _state(step) -> str:
    """What a look left: only what was decided is called decided."""
    open_ = [c for c, j in step.judgements.items() if j.verdict == "undecided" and not j.futile]
    futile = [c for c, j in step.judgements.items() if j.futile]
    if not open_:
        return "every comparison decided" + (f" or stopped ({len(futile)} would need more seeds than the "
                                             "plan has)" if futile else "")
    if step.done:
        return f"the plan's last look reached, {len(open_)} still undecided"
    return f"{len(open_)} undecided: seeds added to them" + (f"; {len(futile)} stopped" if futile else "")


def until_decided(s) -> object:
    """Run a session's adaptive plan look by look (s: driver.Session); returns the last comparison."""
    plan, study = s.plan, s.plan.study
    judged = study.judged()
    conditions = plan.conditions()
    grid = {k: [str(v) for v in values] for k, values in plan.grid.items()}
    baseline, _ = choose_baseline(list(conditions), plan.by, study.baseline, grid)  # before any data
    margin = None if study.margin is None else study.margin / judged.scale  # display -> metric units
    recorded = sequential.load(s.state.decisions) if s.state.decisions else {}
    pending = json.loads(s.state.targets) if s.state.targets else {}  # the look a stop interrupted
    comparison, look = None, s.state.look
    while True:
        comparison = s.compare()
        samples = {c: [] for c in conditions}
        if comparison is not None:
            samples.update(comparison.counted.values())
        short = {c: n for c, n in pending.items() if c in conditions and len(samples[c]) < n}
        pending = {}
        if short:  # completed before it is judged: the plan continues where it stopped
            s.echo("completing the look a stop interrupted: " + ", ".join(f"{c} to {n}" for c, n in short.items())
                   + " seeds")
            if s.run([pt for c, n in short.items() for pt in conditions[c][:n]])["failed"]:
                return comparison
            continue
        resolution = None if comparison is None else comparison.found.resolution
        decisions = sequential.standing(recorded, samples, baseline)
        step = sequential.step(study.looks, samples, baseline, margin, study.alpha, decisions, goal=judged.goal,
                               resolution=resolution, power=POWER, scale=judged.scale, unit=judged.unit)
        recorded = step.decisions  # final, and the next look's seeds: recorded before it runs
        s.parent.decide(sequential.dump(recorded), step.targets)
        if comparison is not None:
            look += 1
            s.echo(f"look {look}: " + ", ".join(f"{c} {len(v)}" for c, v in samples.items())
                   + f" seeds; {_state(step)}")
            s.echo(comparison.render().rstrip("\n"))
            s.parent.look(look, comparison)
        if step.done:
            return comparison
        todo = [pt for c, n in step.targets.items() for pt in conditions[c][:n]]
        ran = s.run(todo)
        if ran["failed"]:
            s.echo(f"{ran['failed']} run(s) failed at this look; the plan stops here (run the sweep "
                   "again to retry them)")
            return comparison

