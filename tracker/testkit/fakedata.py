"""Tiny datasets in torchvision's real on-disk formats, learnable on purpose.

Class k is a bright 6x6 square at a position that depends on k, plus noise, so a few
epochs of a small net separate the classes and accuracy assertions mean something.
"""
from __future__ import annotations

import pickle
import struct
from pathlib import Path

import numpy as np


def images(n: int, hw: int, channels: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 10
    rng.shuffle(labels)
    x = rng.integers(0, 60, size=(n, hw, hw, channels), dtype=np.uint8)
    for i, k in enumerate(labels):
        r, c = 3 + (k // 5) * 12, 2 + (k % 5) * 5
        x[i, r:r + 6, c:c + 6, :] = 255
    return x, labels.astype(np.uint8)


def _idx(path: Path, arr: np.ndarray) -> None:
    """IDX: magic (0, 0, dtype 0x08 = ubyte, ndim), big-endian dims, raw bytes."""
    with open(path, "wb") as f:
        f.write(struct.pack(">BBBB", 0, 0, 0x08, arr.ndim))
        f.write(struct.pack(f">{arr.ndim}I", *arr.shape))
        f.write(arr.astype(np.uint8).tobytes())


def write_mnist(root: Path, folder: str = "MNIST", n_train: int = 600, n_test: int = 200) -> Path:
    raw = Path(root) / folder / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for split, n, seed in (("train", n_train, 0), ("t10k", n_test, 1)):
        x, y = images(n, 28, 1, seed)
        _idx(raw / f"{split}-images-idx3-ubyte", x[..., 0])
        _idx(raw / f"{split}-labels-idx1-ubyte", y)
    return Path(root)


def write_cifar10(root: Path, per_batch: int = 100, n_test: int = 100) -> dict[str, str]:
    """CIFAR-10 python pickles; returns {filename: md5} for torchvision's integrity check."""
    import hashlib

    base = Path(root) / "cifar-10-batches-py"
    base.mkdir(parents=True, exist_ok=True)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    md5 = {}
    for i, name in enumerate(names):
        x, y = images(n_test if name == "test_batch" else per_batch, 32, 3, seed=10 + i)
        data = x.transpose(0, 3, 1, 2).reshape(len(x), -1)  # rows of R, G, B planes
        with open(base / name, "wb") as f:
            pickle.dump({"data": data, "labels": y.astype(int).tolist()}, f)
    with open(base / "batches.meta", "wb") as f:
        pickle.dump({"label_names": ["airplane", "automobile", "bird", "cat", "deer", "dog",
                                     "frog", "horse", "ship", "truck"]}, f)
    for name in names + ["batches.meta"]:
        md5[name] = hashlib.md5((base / name).read_bytes()).hexdigest()
    return md5


def real_subset(source: Path, root: Path, n_train: int = 2000, n_test: int = 500) -> Path:
    """The first images of a real MNIST (source holds MNIST/raw), as IDX files with their counts
    rewritten: real digits, small enough for a test."""
    raw = Path(root) / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for split, n in (("train", n_train), ("t10k", n_test)):
        for kind, header, size in (("images-idx3", 16, 784), ("labels-idx1", 8, 1)):
            data = (Path(source) / "MNIST" / "raw" / f"{split}-{kind}-ubyte").read_bytes()
            head = bytearray(data[:header])
            head[4:8] = struct.pack(">I", n)
            (raw / f"{split}-{kind}-ubyte").write_bytes(bytes(head) + data[header:header + n * size])
    return Path(root)

