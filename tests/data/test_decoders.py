"""Frame sources: PyAV and decord agree, frames are the ones asked for, bad files fail cleanly."""

import os

import numpy as np
import pytest
import torch

from tests.data.conftest import frame_index_of, vfr_timestamps, write_vfr_video, write_video
from video3d.data import open_source
from video3d.data.decoders import PyAVSource
from video3d.errors import DecodeError

GOOD = [("land_30.mp4", 90, 48, 64, 30.0), ("port_25.mp4", 75, 96, 64, 25.0), ("odd_30.mp4", 40, 37, 53, 30.0),
        ("short_30.mp4", 5, 48, 64, 30.0), ("with space -x.mp4", 30, 48, 64, 30.0)]


@pytest.mark.parametrize("backend", ["pyav", "decord"])
@pytest.mark.parametrize(("name", "frames", "height", "width", "fps"), GOOD)
def test_metadata_of_generated_videos(video_dir, backend, name, frames, height, width, fps):
    with open_source(os.path.join(video_dir, name), backend=backend) as source:
        assert (source.num_frames, source.height, source.width, source.channels) == (frames, height, width, 3)
        assert source.fps == pytest.approx(fps)


@pytest.mark.parametrize("backend", ["pyav", "decord"])
def test_get_frames_returns_asked_indices_in_order_with_repeats(video_dir, backend):
    indices = [70, 3, 3, 0, 89, 41, 40, 88]
    with open_source(os.path.join(video_dir, "land_30.mp4"), backend=backend) as source:
        frames = source.get_frames(indices)
    assert frames.dtype == torch.uint8 and frames.shape == (len(indices), 48, 64, 3)
    assert [frame_index_of(f) for f in frames] == indices


