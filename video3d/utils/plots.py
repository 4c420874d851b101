"""PNG pictures of a run, drawn with matplotlib's Agg canvas (no display, no pyplot state)
and written atomically."""

from __future__ import annotations

from collections.abc import Sequence

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from video3d.utils.io import atomic_write


def _series(history: Sequence[dict], key: str) -> tuple[list[int], list[float]]:
    points = [(row["epoch"], row[key]) for row in history if row.get(key) is not None]
    return [p[0] for p in points], [p[1] for p in points]


def plot_training_curves(history: Sequence[dict], path: str) -> str:
    """Loss, learning rate and top-1 accuracy per epoch from records like
    {"epoch": 3, "lr": 0.1, "train_loss": 1.2, "train_top1_err": 40.0, "val_loss": ..., "val_top1_err": ...}."""
    figure = Figure(figsize=(12, 3.6), dpi=100)
    FigureCanvasAgg(figure)
    loss_ax, lr_ax, acc_ax = figure.subplots(1, 3)
    for key, label in (("train_loss", "train"), ("val_loss", "val (1 centre view)")):
        epochs, values = _series(history, key)
        if epochs:
            loss_ax.plot(epochs, values, marker="o", label=label)
    loss_ax.set(title="loss", xlabel="epoch")
    epochs, values = _series(history, "lr")
    lr_ax.plot(epochs, values, marker="o")
    lr_ax.set(title="learning rate (end of epoch)", xlabel="epoch")
    for key, label in (("train_top1_err", "train"), ("val_top1_err", "val (1 centre view)")):
        epochs, values = _series(history, key)
        if epochs:
            acc_ax.plot(epochs, [100.0 - v for v in values], marker="o", label=label)
    acc_ax.set(title="top-1 accuracy (%)", xlabel="epoch")
    for axis in (loss_ax, acc_ax):
        if axis.get_legend_handles_labels()[0]:
            axis.legend()
    for axis in (loss_ax, lr_ax, acc_ax):
        axis.grid(alpha=0.3)
    figure.tight_layout()
    with atomic_write(path, "wb") as handle:
        figure.savefig(handle, format="png")
    return path
