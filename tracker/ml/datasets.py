"""The datasets tracker knows: name, torchvision class, shape, classes, files, statistics.

Every other module reads these facts from here.

    tracker summary --set dataset=cifar10 --set arch=s8
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Dataset:
    name: str  # the config value
    torchvision: str  # the torchvision.datasets class that reads (and downloads) it
    folder: str  # where torchvision keeps the files, under data_dir
    files: tuple[str, ...]
    shape: tuple[int, int, int]  # C x H x W of one image
    mean: tuple[float, ...]
    std: tuple[float, ...]
    classes: tuple[str, ...]
    sizes: tuple[int, int]  # train, test images of the full dataset

    @property
    def stored_shape(self) -> tuple[int, ...]:
        """One image as the dataset stores it, which is what a served model takes (uint8,
        0-255): H x W for one channel (MNIST's IDX files, torchvision's `.data`), H x W x C
        for colour (CIFAR-10's `.data`, as torchvision and Keras give it)."""
        c, h, w = self.shape
        return (h, w) if c == 1 else (h, w, c)

    def split_files(self, train: bool) -> tuple[str, ...]:
        """The files one split reads: MNIST's t10k-* and CIFAR-10's test_batch are the test
        split; CIFAR-10's batches.meta (the class names) serves both."""
        return tuple(f for f in self.files
                     if f == "batches.meta" or f.startswith(("t10k", "test_batch")) != train)


_IDX = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
_DIGITS = tuple(str(i) for i in range(10))

DATASETS = {d.name: d for d in (
    Dataset("mnist", "MNIST", "MNIST/raw", _IDX, (1, 28, 28), (0.1307,), (0.3081,), _DIGITS,
            (60000, 10000)),
    Dataset("fashion_mnist", "FashionMNIST", "FashionMNIST/raw", _IDX, (1, 28, 28), (0.2860,),
            (0.3530,), ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                        "Sneaker", "Bag", "Ankle boot"), (60000, 10000)),
    Dataset("cifar10", "CIFAR10", "cifar-10-batches-py",
            ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5",
             "test_batch", "batches.meta"), (3, 32, 32), (0.4914, 0.4822, 0.4465),
            (0.2470, 0.2435, 0.2616), ("airplane", "automobile", "bird", "cat", "deer", "dog",
                                       "frog", "horse", "ship", "truck"), (50000, 10000)),
)}
NAMES = tuple(DATASETS)
NUM_CLASSES = 10  # every dataset above has ten
