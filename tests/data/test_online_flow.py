"""Flow computed online from a video file (DATA.FORMAT video, DATA.MODALITY flow) gives the
network the numbers that flow extracted to JPEG by data_prep.extract_flow gives it."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from data_prep import extract_flow
from data_prep.synthetic import encode_mp4, render_video, sample_params
from video3d.config import load_config
from video3d.data import VideoDataset, VideoRecord, multiview_dataset, open_source
from video3d.data.flow_manifest import check_flow_manifest
from video3d.data.online_flow import OnlineFlowSource
from video3d.data.transforms import Normalizer
from video3d.errors import ConfigError, DecodeError
from video3d.flow.recipe import FlowRecipe

FRAMES = 8
# (name, extract_flow arguments, the config keys that say the same)
SETTINGS = {
    "tvl1": (["--backend", "torch", "--no-compile", "--bound", "2", "--size", "40x28"],
             ["DATA.FLOW_ALGO", "tvl1", "DATA.FLOW_BOUND", "2.0", "DATA.FLOW_SIZE", "[40, 28]"]),
    "dis": (["--algo", "dis", "--bound", "2", "--short-side", "24"],
            ["DATA.FLOW_ALGO", "dis", "DATA.FLOW_BOUND", "2.0", "DATA.FLOW_SHORT_SIDE", "24"]),
    "farneback": (["--algo", "farneback", "--bound", "3"], ["DATA.FLOW_ALGO", "farneback", "DATA.FLOW_BOUND", "3"]),
    # --fps 20 from 30: frames 0, 2, 3, 5, 6 (rounding half up), 4 pairs of unequal steps
    "dis_fps": (["--algo", "dis", "--bound", "2", "--fps", "20"],
                ["DATA.FLOW_ALGO", "dis", "DATA.FLOW_BOUND", "2.0", "DATA.FLOW_FPS", "20"]),
}
VIEWS = ["DATA.NUM_FRAMES", "4", "DATA.SAMPLING_RATE", "1", "TEST.NUM_ENSEMBLE_VIEWS", "3",
         "TEST.NUM_SPATIAL_CROPS", "3", "DATA.TEST_CROP_SIZE", "24"]


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny frames: one thread is faster than two on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def video(tmp_path_factory) -> str:
    """A 32x32 SynthMotion clip (a textured shape turning clockwise on a noisy background)."""
    folder = tmp_path_factory.mktemp("online_flow") / "src"
    folder.mkdir()
    path = str(folder / "v.mp4")
    encode_mp4(render_video(sample_params(4, np.random.default_rng(1), 32, FRAMES)), path, 30)
    return path


@pytest.fixture(scope="module")
def extracted(video, tmp_path_factory):
    """name -> (flow folder, {file name: the uint8 image extract_flow quantised, before JPEG})."""
    results = {}
    original = extract_flow.write_jpeg
    for name, (args, _) in SETTINGS.items():
        out = tmp_path_factory.mktemp(f"extracted_{name}")
        levels = {}

        def capture(path, image, quality, levels=levels):
            levels[os.path.basename(path)] = image.copy()
            original(path, image, quality)

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(extract_flow, "write_jpeg", capture)
            assert extract_flow.main([os.path.dirname(video), str(out), "--workers", "1", "--no-progress", *args]) == 0
        results[name] = (str(out / "v"), levels)
    return results


def _cfg(name: str, fmt: str):
    return load_config(None, ["DATA.FORMAT", fmt, "DATA.MODALITY", "flow", *SETTINGS[name][1], *VIEWS])


@pytest.mark.parametrize("name", list(SETTINGS))
def test_online_flow_is_the_extracted_flow_level_for_level_before_jpeg(name, video, extracted):
    _, levels = extracted[name]
    pairs = len(levels) // 2
    assert pairs == (4 if name == "dis_fps" else FRAMES - 1)
    expected = np.stack([np.stack([levels[f"flow_x_{i:05d}.jpg"], levels[f"flow_y_{i:05d}.jpg"]], -1)
                         for i in range(1, pairs + 1)])
    cfg = _cfg(name, "video")
    with open_source(video, modality="flow", flow=FlowRecipe.from_cfg(cfg)) as source:
        assert (source.num_frames, source.height, source.width, source.channels) == (pairs, *expected.shape[1:3], 2)
        assert source.fps == (20.0 if name == "dis_fps" else 30.0)
        online = source.get_frames(list(range(pairs))).numpy()
    assert len(np.unique(expected)) > 20  # the bound leaves the motion many levels to differ in
    np.testing.assert_array_equal(online, expected)


@pytest.mark.parametrize("name", ["tvl1", "dis"])
def test_network_input_from_video_equals_jpeg_flow_up_to_jpeg_noise(name, video, extracted):
    folder, _ = extracted[name]
    inputs = []
    for fmt, path in (("frames", folder), ("video", video)):
        cfg = _cfg(name, fmt)
        item = multiview_dataset(cfg, [VideoRecord("v", path, 0)], "kinetics")[0]
        assert item["error"] is None, item["error"]
        inputs.append(Normalizer.from_cfg(cfg).views(item["views"]))
    jpeg, online = inputs
    assert jpeg.shape == online.shape == (9, 2, 4, 24, 24)
    levels = (jpeg - online).abs() * 128  # FLOW_STD 128: one quantisation level = 1 / 128
    # Measured: tvl1 mean 0.308 / max 3 levels, dis 0.180 / 2: JPEG quality 95 on a bound-2 flow
    # field (a wrong bound, resize or pair would be off by several levels on average).
    mean_bound, max_bound = {"tvl1": (0.35, 3), "dis": (0.22, 2)}[name]
    assert 0 < float(levels.mean()) <= mean_bound and float(levels.max()) <= max_bound


def test_only_the_frames_of_the_asked_pairs_are_decoded(video):
    with open_source(video, modality="flow", flow=FlowRecipe("dis")) as source:
        asked = []
        decode = source.video.get_frames
        source.video.get_frames = lambda indices: asked.append(list(indices)) or decode(indices)
        flows = source.get_frames([5, 2, 5])
        alone = source.get_frames([2])
    assert asked == [[2, 3, 5, 6], [2, 3]]
    assert flows.shape == (3, 32, 32, 2) and torch.equal(flows[0], flows[2]) and torch.equal(flows[1], alone[0])


def test_a_one_frame_video_has_no_flow_pair(tmp_path):
    path = str(tmp_path / "one.mp4")
    encode_mp4(render_video(sample_params(0, np.random.default_rng(0), 32, 1)), path, 30)
    with pytest.raises(DecodeError, match="1 frame\\(s\\): no flow pair"):
        open_source(path, modality="flow")


def test_flow_resize_keys_are_checked_and_training_on_online_flow_is_refused():
    with pytest.raises(ConfigError, match="DATA.FLOW_SIZE must be \\[width, height\\]"):
        load_config(None, ["DATA.FLOW_SIZE", "[40]"])
    with pytest.raises(ConfigError, match="DATA.FLOW_SHORT_SIDE \\(24\\) and DATA.FLOW_SIZE"):
        load_config(None, ["DATA.FLOW_SIZE", "[40, 28]", "DATA.FLOW_SHORT_SIDE", "24"])
    with pytest.raises(ConfigError, match="DATA.FLOW_FPS must be >= 0"):
        load_config(None, ["DATA.FLOW_FPS", "-1"])
    with pytest.raises(ConfigError, match="DATA.FLOW_ALGO is 'lk'"):
        FlowRecipe("lk")
    cfg = load_config(None, ["DATA.FORMAT", "video", "DATA.MODALITY", "flow"])
    with pytest.raises(ConfigError, match="train on extracted flow"):
        VideoDataset(cfg, [], training=True)


def test_the_source_wraps_any_frame_source_and_closes_it(video):
    with open_source(video) as rgb:
        source = OnlineFlowSource(rgb, FlowRecipe("farneback", short_side=16))
        assert (source.height, source.width, source.fps) == (16, 16, rgb.fps)
        source.close()
    with pytest.raises(DecodeError, match="closed"):
        rgb.get_frames([0])


def test_the_extraction_manifest_flags_a_config_that_would_compute_other_flow(extracted, caplog):
    folder = os.path.dirname(extracted["tvl1"][0])
    where = ["DATA.PATH_TO_DATA_DIR", folder, "DATA.PATH_PREFIX", folder]
    assert check_flow_manifest(load_config(None, ["DATA.FORMAT", "frames", "DATA.MODALITY", "flow", *SETTINGS["tvl1"][1], *where])) == []
    other = load_config(None, ["DATA.FORMAT", "frames", "DATA.MODALITY", "flow", "DATA.FLOW_ALGO", "dis", *where])
    with caplog.at_level("WARNING", logger="video3d"):
        problems = check_flow_manifest(other)
        check_flow_manifest(other)
    assert problems == ["DATA.FLOW_ALGO is dis but the extraction used --algo tvl1",
                        "DATA.FLOW_BOUND is 20.0 but the extraction used --bound 2.0",
                        "DATA.FLOW_SIZE is None but the extraction used --size [40, 28]"]
    assert len([r for r in caplog.records if "manifest.json" in r.getMessage()]) == 1  # once per manifest
    resampled = os.path.dirname(extracted["dis_fps"][0])
    assert check_flow_manifest(load_config(None, ["DATA.FORMAT", "frames", "DATA.MODALITY", "flow", "DATA.FLOW_ALGO", "dis",
                                                  "DATA.FLOW_BOUND", "2.0", "DATA.PATH_PREFIX", resampled])) == [
        "DATA.FLOW_FPS is 0.0 but the extraction used --fps 20.0"]
