"""Mp4Writer keeps each frame's time; the progress bar runs and closes."""

from fractions import Fraction

import av
import numpy as np
import pytest

from video3d.inference.progress import DemoProgress
from video3d.inference.video_writer import Mp4Writer


def _times(path):
    with av.open(str(path)) as container:
        return [float(f.time) for f in container.decode(video=0)]


def test_frame_times_are_kept_and_a_time_that_does_not_advance_moves_one_tick(tmp_path):
    image = np.zeros((16, 16, 3), np.uint8)
    with Mp4Writer(str(tmp_path / "a.mp4"), 30, 16, 16, time_base=Fraction(1, 1000)) as writer:
        for t in (0.0, 0.25, 0.25, 0.2, 0.9):
            writer.write(image, t)
    assert _times(tmp_path / "a.mp4") == pytest.approx([0.0, 0.25, 0.251, 0.252, 0.9])
    assert writer.end_time == pytest.approx(0.9 + 1 / 30)
    with Mp4Writer(str(tmp_path / "b.mp4"), 25, 16, 16) as writer:  # no times: frame i at i / fps
        for _ in range(3):
            writer.write(image)
    assert _times(tmp_path / "b.mp4") == pytest.approx([0.0, 0.04, 0.08])


def test_the_bar_counts_frames_on_stderr(capsys):
    progress = DemoProgress(bar=True)
    progress.start(10, 30.0)
    for frame in range(1, 11):
        progress.update(frame, frame // 4)
    assert progress._bar.n == 10 and progress._bar.total == 10
    progress.close()
    assert progress._bar is None and "demo:" in capsys.readouterr().err  # drawn on stderr, cleared at the end
