"""timeline.png: the scores of the top classes over the video's time."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from video3d.utils.io import atomic_write


def top_classes(probs: np.ndarray, count: int) -> list[int]:
    """The `count` classes with the highest peak score over all windows [W, K], best first."""
    peaks = probs.max(axis=0)
    return [int(k) for k in np.argsort(-peaks, kind="stable")[:count]]


def plot_timeline(times: Sequence[float], probs: np.ndarray, names: Sequence[str], path: str,
                  count: int = 5, title: str = "") -> list[int]:
    """Plot the scores [W, K] at window-centre `times` (seconds) of the `count` classes that
    peak highest; returns those classes."""
    classes = top_classes(probs, min(count, probs.shape[1]))
    figure = Figure(figsize=(10, 3.2), dpi=100)
    FigureCanvasAgg(figure)
    axis = figure.subplots()
    for k in classes:
        axis.plot(times, probs[:, k], marker="." if len(times) < 60 else None, label=names[k])
    axis.set(xlabel="video time (s)", ylabel="score", ylim=(0.0, 1.02), title=title or "top classes over time")
    axis.grid(alpha=0.3)
    axis.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize="small")
    figure.tight_layout()
    with atomic_write(path, "wb") as handle:
        figure.savefig(handle, format="png")
    return classes
