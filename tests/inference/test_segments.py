"""Windows -> segments: shares of the time line, merging by label, CSV and JSON."""

import csv
import io
import json

import pytest
import torch

from video3d.inference.scores import ClipScores
from video3d.inference.segments import (
    format_clock,
    label_durations,
    merge_segments,
    segments_csv,
    segments_document,
    segments_from_document,
    segments_from_windows,
    segments_json,
    window_shares,
)


def test_overlapping_windows_split_the_time_line_at_the_midpoints_of_their_centres():
    # windows of 2 s every 1 s: centres 1, 2, 3
    assert window_shares([0, 1, 2], [2, 3, 4]) == [(0, 1.5), (1.5, 2.5), (2.5, 4)]
    assert window_shares([0], [2]) == [(0, 2)]
    assert window_shares([], []) == []
    with pytest.raises(ValueError, match="must not decrease"):
        window_shares([2, 0], [4, 2])


def test_runs_of_one_label_merge_with_the_mean_of_that_labels_score():
    segments = merge_segments([0, 1, 2, 3, 4], [2, 3, 4, 5, 6], [1, 1, 0, 0, 1],
                              [0.5, 0.7, 0.9, 0.8, 0.6], names=["walk", "run"])
    assert [(s.start, s.end, s.label, s.class_index, s.windows) for s in segments] == [
        (0, 2.5, "run", 1, 2), (2.5, 4.5, "walk", 0, 2), (4.5, 6, "run", 1, 1)]
    assert [s.mean_score for s in segments] == pytest.approx([0.6, 0.85, 0.6])
    assert label_durations(segments) == {1: 4.0, 0: 2.0}
    # without names the class number is the label
    assert merge_segments([0], [1], [3], [0.2])[0].label == "3"
    with pytest.raises(ValueError, match="differ in length"):
        merge_segments([0], [1], [3, 3], [0.2])


def test_window_results_use_the_vote_and_its_score():
    class Window:
        def __init__(self, start, probs, pred):
            self.start_time, self.end_time = start, start + 1.0
            self.scores = ClipScores(torch.tensor(probs), pred)

    # the FFC vote (pred) may differ from the mean's top class: the vote labels the segment
    windows = [Window(0.0, [0.6, 0.4], 1), Window(0.5, [0.3, 0.7], 1)]
    (segment,) = segments_from_windows(windows, ["a", "b"])
    assert (segment.label, segment.start, segment.end) == ("b", 0.0, 1.5)
    assert segment.mean_score == pytest.approx(0.55)


def test_csv_and_json_carry_start_end_label_and_mean_score():
    segments = merge_segments([0, 1], [2, 3], [0, 1], [0.25, 0.75], ["a, quoted", "b"])
    rows = list(csv.DictReader(io.StringIO(segments_csv(segments))))
    assert [(r["start"], r["end"], r["label"], r["mean_score"]) for r in rows] == [
        ("0.000", "1.500", "a, quoted", "0.2500"), ("1.500", "3.000", "b", "0.7500")]
    document = json.loads(segments_json(segments, "v.mp4", 3.0))
    assert document["source"] == "v.mp4" and document["duration"] == 3.0
    assert document["segments"][1] == {"start": 1.5, "end": 3.0, "label": "b", "class": 1, "mean_score": 0.75,
                                       "windows": 1}
    assert segments_from_document(segments_document(segments)) == segments


def test_clock_format():
    assert [format_clock(s) for s in (0, 59.6, 61, 600, 3599, 3600, 3725)] == [
        "0:00", "1:00", "1:01", "10:00", "59:59", "1:00:00", "1:02:05"]
