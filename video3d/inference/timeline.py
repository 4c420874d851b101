"""timeline.png: what the model saw over the video's time, readable at any length.

Each row holds a colour band of the merged segments (`video3d.inference.segments`) over the
scores per window, with a time axis in m:ss. Only the classes that cover the most time (up to
eight) get a colour and a legend entry; the rest are drawn grey as "other". Up to three
minutes, one row shows the score of each of the top five classes; past that the time line
wraps over several rows of a fixed, round length (1, 2, 5, 10 ... minutes), so a 10-minute
video is five 2-minute rows instead of one solid band of colour, and each row shows one line:
the score of the window's own label (how sure the band is).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from video3d.inference.segments import Segment, format_clock, label_durations
from video3d.utils.io import atomic_write

SINGLE_ROW_SECONDS = 180.0  # up to 3 minutes on one row
ROW_LENGTHS = (60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0, 7200.0)
MAX_ROWS = 6
OTHER_COLOUR = (0.72, 0.72, 0.72)
LEGEND_COLUMNS = 5
BAND = 0.16  # the segment band's height above the score lines (scores span 0..1); taller on several rows


def row_length(duration: float) -> float:
    """Seconds per row: the whole video up to SINGLE_ROW_SECONDS, else the shortest round
    length that needs at most MAX_ROWS rows (the longest one past that, with more rows)."""
    if duration <= SINGLE_ROW_SECONDS:
        return max(duration, 1e-3)
    return next((length for length in ROW_LENGTHS if duration / length <= MAX_ROWS), ROW_LENGTHS[-1])


def top_classes(probs: np.ndarray, count: int) -> list[int]:
    """The `count` classes with the highest peak score over all windows [W, K], best first."""
    peaks = probs.max(axis=0)
    return [int(k) for k in np.argsort(-peaks, kind="stable")[:count]]


def shown_classes(segments: Sequence[Segment], probs: np.ndarray, count: int) -> list[int]:
    """The classes that cover the most time, then (if fewer) those that peak highest."""
    chosen = list(label_durations(segments))[:count]
    for k in top_classes(probs, probs.shape[1]):
        if len(chosen) >= count:
            break
        if k not in chosen:
            chosen.append(k)
    return chosen


def plot_timeline(times: Sequence[float], probs: np.ndarray, names: Sequence[str], path: str,
                  segments: Sequence[Segment], count: int = 8, title: str = "",
                  duration: float | None = None, lines: int = 5) -> list[int]:
    """Write the timeline of window-centre `times` (seconds) with scores [W, K] and the merged
    `segments` to `path` (PNG); returns the classes given a colour, most time first (`count`
    at most; one row: score lines of the first `lines` of them)."""
    classes = shown_classes(segments, probs, min(count, probs.shape[1]))
    palette = [tuple(c) for c in _colours(len(classes))]
    colour = dict(zip(classes, palette, strict=True))
    end = max(duration or 0.0, segments[-1].end if segments else 0.0, max(times, default=0.0))
    length = row_length(end)
    rows = max(1, int(np.ceil(end / length - 0.05)))  # a few seconds over stretch the last row
    legend_rows = -(-(len(classes) + 1) // LEGEND_COLUMNS)
    header = 0.3 + 0.2 * legend_rows  # inches: the title, then the legend under it
    height = header + 0.35 + 1.55 * rows
    figure = Figure(figsize=(11, height), dpi=100)
    FigureCanvasAgg(figure)
    axes = np.atleast_1d(figure.subplots(rows, 1, squeeze=False)[:, 0])
    times = np.asarray(times, dtype=float)
    label_score = probs[np.arange(len(times)), _window_labels(times, segments, probs)]
    band = BAND if rows == 1 else 2 * BAND  # on several rows the band is the main thing
    for r, axis in enumerate(axes):
        lo, hi = r * length, max((r + 1) * length, end if r == rows - 1 else 0.0)
        for s in segments:
            if s.end > lo and s.start < hi:
                axis.broken_barh([(s.start, s.duration)], (1.0, band), color=colour.get(s.class_index, OTHER_COLOUR),
                                 linewidth=0)
        inside = (times >= lo - length * 0.01) & (times <= hi + length * 0.01)  # lines run on to the edges
        if rows == 1:
            for k in classes[:lines]:
                axis.plot(times[inside], probs[inside, k], color=colour[k], linewidth=1.0,
                          marker="." if inside.sum() < 60 else None, markersize=3)
        else:
            axis.plot(times[inside], label_score[inside], color="black", linewidth=0.6)
        axis.set_xlim(lo, hi)
        axis.set_ylim(0.0, 1.0 + band)
        axis.set_yticks([0.0, 0.5, 1.0])
        axis.tick_params(labelsize=7)
        axis.grid(alpha=0.3)
        axis.xaxis.set_major_locator(MaxNLocator(nbins=12, steps=[1, 2, 3, 5, 6, 10]))
        axis.xaxis.set_major_formatter(FuncFormatter(lambda value, _: format_clock(value)))
        axis.set_ylabel("score", fontsize=7)
    axes[-1].set_xlabel("video time (m:ss); band: merged segments (top-1 label); "
                        + ("lines: scores of the top classes" if rows == 1 else "line: the score of the band's label"),
                        fontsize=8)
    handles = [axes[0].plot([], [], color=colour[k], linewidth=6)[0] for k in classes]
    labels = [names[k] if k < len(names) else str(k) for k in classes]
    if any(s.class_index not in colour for s in segments):
        handles.append(axes[0].plot([], [], color=OTHER_COLOUR, linewidth=6)[0])
        labels.append("other")
    figure.suptitle(title or "top classes over time", fontsize=9, x=0.01, y=1 - 0.08 / height, ha="left",
                    va="top")
    figure.legend(handles, labels, loc="upper left", bbox_to_anchor=(0.01, 1 - 0.28 / height), fontsize=8,
                  ncol=min(len(labels), LEGEND_COLUMNS), frameon=False, borderaxespad=0.0, handlelength=1.5)
    figure.tight_layout(rect=(0, 0, 1, 1 - header / height))
    with atomic_write(path, "wb") as handle:
        figure.savefig(handle, format="png")
    return classes


def _window_labels(times: np.ndarray, segments: Sequence[Segment], probs: np.ndarray) -> np.ndarray:
    """The label of the segment holding each window centre (the window's top class outside any)."""
    labels = probs.argmax(axis=1)
    for s in segments:
        labels[(times >= s.start) & (times < s.end)] = s.class_index
    return labels


def _colours(count: int) -> np.ndarray:
    from matplotlib import colormaps

    no_grey = [0, 1, 2, 3, 4, 5, 6, 8, 9]  # tab10's grey is "other"
    return colormaps["tab10"]([no_grey[i % len(no_grey)] for i in range(count)])[:, :3]
