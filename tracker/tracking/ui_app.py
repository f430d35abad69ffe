"""The MLflow server app `tracker server` runs (`mlflow server --app-name tracker`, an `mlflow.app`
entry point of this package): MLflow's own app, whose UI opens an experiment on its runs table
rather than on the GenAI view.

Why an app: MLflow 3.17's UI picks the view from the link's `?workflowType=`, else from the
browser's localStorage key `mlflow.workflowType_v1` (WorkflowTypeProvider, in
server/js/build/static/js/main.*.js), else "genai". The experiment's `mlflow.experimentKind`
tag, which tracker sets, is read only where the UI's workflow switch is off, and in 3.17 the
flag that turns the switch on is a constant `() => true`; with it on, the experiment page takes
the kind from the view, not the tag, and opens Traces (GenAI) or Runs from it. Nothing the store
or the server's /server-info holds reaches that choice; a script on the page can. The page this
app serves stores "machine_learning" under that key when the browser has none, before MLflow's
bundle runs: a plain link to an experiment opens its runs table, and a choice made with the
sidebar's switch stays.

    tracker server --port 5000
"""
from __future__ import annotations

import json
from pathlib import Path

from flask import Flask, Response
from mlflow.environment_variables import _MLFLOW_SGI_NAME
from mlflow.server import app as mlflow_app

from .server import VIEW

VIEW_KEY = "mlflow.workflowType_v1"  # MLflow's useLocalStorage({key: "mlflow.workflowType", version: 1})
SCRIPT = (f"<script>try{{if(localStorage.getItem({json.dumps(VIEW_KEY)})===null)"
          f"localStorage.setItem({json.dumps(VIEW_KEY)},{json.dumps(json.dumps(VIEW))})}}catch(e){{}}</script>")


def page(index_html: str) -> str:
    """MLflow's index.html with the script first in its head (before the bundle's deferred script)."""
    return index_html.replace("<head>", "<head>" + SCRIPT, 1)


def create_app(app: Flask = mlflow_app):
    """MLflow's app with its UI page served through `page`: the FastAPI app under uvicorn (as
    `mlflow server` runs it), the Flask app under gunicorn or waitress."""
    serve = app.view_functions["serve"]  # MLflow's route for the UI page (index.html)
    index = Path(app.static_folder) / "index.html"

    def serve_page():
        if not index.exists():  # a source install without the built UI: MLflow's own answer
            return serve()
        return Response(page(index.read_text()), mimetype="text/html")

    app.view_functions["serve"] = serve_page
    if _MLFLOW_SGI_NAME.get() == "uvicorn":
        from mlflow.server.fastapi_app import create_fastapi_app

        return create_fastapi_app(app)
    return app
