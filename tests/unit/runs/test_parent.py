"""A sweep parent's description: it leads with the findings in a few lines, then points to the
curves, then holds the table exactly as `compare` prints it."""
from tests.helpers import comparison
from tracker.results import findings
from tracker.runs.parent import chart_link, description
from tracker.study import Study


def test_the_description_leads_with_the_findings_then_the_table():
    c = comparison({"batch": [0.970, 0.972, 0.974], "wide": [0.985, 0.986, 0.987], "noisy": [0.90, 0.99, 0.95]},
                   Study(alpha=0.1))
    text = description(c, 7, 9, "2025-01-01 00:00:00 UTC", "4")
    lead, *lines = findings.short(c)
    head = text.splitlines()
    assert head[0] == f"**Findings** after 7 of 9 planned runs. {lead}" and head[1:3] == lines
    assert head[4].startswith(f"Curves per condition, side by side: the experiment's [chart view]({chart_link('4')})")
    assert '"norm=…: mean of n runs"' in head[4]
    table = c.render("markdown")
    assert text.endswith(table) and text.index(lines[-1]) < text.index(table)
    assert "updated 2025-01-01 00:00:00 UTC" in text
