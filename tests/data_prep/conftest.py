"""Tiny generated videos for the data_prep tests."""

from __future__ import annotations

import os

import numpy as np
import pytest

from data_prep.synthetic import encode_mp4


def moving_frames(frames: int = 10, width: int = 64, height: int = 48, step: int = 2) -> np.ndarray:
    """A smooth random texture sliding right by `step` pixels a frame: uint8 [T, H, W, 3]."""
    rng = np.random.default_rng(0)
    coarse = rng.integers(0, 256, size=(height // 4 + 1, (width + step * frames) // 4 + 1, 3), dtype=np.uint8)
    texture = np.kron(coarse, np.ones((4, 4, 1), dtype=np.uint8))[:height]
    return np.stack([texture[:, (frames - t) * step:(frames - t) * step + width] for t in range(frames)])


def write_video(path: str, frames: np.ndarray, fps: int = 30) -> str:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    encode_mp4(frames, path, fps)
    return path


@pytest.fixture(scope="session")
def make_frames():
    """moving_frames as a fixture, so tests need not import the conftest."""
    return moving_frames


@pytest.fixture(scope="session")
def video_bytes(tmp_path_factory) -> bytes:
    """The bytes of one 64x48, 10-frame H.264 mp4 (encoded once per session)."""
    path = write_video(str(tmp_path_factory.mktemp("video") / "v.mp4"), moving_frames())
    with open(path, "rb") as handle:
        return handle.read()


@pytest.fixture
def put_video(video_bytes):
    """put_video(path, data=None): write the session video (or `data`) at `path`."""
    def put(path, data: bytes | None = None) -> str:
        os.makedirs(os.path.dirname(str(path)), exist_ok=True)
        with open(path, "wb") as handle:
            handle.write(video_bytes if data is None else data)
        return str(path)
    return put
