"""A small real sweep end to end: tracker sweep, then tracker compare --sweep."""
import json

from tests.helpers import TINY_FILE, all_runs, cli, sets, without_conditions

SWEEP = TINY_FILE + """experiment = "swept"

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
    assert "mnist-small-group-seed2" in result.output
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
    assert result.exit_code == 2 and result.stderr == "error: unknown grid key 'norms'; did you mean 'norm'?\n"


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


def test_a_study_listed_by_tracker_runs_and_a_sweep_log_of_one_line_per_run(tmp_path, mnist_dir, tiny):
    """A sweep over lr written to a file: a line per run, none per epoch. `tracker runs` shows
    the swept lr and accuracies in %, and --sweep lists only the sweep's children."""
    import os
    import re
    import subprocess
    import sys

    path = tmp_path / "lr-decide.toml"
    path.write_text(SWEEP.replace('experiment = "swept"', f'experiment = "lr-decide"\ndata_dir = "{mnist_dir}"')
                    .replace("epochs = 1", "epochs = 2")
                    .replace('norm = ["batch", "group"]\nseed = [1, 2]', "lr = [0.05, 0.01]"))
    env = {k: v for k, v in os.environ.items() if k != "TRACKER_PROGRESS"}  # as a user's shell has it
    log = tmp_path / "log"
    with open(log, "w") as out:
        done = subprocess.run([sys.executable, "-m", "tracker.cli", "sweep", str(path)], env=env, stdout=out,
                              stderr=subprocess.STDOUT, timeout=600)
    text = log.read_text()
    assert done.returncode == 0, text
    assert not [line for line in text.splitlines() if line.startswith("epoch ")], text  # none per epoch
    assert [line.split("]")[0] for line in text.splitlines() if line.startswith("[run ")] == [
        "[run 1 of 2", "[run 2 of 2"]
    parent = re.search(r"parent run (\w{32})\)", text).group(1)
    assert cli("train", *sets({**tiny, "epochs": 1, "experiment": "lr-decide"})).exit_code == 0  # not the sweep's

    table = cli("runs", "--experiment", "lr-decide")
    header, *rows = table.stdout.splitlines()
    assert header.split() == ["run_id", "name", "status", "norm", "seed", "epochs", "lr", "test", "final",
                              "%", "test", "best", "%", "duration_s"]
    assert len(rows) == 4  # the parent, its two children, the lone run
    children = json.loads(cli("runs", "--sweep", parent, "--format", "json").stdout)
    assert sorted(r["lr"] for r in children) == [0.01, 0.05] and all(r["epochs"] == 2 for r in children)
    for r in children:
        assert 0 < r["test_acc"] <= r["test_acc_best"] <= 1  # json keeps fractions
        row = next(line for line in rows if line.startswith(r["run_id"]))
        assert f"{r['test_acc'] * 100:.2f}" in row.split() and f"{r['test_acc_best'] * 100:.2f}" in row.split()
    markdown = cli("runs", "--sweep", parent, "--format", "markdown").stdout
    assert "| lr | test final % | test best % |" in markdown and markdown.count("\n") == 4

    both = cli("runs", "--experiment", "lr-decide", "--sweep", parent)
    assert both.exit_code == 2 and "not both" in both.stderr
    child = children[0]["run_id"]
    assert "is not a sweep's parent run" in cli("runs", "--sweep", child).stderr
