"""`tracker server`'s command: MLflow's server as tracker's mlflow.app where the install declares
it (pyproject.toml's entry point, which must name ui_app's factory), plain otherwise."""
import tomllib
from pathlib import Path

from tracker.tracking import server

PYPROJECT = Path(__file__).resolve().parents[3] / "pyproject.toml"


def test_the_entry_point_names_the_apps_factory():
    declared = tomllib.loads(PYPROJECT.read_text())["project"]["entry-points"]["mlflow.app"]
    module, name = declared[server.APP].split(":")
    assert (module, name) == ("tracker.tracking.ui_app", "create_app")


def test_the_command_runs_the_app_only_where_it_is_installed(monkeypatch):
    monkeypatch.setattr(server, "app_installed", lambda: True)
    cmd = server.mlflow_command("127.0.0.1", 5000, None, None, 2, "uvicorn")
    assert cmd[cmd.index("--app-name") + 1] == server.APP
    monkeypatch.setattr(server, "app_installed", lambda: False)
    assert "--app-name" not in server.mlflow_command("127.0.0.1", 5000, None, None, 2, "uvicorn")
