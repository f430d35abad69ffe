"""A small real sweep end to end: tracker sweep, then tracker compare --sweep."""
import json

from tests.helpers import all_runs, cli, without_conditions

SWEEP = """
dataset = "mnist"
arch = "mnist-small"
epochs = 1
batch_size = 32
dropout = 0.0
download = false
experiment = "swept"

[grid]
norm = ["batch", "group"]
seed = [1, 2]
"""


def _write(tmp_path, mnist_dir):
    path = tmp_path / "tiny-norms.toml"
    path.write_text(SWEEP.replace('download = false', f'download = false\ndata_dir = "{mnist_dir}"'))
    return path


def test_dry_run_lists_the_grid_and_makes_nothing(tmp_path, mnist_dir):
    result = cli("sweep", str(_write(tmp_path, mnist_dir)), "--dry-run")
    assert result.exit_code == 0
    assert "4 runs over norm, seed" in result.output
    assert "mnist-mnist-small-group-seed2" in result.output
    assert all_runs() == []


def test_sweep_children_compare_and_skip_finished(tmp_path, mnist_dir):
    path = _write(tmp_path, mnist_dir)
    result = cli("sweep", str(path))
    assert result.exit_code == 0, result.output
    assert "[run 4 of 4]" in result.output and "4 finished, 0 skipped" in result.output
    runs = all_runs()
    parents = [r for r in runs if r.data.tags.get("tracker.kind") == "sweep"]
    children = [r for r in runs if r.data.tags.get("tracker.kind") == "train"]
    assert len(parents) == 1 and len(children) == 4
    parent = parents[0]
    assert parent.info.status == "FINISHED" and parent.data.tags["tracker.grid_keys"] == "norm,seed"
    assert {r.data.tags["mlflow.parentRunId"] for r in children} == {parent.info.run_id}
    assert {(r.data.tags["tracker.grid.norm"], r.data.tags["tracker.grid.seed"]) for r in children} == {
        ("batch", "1"), ("batch", "2"), ("group", "1"), ("group", "2")}

    out = cli("compare", "--sweep", parent.info.run_id, "--format", "json")
    rows = json.loads(out.stdout)
    assert sorted(r["norm"] for r in rows) == ["batch", "group"]  # --by defaults to grid minus seed
    assert all(r["n"] == 2 and 0 <= r["test_acc_best_mean"] <= 1 for r in rows)
    for row in rows:
        mine = [c.data.metrics["test_acc_best"] for c in children if c.data.params["norm"] == row["norm"]]
        assert abs(row["test_acc_best_mean"] - sum(mine) / 2) < 1e-12

    again = cli("sweep", str(path))
    assert "0 finished, 4 skipped" in again.output
    assert len(without_conditions(all_runs())) == 5 and len(all_runs()) == 5 + 2  # and a run of curves per condition


def test_grid_key_must_be_a_config_field(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('[grid]\nnorms = ["batch"]\n')
    result = cli("sweep", str(path))
    assert result.exit_code == 2 and "unknown grid key 'norms'; did you mean 'norm'?" in result.stderr


def test_every_shipped_experiment_plans():
    from pathlib import Path

    from tracker import experiment
    from tracker.runs.plan import plan

    files = sorted((Path(__file__).resolve().parents[2] / "experiments").glob("*.toml"))
    assert {f.stem for f in files} >= {"cifar10-norms", "cifar10-dws", "cifar10-novice",
                                       "fashion-mnist-models", "mnist-norms"}
    sizes = {f.stem: len(plan(experiment.read(str(f))).points) for f in files}
    assert sizes["cifar10-norms"] == 9 and sizes["fashion-mnist-models"] == 16
    norms = plan(experiment.read(str(files[0].parent / "cifar10-norms.toml")))
    assert {p.cfg.epochs for p in norms.points} == {20} and {p.cfg.batch_size for p in norms.points} == {64}


def test_workers_run_children_in_parallel_processes(tmp_path, mnist_dir):
    import os

    path = tmp_path / "two.toml"
    path.write_text(SWEEP.replace('seed = [1, 2]', 'seed = [1]').replace(
        'download = false', f'download = false\ndata_dir = "{mnist_dir}"'))
    result = cli("sweep", str(path), "--workers", "2")
    assert result.exit_code == 0, result.output
    assert "2 finished, 0 skipped, 0 failed" in result.output
    children = [r for r in all_runs() if r.data.tags.get("tracker.kind") == "train"]
    pids = {r.data.tags["tracker.pid"] for r in children}
    assert len(children) == 2 and {r.info.status for r in children} == {"FINISHED"}
    assert len(pids) == 2 and str(os.getpid()) not in pids  # each in a worker process
