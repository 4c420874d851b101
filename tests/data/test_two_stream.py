"""Two-stream items: one decoder call per video gives both the RGB views and the flow views,
equal to what the single-stream datasets build from the same file."""

import numpy as np
import pytest
import torch

from data_prep.synthetic import encode_mp4, render_video, sample_params
from video3d.config import load_config
from video3d.data import VideoRecord, multiview_dataset
from video3d.data.decoders import PyAVSource
from video3d.data.two_stream import TwoStreamDataset
from video3d.flow.recipe import FlowRecipe

RGB = ["DATA.NUM_FRAMES", "4", "DATA.SAMPLING_RATE", "2", "TEST.NUM_ENSEMBLE_VIEWS", "3", "DATA.TEST_CROP_SIZE", "24"]
# The flow model samples differently (its own clips and crops), as a real pair of models may.
FLOW = ["DATA.MODALITY", "flow", "DATA.FLOW_ALGO", "dis", "DATA.FLOW_BOUND", "2.0", "DATA.NUM_FRAMES", "3",
        "DATA.SAMPLING_RATE", "1", "TEST.NUM_ENSEMBLE_VIEWS", "2", "TEST.NUM_SPATIAL_CROPS", "1", "DATA.TEST_CROP_SIZE", "16"]


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    root = tmp_path_factory.mktemp("two_stream")
    paths = []
    for k, frames in enumerate((9, 1)):  # the second has no flow pair
        path = str(root / f"v{k}.mp4")
        encode_mp4(render_video(sample_params(k, np.random.default_rng(k), 32, frames)), path, 30)
        paths.append(path)
    return [VideoRecord(f"v{k}", p, k) for k, p in enumerate(paths)]


def test_one_decode_gives_the_single_stream_views_of_both_models(videos, monkeypatch):
    rgb_cfg, flow_cfg = load_config(None, RGB), load_config(None, FLOW)
    rgb, flow = multiview_dataset(rgb_cfg, videos, "kinetics"), multiview_dataset(flow_cfg, videos, "kinetics")
    expected_rgb, expected_flow = rgb.views(0).cut(), flow.views(0).cut()
    calls = []
    decode = PyAVSource.get_frames
    monkeypatch.setattr(PyAVSource, "get_frames", lambda self, indices: calls.append(list(indices)) or decode(self, indices))
    item = TwoStreamDataset(rgb, flow, FlowRecipe.from_cfg(flow_cfg))[0]
    assert item["error"] is None and item["label"] == 0 and item["video_id"] == "v0"
    assert len(calls) == 1  # one decoder call: the RGB frames and the flow pairs' frames together
    rgb_frames = {i for clip in rgb.clip_positions(9, 30.0, 3) for i in clip}
    pairs = {i for clip in flow.clip_positions(8, 30.0, 2) for i in clip}
    assert calls[0] == sorted(rgb_frames | pairs | {i + 1 for i in pairs})
    assert item["views"].shape == (9, 3, 4, 24, 24) and item["flow_views"].shape == (2, 2, 3, 16, 16)
    assert torch.equal(item["views"].cut(), expected_rgb) and torch.equal(item["flow_views"].cut(), expected_flow)


def test_a_flow_model_at_its_own_frame_rate_still_decodes_once(videos, monkeypatch):
    # DATA.FLOW_FPS 15 on 30 fps videos: flow index i is frames 2i -> 2i + 2; those are prefetched.
    # The RGB model takes two frames only, so the flow's frames are not among its frames anyway.
    rgb_cfg = load_config(None, [*RGB, "DATA.NUM_FRAMES", "2", "DATA.SAMPLING_RATE", "1", "TEST.NUM_ENSEMBLE_VIEWS", "1"])
    flow_cfg = load_config(None, [*FLOW, "DATA.FLOW_FPS", "15.0"])
    rgb, flow = multiview_dataset(rgb_cfg, videos, "kinetics"), multiview_dataset(flow_cfg, videos, "kinetics")
    expected_flow = flow.views(0).cut()
    calls = []
    decode = PyAVSource.get_frames
    monkeypatch.setattr(PyAVSource, "get_frames", lambda self, indices: calls.append(list(indices)) or decode(self, indices))
    item = TwoStreamDataset(rgb, flow, FlowRecipe.from_cfg(flow_cfg))[0]
    assert item["error"] is None and len(calls) == 1
    pairs = {i for clip in flow.clip_positions(4, 15.0, 2) for i in clip}  # 5 frames at 15 fps: 4 pairs
    assert {2 * i for i in pairs} | {2 * i + 2 for i in pairs} <= set(calls[0])
    assert torch.equal(item["flow_views"].cut(), expected_flow)


def test_a_video_that_fails_in_either_stream_fails_the_item(videos):
    rgb_cfg, flow_cfg = load_config(None, RGB), load_config(None, FLOW)
    dataset = TwoStreamDataset(multiview_dataset(rgb_cfg, videos, "kinetics"),
                               multiview_dataset(flow_cfg, videos, "kinetics"), FlowRecipe.from_cfg(flow_cfg))
    item = dataset[1]  # one frame: RGB views exist, flow has no pair
    assert item["views"] is None and item["flow_views"] is None and "no flow pair" in item["error"]
