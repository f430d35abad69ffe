"""Headless Chromium for the tests that look at a page as a user would: the page's DOM after
its scripts ran, and a screenshot of it. Flags as this machine needs them (no sandbox as root,
no background networking on a closed network).

    python -c "from tracker.testkit.browser import page; print(page('file:///tmp/x.html', '/tmp/p')[:80])"
"""
from __future__ import annotations

import subprocess
from pathlib import Path


def page(url: str, profile: str | Path, screenshot: str | Path | None = None,
         size: str = "1400,1200", wait_ms: int = 30000) -> str:
    """The DOM of `url` once its scripts ran (up to wait_ms of virtual time); with
    `screenshot`, also a PNG of it there."""
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}", f"--virtual-time-budget={wait_ms}", f"--window-size={size}"]
    if screenshot is not None:
        subprocess.run(["chromium", *flags, f"--screenshot={screenshot}", url], capture_output=True, timeout=180)
    return subprocess.run(["chromium", *flags, "--dump-dom", url], capture_output=True, text=True,
                          timeout=180).stdout
