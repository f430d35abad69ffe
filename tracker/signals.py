"""Signals a training run answers: SIGTERM, SIGINT and SIGHUP end it KILLED, never mid-save;
and the one way a process group this project started is stopped (a server, a test's services).

    tracker train experiments/mnist-demo.toml   # then: kill -TERM PID
"""
from __future__ import annotations

import os
import signal
import subprocess
import time
from contextlib import contextmanager

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


class Interrupted(BaseException):
    """A stop signal arrived; the run ends KILLED with exit code 128 + signum."""

    def __init__(self, signum: int, outcome: str = "the run is marked KILLED"):
        super().__init__(signal.Signals(signum).name)
        self.signum, self.outcome = signum, outcome
        self.run_id: str | None = None  # the run it stopped, once known
        self.resume: str | None = None  # the command that continues what was stopped


class SignalGuard:
    """Stop signals raise Interrupted, except inside `critical()` (checkpoint + metrics of an
    epoch), where the first signal waits for the section to end. A second signal raises at
    once; checkpoints stay whole because they are written atomically."""

    def __init__(self):
        self.pending: int | None = None
        self.deferring = False

    def __enter__(self):
        self.old = {s: signal.signal(s, self._handle) for s in STOP_SIGNALS}
        return self

    def __exit__(self, *exc):
        for s, handler in self.old.items():
            signal.signal(s, handler)

    def _handle(self, signum, frame):
        if self.deferring and self.pending is None:
            self.pending = signum
            return
        raise Interrupted(signum)

    @contextmanager
    def critical(self):
        self.deferring = True
        try:
            yield
        finally:
            self.deferring = False
        if self.pending is not None:
            raise Interrupted(self.pending)


def stop_group(proc: subprocess.Popen, grace: float = 20.0, first: int = signal.SIGTERM) -> None:
    """A process started with start_new_session and every process of its group: `first`, then
    SIGKILL for whatever is left after `grace` s (members that outlive the leader included)."""
    try:
        os.killpg(proc.pid, first)
    except ProcessLookupError:
        proc.poll()
        return
    deadline = time.time() + grace
    while time.time() < deadline and _group_alive(proc):
        time.sleep(0.1)
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def _group_alive(proc: subprocess.Popen) -> bool:
    proc.poll()  # reaps the leader once it exits
    try:
        os.killpg(proc.pid, 0)
        return True
    except ProcessLookupError:
        return False
