"""What a new user hits first, on a fresh store with no MLFLOW_TRACKING_URI: empty results are
one line, conflicting options are refused or explained, --offline does not wait for a server
the user said is down, and the store says what is in it."""
import json
import os
import subprocess
import sys

from tests.helpers import TINY_FILE, all_runs, cli, sets, store_client
from tracker.testkit.servers import free_port

GRID = TINY_FILE + """data_dir = "{data}"
experiment = "grid"

[grid]
norm = ["group", "batch"]
seed = [3, 4]
"""


def one_line(result, code=2):
    assert result.exit_code == code, result.output
    assert result.stdout == "" and result.stderr.count("\n") == 1, result.stderr
    return result.stderr


def test_empty_results_are_one_line_not_a_traceback(tiny):
    store_client().create_experiment("empty")
    for fmt in ("table", "json", "csv", "markdown", "html"):
        err = one_line(cli("compare", "--experiment", "empty", "--format", fmt))
        assert err.startswith("error: no runs match: experiment 'empty' has no training runs")
    assert "no runs match" in one_line(cli("report", "--experiment", "empty", "--output", "out"))
    assert cli("train", *sets({**tiny, "epochs": 1})).exit_code == 0
    err = one_line(cli("compare", "--experiment", "tiny", "--filter", "params.norm = 'nothing'"))
    assert "no runs match" in err and "params.norm = 'nothing'" in err
    listing = cli("runs", "--experiment", "tiny", "--filter", "params.norm = 'nothing'")
    assert listing.exit_code == 0 and listing.stdout == ""
    assert listing.stderr == "no runs match the filter in experiment 'tiny'\n"  # not pandas' repr


NO_STORE = "no tracker store in ./mlruns; cd to your project, or set TRACKER_STORE or MLFLOW_TRACKING_URI"


def test_read_only_commands_in_a_folder_with_no_store_make_none(tmp_path):
    for args in (["experiments"], ["runs"], ["runs", "--experiment", "x", "--format", "json"], ["models", "list"],
                 ["show", "0" * 32], ["models", "show", "m"], ["models", "register", "0" * 32],
                 ["compare", "--experiment", "x", "--filter", "params.norm = 'batch'"]):
        assert one_line(cli(*args)) == f"error: {NO_STORE}\n", args
    for args in (["compare", "--experiment", "x"], ["compare", "--experiment", "x", "--format", "json"]):
        assert one_line(cli(*args)) == f"error: experiment 'x' not found: {NO_STORE}\n"
    env = {k: v for k, v in os.environ.items() if k != "TRACKER_STORE"}  # the default, ./mlruns
    for args in (["experiments"], ["models", "list"]):
        out = subprocess.run([sys.executable, "-m", "tracker.cli", *args], env=env, capture_output=True, text=True)
        assert (out.returncode, out.stdout, out.stderr) == (2, "", f"error: {NO_STORE}\n")
    assert list(tmp_path.iterdir()) == []  # no ./mlruns, no mlflow.db, no lock file

    store_client().search_experiments()  # a store made (as a first `tracker train` would), empty
    assert cli("experiments").stderr.startswith("no experiments at sqlite:///")
    listed = cli("models", "list")
    assert listed.exit_code == 0 and listed.stdout == ""
    assert listed.stderr.startswith("no registered models at sqlite:///") and "Empty DataFrame" not in listed.stderr
    assert one_line(cli("compare", "--experiment", "x")).startswith("error: experiment 'x' not found at sqlite:///")


def test_runs_without_an_experiment_and_the_experiments_list(tiny):
    for exp in ("first", "second"):
        assert cli("train", *sets({**tiny, "epochs": 1, "experiment": exp})).exit_code == 0
    listing = cli("experiments", "--format", "json")
    rows = {r["experiment"]: r for r in json.loads(listing.stdout)}
    assert rows["first"]["runs"] == rows["second"]["runs"] == 1
    runs = json.loads(cli("runs", "--format", "json").stdout)  # no --experiment: every experiment
    assert sorted(r["experiment"] for r in runs) == ["first", "second"]
    assert all(r["seed"] == 1 and r["epochs"] == 1 for r in runs)  # numbers, not strings
    assert 0 <= runs[0]["test_acc_best"] <= 1 and 0 <= runs[0]["test_acc"] <= 1  # json: fractions