@pytest.mark.parametrize("name", ["land_30.mp4", "port_25.mp4", "odd_30.mp4"])
def test_pyav_and_decord_return_identical_frames(video_dir, name):
    path = os.path.join(video_dir, name)
    with open_source(path, backend="pyav") as pyav_source, open_source(path, backend="decord") as decord_source:
        last = pyav_source.num_frames - 1
        indices = [0, 1, last // 3, last // 2, last - 1, last, 2]
        assert torch.equal(pyav_source.get_frames(indices), decord_source.get_frames(indices))


def test_pyav_matches_full_sequential_decode_on_textured_video(tmp_path):
    import av

    path = write_video(str(tmp_path / "noise.mp4"), 100, 32, 48, fps=30, gop=12, noise=True)
    with av.open(path) as container:
        reference = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    indices = [95, 13, 12, 50, 99, 0, 61]
    with open_source(path) as source:
        frames = source.get_frames(indices)
    for frame, index in zip(frames, indices, strict=True):
        assert np.array_equal(frame.numpy(), reference[index])


def _count_decoded_frames(monkeypatch) -> list[int]:
    seen: list[int] = []
    original = PyAVSource._frame_index

    def counting(self, frame):
        index = original(self, frame)
        seen.append(index)
        return index

    monkeypatch.setattr(PyAVSource, "_frame_index", counting)
    return seen


def test_pyav_skips_unwanted_non_reference_frames_without_changing_the_wanted_ones(tmp_path):
    import av

    path = write_video(str(tmp_path / "bframes.mp4"), 120, 32, 48, fps=30, gop=60, noise=True, bframes=3)
    with av.open(path) as container:
        reference = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    indices = list(range(1, 110, 4))
    with open_source(path) as source:
        frames = source.get_frames(indices)
        decoded = source.frames_decoded
    for frame, index in zip(frames, indices, strict=True):
        assert np.array_equal(frame.numpy(), reference[index])
    assert len(indices) < decoded < 110  # some unwanted B-frames were never decoded


def test_pyav_seeks_to_keyframe_instead_of_decoding_from_start(tmp_path, monkeypatch):
    path = write_video(str(tmp_path / "long.mp4"), 300, 32, 48, fps=30, gop=30)
    seen = _count_decoded_frames(monkeypatch)
    with open_source(path) as source:
        frames = source.get_frames([250, 254, 258])
    assert [frame_index_of(f) for f in frames] == [250, 254, 258]
    assert min(seen) >= 240 and len(seen) <= 30  # from the keyframe at 240, not from 0


def test_pyav_seeks_again_across_a_long_gap(tmp_path, monkeypatch):
    path = write_video(str(tmp_path / "long.mp4"), 300, 32, 48, fps=30, gop=30)
    seen = _count_decoded_frames(monkeypatch)
    with open_source(path) as source:
        frames = source.get_frames([2, 280])
    assert [frame_index_of(f) for f in frames] == [2, 280]
    assert len(seen) < 60  # about 3 + 11 frames, not 281


@pytest.mark.parametrize("backend", ["pyav", "decord"])
@pytest.mark.parametrize("name", ["empty.mp4", "not_a_video.mp4", "truncated.mp4", "missing.mp4"])
def test_unopenable_files_raise_decode_error_with_path(video_dir, backend, name):
    path = os.path.join(video_dir, name)
    with pytest.raises(DecodeError) as info:
        with open_source(path, backend=backend) as source:
            source.get_frames([0])
    assert info.value.path == path and info.value.reason


@pytest.mark.parametrize(("name", "plain"), [
    ("empty.mp4", "empty file (0 bytes) (InvalidDataError: "),
    ("not_a_video.mp4", "not a video: FFmpeg recognises no video format in it (InvalidDataError: "),
    ("truncated.mp4", "truncated or damaged video: it starts like a video file but FFmpeg cannot read it ("),
    ("missing.mp4", "no such file (FileNotFoundError: "),
])
def test_pyav_says_in_plain_words_what_is_wrong_then_ffmpegs_text(video_dir, name, plain):
    with pytest.raises(DecodeError) as info:
        PyAVSource(os.path.join(video_dir, name))
    assert info.value.reason.startswith(plain) and "Errno" in info.value.reason


def test_a_directory_named_like_a_video_is_said_to_be_one(tmp_path):
    (tmp_path / "clip.mp4").mkdir()
    with pytest.raises(DecodeError, match="a directory, not a video file \\(IsADirectoryError"):
        PyAVSource(str(tmp_path / "clip.mp4"))


@pytest.mark.parametrize("backend", ["pyav", "decord"])
def test_truncated_faststart_file_fails_beyond_the_cut(video_dir, backend):
    """The header survives and promises 120 frames; the data stops part-way."""
    path = os.path.join(video_dir, "truncated_faststart.mp4")
    with pytest.raises(DecodeError) as info:
        with open_source(path, backend=backend) as source:
            source.get_frames([0, source.num_frames - 1])
    assert info.value.path == path


def test_pyav_truncated_file_still_serves_frames_before_the_cut(video_dir):
    with open_source(os.path.join(video_dir, "truncated_faststart.mp4")) as source:
        assert source.num_frames == 120
        assert source.get_frames([0, 5]).shape == (2, 48, 64, 3)


def test_out_of_range_and_empty_requests_raise(video_dir):
    with open_source(os.path.join(video_dir, "short_30.mp4")) as source:
        with pytest.raises(DecodeError, match="outside"):
            source.get_frames([5])
        with pytest.raises(DecodeError, match="no frame"):
            source.get_frames([])


def test_pyav_closes_container_on_exit_and_on_error(video_dir):
    with open_source(os.path.join(video_dir, "land_30.mp4")) as source:
        source.get_frames([1])
    assert source._container is None
    with pytest.raises(DecodeError, match="closed"):
        source.get_frames([1])
    with pytest.raises(DecodeError), open_source(os.path.join(video_dir, "truncated_faststart.mp4")) as broken:
        broken.get_frames([119])
    assert broken._container is None


def test_decode_error_pickles_for_worker_processes():
    import pickle

    error = pickle.loads(pickle.dumps(DecodeError("/a b/c.mp4", "bad")))
    assert (error.path, error.reason, str(error)) == ("/a b/c.mp4", "bad", "/a b/c.mp4: bad")


def test_decord_frame_width_quirk_surfaces_as_decode_error(tmp_path):
    """decord 0.6.0 cannot copy frames 48 pixels wide; the failure must stay a DecodeError."""
    path = write_video(str(tmp_path / "w48.mp4"), 4, 48, 48)
    with open_source(path) as source:
        assert source.get_frames([0]).shape == (1, 48, 48, 3)
    try:
        with open_source(path, backend="decord") as source:
            source.get_frames([0])
    except DecodeError as error:
        assert error.path == path


def test_webm_without_frame_count_decodes_to_its_last_frame(tmp_path):
    """webm stores no frame count: PyAV estimates it from the duration; both backends agree."""
    path = write_video(str(tmp_path / "ssv2.webm"), 50, 48, 64, fps=30, codec="libvpx-vp9")
    with open_source(path) as pyav_source, open_source(path, backend="decord") as decord_source:
        assert pyav_source.num_frames == decord_source.num_frames == 50
        frames = pyav_source.get_frames([0, 25, 49])
        assert [frame_index_of(f) for f in frames] == [0, 25, 49]
        assert torch.equal(frames, decord_source.get_frames([0, 25, 49]))


def test_pyav_with_one_keyframe_decodes_through_without_looping(tmp_path):
    """A seek across a gap lands on the only keyframe again: decode on instead of re-seeking."""
    path = write_video(str(tmp_path / "one_gop.mp4"), 150, 32, 48, fps=30, gop=300)
    with open_source(path) as source:
        frames = source.get_frames([2, 140, 70])
    assert [frame_index_of(f) for f in frames] == [2, 140, 70]


def test_mpeg4_avi_like_hmdb51_decodes_in_both_backends(tmp_path):
    import av

    path = write_video(str(tmp_path / "clip.avi"), 40, 48, 64, fps=30, codec="mpeg4")
    with av.open(path) as container:  # low-bitrate MPEG-4 blurs the grey code: compare decodes
        reference = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])
    with open_source(path) as pyav_source, open_source(path, backend="decord") as decord_source:
        assert pyav_source.num_frames == decord_source.num_frames == 40
        frames = pyav_source.get_frames([0, 17, 39])
        assert np.array_equal(frames.numpy(), reference[[0, 17, 39]])
        assert torch.equal(frames, decord_source.get_frames([0, 17, 39]))


