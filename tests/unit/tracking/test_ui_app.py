"""The page `tracker server` serves: MLflow's own index.html with one script first in its head,
which stores the model-training view under the UI's key where the browser has no choice yet."""
import json
import re
from pathlib import Path

import mlflow.server

from tracker.tracking import ui_app
from tracker.tracking.server import VIEW


def test_the_script_runs_before_the_bundle_and_stores_the_view_only_when_unset():
    index = (Path(mlflow.server.__file__).parent / "js" / "build" / "index.html").read_text()
    page = ui_app.page(index)
    assert page.replace(ui_app.SCRIPT, "", 1) == index  # nothing else changes
    assert page.index(ui_app.SCRIPT) < page.index("static/js/main.")  # before MLflow's bundle
    key, stored = re.search(r'localStorage\.setItem\(("[^"]+"),("(?:\\.|[^"])*")\)', ui_app.SCRIPT).groups()
    assert json.loads(key) == "mlflow.workflowType_v1" and json.loads(json.loads(stored)) == VIEW
    assert f"localStorage.getItem({key})===null" in ui_app.SCRIPT  # a user's choice stays


def test_the_installed_ui_reads_that_key():
    """MLflow's bundle keeps the view under useLocalStorage({key, version}) as KEY_vVERSION: an
    MLflow that renames it fails here, not silently in the browser."""
    (bundle,) = (Path(mlflow.server.__file__).parent / "js" / "build" / "static" / "js").glob("main.*.js")
    name, version = ui_app.VIEW_KEY.rsplit("_v", 1)
    assert f'key:"{name}",version:{version}' in bundle.read_text()
