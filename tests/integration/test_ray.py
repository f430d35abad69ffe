"""Sweeps on a real local Ray cluster, logging to a real `mlflow server`: same runs as a local
sweep, a killed worker resumed into the same run, a local store refused, Ray never imported
by `tracker --help` or a local sweep."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tracker.testkit.fakedata import write_mnist
from tests.helpers import all_runs, cli, store_client, without_conditions
from tracker import names
from tracker.testkit.servers import MlflowServer, RayHead, free_port

pytestmark = pytest.mark.server

SWEEP = """
dataset = "mnist"
arch = "mnist-small"
epochs = {epochs}
batch_size = 32
dropout = 0.0
train_limit = {train_limit}
download = false
data_dir = "{data}"
experiment = "{experiment}"

[grid]
norm = {norms}
seed = {seeds}
"""


def write_sweep(path: Path, data: Path, experiment: str, epochs: int = 1, norms: str = '["batch", "group"]',
                seeds: str = "[1, 2]", train_limit: int = 256) -> Path:
    path.write_text(SWEEP.format(epochs=epochs, data=data, experiment=experiment, norms=norms, seeds=seeds,
                                 train_limit=train_limit))
    return path


@pytest.fixture(scope="module")
def head():
    h = RayHead().start()
    yield h
    h.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("server")
    s = MlflowServer(f"sqlite:///{root}/runs.db", str(root / "artifacts")).start()
    yield s
    s.stop()


RAY_MODULES = ("import atexit, sys\n"
               "atexit.register(lambda: print('ray modules:',\n"
               "                              [m for m in sys.modules if m.split('.')[0] == 'ray']))\n"
               "from tracker.cli import main\n"
               "main()\n")


def tracker(*args: str, env: dict, ray_modules: bool = False) -> subprocess.CompletedProcess:
    """The CLI in a process of its own; ray_modules: its last line lists the ray modules it loaded."""
    entry = ["-c", RAY_MODULES] if ray_modules else ["-m", "tracker.cli"]
    return subprocess.run([sys.executable, *entry, *args], env=env, capture_output=True, text=True,
                          timeout=300)


def sweep_runs(c, experiment: str) -> tuple:
    exp = c.get_experiment_by_name(experiment)
    runs = c.search_runs([exp.experiment_id])
    (parent,) = [r for r in runs if r.data.tags["tracker.kind"] == "sweep"]
    children = {r.info.run_name: r for r in runs if r.data.tags["tracker.kind"] == "train"}
    return parent, children


def artifacts(c, run_id: str, path: str | None = None) -> set[str]:
    out = set()
    for a in c.list_artifacts(run_id, path):
        out |= artifacts(c, run_id, a.path) if a.is_dir else {a.path}
    return out


def steps(c, run_id: str, key: str) -> list[int]:
    return sorted(m.step for m in c.get_metric_history(run_id, key))


def test_ray_sweep_matches_a_local_sweep(head, server, tmp_path, mnist_dir):
    from mlflow.tracking import MlflowClient

    path = write_sweep(tmp_path / "grid.toml", mnist_dir, "ray-grid")
    env = {**os.environ, "MLFLOW_TRACKING_URI": server.url}
    ray = tracker("sweep", str(path), "--executor", "ray", "--address", head.address, env=env)
    assert ray.returncode == 0, ray.stdout[-3000:] + ray.stderr[-3000:]
    assert "4 runs, 0 already FINISHED, 4 to run" in ray.stdout
    assert "[run 4 of 4 done]" in ray.stdout and "4 finished, 0 skipped, 0 failed" in ray.stdout
    # the same file with the local executor, into the embedded store
    local = tracker("sweep", str(path), env=os.environ.copy(), ray_modules=True)
    assert local.returncode == 0, local.stderr[-3000:]
    assert local.stdout.splitlines()[-1] == "ray modules: []"  # a local sweep never imports Ray

    remote_c, local_c = MlflowClient(server.url), store_client()
    (rp, rkids), (lp, lkids) = sweep_runs(remote_c, "ray-grid"), sweep_runs(local_c, "ray-grid")
    assert rp.info.run_name == lp.info.run_name and rp.info.status == lp.info.status == "FINISHED"
    assert rp.data.params == lp.data.params and set(rp.data.tags) - {names.DEVICES} == set(lp.data.tags)
    assert rp.data.tags[names.DEVICES] == "cpu x4"  # where the Ray tasks trained: no GPU reserved
    assert artifacts(remote_c, rp.info.run_id) == artifacts(local_c, lp.info.run_id) == {
        "config/grid.toml", "compare.json", "compare.md"}  # the study, as the children ended
    assert sorted(rkids) == sorted(lkids) == [f"mnist-small-{n}-seed{s}" for n in ("batch", "group")
                                             for s in (1, 2)]
    pids = set()
    for name, r in rkids.items():
        l = lkids[name]
        assert r.info.status == l.info.status == "FINISHED"
        assert r.data.tags["mlflow.parentRunId"] == rp.info.run_id
        assert l.data.tags["mlflow.parentRunId"] == lp.info.run_id
        assert set(r.data.tags) == set(l.data.tags)
        same = [k for k in r.data.tags
                if k.startswith("tracker.grid") or k in ("tracker.sweep", "tracker.kind")]
        assert len(same) == 5 and {k: r.data.tags[k] for k in same} == {k: l.data.tags[k] for k in same}
        assert r.data.params == l.data.params  # the config, counts, versions, commit: all equal
        # system/* metrics are sampled every few seconds: how many a short run gets is timing
        trained = {k for k in r.data.metrics if not k.startswith("system/")}
        assert trained == {k for k in l.data.metrics if not k.startswith("system/")}
        assert all(steps(remote_c, r.info.run_id, k) == steps(local_c, l.info.run_id, k) == [1]
                   for k in trained)
        for key in ("test_acc", "train_acc"):  # the same training, whichever executor ran it
            assert 0 < r.data.metrics[key] <= 1 and abs(r.data.metrics[key] - l.data.metrics[key]) < 0.05
        assert artifacts(remote_c, r.info.run_id) == artifacts(local_c, l.info.run_id)
        assert "config/grid.toml" in artifacts(remote_c, r.info.run_id)
        pids.add(r.data.tags["tracker.pid"])
    assert str(os.getpid()) not in pids  # trained in Ray workers, not here

    again = tracker("sweep", str(path), "--executor", "ray", "--address", head.address, env=env)
    assert again.returncode == 0 and "0 finished, 4 skipped, 0 failed" in again.stdout
    assert len(without_conditions(remote_c.search_runs([rp.info.experiment_id]))) == 5


def wait_for(fn, timeout: float = 120, every: float = 0.2):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(every)
    raise TimeoutError(f"{fn} stayed falsy for {timeout} s")


def test_a_killed_worker_is_resumed_into_the_same_run(head, server, tmp_path):
    from mlflow.tracking import MlflowClient

    data = write_mnist(tmp_path / "data", n_train=1500, n_test=200)  # epochs of a few seconds
    path = write_sweep(tmp_path / "kill.toml", data, "ray-kill", epochs=3, norms='["group"]', seeds="[1]",
                       train_limit=0)
    env = {**os.environ, "MLFLOW_TRACKING_URI": server.url}
    driver = subprocess.Popen([sys.executable, "-m", "tracker.cli", "sweep", str(path), "--executor", "ray",
                               "--address", head.address], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    c = MlflowClient(server.url)

    def after_epoch_1():
        exp = c.get_experiment_by_name("ray-kill")
        if exp is None:
            return None
        running = "tags.`tracker.kind` = 'train' and attributes.status = 'RUNNING'"
        for r in c.search_runs([exp.experiment_id], running):
            if steps(c, r.info.run_id, "test_acc") == [1]:
                return r
        return None

    victim = wait_for(after_epoch_1)
    pid = int(victim.data.tags["tracker.pid"])
    assert Path(f"/proc/{pid}/cmdline").read_bytes().startswith(b"ray::")  # a Ray worker of our cluster
    os.kill(pid, signal.SIGKILL)
    out, err = driver.communicate(timeout=240)
    assert driver.returncode == 0, err[-3000:]
    assert "1 finished, 0 skipped, 0 failed" in out

    parent, kids = sweep_runs(c, "ray-kill")
    runs = without_conditions(c.search_runs([parent.info.experiment_id]))
    assert len(runs) == 2 and {r.info.status for r in runs} == {"FINISHED"}  # none RUNNING, no restart
    resumed = kids[victim.info.run_name]
    assert resumed.info.run_id == victim.info.run_id  # resumed, not restarted in a new run
    assert resumed.data.tags["tracker.resumes"] == "1"
    host = victim.data.tags["tracker.host"]
    assert resumed.data.tags["tracker.error"] == f"its Ray worker died (pid {pid} on {host})"
    assert int(resumed.data.tags["tracker.pid"]) != pid
    for key in ("test_acc", "train_loss", "epoch_time_s", "test_acc_best"):
        assert steps(c, resumed.info.run_id, key) == [1, 2, 3]  # every epoch once
    assert resumed.data.metrics["test_acc_best"] > 0.5  # the learnable fake data was learned


@pytest.mark.parametrize("uri", ["", "sqlite:///{tmp}/other.db", "{tmp}/plain-store", "file://{tmp}/files"])
def test_a_local_store_is_refused_before_anything_exists(tmp_path, mnist_dir, uri):
    path = write_sweep(tmp_path / "grid.toml", mnist_dir, "refused")
    uri = uri.format(tmp=tmp_path)
    result = cli("sweep", str(path), "--executor", "ray", "--address", "127.0.0.1:9",
                 env={"MLFLOW_TRACKING_URI": uri} if uri else None)
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and result.stderr.startswith(
        "error: --executor ray needs a tracking server every node can reach")
    assert all_runs() == [] and not (tmp_path / "mlruns").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grid.toml"]  # no db, no store, nothing


def test_an_address_without_a_cluster_is_one_line(tmp_path, mnist_dir, server):
    from mlflow.tracking import MlflowClient

    path = write_sweep(tmp_path / "grid.toml", mnist_dir, "no-cluster")
    result = cli("sweep", str(path), "--executor", "ray", "--address", f"127.0.0.1:{free_port()}",
                 env={"MLFLOW_TRACKING_URI": server.url})
    assert result.exit_code == 2 and result.stderr.startswith("error: no Ray cluster answers at 127.0.0.1:")
    assert result.stderr.count("\n") == 1
    assert MlflowClient(server.url).get_experiment_by_name("no-cluster") is None


def test_workers_is_refused_with_the_ray_executor(tmp_path, mnist_dir):
    path = write_sweep(tmp_path / "grid.toml", mnist_dir, "refused")
    result = cli("sweep", str(path), "--executor", "ray", "--workers", "2")
    assert result.exit_code == 2 and "--workers is for the local executor" in result.stderr
    assert all_runs() == []


def test_without_ray_installed_the_error_is_one_line(tmp_path, mnist_dir, server):
    from mlflow.tracking import MlflowClient

    path = write_sweep(tmp_path / "grid.toml", mnist_dir, "no-ray")
    code = ("import sys; sys.modules['ray'] = None\n"  # `import ray` raises ImportError
            "from tracker.cli import main; main()")
    out = subprocess.run([sys.executable, "-c", code, "sweep", str(path), "--executor", "ray"],
                         env={**os.environ, "MLFLOW_TRACKING_URI": server.url}, capture_output=True,
                         text=True)
    assert out.returncode == 2
    assert out.stderr == "error: --executor ray needs Ray: pip install 'tracker[ray]'\n"
    assert MlflowClient(server.url).get_experiment_by_name("no-ray") is None


def test_help_never_imports_ray():
    out = tracker("--help", env=os.environ.copy(), ray_modules=True)
    assert out.returncode == 0 and "sweep" in out.stdout
    assert out.stdout.splitlines()[-1] == "ray modules: []"
    assert tracker("sweep", "--help", env=os.environ.copy(), ray_modules=True).stdout.splitlines()[-1] == \
        "ray modules: []"


def test_a_tuned_sweep_tunes_each_condition_as_a_ray_task(head, server, tmp_path, mnist_dir):
    from mlflow.tracking import MlflowClient

    path = write_sweep(tmp_path / "tuned.toml", mnist_dir, "ray-tuned", seeds="[1]", train_limit=128)
    path.write_text(path.read_text() + "\n[tune]\ntrials = 2\nepochs = 1\npruner = \"none\"\n"
                    "[tune.space]\nlr = { low = 0.005, high = 0.3, log = true }\n")
    env = {**os.environ, "MLFLOW_TRACKING_URI": server.url, "TRACKER_STORE": str(tmp_path / "driver")}
    out = tracker("sweep", str(path), "--executor", "ray", "--address", head.address, env=env)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "tuning 2 conditions as Ray tasks" in out.stdout
    c = MlflowClient(server.url)
    runs = c.search_runs([c.get_experiment_by_name("ray-tuned").experiment_id])
    trials = [r for r in runs if r.data.tags[names.KIND] == names.TRIAL_KIND]
    per = {cond: [r for r in trials if r.data.tags[names.TUNE_CONDITION] == cond] for cond in ("norm=batch", "norm=group")}
    assert {cond: len(rs) for cond, rs in per.items()} == {"norm=batch": 2, "norm=group": 2}  # equal budgets
    assert all(r.info.status == "FINISHED" and r.data.tags[names.TUNE_STATE] == names.TRIAL_COMPLETE for r in trials)
    pids = {r.data.tags[names.PID] for r in trials}
    assert str(os.getpid()) not in pids and len(pids) == 2  # a Ray worker per condition
    seeds = {r.data.params["norm"]: r for r in runs if r.data.tags[names.KIND] == names.TRAIN}
    for cond, rs in per.items():  # each seed run at the lr of a trial of its condition's best val acc
        (top,) = [r for r in rs if r.data.params["lr"] == seeds[cond.split("=")[1]].data.params["lr"]]
        assert top.data.metrics[names.VAL_ACC_BEST] == max(r.data.metrics[names.VAL_ACC_BEST] for r in rs)
    assert (tmp_path / "driver" / "tune.db").exists()  # the studies: in the driver's store, shared
