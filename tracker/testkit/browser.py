"""Headless Chromium for the tests that look at a page as a user would: the page's DOM after
its scripts ran, and a screenshot of it; what a user reads off MLflow's pages (a chart view's
charts, a run's description). Flags as this machine needs them (no sandbox as root, no
background networking on a closed network).

    python -c "from tracker.testkit.browser import page; print(page('file:///tmp/x.html', '/tmp/p')[:80])"
"""
from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Callable


def page(url: str, profile: str | Path, screenshot: str | Path | None = None, size: str = "1400,1200",
         wait_ms: int = 30000, until: Callable[[str], bool] | None = None, tries: int = 3) -> str:
    """The DOM of `url` once its scripts ran (up to wait_ms of virtual time); with `screenshot`,
    also a PNG of it (taken first, which warms the profile's cache). With `until`, the DOM is
    loaded again, the cache warm, up to `tries` times until until(DOM) holds (for pages whose
    data comes late), and the PNG is taken once it does."""
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}", f"--virtual-time-budget={wait_ms}", f"--window-size={size}"]

    def shot():
        subprocess.run(["chromium", *flags, f"--screenshot={screenshot}", url], capture_output=True, timeout=180)

    if screenshot is not None and until is None:
        shot()
    dom = ""
    for _ in range(tries if until is not None else 1):
        dom = subprocess.run(["chromium", *flags, "--dump-dom", url], capture_output=True, text=True,
                             timeout=180).stdout
        if until is None or until(dom):
            break
    if screenshot is not None and until is not None:
        shot()
    return dom


CARD = 'data-testid="experiment-view-compare-runs-card"'  # one chart of MLflow's chart view


def charts(dom: str) -> dict[str, tuple[list[str], int]]:
    """The charts of an MLflow chart view (its DOM, from `page`): each chart's title (its metric
    key) -> the run names its legend lists ("RUN (KEY)" entries read back to RUN) and how many
    lines it draws."""
    import re
    from html import unescape

    out = {}
    for card in dom.split(CARD)[1:]:
        title = re.search(r'<h4[^>]*title="([^"]*)"', card)
        if title:
            key = unescape(title.group(1))
            entries = (unescape(e) for e in re.findall(r"<span[^>]*>([^<]*)</span>", card))
            out[key] = ([e[:-len(f" ({key})")] for e in entries if e.endswith(f" ({key})")],
                        card.count('class="js-line"'))
    return out


def description(dom: str) -> str:
    """The HTML of a run page's description (its markdown as rendered), '' when it has none."""
    start = dom.find('data-testid="note-editor-preview-content"')
    return dom[dom.index(">", start) + 1:dom.find("</div>", start)] if start >= 0 else ""
