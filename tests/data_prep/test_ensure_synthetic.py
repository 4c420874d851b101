import json

import pytest

from data_prep.ensure_synthetic import ensure_synthmotion, flow_options
from video3d.config import load_config
from video3d.errors import ConfigError


def _cfg(out_dir, **overrides):
    opts = ["SYNTHMOTION.ENABLE", "True", "DATA.PATH_TO_DATA_DIR", str(out_dir),
            "SYNTHMOTION.NUM_TRAIN", "8", "SYNTHMOTION.NUM_VAL", "8", "SYNTHMOTION.FRAMES", "6",
            "SYNTHMOTION.SIZE", "32"]
    for key, value in overrides.items():
        opts += [key.replace("__", "."), str(value)]
    return load_config(None, opts)


def test_generates_once_then_reuses_and_regenerates_on_change(tmp_path):
    out = tmp_path / "synth"
    assert ensure_synthmotion(_cfg(out)) is True
    assert len((out / "train.csv").read_text().splitlines()) == 8
    assert ensure_synthmotion(_cfg(out)) is False  # same parameters: nothing to do
    assert ensure_synthmotion(_cfg(out, SYNTHMOTION__NUM_BROKEN=2)) is True
    assert json.loads((out / "synthmotion.json").read_text())["num_broken"] == 2
    assert len((out / "val.csv").read_text().splitlines()) == 10


def test_disabled_or_no_job_generates_nothing(tmp_path):
    out = tmp_path / "synth"
    assert ensure_synthmotion(_cfg(out, SYNTHMOTION__ENABLE=False)) is False
    assert ensure_synthmotion(_cfg(out, TRAIN__ENABLE=False, TEST__ENABLE=False)) is False
    assert not out.exists()


def test_flow_folders_and_frame_lists_feed_the_flow_dataset(tmp_path):
    from video3d.data import build_dataset

    videos, flow = tmp_path / "synth", tmp_path / "flow"
    cfg = _cfg(flow, SYNTHMOTION__ROOT=videos, SYNTHMOTION__FLOW_ALGO="dis", SYNTHMOTION__NUM_BROKEN=1,
               DATA__FLOW_ALGO="dis", DATA__FORMAT="frames", DATA__MODALITY="flow", DATA__PATH_PREFIX=flow,
               DATA__NUM_FRAMES=2, DATA__SAMPLING_RATE=1, DATA__TRAIN_JITTER_SCALES="[32, 32]",
               DATA__TRAIN_CROP_SIZE=32, DATA__TEST_CROP_SIZE=32)
    assert ensure_synthmotion(cfg) is True
    lines = (flow / "train.csv").read_text().splitlines()
    assert len(lines) == 8  # the broken video is left out
    folder, frames, label = lines[0].rsplit(" ", 2)
    assert frames == "6" and 0 <= int(label) < 8
    assert len(list((flow / folder).glob("flow_x_*.jpg"))) == 5  # 6 frames, 5 pairs
    assert ensure_synthmotion(cfg) is False
    item = build_dataset(cfg, "train", training=True)[0]
    assert item["video"].shape == (2, 2, 32, 32)


def test_flow_follows_the_flow_models_algorithm_bound_and_frame_rate(tmp_path):
    cfg = _cfg(tmp_path / "flow", SYNTHMOTION__FLOW_ALGO="tvl1", DATA__FLOW_BOUND=6.0, DATA__TARGET_FPS=15)
    options = flow_options(cfg)
    recipe = options.recipe
    assert (recipe.algorithm, recipe.backend, recipe.bound, recipe.fps) == ("tvl1", "torch", 6.0, 15.0)
    assert recipe.batch >= cfg.SYNTHMOTION.FRAMES - 1  # all pairs of a video in one call: one compiled shape
    assert flow_options(_cfg(tmp_path, SYNTHMOTION__FLOW_ALGO="dis", DATA__FLOW_ALGO="dis")).resize.fps is None
    with pytest.raises(ConfigError, match="SYNTHMOTION.FLOW_ALGO dis differs from DATA.FLOW_ALGO tvl1"):
        flow_options(_cfg(tmp_path, SYNTHMOTION__FLOW_ALGO="dis"))


def test_flow_is_redone_when_the_bound_or_frame_rate_changes(tmp_path):
    videos, flow = tmp_path / "synth", tmp_path / "flow"
    cfg = _cfg(flow, SYNTHMOTION__ROOT=videos, SYNTHMOTION__FLOW_ALGO="dis", DATA__FLOW_ALGO="dis",
               DATA__FLOW_BOUND=6.0, DATA__TARGET_FPS=15)
    assert ensure_synthmotion(cfg) is True
    folder, frames, _ = (flow / "train.csv").read_text().splitlines()[0].rsplit(" ", 2)
    assert frames == "3"  # 6 frames at 30 fps resampled to 15 fps
    manifest = json.loads((flow / "manifest.json").read_text())
    assert (manifest["bound"], manifest["fps"], manifest["algorithm"]) == (6.0, 15.0, "dis")
    assert ensure_synthmotion(cfg) is False
    cfg = _cfg(flow, SYNTHMOTION__ROOT=videos, SYNTHMOTION__FLOW_ALGO="dis", DATA__FLOW_ALGO="dis",
               DATA__FLOW_BOUND=8.0, DATA__TARGET_FPS=15)
    assert ensure_synthmotion(cfg) is True
    assert json.loads((flow / "manifest.json").read_text())["bound"] == 8.0
    assert len(list((flow / folder).glob("flow_x_*.jpg"))) == 2


def test_flow_is_extracted_at_the_flow_models_frame_size_and_rate(tmp_path):
    cfg = _cfg(tmp_path, SYNTHMOTION__FLOW_ALGO="tvl1", DATA__TARGET_FPS=15, DATA__FLOW_FPS=15.0,
               DATA__FLOW_SHORT_SIDE=24)
    options = flow_options(cfg)
    assert (options.resize.short_side, options.resize.size, options.resize.fps) == (24, None, 15.0)
    assert flow_options(_cfg(tmp_path, SYNTHMOTION__FLOW_ALGO="tvl1", DATA__FLOW_SIZE="[40, 24]")).resize.size == (40, 24)
    with pytest.raises(ConfigError, match="DATA.FLOW_FPS 10.0 differs from DATA.TARGET_FPS 15"):
        flow_options(_cfg(tmp_path, SYNTHMOTION__FLOW_ALGO="tvl1", DATA__TARGET_FPS=15, DATA__FLOW_FPS=10.0))


def test_flow_is_redone_when_the_frame_size_changes(tmp_path):
    from PIL import Image

    videos, flow = tmp_path / "synth", tmp_path / "flow"
    common = dict(SYNTHMOTION__ROOT=videos, SYNTHMOTION__FLOW_ALGO="dis", DATA__FLOW_ALGO="dis")
    assert ensure_synthmotion(_cfg(flow, **common)) is True
    folder = (flow / "train.csv").read_text().splitlines()[0].rsplit(" ", 2)[0]
    assert Image.open(flow / folder / "flow_x_00001.jpg").size == (32, 32)
    assert ensure_synthmotion(_cfg(flow, DATA__FLOW_SHORT_SIDE=16, **common)) is True
    assert Image.open(flow / folder / "flow_x_00001.jpg").size == (16, 16)
    assert json.loads((flow / "manifest.json").read_text())["short_side"] == 16
    assert ensure_synthmotion(_cfg(flow, DATA__FLOW_SHORT_SIDE=16, **common)) is False
