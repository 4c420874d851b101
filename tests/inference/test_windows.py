"""Window arithmetic of the long-video demo, with exact values."""

import pytest

from video3d.inference.windows import WindowPlan, default_stride, nearest_window


def test_window_spans_num_frames_times_sampling_rate_and_reads_every_step():
    plan = WindowPlan(num_frames=8, step=2.0, stride=8)
    assert plan.span == 16
    assert plan.offsets() == [0, 2, 4, 6, 8, 10, 12, 14]
    assert plan.indices(8) == [8, 10, 12, 14, 16, 18, 20, 22]


def test_default_stride_is_half_a_window():
    assert default_stride(8, 2.0) == 8
    assert default_stride(16, 4.0) == 32
    assert default_stride(1, 1.0) == 1


def test_a_regular_window_is_ready_on_its_last_frame_only():
    plan = WindowPlan(8, 2.0, 8)
    ready = {f: plan.start_ready_at(f) for f in range(40) if plan.start_ready_at(f) is not None}
    assert ready == {15: 0, 23: 8, 31: 16, 39: 24}


def test_tail_window_ends_on_the_last_frame_when_regular_windows_miss_it():
    plan = WindowPlan(8, 2.0, 8)
    assert plan.tail_start(num_frames_seen=20, last_regular_start=0) == 4
    assert plan.tail_start(num_frames_seen=24, last_regular_start=8) is None  # 8..23 reaches the end
    assert plan.tail_start(num_frames_seen=10, last_regular_start=None) == 0  # shorter than a window
    assert plan.tail_start(num_frames_seen=0, last_regular_start=None) is None


def test_short_stream_window_repeats_the_last_frame():
    assert WindowPlan(4, 2.0, 4).indices(0, last_frame=4) == [0, 2, 4, 4]


def test_step_follows_the_source_rate_with_rounding():
    plan = WindowPlan(4, 2.5, 5)  # SAMPLING_RATE 2 at 30 fps read from a 37.5 fps source
    assert plan.span == 10
    assert plan.offsets() == [0, 3, 5, 8]


def test_nearest_window_prefers_the_closer_centre_and_the_earlier_on_ties():
    centres = [7.5, 15.5, 23.5]
    assert [nearest_window(f, centres) for f in (0, 11, 12, 19, 20, 40)] == [0, 0, 1, 1, 2, 2]
    assert nearest_window(11.5, centres) == 0


def test_bad_plan_is_refused():
    with pytest.raises(ValueError):
        WindowPlan(8, 2.0, 0)
