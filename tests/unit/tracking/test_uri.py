"""Where the store is looked for, and the line a read-only command gives when it is not there."""
import pytest

from tracker.errors import NoStore
from tracker.tracking.uri import check_store, no_store
from tracker.settings import embedded_uri, store_db

HINT = "cd to your project, or set TRACKER_STORE or MLFLOW_TRACKING_URI"


def test_a_missing_embedded_store_is_named_as_the_user_would_type_it(tmp_path, monkeypatch):
    monkeypatch.delenv("TRACKER_STORE")
    with pytest.raises(NoStore) as e:
        check_store(embedded_uri())
    assert str(e.value) == f"no tracker store in ./mlruns; {HINT}"
    monkeypatch.setenv("TRACKER_STORE", "runs/here")
    assert no_store(store_db()) == f"no tracker store in ./runs/here; {HINT}"
    elsewhere = tmp_path.parent / "elsewhere-store"
    monkeypatch.setenv("TRACKER_STORE", str(elsewhere))
    assert no_store(store_db()) == f"no tracker store in {elsewhere}; {HINT}"
    assert not (tmp_path / "mlruns").exists() and not (tmp_path / "runs").exists()  # looked, made nothing


def test_a_store_that_exists_passes_and_a_server_is_not_looked_for(tmp_path):
    db = store_db()
    db.parent.mkdir()
    db.write_bytes(b"")
    check_store(embedded_uri())
    check_store("http://127.0.0.1:1")  # a server's store is the server's business


def test_a_missing_sqlite_uri_names_the_file_and_the_variable(tmp_path):
    with pytest.raises(NoStore) as e:
        check_store(f"sqlite:///{tmp_path}/other/mlflow.db")
    assert str(e.value) == ("no tracker store at ./other/mlflow.db (MLFLOW_TRACKING_URI); cd to your project, "
                            "or set MLFLOW_TRACKING_URI to your store")
