"""From sliding-window scores to segments a person reads: "0:12-0:47 grow (0.81)".

Windows overlap (the demo's default stride is half a window), so each window is first given
its own share of the video's time: from the midpoint with the previous window's centre to the
midpoint with the next one's (the first from its own start, the last to its own end). Runs of
consecutive windows with the same label (top-1, the vote for FFC models) are then merged into
one segment whose score is the mean of that label's score over the merged windows.

Used by the demo (segments.csv, segments.json, timeline.png) and by anything else that turns
windows into segments (pure functions of plain values; no model, no video).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass

SEGMENTS_CSV = "segments.csv"
SEGMENTS_JSON = "segments.json"
CSV_COLUMNS = ("start", "end", "label", "mean_score", "class", "windows")


@dataclass(frozen=True)
class Segment:
    """A stretch of video with one label: `start`/`end` in seconds, `label` the class name
    (its number when no names are known), `class_index` the class, `mean_score` the mean of
    that class's score over the `windows` windows merged into it."""

    start: float
    end: float
    label: str
    class_index: int
    mean_score: float
    windows: int

    @property
    def duration(self) -> float:
        return self.end - self.start

    def as_json(self) -> dict:
        return {"start": round(self.start, 3), "end": round(self.end, 3), "label": self.label,
                "class": self.class_index, "mean_score": round(self.mean_score, 4), "windows": self.windows}


def window_shares(starts: Sequence[float], ends: Sequence[float]) -> list[tuple[float, float]]:
    """Each window's own part of the time line, in seconds: windows with increasing centres
    split at the midpoints between neighbouring centres; the first share starts at the first
    window's start, the last ends at the last window's end. Shares touch and never overlap."""
    if len(starts) != len(ends):
        raise ValueError(f"{len(starts)} window starts but {len(ends)} ends")
    centres = [(a + b) / 2.0 for a, b in zip(starts, ends, strict=True)]
    if any(later < earlier for earlier, later in zip(centres, centres[1:], strict=False)):
        raise ValueError("window centres must not decrease")
    cuts = [(c0 + c1) / 2.0 for c0, c1 in zip(centres, centres[1:], strict=False)]
    lower = [min(starts[0], centres[0])] + cuts if centres else []
    upper = cuts + [max(ends[-1], centres[-1])] if centres else []
    return list(zip(lower, upper, strict=True))


def merge_segments(starts: Sequence[float], ends: Sequence[float], labels: Sequence[int],
                   label_scores: Sequence[float], names: Sequence[str] | None = None) -> list[Segment]:
    """Segments of consecutive windows with the same label. Window i spans
    [starts[i], ends[i]] seconds, has label `labels[i]` and that label's score `label_scores[i]`."""
    if not len(starts) == len(ends) == len(labels) == len(label_scores):
        raise ValueError(f"per-window lists differ in length: {len(starts)}, {len(ends)}, {len(labels)}, "
                         f"{len(label_scores)}")
    segments: list[Segment] = []
    run_start = 0
    shares = window_shares(starts, ends)
    for i in range(1, len(labels) + 1):
        if i < len(labels) and labels[i] == labels[run_start]:
            continue
        k = int(labels[run_start])
        scores = label_scores[run_start:i]
        name = names[k] if names and 0 <= k < len(names) else str(k)
        segments.append(Segment(shares[run_start][0], shares[i - 1][1], name, k,
                                float(sum(scores) / len(scores)), i - run_start))
        run_start = i
    return segments


def segments_from_windows(windows: Sequence, names: Sequence[str] | None = None) -> list[Segment]:
    """`merge_segments` of window results with `start_time`, `end_time` and `scores`
    (`video3d.inference.scores.ClipScores`: the label is `scores.pred`, the vote for FFC models)."""
    labels = [int(w.scores.pred) for w in windows]
    return merge_segments([w.start_time for w in windows], [w.end_time for w in windows], labels,
                          [float(w.scores.probs[k]) for w, k in zip(windows, labels, strict=True)], names)


def segments_csv(segments: Sequence[Segment]) -> str:
    """CSV text with a header row: start, end (seconds), label, mean_score, class, windows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for s in segments:
        writer.writerow([f"{s.start:.3f}", f"{s.end:.3f}", s.label, f"{s.mean_score:.4f}", s.class_index, s.windows])
    return buffer.getvalue()


def segments_document(segments: Sequence[Segment], source: str = "", duration: float | None = None) -> dict:
    """What segments.json holds: the source, its duration in seconds and the segments in order."""
    return {"source": source, "duration": round(duration if duration is not None else
                                                 (segments[-1].end if segments else 0.0), 3),
            "segments": [s.as_json() for s in segments]}


def segments_from_document(document: dict) -> list[Segment]:
    """The segments of a segments.json document (inverse of `segments_document`)."""
    return [Segment(float(s["start"]), float(s["end"]), str(s["label"]), int(s["class"]),
                    float(s["mean_score"]), int(s["windows"])) for s in document["segments"]]


def segments_json(segments: Sequence[Segment], source: str = "", duration: float | None = None) -> str:
    return json.dumps(segments_document(segments, source, duration), indent=1) + "\n"


def label_durations(segments: Sequence[Segment]) -> dict[int, float]:
    """Seconds covered by each class, largest first (the timeline shows the top ones)."""
    totals: dict[int, float] = {}
    for s in segments:
        totals[s.class_index] = totals.get(s.class_index, 0.0) + s.duration
    return dict(sorted(totals.items(), key=lambda item: (-item[1], item[0])))


def format_clock(seconds: float) -> str:
    """m:ss below an hour, h:mm:ss from an hour on (timeline axes and segment lists)."""
    whole = int(round(max(seconds, 0.0)))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"

