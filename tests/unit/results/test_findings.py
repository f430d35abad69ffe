"""The findings in short, as a sweep's parent run leads its description with them: a line per
comparison that says what its verdict allows and no more, on hand-made runs judged at alpha 0.1."""
import dataclasses

from tests.helpers import comparison
from tracker.results import findings
from tracker.study import Study

VALUES = {"batch": [0.970, 0.972, 0.974], "wide": [0.985, 0.986, 0.987], "group": [0.9705, 0.9722, 0.9738],
          "noisy": [0.90, 0.99, 0.95], "inst": [0.96]}
STUDY = Study(baseline="batch", margin=1.0, alpha=0.1)


def test_a_line_per_comparison_as_its_verdict_allows():
    c = comparison(VALUES, STUDY)
    rows = c.rows.set_index("norm")
    assert rows["verdict"].to_dict() == {"wide": "better", "group": "equivalent", "batch": "baseline",
                                         "inst": "undecided", "noisy": "undecided"}
    lead, *lines = findings.short(c)
    assert lead == "Judged on the final test accuracy (the last epoch's), against **norm=batch**, at alpha 0.1 (Holm):"
    by_name = {line.split("**")[1]: line for line in lines}
    assert list(by_name) == ["norm=wide", "norm=group", "norm=inst", "norm=noisy"]  # the table's order, no baseline

    def diff(norm):
        return f"{rows.loc[norm, 'diff_vs_baseline'] * 100:+.2f} pp"

    assert by_name["norm=wide"].startswith(f"- **norm=wide** is better: {diff('wide')} (")
    assert by_name["norm=wide"].endswith(f"Holm-adjusted p = {rows.loc['wide', 'p_holm']:.3g}")
    assert by_name["norm=group"].startswith(f"- **norm=group** is equivalent within ±1 pp: {diff('group')} (")
    assert by_name["norm=inst"] == "- **norm=inst**: one counted run, nothing concluded yet"
    assert by_name["norm=noisy"].startswith(f"- **norm=noisy**: no difference established, {diff('noisy')} (")
    assert by_name["norm=noisy"].endswith(f"; about {int(rows.loc['noisy', 'seeds_needed'])} seeds per "
                                          "condition would decide it")
    assert not any("better" in line or "worse" in line or "equivalent" in line
                   for line in (by_name["norm=inst"], by_name["norm=noisy"]))


def test_a_confound_is_a_caution_and_one_condition_has_nothing_to_compare():
    c = comparison(VALUES, STUDY)
    c = dataclasses.replace(c, found=dataclasses.replace(c.found, confounds={"lr": {}, "optimizer": {}}))
    assert findings.short(c)[-1] == "- caution: the conditions also differ in lr, optimizer"
    assert findings.short(comparison({"batch": [0.97, 0.98]}))[1:] == ["- one condition only: nothing to compare"]
