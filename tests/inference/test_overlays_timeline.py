"""Labels drawn at any frame size, the grid's row titles, and the long-video timeline."""

import numpy as np
import pytest
from PIL import Image

from video3d.inference.annotate import MIN_TEXT_PX, draw_lines, fit_width, label_lines
from video3d.inference.segments import merge_segments
from video3d.inference.timeline import plot_timeline, row_length, shown_classes
from video3d.visualize.render import grid_figure

LINES = label_lines([("rotate_counterclockwise", 0.93), ("move_left", 0.03), ("grow", 0.02), ("shrink", 0.01),
                     ("move_up", 0.0)], ("rotate_counterclockwise", 5, 7))


def _box(height, width):
    """Rows and columns of the darkened label box on a light grey frame."""
    out = draw_lines(np.full((height, width, 3), 200, np.uint8), LINES)
    dark = out.astype(int).sum(axis=-1) < 300
    changed = (out != 200).any(axis=-1)
    return int(np.where(dark.any(axis=1))[0].max()) + 1, int(np.where(dark.any(axis=0))[0].max()) + 1, changed


def test_the_label_box_scales_with_the_frame_and_stays_in_its_corner():
    rows, cols, changed = _box(144, 176)  # a phone clip: was half the picture with 9 px text
    assert rows <= 0.35 * 144 and cols <= 0.6 * 176
    assert not changed[rows + 1:].any() and not changed[:, cols + 1:].any()
    big_rows, big_cols, _ = _box(720, 1280)
    assert big_rows <= 0.35 * 720 and big_cols <= 0.6 * 1280
    assert big_rows > 3.5 * rows  # bigger text and all six lines on 720p, fewer lines on 144p
    portrait_rows, portrait_cols, _ = _box(1280, 720)  # a phone held upright: text as on 720p landscape
    assert portrait_rows == big_rows and portrait_cols <= 0.6 * 720


def test_long_names_are_shortened_but_keep_their_score():
    short = fit_width("rotate_counterclockwise 0.93", 0.3, 1, 60)
    assert short.endswith(".. 0.93") and short.startswith("rot") and len(short) < 20
    assert fit_width("grow 0.93", 0.3, 1, 200) == "grow 0.93"
    assert MIN_TEXT_PX >= 9


def test_grid_row_titles_are_not_cut_at_the_left_edge():
    rows = [np.zeros((4, 16, 16, 3), np.uint8)] * 2
    titles = ["3 rotate_counterclockwise (flipped)\nA_VERY_LONG_VIDEO_IDENTIFIER_OF_A_CLIP.mp4", "0 grow\nv.mp4"]
    figure = grid_figure(rows, titles)
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    lefts = [figure.axes[r * 4].yaxis.label.get_window_extent(renderer).x0 for r in range(2)]
    assert min(lefts) >= 0


def test_rows_are_round_lengths_past_three_minutes():
    assert row_length(90) == 90 and row_length(180) == 180
    assert [row_length(s) for s in (181, 360, 600, 3600, 10 * 3600)] == [60, 60, 120, 600, 7200]


def test_a_ten_minute_timeline_has_rows_and_colours_the_classes_that_cover_most_time(tmp_path):
    rng = np.random.default_rng(0)
    starts = np.arange(1200) * 0.5
    labels = np.repeat(rng.integers(0, 8, 60), 20)
    probs = rng.dirichlet(np.ones(8), 1200) * 0.3
    probs[np.arange(1200), labels] += 0.7
    segments = merge_segments(starts, starts + 1, labels, probs[np.arange(1200), labels])
    shown = shown_classes(segments, probs, 5)  # the top five by time covered
    totals = {k: sum(s.duration for s in segments if s.class_index == k) for k in range(8)}
    assert shown == sorted(totals, key=lambda k: -totals[k])[:5]
    path = tmp_path / "timeline.png"
    assert plot_timeline(starts + 0.5, probs, [f"c{k}" for k in range(8)], str(path), segments,
                         duration=600.5, count=5) == shown
    width, height = Image.open(path).size
    assert width == 1100 and height == pytest.approx(100 * (0.3 + 0.2 * 2 + 0.35 + 1.55 * 5), abs=2)  # five 2-min rows


def test_grad_cam_video_panels_carry_their_title_and_frame_number():
    from video3d.visualize.explain import labelled

    frames = np.full((2, 192, 192, 3), 200, np.uint8)
    out = labelled(frames, "Out1 grow 0.83", [12, 14])
    changed = (out != frames).any(axis=-1)
    assert changed[:, :40, :100].any(axis=(1, 2)).all() and not changed[:, 100:, :].any()
    assert (out[0] != out[1]).any()  # "frame 12" and "frame 14" differ
