"""The parts of benchmarks/tracking_overhead.py's race that are not the race: the server's CPU,
a run object with tracking off, and a signal guard that does nothing (the contenders are threads)."""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def group_cpu(pgid: int) -> float:
    """CPU seconds used so far by the live processes of a process group (Linux /proc)."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # pgrp; utime, stime are fields 11, 12 after the name
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


class Untracked:
    """The Run interface with tracking off."""

    run_id, seconds, send_seconds = "untracked", 0.0, 0.0

    def _nothing(self, *args, **kwargs) -> None:
        return None

    log_params = log_metrics = log_text = log_artifact = set_tags = end = wait = _nothing

    def local_path(self, name: str) -> str:  # the untracked copy draws its figures too, here
        return str(Path(tempfile.gettempdir()) / "untracked-figures" / name)

    def logged_steps(self, key: str) -> set:
        return set()

    def log_model(self, *args, **kwargs) -> bool:
        return True


class NoSignals:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None

    def critical(self):
        return contextlib.nullcontext()
