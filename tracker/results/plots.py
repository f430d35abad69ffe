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
    epochs = range(1, len(history[names.TEST_ACC]) + 1)
    for split, (acc_key, loss_key) in (("train", (names.TRAIN_ACC, names.TRAIN_LOSS)),
                                       ("test", (names.TEST_ACC, names.TEST_LOSS))):
        acc.plot(epochs, history[acc_key], marker="o", label=split)
        loss.plot(epochs, history[loss_key], marker="o", label=split)
    acc.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
    loss.set(xlabel="epoch", ylabel="loss", title="loss")
    for ax in (acc, loss):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs: no 0.96-1.04 ticks
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def condition_curves(series: dict[str, list[dict[str, list[float]]]], keys: tuple[str, ...],
                     confidence: float, bounds: dict[str, tuple[float, float]] | None = None):
    """Each of `keys` per step, one line per condition: the mean across its seeds and a band of
    its t interval at `confidence` (per_epoch.bands, as on the sweep's parent run)."""
    from .per_epoch import bands

    fig = Figure(figsize=(5.5 * len(keys), 4))
    axes = fig.subplots(1, len(keys), squeeze=False)[0]
    for label, runs in series.items():
        for ax, key in zip(axes, keys):
            band = bands(runs, key, confidence, (bounds or {}).get(key))
            steps = range(1, len(band["mean"]) + 1)
            ax.plot(steps, band["mean"], marker="o", label=f"{label} (n={len(runs)})")
            ax.fill_between(steps, band["ci_low"], band["ci_high"], alpha=0.2)
    for ax, key in zip(axes, keys):
        ax.set(xlabel="epoch", title=f"{key} (mean, {confidence:.0%} interval across seeds)")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    return fig


def tuning(points: dict[str, list[tuple[dict, float, bool]]], keys: tuple[str, ...], log: dict[str, bool]):
    """Each trial's validation accuracy against each tuned key, one colour per condition (a
    pruned trial hollow, at the accuracy it had when it was stopped)."""
    fig = Figure(figsize=(5.5 * len(keys), 4))
    axes = fig.subplots(1, len(keys), squeeze=False)[0]
    for n, (label, trials) in enumerate(points.items()):
        colour = f"C{n}"
        for ax, key in zip(axes, keys):
            for pruned in (False, True):
                xs = [float(p[key]) for p, _, pr in trials if pr == pruned and key in p]
                ys = [acc for p, acc, pr in trials if pr == pruned and key in p]
                ax.scatter(xs, ys, s=30, edgecolors=colour, facecolors="none" if pruned else colour,
                           label=f"{label}{' (pruned)' if pruned else ''}" if xs else None)
    for ax, key in zip(axes, keys):
        if log.get(key):
            ax.set_xscale("log")
        ax.set(xlabel=key, ylabel="validation accuracy", title=f"trials: validation accuracy vs {key}")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
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
