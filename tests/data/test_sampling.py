"""Exact frame indices of training clips, test clips and SSv2 segments."""

import pytest

from video3d.data import sampling


def test_frame_step_scales_sampling_rate_by_fps_over_target_fps():
    assert sampling.frame_step(4, 30, 30) == 4.0
    assert sampling.frame_step(2, 60, 30) == 4.0
    assert sampling.frame_step(4, 25, 30) == pytest.approx(10 / 3)


def test_train_clip_at_start_and_end_of_slack():
    assert sampling.train_clip_indices(300, 16, 4.0, 0.0) == list(range(0, 61, 4))
    # slack = 299 - 60 = 239; u = 0.5 starts at 119.5, rounded half up
    assert sampling.train_clip_indices(300, 16, 4.0, 0.5) == [120 + 4 * k for k in range(16)]
    last = sampling.train_clip_indices(300, 16, 4.0, 1.0)
    assert last[-1] == 299 and last[0] == 239


def test_train_clip_at_25_fps_uses_fractional_step():
    assert sampling.train_clip_indices(100, 4, 10 / 3, 0.0) == [0, 3, 7, 10]


def test_short_video_repeats_last_frame():
    assert sampling.train_clip_indices(10, 4, 4.0, 0.7) == [0, 4, 8, 9]
    assert sampling.train_clip_indices(1, 3, 4.0, 0.3) == [0, 0, 0]


def test_multiview_clips_span_start_to_end():
    assert sampling.multiview_clip_starts(100, 4, 4.0, 3) == [0.0, 43.5, 87.0]
    clips = sampling.multiview_clip_indices(100, 4, 4.0, 3)
    assert clips[0] == [0, 4, 8, 12]
    assert clips[1] == [44, 48, 52, 56]
    assert clips[2] == [87, 91, 95, 99]


def test_single_test_clip_is_centred():
    assert sampling.multiview_clip_starts(100, 4, 4.0, 1) == [43.5]


def test_multiview_clips_of_short_video_all_start_at_zero():
    assert sampling.multiview_clip_indices(6, 4, 2.0, 2) == [[0, 2, 4, 5], [0, 2, 4, 5]]


def test_segment_bounds_cut_video_into_equal_parts():
    assert sampling.segment_bounds(9, 4) == [(0, 2), (2, 4), (4, 6), (6, 8)]
    assert sampling.segment_bounds(3, 4) == [(0, 1), (1, 1), (1, 2), (2, 2)]


def test_segment_indices_by_position():
    assert sampling.segment_indices(9, [0.0] * 4) == [0, 2, 4, 6]
    assert sampling.segment_indices(9, [0.5] * 4) == [1, 3, 5, 7]
    assert sampling.segment_indices(9, [0.999] * 4) == [2, 4, 6, 8]


def test_segment_view_positions_spread_clips_inside_segments():
    assert sampling.segment_view_positions(2, 0, 1) == [0.5, 0.5]
    assert sampling.segment_view_positions(3, 1, 2) == [0.75, 0.75, 0.75]
