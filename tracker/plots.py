"""Accuracy and loss curves as PNG (matplotlib, no display)."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def curves(history: dict[str, list[float]], title: str):
    """One figure: accuracy and loss per epoch, train and test."""
    fig, (acc, loss) = plt.subplots(1, 2, figsize=(10, 4))
    epochs = range(1, len(history["test_acc"]) + 1)
    for split in ("train", "test"):
        acc.plot(epochs, history[f"{split}_acc"], marker="o", label=split)
        loss.plot(epochs, history[f"{split}_loss"], marker="o", label=split)
    acc.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
    loss.set(xlabel="epoch", ylabel="loss", title="loss")
    for ax in (acc, loss):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def condition_curves(series: dict[str, list[dict[str, list[float]]]]):
    """Test accuracy and loss per epoch, one line per condition, a band of ± one std across seeds."""
    import numpy as np

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for label, runs in series.items():
        for ax, key in zip(axes, ("test_acc", "test_loss")):
            length = min(len(r[key]) for r in runs)
            values = np.array([r[key][:length] for r in runs])
            epochs = np.arange(1, length + 1)
            mu, sd = values.mean(0), values.std(0, ddof=1) if len(runs) > 1 else np.zeros(length)
            ax.plot(epochs, mu, marker="o", label=f"{label} (n={len(runs)})")
            ax.fill_between(epochs, mu - sd, mu + sd, alpha=0.2)
    for ax, title in zip(axes, ("test accuracy", "test loss")):
        ax.set(xlabel="epoch", title=f"{title} (mean ± std across seeds)")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    return fig