VFR_CASES = {"bursts_and_gap": {}, "b_frames": {"bframes": 2},
             "duplicated_timestamp": {"duplicate": 60}, "duplicate_with_b_frames": {"duplicate": 60, "bframes": 2}}


@pytest.mark.parametrize("backend", ["pyav", "decord"])
@pytest.mark.parametrize("case", list(VFR_CASES))
def test_variable_frame_rate_frame_k_is_the_kth_presented_frame(tmp_path, backend, case):
    """Bursts, a gap and a duplicated timestamp: index k is the k-th frame in presentation
    order (what a sequential decode, and so extract_frames' img_{k+1}, gives), seeking included."""
    import av

    path = write_vfr_video(str(tmp_path / f"{case}.mp4"), vfr_timestamps(), **VFR_CASES[case])
    with av.open(path) as container:
        assert [frame_index_of(f.to_ndarray(format="rgb24")) for f in container.decode(video=0)] == list(range(120))
    with open_source(path, backend=backend) as source:
        assert source.num_frames == 120
        assert [frame_index_of(f) for f in source.get_frames(range(120))] == list(range(120))
    indices = [110, 3, 61, 60, 59, 41, 40, 15, 19, 20, 0, 119, 90]
    with open_source(path, backend=backend) as source:
        assert [frame_index_of(f) for f in source.get_frames(indices)] == indices
    for index in indices:  # one request each: every one seeks
        with open_source(path, backend=backend) as source:
            assert frame_index_of(source.get_frames([index])[0]) == index

