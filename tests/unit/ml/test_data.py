"""The real torchvision loaders read tiny files written in their real on-disk formats; the data
on its way to a device other than the CPU (the meta device, and fakes of a GPU's copies)."""
import subprocess
import sys

import numpy as np
import pytest
import torch
import torchvision

from tests.helpers import REAL_MNIST
from tracker.testkit.fakedata import images, write_cifar10, write_mnist
from tracker.errors import DataError
from tracker.ml import data
from tracker.ml.data import Batches, Split, load_split, random_flip, random_shift


def test_mnist_idx_files_load_as_uint8(mnist_dir):
    train = load_split("mnist", mnist_dir, train=True, download=False)
    test = load_split("mnist", mnist_dir, train=False, download=False)
    assert train.images.shape == (600, 1, 28, 28) and train.images.dtype == torch.uint8
    assert test.images.shape == (200, 1, 28, 28) and test.labels.dtype == torch.int64
    assert sorted(train.labels.unique().tolist()) == list(range(10))


@pytest.mark.parametrize("real", [False, True])
def test_idx_files_read_directly_hold_what_torchvision_reads(mnist_dir, real):
    root = REAL_MNIST if real else mnist_dir
    if real and not (root / "MNIST" / "raw").is_dir():
        pytest.skip("no real MNIST beside the repository (../shared/datasets)")
    for train in (True, False):
        ours = load_split("mnist", root, train=train, download=False)
        theirs = torchvision.datasets.MNIST(str(root), train=train, download=False)
        assert torch.equal(ours.images[:, 0], theirs.data) and torch.equal(ours.labels, theirs.targets)
        assert ours.labels.dtype == theirs.targets.dtype == torch.int64
    assert len(load_split("mnist", root, train=True, download=False, limit=100)) == 100


