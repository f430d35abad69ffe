"""A study's findings in plain sentences, written from the verdicts, the power and the
confounds, and never claiming more than they support: the first section of `tracker report`.

    tracker report --sweep PARENT_RUN_ID --output reports/mnist-demo
"""
from __future__ import annotations

from .cells import DESCRIBED, missing
from .counted import JUDGED, label


def _pp(x: float) -> str:
    return f"{abs(x) * 100:.2f} points"


def _ci(r: dict) -> str:
    if missing(r["diff_ci_low"]):
        return ""
    return f" (95% CI {r['diff_ci_low'] * 100:+.2f} to {r['diff_ci_high'] * 100:+.2f})"


def sentence(r: dict, name: str, base: str, comparison) -> str:
    """One comparison, as much as its verdict allows and no more."""
    study, n = comparison.study, f"n = {r['n']} and {comparison.rows.loc[comparison.rows['baseline'], 'n'].iloc[0]}"
    if r["n"] < 2:
        return (f"**{name}** has one counted run: it has no spread and no test, so nothing can be "
                f"concluded about it yet (it differs from **{base}** by {r['diff_vs_baseline'] * 100:+.2f} points "
                "in that one run).")
    if r["verdict"] in ("better", "worse"):
        return (f"**{name}** is {r['verdict']} than **{base}**, by {_pp(r['diff_vs_baseline'])}{_ci(r)}, "
                f"Holm-adjusted p = {r['p_holm']:.3g} ({n} seeds).")
    if r["verdict"] == "equivalent":
        return (f"**{name}** and **{base}** are equivalent within the margin of ±{study.margin:g} points: "
                f"the difference is {r['diff_vs_baseline'] * 100:+.2f} points{_ci(r)}, and two one-sided tests "
                f"put it inside the margin (Holm-adjusted p = {r['p_equivalence_holm']:.3g}; {n} seeds).")
    text = (f"No difference between **{name}** and **{base}** was established: "
            f"{r['diff_vs_baseline'] * 100:+.2f} points{_ci(r)}")
    if not missing(r["detectable_diff"]):
        text += (f"; with {n} seeds, a true difference smaller than {_pp(r['detectable_diff'])} "
                 "would have been missed more often than one time in five")
    if study.margin is None:
        text += "; no margin was declared, so equivalence could not be tested"
    if not missing(r["seeds_needed"]):
        text += f". About {int(r['seeds_needed'])} seeds per condition would decide it"
    return text + "."


def blocks(comparison) -> list:
    """The Findings section: what was judged, then a sentence per comparison and per confound."""
    rows = comparison.rows.to_dict("records")
    by, metric = comparison.counted.by, comparison.counted.metric

    def name(r):
        return label(by, [r[k] for k in by])

    out = [("h2", "Findings")]
    intro = (f"Judged on {DESCRIBED[metric]}, against **{comparison.baseline}**"
             f"{'' if comparison.study.baseline else ' (the condition with the best mean)'}, at alpha "
             f"{comparison.study.alpha:g} with Holm's adjustment for {max(0, len(rows) - 1)} comparison(s).")
    if metric != "best_test":
        intro += (" Each run's best test accuracy over its epochs is in the table for reference only: it "
                  "is picked on the test set, so it is biased up.")
    out.append(("p", intro))
    out.append(("list", [sentence(r, name(r), comparison.baseline, comparison) for r in rows if not r["baseline"]]
                or ["There is one condition only: nothing to compare."]))
    if comparison.confounds:
        keys = ", ".join(comparison.confounds)
        out.append(("p", f"Caution: the conditions differ in more than {', '.join(by)}: {keys} "
                         "(see the table's notes). A difference between them cannot be put down to "
                         f"{', '.join(by)} alone."))
    judged = JUDGED[metric][1]
    best = rows[0]  # the table's order: best mean first
    out.append(("p", f"Highest mean: **{name(best)}**, {best[f'{judged}_mean'] * 100:.2f}% "
                     f"({best['n']} seed{'s' if best['n'] != 1 else ''}); a highest mean alone is not a "
                     "finding unless its comparison above says so."))
    return out


def short(comparison) -> list[str]:
    """The findings in a few lines (a parent run's description leads with them): what was judged,
    then a line per comparison, and the caution when the conditions differ in more."""
    rows = comparison.rows.to_dict("records")
    by, base = comparison.counted.by, comparison.baseline
    out = [f"Judged on {DESCRIBED[comparison.counted.metric]}, against **{base}**, at alpha "
           f"{comparison.study.alpha:g} (Holm):"]
    for r in rows:
        if r["baseline"]:
            continue
        name, diff = label(by, [r[k] for k in by]), f"{r['diff_vs_baseline'] * 100:+.2f} points{_ci(r)}"
        if r["n"] < 2:
            line = f"**{name}**: one counted run, nothing concluded yet"
        elif r["verdict"] in ("better", "worse"):
            line = f"**{name}** is {r['verdict']}: {diff}, Holm-adjusted p = {r['p_holm']:.3g}"
        elif r["verdict"] == "equivalent":
            line = f"**{name}** is equivalent within ±{comparison.study.margin:g} points: {diff}"
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
