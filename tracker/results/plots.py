"""Figures as matplotlib Figures (no display): a run's curves, the curves of each condition
across seeds, a confusion matrix and a gallery of misclassified images.

    tracker compare --experiment mnist-demo --plot curves.png
"""
from __future__ import annotations

from matplotlib.figure import Figure  # not pyplot: no GUI, no global registry of open figures
from matplotlib.ticker import MaxNLocator

from .. import names


def curves(history: dict[str, list[float]], title: str):
    """One figure: accuracy and loss per epoch, train and test."""
    fig = Figure(figsize=(10, 4))
    acc, loss = fig.subplots(1, 2)
    epochs = range(1, len(history["test_acc"]) + 1)
    for split in ("train", "test"):
        acc.plot(epochs, history[f"{split}_acc"], marker="o", label=split)
        loss.plot(epochs, history[f"{split}_loss"], marker="o", label=split)
    acc.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
    loss.set(xlabel="epoch", ylabel="loss", title="loss")
    for ax in (acc, loss):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs: no 0.96-1.04 ticks
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def condition_curves(series: dict[str, list[dict[str, list[float]]]], level: float | None = None):
    """Test accuracy and loss per epoch, one line per condition (the mean across its runs) in its
    band: per_epoch.band at `level` (default: the default study's)."""
    from .per_epoch import DEFAULT_LEVEL, band

    level = DEFAULT_LEVEL if level is None else level
    fig = Figure(figsize=(11, 4))
    axes = fig.subplots(1, 2)
    for label, runs in series.items():
        for ax, key in zip(axes, names.CURVES):
            b = band(runs, key, level)
            epochs = range(1, len(b["mean"]) + 1)
            ax.plot(epochs, b["mean"], marker="o", label=f"{label} (n={len(runs)})")
            ax.fill_between(epochs, b["ci_low"], b["ci_high"], alpha=0.2)
    for ax, title in zip(axes, ("test accuracy", "test loss")):
        ax.set(xlabel="epoch", title=f"{title} (mean and its {level * 100:g}% interval across runs)")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    return fig


def confusion(matrix, classes: tuple[str, ...]):
    fig = Figure(figsize=(7, 6))
    ax = fig.subplots()
    im = ax.imshow(matrix, cmap="Blues")
    ax.set(xticks=range(len(classes)), yticks=range(len(classes)), xlabel="predicted",
           ylabel="true", title="confusion matrix")
    ax.set_xticklabels(classes, rotation=45, ha="right")
    ax.set_yticklabels(classes)
    for i in range(len(classes)):
        for j in range(len(classes)):
            ax.text(j, i, int(matrix[i][j]), ha="center", va="center", fontsize=7,
                    color="white" if matrix[i][j] > matrix.max() / 2 else "black")
    fig.colorbar(im)
    fig.tight_layout()
    return fig


def gallery(images, predicted, true, classes: tuple[str, ...], cols: int = 5):
    """Misclassified images with predicted and true labels (seed 002), uint8 N x C x H x W."""
    import numpy as np

    n = len(images)
    rows = max(1, -(-n // cols))
    fig = Figure(figsize=(2 * cols, 2.3 * rows))
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, img, p, t in zip(axes.flat, images, predicted, true):
        img = np.asarray(img).transpose(1, 2, 0)  # uint8 C x H x W -> H x W x C
        ax.imshow(img[..., 0] if img.shape[-1] == 1 else img, cmap="gray")
        ax.set_title(f"pred {classes[p]}\ntrue {classes[t]}", fontsize=8, color="crimson")
    fig.tight_layout()
    return fig