def test_set_on_a_grid_key_is_refused_and_train_says_which_point(tmp_path, mnist_dir):
    path = tmp_path / "grid.toml"
    path.write_text(GRID.format(data=mnist_dir))
    err = one_line(cli("sweep", str(path), "--set", "norm=layer", "--dry-run"))
    assert "norm is a [grid] key of grid.toml (group, batch)" in err and "tracker train" in err
    dry = cli("sweep", str(path), "--dry-run")
    assert dry.stdout.splitlines()[0].endswith("4 runs over norm, seed")
    plain = tmp_path / "plain.toml"
    plain.write_text(GRID.format(data=mnist_dir).split("[grid]")[0])
    assert "1 run (no [grid] in plain.toml)" in cli("sweep", str(plain), "--dry-run").stdout

    result = cli("train", str(path), "--set", "norm=batch")
    assert result.exit_code == 0, result.output
    assert ("note: grid.toml has a [grid] of 4 runs; this is one of them: norm=batch (--set), "
            "seed=3 (the grid's first)") in result.stderr
    (run,) = all_runs()
    assert (run.data.params["norm"], run.data.params["seed"]) == ("batch", "3")


def test_offline_with_the_server_down_does_not_wait(tiny):
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"http://127.0.0.1:{free_port()}", "TRACKER_OUTAGE_WAIT": "600"}
    proc = subprocess.run([sys.executable, "-m", "tracker.cli", "train", "--offline",
                           *sets({**tiny, "epochs": 1})], env=env,
                          capture_output=True, text=True, timeout=240)  # 600 s of waiting would fail here
    assert proc.returncode == 0, proc.stderr
    assert "trained; its tracking calls wait for `tracker sync`" in proc.stdout
    assert "waiting" not in proc.stderr.lower()
    sync = subprocess.run([sys.executable, "-m", "tracker.cli", "sync"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert sync.returncode == 2 and "still unreachable" in sync.stderr and "--offline" not in sync.stderr


def test_an_output_that_cannot_be_written_is_one_line_before_any_work(tmp_path):
    (tmp_path / "file").write_text("x")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    cases = [(["compare", "--experiment", "none", "--output", "/proc/x/t.md"], "the folder '/proc/x' does not exist"),
             (["compare", "--experiment", "none", "--plot", "/proc/x/p.png"], "the folder '/proc/x' does not exist"),
             (["compare", "--experiment", "none", "--output", str(tmp_path)], "is a folder"),
             (["report", "--experiment", "none", "--output", "/proc/x/r"], "cannot write in '/proc'"),
             (["report", "--experiment", "none", "--output", str(tmp_path / "file" / "r")], "is a file"),
             (["compare", "--experiment", "none", "--output", "/proc/t.md"], "cannot write in '/proc'")]
    if os.geteuid() != 0:  # root writes anywhere: a read-only folder stops only other users
        cases.append((["report", "--experiment", "none", "--output", str(locked / "r")], "cannot write in"))
    for args, words in cases:
        err = one_line(cli(*args))
        assert words in err and "none" not in err, (args, err)  # refused before the experiment is looked up
    assert not (tmp_path / "mlruns").exists()  # nothing was opened


def test_a_log_file_gets_a_line_per_epoch_not_progress_bars(tiny, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "TRACKER_PROGRESS"}  # not forced either way
    log = tmp_path / "log"
    with open(log, "w") as out:
        done = subprocess.Popen([sys.executable, "-m", "tracker.cli", "train", *sets({**tiny, "epochs": 2})],
                                env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        done.wait(timeout=300)
    text = log.read_text()
    assert done.returncode == 0, text
    ps = subprocess.run(["ps", "-eo", "pgid=,stat="], capture_output=True, text=True).stdout.split("\n")
    assert not [line for line in ps if line.split() and line.split()[0] == str(done.pid)
                and not line.split()[1].startswith("Z")]  # nothing of its group outlives it (figures drawn)
    assert "\r" not in text and "it/s" not in text  # no tqdm frames in a file
    assert [line.split(":")[0] for line in text.splitlines() if line.startswith("epoch ")] == ["epoch 1/2", "epoch 2/2"]
