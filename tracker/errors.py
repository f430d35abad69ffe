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
