"""[tune] on real runs (the tiny fake MNIST): refusals before any run, a tuned sweep through the
CLI (equal budgets, seed runs at their condition's best values, trials never counted), pruned
trials recorded as pruned, and a kill during tuning then a re-run that loses and repeats no trial."""
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import TINY_FILE, all_runs, cli
from tracker import names

ROOT = Path(__file__).resolve().parents[2]
FILE = TINY_FILE + """train_limit = 128
test_limit = 32
system_metrics = false
experiment = "tuned"
data_dir = "{data}"

[grid]
norm = {norms}
seed = {seeds}

[tune]
trials = {trials}
epochs = {epochs}
pruner = "{pruner}"
[tune.space]
lr = {{ low = 0.005, high = 0.3, log = true }}
"""


def write(tmp_path, mnist_dir, norms=("batch", "group"), seeds=(1,), trials=2, epochs=1, pruner="none", extra=""):
    path = tmp_path / "tuned.toml"
    path.write_text(FILE.format(data=mnist_dir, norms=json.dumps(list(norms)), seeds=list(seeds), trials=trials,
                                epochs=epochs, pruner=pruner) + extra)
    return str(path)


def trials_of(runs):
    return [r for r in runs if r.data.tags.get(names.KIND) == names.TRIAL_KIND]


@pytest.mark.parametrize("extra, line", [
    ("trails = 3\n", "error: unknown tune key 'trails'; did you mean 'trials'?"),
    ("[tune.space.momentum]\nlow = 0.9\nhigh = 0.5\n", "error: tune.space key 'momentum': low must be below high, "
                                                        "got low = 0.9, high = 0.5"),
    ("norm = [\"batch\"]\n", "error: tune.space key 'norm': it is a [grid] key too; a condition either fixes it "
                             "(the grid) or has it tuned ([tune.space]), not both"),
    ("[tune.space.weight_decay]\nlow = -1.0\nhigh = 0.5\n",
     "error: tune.space key 'weight_decay': config key 'weight_decay': must be >= 0, got -1.0"),
])
def test_bad_tune_tables_are_one_line_and_make_no_run(tmp_path, mnist_dir, extra, line):
    text = write(tmp_path, mnist_dir)
    body = Path(text).read_text()
    if extra.startswith("trails"):
        body = body.replace("pruner =", extra + "pruner =")
    else:
        body += extra
    Path(text).write_text(body)
    for command in ("sweep", "tune"):
        result = cli(command, text)
        assert (result.exit_code, result.stderr) == (2, line + "\n")
    assert all_runs() == []


def test_negative_trials_refused_through_the_cli(tmp_path, mnist_dir):
    result = cli("tune", write(tmp_path, mnist_dir, trials=-2))
    assert (result.exit_code, result.stderr) == (2, "error: tune key 'trials': expected a positive whole number, got -2\n")
    assert all_runs() == []


