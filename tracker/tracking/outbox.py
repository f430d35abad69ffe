"""A durable, ordered buffer of tracking calls for while the server is unreachable.

Each call is one JSON line, fsynced, in <store>/outbox/<run_id>.jsonl. Replaying sends them in
order with their original steps and timestamps, and drops each line once it is sent.

    tracker sync
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Callable, Iterator

from ..settings import store_root


def folder() -> Path:
    return store_root() / "outbox"


class Outbox:
    """Keyed by the local run id; `target()` is the run's id on the server, which differs only
    for a run started --offline (the server gives it an id when its `create` is replayed)."""

    def __init__(self, run_id: str):
        self.key = run_id
        self.path = folder() / f"{run_id}.jsonl"
        self.id_path = folder() / f"{run_id}.server-id"

    def target(self) -> str:
        return self.id_path.read_text().strip() if self.id_path.exists() else self.key

    def set_target(self, server_id: str) -> None:
        tmp = self.id_path.with_suffix(".tmp")
        tmp.write_text(server_id)
        os.replace(tmp, self.id_path)

    def pending(self) -> int:
        if not self.path.exists():
            return 0
        with open(self.path) as f:
            return sum(1 for line in f if line.strip())

    def append(self, op: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a") as f:
            f.write(json.dumps(op) + "\n")
            f.flush()
            os.fsync(f.fileno())

    def ops(self) -> Iterator[dict]:
        if self.path.exists():
            with open(self.path) as f:
                for line in f:
                    if line.strip():
                        yield json.loads(line)

    def replay(self, send: Callable[[dict], None]) -> int:
        """Send every op in order; stop at the first failure, keeping it and the rest."""
        ops = list(self.ops())
        for i, op in enumerate(ops):
            try:
                send(op)
            except BaseException:
                self._rewrite(ops[i:])
                raise
        self.path.unlink(missing_ok=True)
        self.id_path.unlink(missing_ok=True)
        return len(ops)

    def _rewrite(self, ops: list[dict]) -> None:
        tmp = self.path.with_suffix(".tmp")
        with open(tmp, "w") as f:
            f.writelines(json.dumps(op) + "\n" for op in ops)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)


def waiting() -> list[str]:
    """Run ids with buffered calls."""
    return sorted(p.stem for p in folder().glob("*.jsonl")) if folder().exists() else []
