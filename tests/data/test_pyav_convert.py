"""The cached-reformatter conversion gives the pixels of PyAV's own to_ndarray, frame for frame."""

from __future__ import annotations

import multiprocessing
import threading
from pathlib import Path

import av
import numpy as np
import pytest

from tests.data.conftest import write_video
from video3d.data.pyav_convert import frame_to_ndarray

REAL = Path(__file__).parent / "real"


def _frames(path: str, limit: int = 12) -> list:
    with av.open(path) as container:
        return [frame for _, frame in zip(range(limit), container.decode(video=0), strict=False)]


@pytest.mark.parametrize("pixel_format", ["rgb24", "bgr24", "gray"])
def test_conversion_matches_to_ndarray_on_real_and_generated_videos_of_changing_sizes(tmp_path, pixel_format):
    small, large = str(tmp_path / "small.mp4"), str(tmp_path / "large.mp4")
    write_video(small, 6, 48, 64)
    write_video(large, 6, 96, 80)
    # one thread's reformatter goes from size to size and video to video
    frames = _frames(small) + _frames(str(REAL / "bikes.mp4")) + _frames(large) + _frames(str(REAL / "carphone_pristine.mp4"))
    for frame in frames:
        expected = frame.to_ndarray(format=pixel_format)
        got = frame_to_ndarray(frame, pixel_format)
        assert got.shape == expected.shape and got.dtype == np.uint8
        assert np.array_equal(got, expected)


def test_each_thread_converts_with_its_own_reformatter():
    frames = _frames(str(REAL / "bikes.mp4"), 8)
    expected = [frame.to_ndarray(format="rgb24") for frame in frames]
    results: dict[int, list[np.ndarray]] = {}

    def convert(slot: int) -> None:
        results[slot] = [frame_to_ndarray(frame) for frame in frames]

    threads = [threading.Thread(target=convert, args=(slot,)) for slot in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [0, 1, 2]
    for converted in results.values():
        assert all(np.array_equal(a, b) for a, b in zip(converted, expected, strict=True))


def _convert_in_child(path: str, queue) -> None:
    queue.put([frame_to_ndarray(frame).sum() for frame in _frames(path, 4)])


def test_a_forked_child_converts_after_the_parent_did(tmp_path):
    # The parent's kept context is inherited by fork (DataLoader workers); the child converts
    # frames of another size, which makes swscale set the context up again.
    frame_to_ndarray(_frames(str(REAL / "bikes.mp4"), 1)[0])
    small = str(tmp_path / "small.mp4")
    write_video(small, 4, 48, 64)
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_convert_in_child, args=(small, queue))
    child.start()
    child.join(timeout=60)
    hung = child.is_alive()
    if hung:
        child.kill()
    assert not hung, "the forked child hung converting a frame"
    assert child.exitcode == 0
    assert queue.get(timeout=5) == [frame.to_ndarray(format="rgb24").sum() for frame in _frames(small, 4)]