def test_a_tuned_sweep_through_the_cli(tmp_path, mnist_dir):
    path = write(tmp_path, mnist_dir, trials=2)
    dry = subprocess.run([sys.executable, "-m", "tracker.cli", "sweep", path, "--dry-run"], capture_output=True,
                         text=True, cwd=tmp_path, env={**__import__("os").environ, "PYTHONPATH": str(ROOT)})
    assert dry.returncode == 0 and "tune 2 conditions (norm=batch, norm=group) first: 2 trials of 1 epochs" in dry.stdout
    assert all_runs() == []
    out = subprocess.run([sys.executable, "-m", "tracker.cli", "sweep", path], capture_output=True, text=True,
                         cwd=tmp_path, env={**__import__("os").environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr
    runs = all_runs()
    trials, parent = trials_of(runs), next(r for r in runs if r.data.tags.get(names.KIND) == names.SWEEP_KIND)
    seeds = [r for r in runs if r.data.tags.get(names.KIND) == names.TRAIN]
    per = {c: [r for r in trials if r.data.tags[names.TUNE_CONDITION] == c] for c in ("norm=batch", "norm=group")}
    assert {c: len(rs) for c, rs in per.items()} == {"norm=batch": 2, "norm=group": 2}  # equal budgets
    assert {r.data.tags[names.TUNE_STATE] for r in trials} == {names.TRIAL_COMPLETE}
    assert all(r.info.status == "FINISHED" and r.data.tags[names.PARENT] == parent.info.run_id
               and r.data.params["val_split"] == "0.1" and names.TEST_ACC in r.data.metrics for r in trials)
    tuned = json.loads(parent.data.tags[names.TUNED])
    assert tuned["complete"] and (tuned["keys"], tuned["trials"], tuned["epochs"]) == (["lr"], 2, 1)
    for label, rs in per.items():  # each seed run at its condition's best trial's lr: the best val acc
        mine = [r for r in seeds if f"norm={r.data.params['norm']}" == label]
        top = [r for r in rs if r.data.params["lr"] == mine[0].data.params["lr"]]
        assert len(mine) == 1 and len(top) == 1  # a trial's lr, and the best validation accuracy (ties: the first)
        assert top[0].data.metrics[names.VAL_ACC_BEST] == max(r.data.metrics[names.VAL_ACC_BEST] for r in rs)
        assert mine[0].data.params["val_split"] == "0.0"  # the file's: trials alone hold out a split
        assert tuned["best"][label] == {"lr": float(top[0].data.params["lr"])}
        assert json.loads(mine[0].data.tags[names.TUNED])["values"] == tuned["best"][label]
    assert "each condition's best values" in out.stdout
    rows = json.loads(cli("compare", "--sweep", parent.info.run_id, "--format", "json").stdout)
    assert sorted((r["norm"], r["n"]) for r in rows) == [("batch", 1), ("group", 1)]  # trials never counted
    assert all(r["confounds"] == [] for r in rows)  # lr tuned per condition: no confound
    table = cli("compare", "--sweep", parent.info.run_id).stdout
    assert ("tuned per condition: lr (2 trials each, 1 epoch per trial; each trial judged on its validation "
            "accuracy, never the test set): ") in table and "confound" not in table
    assert all(f"{c} lr={tuned['best'][c]['lr']:.4g}" in table for c in per), table  # each condition's lr
    written = cli("report", "--sweep", parent.info.run_id, "--output", str(tmp_path / "report"))
    assert written.exit_code == 0, written.stderr
    readme = (tmp_path / "report" / "README.md").read_text()
    assert "## Tuning" in readme and "4 trials. Each is judged on its validation accuracy" in readme
    assert (tmp_path / "report" / "tuning.png").stat().st_size > 5000


class AlwaysPrune:
    """A pruner that prunes every trial at its first report."""

    def prune(self, study, trial):
        return True


def test_pruned_trials_are_recorded_killed_with_the_epochs_they_ran(tmp_path, mnist_dir, monkeypatch):
    from tracker import experiment
    from tracker.runs import driver, plan, tune

    monkeypatch.setattr(tune, "make_pruner", lambda t: AlwaysPrune())
    p = plan.plan(experiment.read(write(tmp_path, mnist_dir, norms=("batch",), trials=2, epochs=2)))
    _, found = driver.tune(p, echo=lambda line: None)
    assert (found["norm=batch"].complete, found["norm=batch"].pruned) == (0, 2)
    trials = trials_of(all_runs())
    assert len(trials) == 2
    for r in trials:
        assert (r.info.status, r.data.tags[names.TUNE_STATE]) == ("KILLED", names.TRIAL_PRUNED)
        assert r.data.params["epochs"] == "2" and r.data.metrics[names.VAL_ACC] >= 0
        assert "stopped after epoch 1" in r.data.tags[names.ERROR]
    history = __import__("tests.helpers", fromlist=["store_client"]).store_client().get_metric_history(
        trials[0].info.run_id, names.VAL_ACC)
    assert [m.step for m in history] == [1]  # one epoch of two ran


def test_a_kill_during_tuning_then_a_rerun_loses_and_repeats_no_trial(tmp_path, mnist_dir, monkeypatch):
    from tracker import experiment
    from tracker.runs import driver, job, plan, tune
    from tracker.signals import Interrupted

    p = plan.plan(experiment.read(write(tmp_path, mnist_dir, norms=("batch",), trials=3)))
    train = job.train

    def killed_in_trial_1(cfg, *args, **kwargs):  # a SIGTERM during trial 1's first epoch
        if cfg.name.endswith("-trial1"):
            def stop(epoch, history):
                raise Interrupted(signal.SIGTERM)
            kwargs["after_epoch"] = stop
        return train(cfg, *args, **kwargs)

    monkeypatch.setattr(job, "train", killed_in_trial_1)
    with pytest.raises(Interrupted):
        driver.tune(p, echo=lambda line: None)
    first = {r.data.tags[names.TUNE_TRIAL]: r for r in trials_of(all_runs())}
    assert {k: (r.info.status, r.data.tags.get(names.TUNE_STATE)) for k, r in first.items()} == {
        "0": ("FINISHED", names.TRIAL_COMPLETE), "1": ("KILLED", names.TRIAL_KILLED)}

    monkeypatch.setattr(job, "train", train)
    _, found = driver.tune(p, echo=lambda line: None)
    assert found["norm=batch"].finished == 3
    runs = trials_of(all_runs())
    done = [r for r in runs if r.data.tags[names.TUNE_STATE] == names.TRIAL_COMPLETE]
    lrs = [r.data.params["lr"] for r in done]
    assert len(done) == 3 and len(set(lrs)) == 3  # three finished trials, none twice
    assert sorted(r.data.tags[names.TUNE_TRIAL] for r in runs) == ["0", "1", "2", "3"]
    by_number = {r.data.tags[names.TUNE_TRIAL]: r for r in runs}
    assert by_number["2"].data.params["lr"] == first["1"].data.params["lr"]  # the killed trial, run again
    assert by_number["0"].info.run_id == first["0"].info.run_id  # the finished one kept, not re-run
    # the seeded sampler's first value is the real trial 0's (a fresh study of the same seed)
    monkeypatch.setenv("TRACKER_STORE", str(tmp_path / "other"))
    fresh = tune.open_study(p, "norm=batch", 0).ask(tune.distributions(p.tune))
    assert str(fresh.params["lr"]) == first["0"].data.params["lr"]


def test_workers_tune_conditions_at_once_with_the_trials_a_serial_tuning_draws(tmp_path, mnist_dir, monkeypatch):
    path = write(tmp_path, mnist_dir, trials=2)
    serial = cli("tune", path)
    assert serial.exit_code == 0, serial.stderr
    one = {(r.data.tags[names.TUNE_CONDITION], r.data.tags[names.TUNE_TRIAL]): r for r in trials_of(all_runs())}
    monkeypatch.setenv("TRACKER_STORE", str(tmp_path / "parallel"))
    parallel = cli("tune", path, "--workers", "2")
    assert parallel.exit_code == 0, parallel.stderr
    assert "tuning 2 conditions, 2 at once (a process each)" in parallel.stdout
    runs = trials_of(all_runs(tmp_path / "parallel"))
    two = {(r.data.tags[names.TUNE_CONDITION], r.data.tags[names.TUNE_TRIAL]): r for r in runs}
    assert sorted(two) == sorted(one) == [(c, n) for c in ("norm=batch", "norm=group") for n in ("0", "1")]
    assert all(two[k].data.params["lr"] == one[k].data.params["lr"] for k in one)  # each condition's own seed
    pids = {c: {r.data.tags[names.PID] for k, r in two.items() if k[0] == c} for c in ("norm=batch", "norm=group")}
    assert all(len(p) == 1 for p in pids.values()) and pids["norm=batch"] != pids["norm=group"]
    assert str(os.getpid()) not in pids["norm=batch"] | pids["norm=group"]  # worker processes, not this one
    (parent,) = [r for r in all_runs(tmp_path / "parallel") if r.data.tags.get(names.KIND) == names.SWEEP_KIND]
    tuned = json.loads(parent.data.tags[names.TUNED])
    assert tuned["complete"] and sorted(tuned["best"]) == ["norm=batch", "norm=group"]
