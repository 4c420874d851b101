"""RGB and flow frame folders behind the FrameSource interface."""

import os
import shutil

import pytest
import torch

from tests.data.conftest import frame_index_of, write_frame_folder
from video3d.data import open_source
from video3d.errors import DecodeError


def test_rgb_folder_is_one_based_and_reports_shape(frames_dir):
    with open_source(os.path.join(frames_dir, "a"), fmt="frames") as source:
        assert (source.num_frames, source.height, source.width, source.channels) == (20, 32, 40, 3)
        assert source.fps == 30.0
        frames = source.get_frames([0, 19, 7, 7])
    assert frames.dtype == torch.uint8 and frames.shape == (4, 32, 40, 3)
    assert [frame_index_of(f) for f in frames] == [0, 19, 7, 7]


def test_flow_folder_has_n_minus_one_pairs_with_x_then_y(frames_dir):
    with open_source(os.path.join(frames_dir, "b"), fmt="frames", modality="flow", num_frames=12) as source:
        assert source.num_frames == 11 and source.channels == 2
        frames = source.get_frames([0, 10])
    assert frames.shape == (2, 40, 30, 2)
    # flow pair i (file i + 1) stores x = 100 + i and y = 60 + 2i (JPEG keeps flat images exact)
    assert frames[0, ..., 0].float().mean().item() == pytest.approx(100, abs=1)
    assert frames[1, ..., 0].float().mean().item() == pytest.approx(110, abs=1)
    assert frames[1, ..., 1].float().mean().item() == pytest.approx(80, abs=1)


def test_flow_folder_counts_pairs_without_a_list_count(frames_dir):
    with open_source(os.path.join(frames_dir, "b"), fmt="frames", modality="flow") as source:
        assert source.num_frames == 11


def test_missing_folder_and_missing_frame_raise_decode_error(tmp_path):
    with pytest.raises(DecodeError, match="does not exist"):
        open_source(str(tmp_path / "nope"), fmt="frames")
    folder = write_frame_folder(str(tmp_path / "holey"), 6, 16, 16, flow=False)
    os.remove(os.path.join(folder, "img_00004.jpg"))
    with open_source(folder, fmt="frames", num_frames=6) as source:
        assert source.get_frames([0, 1]).shape[0] == 2
        with pytest.raises(DecodeError, match="missing frame file") as info:
            source.get_frames([2, 3])
    assert info.value.path.endswith("img_00004.jpg")


def test_corrupt_jpeg_and_empty_folder_raise(tmp_path):
    folder = write_frame_folder(str(tmp_path / "bad"), 3, 16, 16, flow=False)
    with open(os.path.join(folder, "img_00002.jpg"), "wb") as handle:
        handle.write(b"not a jpeg")
    with open_source(folder, fmt="frames") as source, pytest.raises(DecodeError, match="unreadable"):
        source.get_frames([1])
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DecodeError, match="no img_"):
        open_source(str(empty), fmt="frames")


def test_list_count_larger_than_folder_fails_at_the_missing_frame(tmp_path, frames_dir):
    folder = str(tmp_path / "copy")
    shutil.copytree(os.path.join(frames_dir, "a"), folder)
    with open_source(folder, fmt="frames", num_frames=25) as source, pytest.raises(DecodeError):
        source.get_frames([24])
