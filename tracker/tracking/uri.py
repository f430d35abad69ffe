"""Where the runs go, and whether it answers. No mlflow here.

    MLFLOW_TRACKING_URI=http://127.0.0.1:5000 tracker runs
"""
from __future__ import annotations

import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from ..errors import NoStore, TrackingError, Unreachable
from ..settings import STORE_ENV, URI_ENV, embedded_uri, sqlite_path, store_db, store_root, tracking_uri

__all__ = ["local_uri", "is_local", "redact", "check_reachable", "server_up", "wait_up", "no_store",
           "check_store"]


def is_local(uri: str) -> bool:
    return not uri.startswith(("http://", "https://", "databricks"))


def local_uri() -> str:
    """The tracking URI, with the embedded store's folder made when it is the one in use."""
    uri = tracking_uri()
    if uri == embedded_uri():
        store_root().mkdir(parents=True, exist_ok=True)
    return uri


def _shown(path: Path) -> str:
    """A path as the user would type it: ./mlruns under the current folder, else absolute."""
    try:
        rel = path.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return str(path)
    return "." if str(rel) == "." else f"./{rel.as_posix()}"


def no_store(db: Path) -> str:
    """The one line for a SQLite store that does not exist: where it was looked for, and how
    to point tracker at the right one."""
    if db.resolve() == store_db().resolve():
        return (f"no tracker store in {_shown(store_root())}; cd to your project, or set {STORE_ENV} "
                f"or {URI_ENV}")
    return f"no tracker store at {_shown(db)} ({URI_ENV}); cd to your project, or set {URI_ENV} to your store"


def check_store(uri: str) -> None:
    """A command that only reads refuses a SQLite store that does not exist (NoStore), rather
    than create an empty one where the user happens to be."""
    db = sqlite_path(uri)
    if db is not None and not db.exists():
        raise NoStore(no_store(db))


def redact(uri: str) -> str:
    """Drop a password from user:password@host."""
    scheme, sep, rest = uri.partition("://")
    if sep and "@" in rest.split("/")[0]:
        creds, _, host = rest.partition("@")
        return f"{scheme}://{creds.split(':')[0]}:***@{host}"
    return uri


def check_reachable(uri: str, timeout: float = 5.0) -> None:
    if is_local(uri):
        return
    try:
        with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=timeout):
            pass
    except urllib.error.HTTPError:
        return  # it answered; auth or routing is the server's business
    except (OSError, ValueError) as e:
        raise Unreachable(f"tracking server {redact(uri)} is unreachable ({e.__class__.__name__}); "
                            f"start it (tracker server), unset {URI_ENV}, or train "
                            f"--offline to buffer the run on disk") from None


def wait_up(seconds: float, what: str) -> bool:
    """A server that is down is waited for, up to `seconds` (polled every 5 s), before `what`;
    the embedded store is always up. False when it stayed down."""
    uri = tracking_uri()
    if is_local(uri) or server_up(uri):
        return True
    print(f"tracking server {redact(uri)} is unreachable: waiting up to {seconds:.0f} s before {what}",
          file=sys.stderr, flush=True)
    deadline = time.time() + seconds
    while time.time() < deadline:
        time.sleep(min(5.0, max(0.0, deadline - time.time())))
        if server_up(uri):
            return True
    return False


def server_up(uri: str, timeout: float = 2.0) -> bool:
    try:
        check_reachable(uri, timeout)
        return True
    except TrackingError:
        return False
