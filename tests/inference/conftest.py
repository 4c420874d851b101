"""Tiny videos and a tiny demo model for the inference tests."""

from pathlib import Path

import av
import numpy as np
import pytest
import torch

from data_prep.synthetic import encode_mp4, render_video, sample_params
from video3d.config import load_config
from video3d.models import build_model

ROOT = Path(__file__).resolve().parents[2]
DEMO = str(ROOT / "configs" / "demo" / "synthmotion_iresnet3d_ffc.yaml")
TINY = ["DATA.NUM_FRAMES", "4", "DATA.SAMPLING_RATE", "2", "DATA.TEST_CROP_SIZE", "32",
        "DATA.TRAIN_JITTER_SCALES", "[32, 40]", "DATA.TRAIN_CROP_SIZE", "32",
        "TEST.NUM_ENSEMBLE_VIEWS", "2", "DATA_LOADER.NUM_WORKERS", "0"]
NAMES = ["move_left", "move_right", "move_up", "move_down", "rotate_clockwise",
         "rotate_counterclockwise", "grow", "shrink"]


def write_video(path: Path, frames: int, size: int = 32, label: int = 0, seed: int = 0) -> str:
    params = sample_params(label, np.random.default_rng(seed), size, frames)
    encode_mp4(render_video(params), str(path), 30)
    return str(path)


def write_faststart_video(path: Path, frames: int, size: int = 48) -> str:
    """An mp4 with its index first (as streamed files are), so a cut copy still opens."""
    params = sample_params(3, np.random.default_rng(1), size, frames)
    with av.open(str(path), mode="w", format="mp4", options={"movflags": "faststart"}) as container:
        stream = container.add_stream("libx264", rate=30, options={"g": "8"})
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        for image in render_video(params):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode())
    return str(path)


@pytest.fixture(scope="session")
def tiny_cfg():
    return load_config(DEMO, TINY)


@pytest.fixture(scope="session")
def tiny_model(tiny_cfg):
    torch.manual_seed(0)
    return build_model(tiny_cfg).eval()


@pytest.fixture(scope="session")
def video_40(tmp_path_factory) -> str:
    return write_video(tmp_path_factory.mktemp("videos") / "clip 40.mp4", 40)
