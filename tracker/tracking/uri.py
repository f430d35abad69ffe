"""Where the runs go, and whether it answers. No mlflow here.

    MLFLOW_TRACKING_URI=http://127.0.0.1:5000 tracker runs
"""
from __future__ import annotations

import sys
import time
import urllib.error
import urllib.request

from ..errors import TrackingError, Unreachable
from ..settings import URI_ENV, embedded_uri, store_root, tracking_uri

__all__ = ["local_uri", "is_local", "redact", "check_reachable", "server_up", "wait_up"]


def is_local(uri: str) -> bool:
    return not uri.startswith(("http://", "https://", "databricks"))


def local_uri() -> str:
    """The tracking URI, with the embedded store's folder made when it is the one in use."""
    uri = tracking_uri()
    if uri == embedded_uri():
        store_root().mkdir(parents=True, exist_ok=True)
    return uri


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
