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

from .config import UserError


# test batches: as fast as 1000 on CPU here, and a third of the extra memory (benchmarks/README.md)
EVAL_BATCH = 256


class DataError(UserError):
    """A dataset that cannot be found or fetched; the message names the files expected."""


@dataclass(frozen=True)
class Meta:
    folder: str  # where torchvision keeps the files, under data_dir
    files: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    classes: tuple[str, ...]


_IDX = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
DIGITS = tuple(str(i) for i in range(10))
META = {
    "mnist": Meta("MNIST/raw", _IDX, (0.1307,), (0.3081,), DIGITS),
    "fashion_mnist": Meta("FashionMNIST/raw", _IDX, (0.2860,), (0.3530,),
                          ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
                           "Shirt", "Sneaker", "Bag", "Ankle boot")),
    "cifar10": Meta("cifar-10-batches-py",
                    ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4",
                     "data_batch_5", "test_batch", "batches.meta"),
                    (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616),
                    ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                     "ship", "truck")),
}


@dataclass
class Split:
    images: torch.Tensor  # uint8, N x C x H x W
    labels: torch.Tensor  # int64, N

    def __len__(self) -> int:
        return len(self.labels)


def _torchvision_class(name: str):
    from torchvision import datasets

    return {"mnist": datasets.MNIST, "fashion_mnist": datasets.FashionMNIST,
            "cifar10": datasets.CIFAR10}[name]


def _open(name: str, root: Path, train: bool, download: bool):
    cls = _torchvision_class(name)
    try:
        return cls(str(root), train=train, download=False)
    except RuntimeError:
        if not download:
            raise
    return cls(str(root), train=train, download=True)


def load_split(name: str, data_dir: str | os.PathLike, train: bool, download: bool = True,
               limit: int = 0) -> Split:
    """One split through torchvision's own dataset class, kept as uint8 NCHW."""
    root = Path(data_dir).expanduser()
    meta = META[name]
    try:
        ds = _open(name, root, train, download)
    except Exception as e:  # offline download, corrupted files, unreadable dir
        hint = "it could not be downloaded" if download else "download = false"
        raise DataError(
            f"dataset {name} not found under {root / meta.folder}: expected {', '.join(meta.files)} "
            f"({hint}: {str(e).splitlines()[0][:120] if str(e) else e.__class__.__name__}); "
            f"point --data-dir or TRACKER_DATA_DIR at the folder that holds {meta.folder.split('/')[0]}") from None
    images = torch.as_tensor(np.asarray(ds.data))
    images = images.unsqueeze(1) if images.ndim == 3 else images.permute(0, 3, 1, 2)
    labels = torch.as_tensor(np.asarray(ds.targets), dtype=torch.int64)
    if limit:
        images, labels = images[:limit], labels[:limit]
    return Split(images.contiguous(), labels)


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


class Batches:
    """Shuffled, normalized, optionally augmented batches from a Split on one device.

    The order comes from `generator`, so saving its state saves the data order.
    """

    def __init__(self, split: Split, name: str, batch_size: int, device: torch.device,
                 shuffle: bool = False, augment: str = "none", seed: int = 0,
                 channels_last: bool = False):
        self.images = split.images.to(device)
        self.labels = split.labels.to(device)
        self.batch_size, self.shuffle, self.device = batch_size, shuffle, device
        meta = META[name]
        shape = (1, len(meta.mean), 1, 1)
        self.mean = torch.tensor(meta.mean, device=device).view(shape) * 255
        self.std = torch.tensor(meta.std, device=device).view(shape) * 255
        self.generator = torch.Generator().manual_seed(seed)
        self.augment = augment
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self._album = _albumentations(seed) if augment == "albumentations" else None

    def __len__(self) -> int:
        return -(-len(self.labels) // self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n = len(self.labels)
        order = torch.randperm(n, generator=self.generator) if self.shuffle else torch.arange(n)
        order = order.to(self.device, non_blocking=True)
        for i in range(0, n, self.batch_size):
            idx = order[i:i + self.batch_size]
            x = self.images[idx]
            if self._album is not None:
                x = self._album(x)
            x = x.float().sub_(self.mean).div_(self.std)
            if self.augment == "shift":
                x = random_shift(x, 2, self.generator)
            elif self.augment == "crop-flip":
                x = random_flip(random_shift(x, 4, self.generator), self.generator)
            yield x.contiguous(memory_format=self.memory_format), self.labels[idx]


def random_shift(x: torch.Tensor, pad: int, gen: torch.Generator) -> torch.Tensor:
    """Translate each image by up to `pad` pixels, batched (zero padding = mean after normalizing):
    one gather from the padded batch's sliding windows."""
    n, _, h, w = x.shape
    windows = torch.nn.functional.pad(x, (pad, pad, pad, pad)).unfold(2, h, 1).unfold(3, w, 1)
    dy = torch.randint(0, 2 * pad + 1, (n,), generator=gen).to(x.device, non_blocking=True)
    dx = torch.randint(0, 2 * pad + 1, (n,), generator=gen).to(x.device, non_blocking=True)
    return windows[torch.arange(n, device=x.device), :, dy, dx]  # n, c, h, w


def random_flip(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Mirror each image left-right with probability 1/2: one gather along the width."""
    n, c, h, w = x.shape
    flip = (torch.rand(n, generator=gen) < 0.5).to(x.device, non_blocking=True)
    cols = torch.arange(w, device=x.device)
    cols = torch.where(flip[:, None], cols.flip(0), cols)
    return x.gather(3, cols[:, None, None, :].expand(n, c, h, w))


def seed001_pipeline(seed: int):
    """Seed 001's albumentations pipeline, for uint8 HWC arrays."""
    import albumentations as A

    return A.Compose([
        A.HorizontalFlip(p=0.5),
        A.ShiftScaleRotate(shift_limit=0.1, scale_limit=0.1, rotate_limit=15, p=0.5),
        A.CoarseDropout(num_holes_range=(1, 1), hole_height_range=(8, 8),
                        hole_width_range=(8, 8), fill=0, p=0.5),
    ], seed=seed)


def _albumentations(seed: int):
    """Seed 001's pipeline applied per image of a batch (numpy, no PIL)."""
    pipe = seed001_pipeline(seed)

    def apply(batch: torch.Tensor) -> torch.Tensor:
        arr = batch.permute(0, 2, 3, 1).cpu().numpy()
        out = np.stack([pipe(image=img)["image"] for img in arr])
        return torch.from_numpy(out).permute(0, 3, 1, 2).to(batch.device)

    return apply
