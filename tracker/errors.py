"""The errors a user sees: each one line on stderr and exit code 2, with no traceback (the
CLI's group turns them into that). Every module raises these, never prints its own.

    tracker train --set lr=inf     # error: config key 'lr': must be a finite number, got inf
"""
from __future__ import annotations


class UserError(Exception):
    """Bad input: the CLI prints the one-line message and exits 2, with no traceback."""


class ConfigError(UserError, ValueError):
    """A bad config value; the message is one line naming the key."""


class DataError(UserError):
    """A dataset that cannot be found or fetched; the message names the files expected."""


class CheckpointError(UserError):
    """A checkpoint that is missing, truncated or not tracker's."""


class TrackingError(UserError):
    """The tracking store cannot do what was asked. Every MLflow error becomes one of these at
    the tracking package's edge."""


class NoStore(TrackingError):
    """A command that only reads found no store where the runs would be (a folder with no
    ./mlruns): it says where it looked, and makes none."""


class Unreachable(TrackingError):
    """No answer from the tracking server (a refused or timed-out connection), as opposed to an
    answer that says no: a caller may wait and try again, and must not report "not found"."""


class NoRunsMatch(TrackingError):
    """A selection (an experiment, a sweep's children, a filter) in which no run counts yet: the
    first look of an adaptive sweep, a parent run with nothing to show yet."""


class RegistryError(TrackingError):
    """A model name, alias or version the registry refuses or does not have."""


class RunLost(UserError):
    """A run's Ray worker died more often than Ray retries; the run is KILLED, resumable."""


def unknown_key(what: str, key: str, known, aliases: dict[str, str] | None = None) -> str:
    """The line for a key that does not exist: the nearest known one ("did you mean 'epochs'?"),
    or the one `aliases` gives for a name other tools use, else every known key."""
    import difflib

    known = list(known)
    alias = (aliases or {}).get(key)
    near = [alias] if alias in known else difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    hint = f"did you mean '{near[0]}'?" if near else f"known keys: {', '.join(known)}"
    return f"unknown {what} '{key}'; {hint}"
