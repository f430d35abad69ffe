"""Datasets as in-memory uint8 tensors, normalized and augmented per batch.

    tracker train --set dataset=mnist --data-dir ../shared/datasets
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import torch

from ..errors import DataError
from ..settings import DATA_ENV
from .datasets import DATASETS


# test batches: as fast as 1000 on CPU here, and a third of the extra memory (benchmarks/README.md)
EVAL_BATCH = 256


@dataclass
class Split:
    images: torch.Tensor  # uint8, N x C x H x W
    labels: torch.Tensor  # int64, N

    def __len__(self) -> int:
        return len(self.labels)


def _torchvision_class(name: str):
    from torchvision import datasets

    return getattr(datasets, DATASETS[name].torchvision)


def _open(name: str, root: Path, train: bool, download: bool):
    cls = _torchvision_class(name)
    try:
        return cls(str(root), train=train, download=False)
    except RuntimeError:
        if not download:
            raise
    return cls(str(root), train=train, download=True)


def _read_idx(root: Path, name: str, train: bool) -> tuple[np.ndarray, np.ndarray] | None:
    """The split's images and labels straight from its IDX files, the bytes torchvision's MNIST
    classes read (without importing torchvision: 2 s of a run's start); None when a file is
    missing or damaged (torchvision's path then downloads it, or says what is wrong)."""
    meta = DATASETS[name]
    files = [root / meta.folder / f for f in meta.split_files(train)]
    if not all("idx" in f.name for f in files) or not all(f.is_file() and _idx_problem(f) is None for f in files):
        return None
    images, labels = (_idx_array(f) for f in sorted(files, key=lambda f: "labels" in f.name))
    return (images, labels) if images.ndim == 3 and labels.ndim == 1 and len(images) == len(labels) else None


def _idx_array(path: Path) -> np.ndarray:
    with open(path, "rb") as f:
        nd = f.read(4)[3]
        dims = [int.from_bytes(f.read(4), "big") for _ in range(nd)]
        return np.fromfile(f, dtype=np.uint8).reshape(dims)


def load_split(name: str, data_dir: str | os.PathLike, train: bool, download: bool = True,
               limit: int = 0) -> Split:
    """One split, kept as uint8 NCHW: MNIST-like IDX files read directly when they are there,
    else through torchvision's own dataset class (which downloads them)."""
    root = Path(data_dir).expanduser()
    meta = DATASETS[name]
    found = _read_idx(root, name, train)
    if found is not None:
        images, labels = nchw(torch.from_numpy(found[0])), torch.from_numpy(found[1].astype(np.int64))
        if limit:
            images, labels = images[:limit], labels[:limit]
        return Split(images.contiguous(), labels)
    made = _missing_folders(root / meta.folder)
    try:
        ds = _open(name, root, train, download)
    except Exception as e:  # offline download, corrupted files, unreadable dir
        _remove_empty(made)  # a failed download leaves no empty MNIST/raw behind
        damaged(name, root)  # a file that is there but broken is named, not reported missing
        hint = "it could not be downloaded" if download else "download = false"
        raise DataError(
            f"dataset {name} not found under {root / meta.folder}: expected {', '.join(meta.files)} "
            f"({hint}: {str(e).splitlines()[0][:120] if str(e) else e.__class__.__name__}); "
            f"point --data-dir or {DATA_ENV} at the folder that holds {meta.folder.split('/')[0]}") from None
    images = nchw(torch.as_tensor(np.asarray(ds.data)))
    labels = torch.as_tensor(np.asarray(ds.targets), dtype=torch.int64)
    if limit:
        images, labels = images[:limit], labels[:limit]
    return Split(images.contiguous(), labels)


def _missing_folders(folder: Path) -> list[Path]:
    """The folders on the way to `folder` that do not exist yet, deepest first."""
    out = []
    while not folder.exists() and folder != folder.parent:
        out.append(folder)
        folder = folder.parent
    return out


def _remove_empty(folders: list[Path]) -> None:
    for folder in folders:  # deepest first; one that holds anything stays
        try:
            folder.rmdir()
        except OSError:
            return


def damaged(name: str, root: Path) -> None:
    """Raise DataError naming the first dataset file that is there but damaged, and what is
    wrong with it: an IDX file whose size is not what its header says, a CIFAR batch that does
    not unpickle."""
    meta = DATASETS[name]
    for fname in meta.files:
        path = root / meta.folder / fname
        if not path.is_file():
            continue
        problem = _idx_problem(path) if "idx" in fname else _pickle_problem(path)
        if problem:
            raise DataError(f"dataset {name}: file {path} is damaged: {problem}; delete it to "
                            "download it again, or replace it")


def _idx_problem(path: Path) -> str | None:
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(16)
    if len(head) < 4 or head[0] != 0 or head[1] != 0 or head[2] != 0x08 or not 1 <= head[3] <= 3:
        return "it does not start with an IDX header of unsigned bytes"
    nd = head[3]
    if len(head) < 4 + 4 * nd:
        return f"it ends inside its header ({size} bytes)"
    dims = [int.from_bytes(head[4 + 4 * i:8 + 4 * i], "big") for i in range(nd)]
    expected = 4 + 4 * nd + int(np.prod(dims))
    if size != expected:
        return (f"its header says {' x '.join(map(str, dims))} bytes ({expected:,} in all), "
                f"but it has {size:,} (truncated or altered)")
    return None


def _pickle_problem(path: Path) -> str | None:
    import pickle

    try:
        with open(path, "rb") as f:
            pickle.load(f, encoding="latin1")
    except Exception as e:
        return f"it does not unpickle ({e.__class__.__name__}: {str(e)[:80]})"
    return None


def split_val(split: Split, fraction: float, seed: int) -> tuple[Split, Split]:
    """(train, val): `fraction` of each class held out, drawn with a generator seeded by `seed`,
    so the same seed holds out the same images; both parts keep the original order."""
    gen = torch.Generator().manual_seed(seed)
    held = []
    for c in torch.unique(split.labels):
        idx = (split.labels == c).nonzero().flatten()
        held.append(idx[torch.randperm(len(idx), generator=gen)[:round(len(idx) * fraction)]])
    keep = torch.ones(len(split), dtype=torch.bool)
    keep[torch.cat(held)] = False
    return (Split(split.images[keep].contiguous(), split.labels[keep]),
            Split(split.images[~keep].contiguous(), split.labels[~keep]))


def to_device(t: torch.Tensor, device: torch.device) -> torch.Tensor:
    """A CPU tensor on `device`: to a GPU from pinned memory without blocking (a copy from
    pageable memory waits for the GPU), to MPS by a plain copy (a non-blocking one may read
    its source after it is freed)."""
    if device.type == "cuda":
        return t.pin_memory().to(device, non_blocking=True)
    return t.to(device)


def nchw(images: torch.Tensor) -> torch.Tensor:
    """Images as their dataset stores them (N x H x W, or N x H x W x C: Dataset.stored_shape)
    as N x C x H x W."""
    return images.unsqueeze(1) if images.ndim == 3 else images.permute(0, 3, 1, 2)


def stored(images: torch.Tensor) -> torch.Tensor:
    """N x C x H x W images as their dataset stores them: nchw's inverse."""
    return images.squeeze(1) if images.shape[1] == 1 else images.permute(0, 2, 3, 1)


def pixel_stats(dataset: str, device: torch.device | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The dataset's normalization on 0-255 pixels: its mean and std x 255, 1 x C x 1 x 1."""
    meta = DATASETS[dataset]
    shape = (1, len(meta.mean), 1, 1)
    return (torch.tensor(meta.mean, device=device).view(shape) * 255,
            torch.tensor(meta.std, device=device).view(shape) * 255)


def on_host(augment: str) -> bool:
    """The albumentations pipeline works per image on the CPU: its training split stays there."""
    return augment == "albumentations"


class Batches:
    """Shuffled, normalized, optionally augmented batches from a Split on one device.

    The order and the augmentation draw from `generator`, a CPU generator (the same numbers on
    every device), so saving its state saves the data order. The split lives on the device,
    except with the albumentations pipeline, which works per image on the CPU: there it stays
    in host memory and each augmented batch is copied to the device once.
    """

    def __init__(self, split: Split, dataset: str, batch_size: int, device: torch.device,
                 shuffle: bool = False, augment: str = "none", seed: int = 0,
                 channels_last: bool = False):
        home = torch.device("cpu") if on_host(augment) else device
        self.images = split.images.to(home)
        self.labels = split.labels.to(home)
        self.batch_size, self.shuffle, self.device = batch_size, shuffle, device
        self.mean, self.std = pixel_stats(dataset, device)
        self.generator = torch.Generator().manual_seed(seed)
        self.augment = augment
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self._album = _albumentations(seed) if augment == "albumentations" else None

    def __len__(self) -> int:
        return -(-len(self.labels) // self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n = len(self.labels)
        order = torch.randperm(n, generator=self.generator) if self.shuffle else torch.arange(n)
        order = to_device(order, self.images.device)
        for i in range(0, n, self.batch_size):
            idx = order[i:i + self.batch_size]
            x, y = self.images[idx], self.labels[idx]
            if self._album is not None:  # on the CPU, then one copy of the batch
                x, y = to_device(self._album(x), self.device), to_device(y, self.device)
            x = x.float().sub_(self.mean).div_(self.std)
            if self.augment == "shift":
                x = random_shift(x, 2, self.generator)
            elif self.augment == "crop-flip":
                x = random_flip(random_shift(x, 4, self.generator), self.generator)
            yield x.contiguous(memory_format=self.memory_format), y


def random_shift(x: torch.Tensor, pad: int, gen: torch.Generator) -> torch.Tensor:
    """Translate each image by up to `pad` pixels, batched (zero padding = mean after normalizing):
    one gather from the padded batch's sliding windows."""
    n, _, h, w = x.shape
    windows = torch.nn.functional.pad(x, (pad, pad, pad, pad)).unfold(2, h, 1).unfold(3, w, 1)
    dy = to_device(torch.randint(0, 2 * pad + 1, (n,), generator=gen), x.device)
    dx = to_device(torch.randint(0, 2 * pad + 1, (n,), generator=gen), x.device)
    return windows[torch.arange(n, device=x.device), :, dy, dx]  # n, c, h, w


def random_flip(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Mirror each image left-right with probability 1/2: one gather along the width."""
    n, c, h, w = x.shape
    flip = to_device(torch.rand(n, generator=gen) < 0.5, x.device)
    cols = torch.arange(w, device=x.device)
    cols = torch.where(flip[:, None], cols.flip(0), cols)
    return x.gather(3, cols[:, None, None, :].expand(n, c, h, w))


def seed001_pipeline(seed: int):
    """Seed 001's albumentations pipeline, for uint8 HWC arrays."""
    import albumentations as A

    return A.Compose([
        A.HorizontalFlip(p=0.5),
        # ShiftScaleRotate(shift_limit=0.1, scale_limit=0.1, rotate_limit=15) as the seed wrote
        # it, spelled as the Affine it is (same ranges, border and interpolation)
        A.Affine(translate_percent={"x": (-0.1, 0.1), "y": (-0.1, 0.1)}, scale=(0.9, 1.1),
                 rotate=(-15, 15), shear=(0, 0), interpolation=1, border_mode=0, fill=0,
                 fit_output=False, keep_ratio=False, rotate_method="largest_box", p=0.5),
        A.CoarseDropout(num_holes_range=(1, 1), hole_height_range=(8, 8),
                        hole_width_range=(8, 8), fill=0, p=0.5),
    ], seed=seed)


def _albumentations(seed: int):
    """Seed 001's pipeline applied per image of a batch (numpy, no PIL)."""
    pipe = seed001_pipeline(seed)

    def apply(batch: torch.Tensor) -> torch.Tensor:
        arr = batch.permute(0, 2, 3, 1).numpy()  # Batches keeps this path's data on the CPU
        out = np.stack([pipe(image=img)["image"] for img in arr])
        return torch.from_numpy(out).permute(0, 3, 1, 2)

    return apply
