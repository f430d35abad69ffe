"""Real processes: N `tracker train` at once on a new embedded store; `tracker server` stopped
by a signal leaves none of its processes; a run opens no connection it was not asked to."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import all_runs, sets, store_client
from tracker.testkit.servers import free_port
from tracker.tracking.server import wait_answers

N = 8


def _tracker(*args, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tracker.cli", *args], env=os.environ.copy(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


def test_n_runs_started_at_once_on_a_new_store_all_finish(tiny):
    assert not Path(os.environ["TRACKER_STORE"]).exists()  # nobody has made the store yet
    cfg = {**tiny, "epochs": 2, "train_limit": 200, "test_limit": 100}
    procs = [_tracker("train", *sets({**cfg, "seed": seed})) for seed in range(1, N + 1)]
    outs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0] * N, [err[-2000:] for _, err in outs]
    runs = all_runs()
    assert len(runs) == N and {r.info.status for r in runs} == {"FINISHED"}
    assert sorted(int(r.data.params["seed"]) for r in runs) == list(range(1, N + 1))
    c = store_client()
    for r in runs:
        for key in ("train_loss", "train_acc", "test_loss", "test_acc", "lr", "epoch_time_s"):
            assert [m.step for m in sorted(c.get_metric_history(r.info.run_id, key), key=lambda m: m.step)] == [1, 2]


def _group_pids(pgid: int) -> list[int]:
    out = subprocess.run(["ps", "-eo", "pid=,pgid="], capture_output=True, text=True).stdout
    return [int(pid) for pid, group in (line.split() for line in out.splitlines()) if int(group) == pgid]


@pytest.mark.server
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_tracker_server_stops_its_whole_group_on_a_signal(signum):
    port = free_port()
    proc = _tracker("server", "--port", str(port), "--workers", "2")
    try:
        wait_answers(f"http://127.0.0.1:{port}/health", proc, 180)
        group = None
        for _ in range(100):  # the mlflow server's own group: the child of tracker's process
            kids = subprocess.run(["ps", "-o", "pid=", "--ppid", str(proc.pid)], capture_output=True,
                                  text=True).stdout.split()
            if kids:
                group = os.getpgid(int(kids[0]))
                break
            time.sleep(0.1)
        assert group is not None and len(_group_pids(group)) >= 3  # server, workers, job runner
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 128 + signum
        assert f"stopped by {signal.Signals(signum).name}; the tracking server and its processes are stopped" in err
        deadline = time.time() + 10
        while _group_pids(group) and time.time() < deadline:
            time.sleep(0.2)
        assert _group_pids(group) == []
    finally:
        if proc.poll() is None:
            proc.kill()


AUDIT = """
import sys
seen = []
def hook(event, args):
    if event == "socket.connect":
        seen.append(repr(args[1]))
sys.addaudithook(hook)
from tracker.cli import main
try:
    main(sys.argv[1:])
except SystemExit as e:
    code = e.code
import os
print("connections:", sorted(set(seen)))
print("telemetry:", os.environ.get("MLFLOW_DISABLE_TELEMETRY"))
sys.exit(code)
"""


def test_a_run_opens_no_connection(tiny):
    """Into the embedded store, with the data on disk: no socket at all (MLflow's usage
    telemetry is off unless TRACKER_TELEMETRY=1)."""
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_DISABLE_TELEMETRY", "DO_NOT_TRACK")}
    out = subprocess.run([sys.executable, "-c", AUDIT, "train", *sets({**tiny, "epochs": 1})],
                         env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.splitlines()
    assert "connections: []" in lines and "telemetry: true" in lines
    assert [r.info.status for r in all_runs()] == ["FINISHED"]