def test_reading_mnist_does_not_import_torchvision(mnist_dir):
    code = ("import sys; from tracker.ml.data import load_split; "
            f"s = load_split('mnist', {str(mnist_dir)!r}, train=True, download=False); "
            "print(len(s), 'torchvision' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["600", "False"]


def test_a_damaged_idx_file_still_goes_through_torchvision_and_is_named(mnist_dir, tmp_path):
    import shutil

    shutil.copytree(mnist_dir, tmp_path / "d")
    images = tmp_path / "d" / "MNIST" / "raw" / "t10k-images-idx3-ubyte"
    images.write_bytes(images.read_bytes()[:-10])
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte is damaged: its header says"):
        load_split("mnist", tmp_path / "d", train=False, download=False)


def test_fashion_mnist_uses_its_own_folder(tmp_path):
    write_mnist(tmp_path, folder="FashionMNIST", n_train=50, n_test=20)
    assert len(load_split("fashion_mnist", tmp_path, train=False, download=False)) == 20


def test_cifar10_pickles_load_nchw(tmp_path, monkeypatch):
    md5 = write_cifar10(tmp_path, per_batch=20, n_test=30)
    cls = torchvision.datasets.CIFAR10
    monkeypatch.setattr(cls, "train_list", [[f"data_batch_{i}", md5[f"data_batch_{i}"]] for i in range(1, 6)])
    monkeypatch.setattr(cls, "test_list", [["test_batch", md5["test_batch"]]])
    monkeypatch.setitem(cls.meta, "md5", md5["batches.meta"])
    train = load_split("cifar10", tmp_path, train=True, download=False)
    assert train.images.shape == (100, 3, 32, 32) and train.images.dtype == torch.uint8
    x, y = images(20, 32, 3, seed=10)  # what write_cifar10 put in data_batch_1
    assert torch.equal(train.images[:20], torch.from_numpy(x).permute(0, 3, 1, 2))
    assert train.labels[:20].tolist() == y.tolist()


def test_missing_dataset_names_the_expected_files(tmp_path):
    with pytest.raises(DataError) as err:
        load_split("mnist", tmp_path / "nowhere", train=True, download=False)
    msg = str(err.value)
    assert "nowhere/MNIST/raw" in msg and "train-images-idx3-ubyte" in msg and "\n" not in msg


def test_batches_normalize_per_batch_and_keep_order_seeded(mnist_dir):
    split = load_split("mnist", mnist_dir, train=True, download=False)
    a = Batches(split, "mnist", 64, torch.device("cpu"), shuffle=True, seed=3)
    b = Batches(split, "mnist", 64, torch.device("cpu"), shuffle=True, seed=3)
    xa, ya = next(iter(a))
    xb, yb = next(iter(b))
    assert torch.equal(xa, xb) and torch.equal(ya, yb)
    assert xa.dtype == torch.float32 and len(a) == 10
    expected = (split.images[:1].float() / 255 - 0.1307) / 0.3081
    plain = next(iter(Batches(split, "mnist", 1, torch.device("cpu"))))[0]
    assert torch.allclose(plain, expected, atol=1e-5)


@pytest.mark.parametrize("augment", ["shift", "crop-flip", "albumentations"])
def test_augmentations_keep_shape_and_change_pixels(mnist_dir, augment):
    split = load_split("mnist", mnist_dir, train=True, download=False)
    if augment == "albumentations":  # seed 001's pipeline works on 3-channel images
        split.images = split.images.repeat(1, 3, 1, 1)
    plain = Batches(split, "mnist" if augment != "albumentations" else "cifar10", 128, torch.device("cpu"))
    aug = Batches(split, plain_name(augment), 128, torch.device("cpu"), augment=augment, seed=1)
    x0, y0 = next(iter(plain))
    x1, y1 = next(iter(aug))
    assert x0.shape == x1.shape and torch.equal(y0, y1)
    changed = (x0 != x1).flatten(1).any(1).float().mean().item()
    assert 0.2 < changed <= 1.0


def plain_name(augment):
    return "cifar10" if augment == "albumentations" else "mnist"


def test_batched_shift_and_flip_match_a_per_image_reference():
    x = torch.randn(16, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    pad = 2
    ref_gen = torch.Generator().manual_seed(5)
    dy = torch.randint(0, 2 * pad + 1, (16,), generator=ref_gen)
    dx = torch.randint(0, 2 * pad + 1, (16,), generator=ref_gen)
    flips = torch.rand(16, generator=ref_gen) < 0.5
    padded = torch.nn.functional.pad(x, (pad, pad, pad, pad))
    shifted = torch.stack([padded[i, :, dy[i]:dy[i] + 8, dx[i]:dx[i] + 8] for i in range(16)])
    expected = torch.stack([s.flip(-1) if f else s for s, f in zip(shifted, flips)])
    gen = torch.Generator().manual_seed(5)
    out = random_flip(random_shift(x, pad, gen), gen)
    assert 0 < flips.sum() < 16 and (dy != pad).any()  # the draw really shifts and flips
    assert torch.equal(out, expected)


def test_seed001_pipeline_is_the_seeds_shift_scale_rotate():
    """Affine with the same ranges draws and transforms exactly as the deprecated ShiftScaleRotate."""
    import albumentations as A

    from tracker.ml.data import seed001_pipeline

    with pytest.warns(UserWarning, match="ShiftScaleRotate"):
        old = A.Compose([
            A.HorizontalFlip(p=0.5),
            A.ShiftScaleRotate(shift_limit=0.1, scale_limit=0.1, rotate_limit=15, p=0.5),
            A.CoarseDropout(num_holes_range=(1, 1), hole_height_range=(8, 8),
                            hole_width_range=(8, 8), fill=0, p=0.5)], seed=7)
    new = seed001_pipeline(7)
    images = np.random.default_rng(0).integers(0, 256, (40, 32, 32, 3), dtype=np.uint8)
    moved = 0
    for img in images:
        a, b = old(image=img)["image"], new(image=img)["image"]
        assert np.array_equal(a, b)
        moved += not np.array_equal(a, img)
    assert moved > 10  # the pipeline does transform


# -- the data on its way to the device ----------------------------------------------------------

def test_copies_to_a_gpu_are_pinned_and_to_mps_plain(monkeypatch):
    copies = []

    def pin(self):
        pinned = self.clone()
        pinned.pinned_here = True
        return pinned

    monkeypatch.setattr(torch.Tensor, "pin_memory", pin)
    monkeypatch.setattr(torch.Tensor, "to", lambda self, d, non_blocking=False: copies.append(
        (getattr(self, "pinned_here", False), str(d), non_blocking)) or self)
    data.to_device(torch.arange(4), torch.device("cuda", 1))
    data.to_device(torch.arange(4), torch.device("mps"))
    assert copies == [(True, "cuda:1", True), (False, "mps", False)]


def _split(n=40, channels=3, size=32):
    gen = torch.Generator().manual_seed(0)
    return Split(torch.randint(0, 256, (n, channels, size, size), dtype=torch.uint8, generator=gen),
                 torch.randint(0, 10, (n,), generator=gen))


def test_an_epoch_makes_no_non_blocking_copy_from_pageable_memory(monkeypatch):
    unpinned = []
    real = torch.Tensor.to

    def spy(self, *args, **kwargs):
        if kwargs.get("non_blocking") and self.device.type == "cpu" and not self.is_pinned():
            unpinned.append(tuple(self.shape))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(torch.Tensor, "to", spy)
    meta = torch.device("meta")  # a device other than the CPU, without a GPU
    batches = Batches(_split(), "cifar10", 16, meta, shuffle=True, augment="crop-flip", seed=1)
    shapes = [(tuple(x.shape), x.device.type, y.device.type) for x, y in batches]
    assert shapes == [((16, 3, 32, 32), "meta", "meta")] * 2 + [((8, 3, 32, 32), "meta", "meta")]
    assert unpinned == []


def test_albumentations_keeps_the_split_on_the_cpu_and_sends_each_batch_once():
    meta = torch.device("meta")
    batches = Batches(_split(), "cifar10", 16, meta, shuffle=True, augment="albumentations", seed=1)
    assert batches.images.device.type == "cpu" and batches.labels.device.type == "cpu"
    x, y = next(iter(batches))
    assert (x.device.type, y.device.type, x.dtype, tuple(x.shape)) == ("meta", "meta", torch.float32, (16, 3, 32, 32))
    plain = Batches(_split(), "cifar10", 16, meta)
    assert plain.images.device.type == "meta"  # every other path keeps the split on the device
