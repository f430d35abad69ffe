"""A study's findings in plain sentences, written from the verdicts, the power and the
confounds, and never claiming more than they support: the first section of `tracker report`,
and the head of a sweep's parent-run description. Numbers in the judged metric's units, every
interval and power with its level.

    tracker report --sweep PARENT_RUN_ID --output reports/mnist-demo
"""
from __future__ import annotations

from .cells import analysis_line, level_label, missing
from .counted import label


def _amount(x: float, judged) -> str:
    """A difference's size: 0.21 points, or 0.0421 in the metric's own units."""
    return f"{abs(x) * judged.scale:.2f} points" if judged.percent else f"{abs(x):.4g}"


def _ci(r: dict, comparison) -> str:
    """The interval the verdict was decided on, with its level."""
    if missing(r["decision_ci_low"]):
        return ""
    judged = comparison.judged
    return (f" ({level_label(r['decision_ci_level'])} CI {judged.shown(r['decision_ci_low'], sign=True)} to "
            f"{judged.shown(r['decision_ci_high'], sign=True)})")


def _seeds(r: dict, base_n: int) -> str:
    """How many seeds each side had: '3 seeds each', or '3 and 5 seeds'."""
    return f"{r['n']} seeds each" if r["n"] == base_n else f"{r['n']} and {base_n} seeds"


def sentence(r: dict, name: str, base: str, comparison) -> str:
    """One comparison, as much as its verdict allows and no more; when it was decided at an
    earlier look of an adaptive plan, and on how many seeds, if runs were lost."""
    text = _sentence(r, name, base, comparison)
    if not missing(r.get("decided_at_look")):
        text = f"Decided at look {int(r['decided_at_look'])}: " + text
    if r.get("runs_left_out"):
        text += (f" **{name}** is judged on the {r['n']} seeds that survived: {int(r['runs_left_out'])} "
                 "of its runs were left out (see the runs left out), so it may look better than it is.")
    return text


def _sentence(r: dict, name: str, base: str, comparison) -> str:
    study, judged = comparison.study, comparison.judged
    base_n = int(comparison.rows.loc[comparison.rows["baseline"], "n"].iloc[0])
    diff = judged.shown(r["diff_vs_baseline"], sign=True)
    if r["n"] < 2:
        return (f"**{name}** has one counted run: it has no spread and no test, so nothing can be "
                f"concluded about it yet (it differs from **{base}** by {diff} in that one run).")
    if r["verdict"] in ("better", "worse"):
        return (f"**{name}** is {r['verdict']} than **{base}**, by {_amount(r['diff_vs_baseline'], judged)}"
                f"{_ci(r, comparison)}, Holm-adjusted p = {r['p_holm']:.3g} ({_seeds(r, base_n)}).")
    if r["verdict"] == "equivalent":
        return (f"**{name}** and **{base}** are equivalent within the margin of ±{study.margin:g}"
                f"{' ' + judged.unit if judged.unit else ''}: the difference is {diff}{_ci(r, comparison)}, "
                f"and two one-sided tests put it inside the margin (Holm-adjusted p = "
                f"{r['p_equivalence_holm']:.3g}; {_seeds(r, base_n)}).")
    text = f"No difference between **{name}** and **{base}** was established: {diff}{_ci(r, comparison)}"
    if not missing(r["detectable_diff"]):
        miss = 1 - comparison.power
        text += (f"; with {_seeds(r, base_n)}, a true difference smaller than "
                 f"{_amount(r['detectable_diff'], judged)} would have been missed more often than "
                 f"{miss:.0%} of the time")
    if study.margin is None:
        text += "; no margin was declared, so equivalence could not be tested"
    if r.get("futile"):
        text += (f". It was stopped: about {int(r['seeds_needed'])} seeds per condition would be needed, "
                 "more than the plan has (an estimate)")
    elif not missing(r["seeds_needed"]):
        text += f". About {int(r['seeds_needed'])} seeds per condition would decide it (an estimate)"
    return text + "."


def sentences(comparison) -> list[str]:
    """A sentence per comparison, in the table's order."""
    rows, by = comparison.rows.to_dict("records"), comparison.counted.by
    return [sentence(r, label(by, [r[k] for k in by]), comparison.baseline, comparison)
            for r in rows if not r["baseline"]] or ["There is one condition only: nothing to compare."]


def blocks(comparison) -> list:
    """The Findings section: what was judged, then a sentence per comparison and per confound."""
    rows, by, judged = comparison.rows.to_dict("records"), comparison.counted.by, comparison.judged
    out = [("h2", "Findings")]
    line = analysis_line(comparison)
    tested = sum(not missing(r["p_vs_baseline"]) for r in rows)  # Holm's family: the comparisons tested
    intro = f"{line[0].upper()}{line[1:]}; Holm's adjustment for {tested} comparison(s)."
    if not judged.on_test and judged.percent:
        intro += (" Each run's best test accuracy over its epochs is in the table for reference only: it "
                  "is picked on the test set, so it is biased up.")
    out.append(("p", intro))
    out.append(("list", sentences(comparison)))
    if comparison.confounds:
        keys = ", ".join(comparison.confounds)
        out.append(("p", f"Caution: the conditions differ in more than {', '.join(by)}: {keys} "
                         "(see the table's notes). A difference between them cannot be put down to "
                         f"{', '.join(by)} alone."))
    best = comparison.found.best
    if best.intervals:
        could = [f"**{c}**" for c in best.could_be_best]
        text = (f"Which could be the best, all at once at {level_label(best.confidence)} (Hsu's multiple "
                f"comparisons with the best): {', '.join(could)}")
        text += (f"; {', '.join(best.not_best)} cannot be." if best.not_best else
                 "; none of the conditions can be ruled out.")
        out.append(("p", text))
    return out


def short(comparison) -> list[str]:
    """The findings in a few lines (a parent run's description leads with them): what was judged,
    then a line per comparison, and the caution when the conditions differ in more."""
    rows, judged = comparison.rows.to_dict("records"), comparison.judged
    by, base, margin = comparison.counted.by, comparison.baseline, comparison.study.margin
    out = [f"Judged on {judged.description}, against **{base}**, at alpha {comparison.study.alpha:g} (Holm):"]
    for r in rows:
        if r["baseline"]:
            continue
        name, diff = label(by, [r[k] for k in by]), f"{judged.shown(r['diff_vs_baseline'], sign=True)}{_ci(r, comparison)}"
        if r["n"] < 2:
            line = f"**{name}**: one counted run, nothing concluded yet"
        elif r["verdict"] in ("better", "worse"):
            line = f"**{name}** is {r['verdict']}: {diff}, Holm-adjusted p = {r['p_holm']:.3g}"
        elif r["verdict"] == "equivalent":
            line = f"**{name}** is equivalent within ±{margin:g}{' ' + judged.unit if judged.unit else ''}: {diff}"
        else:
            line = f"**{name}**: no difference established, {diff}"
            if not missing(r["seeds_needed"]):
                line += f"; about {int(r['seeds_needed'])} seeds per condition would decide it"
        out.append(f"- {line}")
    if len(out) == 1:
        out.append("- one condition only: nothing to compare")
    if comparison.confounds:
        out.append(f"- caution: the conditions also differ in {', '.join(comparison.confounds)}")
    return out