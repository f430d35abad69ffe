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

from ..results.compare import choose_baseline


def until_decided(s) -> object:
    """Run a session's adaptive plan look by look (s: driver.Session); returns the last comparison."""
    from ..results import sequential

    plan, study = s.plan, s.plan.study
    conditions = plan.conditions()
    grid = {k: [str(v) for v in values] for k, values in plan.grid.items()}
    baseline, _ = choose_baseline(list(conditions), plan.by, study.baseline, grid)  # before any data
    margin = None if study.margin is None else study.margin / study.judged().scale  # display -> metric units
    comparison, look = None, 0
    while True:
        comparison = s.compare()
        samples = {c: [] for c in conditions}
        if comparison is not None:
            samples.update(comparison.counted.values())
        step = sequential.step(study.looks, samples, baseline, margin, study.alpha)
        if comparison is not None:
            look += 1
            undecided = [c for c, j in step.judgements.items() if j.verdict == "undecided"]
            state = ("every comparison decided" if not undecided else
                     "the plan's last look reached" if step.decided else
                     f"{len(undecided)} undecided, seeds added to them")
            s.echo(f"look {look}: " + ", ".join(f"{c} {len(v)}" for c, v in samples.items())
                   + f" seeds; {state}")
            s.echo(comparison.render().rstrip("\n"))
            s.parent.look(look, comparison)
        if step.decided:
            return comparison
        todo = [pt for c, n in step.targets.items() for pt in conditions[c][:n]]
        ran = s.run(todo)
        if ran["failed"]:
            s.echo(f"{ran['failed']} run(s) failed at this look; the plan stops here (run the sweep "
                   "again to retry them)")
            return comparison

