"""Faults injected for real: SIGTERM and SIGKILL mid-run, then resume into the same run. The
run waits after the epoch the test waits for, until the signal ends it, so a fast device (a GPU
runs the tiny 5-epoch run in a second) cannot finish it before the signal lands."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from tests.helpers import all_runs, cli, sets, store_client

STEADY = ("train_loss", "train_acc", "test_loss", "test_acc", "lr", "test_acc_best", "train_acc_best")


# `tracker ARGS` whose epoch loop waits once epoch N is saved (the CLI's own code otherwise)
PAUSED = """\
import sys, time
from tracker.runs import epochs

real, saved = epochs.train_one, int(sys.argv.pop(1))


def train_one(p, loop, epoch):
    while epoch == saved + 1:  # epoch N is saved and logged: wait here for the test's signal
        time.sleep(0.05)
    return real(p, loop, epoch)


epochs.train_one = train_one
from tracker.cli import main

main(prog_name="tracker")
"""


def tracker(*args, pause_after: int):
    """`tracker ARGS` in a process of its own that stops before the epoch after `pause_after`
    until a signal ends it: whatever the device's speed, the signal lands mid-run."""
    return subprocess.Popen([sys.executable, "-c", PAUSED, str(pause_after), *args], env=os.environ.copy(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def history(run_id):
    c = store_client()
    return {k: [(m.step, m.value) for m in sorted(c.get_metric_history(run_id, k), key=lambda m: m.step)]
            for k in STEADY}


def wait_for_epoch(epoch: int, proc: subprocess.Popen, timeout: float = 600) -> Path:
    """Block until some run's last checkpoint holds `epoch` (the run then waits there, so the
    timeout only bounds a slow start on a loaded machine); returns it."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        assert proc.poll() is None, f"tracker ended before epoch {epoch}: {proc.communicate()[1][-2000:]}"
        for path in Path(os.environ["TRACKER_STORE"]).glob("checkpoints/*/last.pt"):
            try:
                if torch.load(path, weights_only=True)["epoch"] >= epoch:
                    return path
            except OSError:  # gone between glob and load (checkpoints are replaced whole: never torn)
                pass
        time.sleep(0.05)
    raise TimeoutError(f"no checkpoint of epoch {epoch}")


@pytest.fixture
def long_tiny(tiny):
    return {**tiny, "epochs": 5, "experiment": "faults", "dropout": 0.1}


_REFERENCE: dict = {}


def _reference(cfg) -> dict:
    """The uninterrupted run's metrics, trained once per config for the whole module."""
    key = tuple(sorted(cfg.items()))
    if key not in _REFERENCE:
        result = cli("train", *sets({**cfg, "experiment": "reference"}))
        assert result.exit_code == 0
        (ref,) = [r for r in all_runs() if r.data.params["experiment"] == "reference"]
        _REFERENCE[key] = history(ref.info.run_id)
    return _REFERENCE[key]


@pytest.mark.parametrize("sig,code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_marks_killed_and_resume_matches_uninterrupted(long_tiny, sig, code):
    proc = tracker("train", *sets(long_tiny), pause_after=2)
    wait_for_epoch(2, proc)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    (run,) = [r for r in all_runs() if r.data.params["experiment"] == "faults"]
    assert run.info.status == "KILLED" and "stopped by SIG" in run.data.tags["tracker.error"]
    assert f"continue it with: tracker resume {run.info.run_id}" in err  # the id, and what to do
    done = torch.load(next(Path(os.environ["TRACKER_STORE"]).glob("checkpoints/*/last.pt")), weights_only=True)
    assert done["epoch"] == 2  # the epoch the signal came after, on any device
    assert len(history(run.info.run_id)["test_acc"]) == done["epoch"]  # flushed, nothing more

    result = cli("resume", run.info.run_id)
    assert result.exit_code == 0, result.output
    resumed = store_client().get_run(run.info.run_id)
    assert resumed.info.status == "FINISHED"
    assert history(run.info.run_id) == _reference(long_tiny)  # every value, every step, exactly


def test_sigkill_is_found_stale_then_resumed(long_tiny):
    proc = tracker("train", *sets(long_tiny), pause_after=2)
    wait_for_epoch(2, proc)
    proc.kill()
    proc.wait(timeout=30)
    (run,) = all_runs()
    assert run.info.status == "RUNNING"
    listing = cli("runs", "--experiment", "faults", "--stale", "--mark-killed")
    assert run.info.run_id in listing.output
    assert store_client().get_run(run.info.run_id).info.status == "KILLED"
    assert cli("resume", run.info.run_id).exit_code == 0
    assert history(run.info.run_id) == _reference(long_tiny)


def test_resume_refuses_a_changed_config_and_unknown_runs(long_tiny):
    proc = tracker("train", *sets(long_tiny), pause_after=1)
    wait_for_epoch(1, proc)
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=60)
    (run,) = all_runs()
    before = history(run.info.run_id)
    result = cli("resume", run.info.run_id, "--set", "lr=0.1")
    assert result.exit_code == 2 and "config key 'lr'" in result.stderr
    assert history(run.info.run_id) == before
    assert store_client().get_run(run.info.run_id).info.status == "KILLED"
    result = cli("resume", "0" * 32)
    assert result.exit_code == 2 and "not found" in result.stderr


def test_tampered_checkpoint_is_refused(long_tiny):
    proc = tracker("train", *sets(long_tiny), pause_after=1)
    path = wait_for_epoch(1, proc)
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=60)
    (run,) = all_runs()
    path.write_bytes(path.read_bytes()[:100])  # truncated
    result = cli("resume", run.info.run_id)
    assert result.exit_code == 2 and "unreadable" in result.stderr
    assert store_client().get_run(run.info.run_id).info.status == "KILLED"
