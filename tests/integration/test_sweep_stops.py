"""A sweep stopped for real, then run again: a stop signal leaves its parent KILLED and says to
run the sweep again; a SIGKILL of its whole process group leaves a child RUNNING, which the
re-run finds gone, ends KILLED and resumes into its own run. Either way each grid point ends
FINISHED once, in one run, and nothing is left RUNNING."""
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.helpers import all_runs, cli

SWEEP = """
dataset = "mnist"
arch = "mnist-small"
epochs = 4
batch_size = 16
dropout = 0.0
download = false
experiment = "stops"
data_dir = "{data}"

[grid]
norm = ["batch", "group"]
seed = [1, 2]
"""


@pytest.fixture
def sweep_file(tmp_path, mnist_dir):
    path = tmp_path / "stops.toml"
    path.write_text(SWEEP.format(data=mnist_dir))
    return path


def _sweep(path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tracker.cli", "sweep", str(path)], env=os.environ.copy(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def _children():
    return [r for r in all_runs() if r.data.tags.get("tracker.kind") == "train"]


def _wait_for(children: int, proc, timeout: float = 300.0):
    """Until `children` runs of the sweep have saved a checkpoint (their first epoch logged; the
    store is made by then, so reading it races no schema migration); returns the newest child."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        assert proc.poll() is None, proc.communicate()
        if len(list(Path(os.environ["TRACKER_STORE"]).glob("checkpoints/*/last.pt"))) >= children:
            return sorted(_children(), key=lambda r: r.info.start_time)[-1]
        time.sleep(0.2)
    raise TimeoutError(f"the sweep did not reach child {children}")


def _assert_each_point_finished_once():
    children = _children()
    names = Counter(r.info.run_name for r in children)
    assert len(names) == 4 and set(names.values()) == {1}, names  # four points, one run each
    assert {r.info.status for r in children} == {"FINISHED"}
    assert not [r for r in all_runs() if r.info.status == "RUNNING"]


@pytest.mark.parametrize("sig,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_stopped_sweep_is_killed_and_says_to_run_it_again(sweep_file, sig, code):
    proc = _sweep(sweep_file)
    stopped = _wait_for(2, proc)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == code, err
    assert f"continue it with: tracker sweep {sweep_file}" in err and "tracker resume" not in err
    (parent,) = [r for r in all_runs() if r.data.tags.get("tracker.kind") == "sweep"]
    assert parent.info.status == "KILLED"
    by_id = {r.info.run_id: r for r in _children()}
    assert by_id[stopped.info.run_id].info.status == "KILLED"

    result = cli("sweep", str(sweep_file))
    assert result.exit_code == 0, result.output
    assert "1 already FINISHED, 3 to run, 1 of them resumed" in result.output
    _assert_each_point_finished_once()
    assert stopped.info.run_id in {r.info.run_id for r in _children()}  # resumed into its own run
    (parent,) = [r for r in all_runs() if r.data.tags.get("tracker.kind") == "sweep"]
    assert parent.info.status == "FINISHED"


def test_a_sigkilled_sweep_run_again_resumes_the_child_it_left_running(sweep_file):
    proc = _sweep(sweep_file)
    orphan = _wait_for(3, proc)
    os.killpg(proc.pid, signal.SIGKILL)  # the sweep's whole process group, with no warning
    proc.communicate(timeout=60)
    assert {r.info.run_id: r.info.status for r in _children()}[orphan.info.run_id] == "RUNNING"

    result = cli("sweep", str(sweep_file))
    assert result.exit_code == 0, result.output
    assert "2 already FINISHED, 2 to run, 1 of them resumed" in result.output
    _assert_each_point_finished_once()
    assert orphan.info.run_id in {r.info.run_id for r in _children()}
