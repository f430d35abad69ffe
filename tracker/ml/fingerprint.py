"""Which data a run read: each split's files on disk, hashed (sha256, once per process), as the
dataset inputs MLflow shows in the runs table's Dataset column.

    tracker train experiments/mnist-demo.toml --data-dir ../shared/datasets
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from .datasets import DATASETS

CHUNK = 1 << 20
_cache: dict[tuple, str] = {}


def files_sha256(folder: Path, files: tuple[str, ...]) -> str:
    """sha256 over the files' bytes, in the order given (a missing file hashes as its name)."""
    paths = [Path(folder) / f for f in files]
    key = tuple((str(p.resolve()), *((s.st_size, s.st_mtime_ns) if (s := _stat(p)) else ())) for p in paths)
    if key not in _cache:
        h = hashlib.sha256()
        for p in paths:
            h.update(p.name.encode() + b"\0")
            if p.is_file():
                with open(p, "rb") as f:
                    while chunk := f.read(CHUNK):
                        h.update(chunk)
        _cache[key] = h.hexdigest()
    return _cache[key]


def _stat(p: Path):
    try:
        return p.stat()
    except OSError:
        return None


def inputs(dataset: str, data_dir: str, sizes: tuple[int, int], limits: tuple[int, int]) -> list[dict]:
    """The train and test splits as dataset inputs (plain dicts: tracking/inputs.py makes them
    MLflow's). A split cut by train_limit/test_limit is named so: mnist[:2000]."""
    meta = DATASETS[dataset]
    folder = (Path(data_dir).expanduser() / meta.folder).resolve()
    out = []
    for context, train, n, limit in (("train", True, sizes[0], limits[0]), ("test", False, sizes[1], limits[1])):
        files = meta.split_files(train)
        sha = files_sha256(folder, files)
        out.append({"name": meta.name + (f"[:{n}]" if limit and n >= limit else ""), "digest": sha[:16],
                    "source": str(folder), "context": context, "shape": list(meta.shape),
                    "profile": {"images": n, "classes": len(meta.classes), "files": list(files),
                                "sha256": sha, "split": context}})
    return out
