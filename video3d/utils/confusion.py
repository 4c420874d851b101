"""Confusion matrix of a test run and its PNG (matplotlib Agg, no pyplot global state)."""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from video3d.utils.io import atomic_write

# Beyond this many classes tick labels overlap into a black bar; the matrix alone still shows
# where the mass sits (Kinetics-400 has 400 classes).
_MAX_LABELLED_CLASSES = 40
_MAX_COUNTED_CLASSES = 15  # video counts written in the cells up to this many classes


def confusion_matrix(preds: torch.Tensor, labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Counts `[K, K]`: row = true class, column = predicted class."""
    flat = labels.long() * num_classes + preds.long()
    return torch.bincount(flat, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def row_normalise(matrix: torch.Tensor) -> torch.Tensor:
    """Each row divided by its sum (per-class recall on the diagonal); empty rows stay 0."""
    totals = matrix.sum(dim=1, keepdim=True).clamp(min=1)
    return matrix.double() / totals


def relative_luminance(rgb: Sequence[float]) -> float:
    """WCAG 2 relative luminance of an sRGB colour with channels in [0, 1]."""
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast_ratio(first: float, second: float) -> float:
    """WCAG 2 contrast ratio of two relative luminances (1 to 21)."""
    light, dark = max(first, second), min(first, second)
    return (light + 0.05) / (dark + 0.05)


def text_colour(cell_rgb: Sequence[float]) -> str:
    """"black" or "white", whichever contrasts more with a cell of colour `cell_rgb`."""
    luminance = relative_luminance(cell_rgb)
    return "black" if contrast_ratio(luminance, 0.0) >= contrast_ratio(luminance, 1.0) else "white"


def save_confusion_matrix_png(
    matrix: torch.Tensor, path: str, class_names: Sequence[str] | None = None, title: str = ""
) -> None:
    """Plot the row-normalised `matrix` to `path` (written atomically), with the video counts in
    the cells when the classes are few."""
    num_classes = matrix.shape[0]
    labelled = num_classes <= _MAX_LABELLED_CLASSES
    side = min(12.0, 3.0 + 0.25 * num_classes) if labelled else 10.0
    figure = Figure(figsize=(side, side), dpi=80)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot(1, 1, 1)
    image = axes.imshow(row_normalise(matrix).numpy(), cmap="Blues", vmin=0.0, vmax=1.0)
    figure.colorbar(image, ax=axes, fraction=0.046, pad=0.04)
    axes.set_xlabel("predicted class")
    axes.set_ylabel("true class")
    axes.set_title(title or f"confusion matrix ({int(matrix.sum())} videos, rows normalised)")
    if num_classes <= _MAX_COUNTED_CLASSES:
        normalised = row_normalise(matrix)
        for (row, col), count in np.ndenumerate(matrix.numpy()):
            if count:
                colour = text_colour(image.cmap(image.norm(float(normalised[row, col])))[:3])
                axes.text(col, row, str(count), ha="center", va="center", fontsize=7, color=colour)
    if labelled:
        names = list(class_names) if class_names else [str(i) for i in range(num_classes)]
        axes.set_xticks(range(num_classes), names, rotation=90, fontsize=8)
        axes.set_yticks(range(num_classes), names, fontsize=8)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    with atomic_write(path, "wb") as handle:
        handle.write(buffer.getvalue())
