"""DATA.DECODING_BACKEND torchcodec and DATA.DECODE_DEVICE (the CUDA path checked for shape on
the CPU: no GPU here)."""

import os
import sys
from pathlib import Path

import pytest
import torch

from tests.data.conftest import frame_index_of, write_vfr_video, write_video
from video3d.data import open_source
from video3d.data import torchcodec_source as tc
from video3d.errors import ConfigError, DecodeError

REAL = Path(__file__).parent / "real"


def _torchcodec_loads() -> str:
    try:
        tc.video_decoder_class()
    except ConfigError as error:
        return str(error)
    return ""


needs_torchcodec = pytest.mark.skipif(bool(_torchcodec_loads()), reason="optional torchcodec (with FFmpeg "
                                      "4-8 libraries) is not installed: docs/ENVIRONMENT.md")


@needs_torchcodec
@pytest.mark.parametrize("name", ["land_30.mp4", "port_25.mp4", "odd_30.mp4"])
def test_frames_and_metadata_match_pyav(video_dir, name):
    path = os.path.join(video_dir, name)
    with open_source(path, backend="pyav") as pyav, open_source(path, backend="torchcodec") as codec:
        assert (codec.num_frames, codec.fps, codec.height, codec.width) == (pyav.num_frames, pyav.fps,
                                                                            pyav.height, pyav.width)
        wanted = [pyav.num_frames - 1, 0, 7, 7, 3]
        ours, theirs = codec.get_frames(wanted), pyav.get_frames(wanted)
    assert ours.dtype == torch.uint8 and ours.shape == theirs.shape
    assert [frame_index_of(f) for f in ours] == wanted
    assert (ours.int() - theirs.int()).abs().float().mean() < 2  # both FFmpeg's yuv -> rgb


@needs_torchcodec
def test_textured_video_with_b_frames_gives_the_frames_pyav_gives(tmp_path):
    path = write_video(str(tmp_path / "t.mp4"), 64, 48, 64, noise=True, bframes=3, gop=16)
    wanted = list(range(3, 64, 5))
    with open_source(path, backend="pyav") as pyav, open_source(path, backend="torchcodec") as codec:
        ours, theirs = codec.get_frames(wanted).int(), pyav.get_frames(wanted).int()
    assert (ours - theirs).abs().float().mean() < 2  # a wrong frame is ~20 apart (the noise)


@needs_torchcodec
def test_real_video_and_variable_frame_rate_indices(tmp_path):
    with open_source(str(REAL / "bikes.mp4"), backend="pyav") as pyav, \
            open_source(str(REAL / "bikes.mp4"), backend="torchcodec") as codec:
        assert codec.num_frames == pyav.num_frames == 250
        assert (codec.get_frames([0, 100, 249]).int() - pyav.get_frames([0, 100, 249]).int()).abs().float().mean() < 2
    timestamps = [0, 1000, 3000, 4000, 7000, 8000, 9000, 12000]
    path = write_vfr_video(str(tmp_path / "vfr.mp4"), timestamps)
    with open_source(path, backend="torchcodec") as codec:
        assert [frame_index_of(f) for f in codec.get_frames(range(len(timestamps)))] == list(range(len(timestamps)))


@needs_torchcodec
def test_broken_files_are_decode_errors_naming_the_file(video_dir):
    for name in ("empty.mp4", "not_a_video.mp4", "missing.mp4"):
        with pytest.raises(DecodeError) as caught:
            open_source(os.path.join(video_dir, name), backend="torchcodec")
        assert name in str(caught.value)


@needs_torchcodec
def test_the_cuda_path_asks_for_the_current_gpu_and_returns_frames_of_the_same_shape(video_dir, cuda_on_cpu):
    """Not run on a GPU: the decoder is told cuda:0, and decodes on the CPU in its place."""
    path = os.path.join(video_dir, "land_30.mp4")
    with open_source(path, backend="torchcodec", device="cuda") as source:
        clip = source.get_frames(range(0, 16, 2))
    with open_source(path, backend="pyav") as source:
        assert clip.shape == source.get_frames(range(0, 16, 2)).shape == (8, 48, 64, 3)
    assert cuda_on_cpu == ["cuda:0"]


@pytest.fixture
def cuda_on_cpu(monkeypatch):
    """The cuda path with torchcodec decoding on the CPU in its place (no GPU here); the devices
    the decoder was asked for."""
    real_decoder, devices = tc.video_decoder_class(), []

    def decoder_on_cpu(path, device, **options):
        devices.append(device)
        return real_decoder(path, device="cpu", **options)

    monkeypatch.setattr(tc, "video_decoder_class", lambda: decoder_on_cpu)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    return devices


@needs_torchcodec
def test_training_and_test_items_through_the_cuda_path_have_the_shapes_of_pyav(loader_cfg, cuda_on_cpu):
    """Not run on a GPU: the whole item pipeline behind DATA.DECODE_DEVICE cuda, on CPU tensors."""
    from video3d.data import build_dataset, build_multiview_dataset

    plain_item = build_dataset(loader_cfg, "train", True)[(0, 1)]
    plain_views = build_multiview_dataset(loader_cfg, "train")[1]["views"]
    loader_cfg.DATA.DECODING_BACKEND, loader_cfg.DATA.DECODE_DEVICE = "torchcodec", "cuda"
    item = build_dataset(loader_cfg, "train", True)[(0, 1)]
    views = build_multiview_dataset(loader_cfg, "train")[1]["views"]
    assert item["video"].shape == plain_item["video"].shape == (3, 4, 32, 32) and item["video"].dtype == torch.uint8
    assert views.shape == plain_views.shape and views.dtype == torch.uint8
    assert (item["video"].float() - plain_item["video"].float()).abs().mean() < 2.9  # same clip, same crop: one draw per sample
    assert set(cuda_on_cpu) == {"cuda:0"}


def test_cuda_decoding_without_a_gpu_or_with_another_backend_is_one_line(video_dir, monkeypatch):
    path = os.path.join(video_dir, "land_30.mp4")
    with pytest.raises(ConfigError, match="DATA.DECODING_BACKEND torchcodec, not pyav"):
        open_source(path, backend="pyav", device="cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ConfigError, match="needs a CUDA GPU"):
        tc.decoder_device("cuda")
    with pytest.raises(ConfigError, match="DATA.DECODE_DEVICE is .gpu.; expected one of cpu, cuda"):
        tc.decoder_device("gpu")


def test_torchcodec_not_installed_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "torchcodec.decoders", None)  # import fails as if not installed
    with pytest.raises(ConfigError) as caught:
        tc.video_decoder_class()
    message = str(caught.value)
    assert "pip install --no-deps torchcodec" in message and "apt-get install" in message
    assert "\n" not in message


def test_missing_ffmpeg_libraries_say_what_to_install(monkeypatch):
    class Failing:
        def __getattr__(self, name):
            raise OSError("Could not load this library: libtorchcodec_core7.so\nlong FFmpeg story")

    monkeypatch.setitem(sys.modules, "torchcodec.decoders", Failing())
    with pytest.raises(ConfigError, match=r"FFmpeg 4-8 shared libraries.*libtorchcodec_core7.so$"):
        tc.video_decoder_class()
