"""Tiny generated videos and frame folders for the data tests.

Every frame shows its own index as two flat grey levels (top half: index % 60, bottom half:
index // 60), which survive H.264 and JPEG, so a test can read back which frame it got.
"""

from __future__ import annotations

import logging
import os

import av
import cv2
import numpy as np
import pytest

from video3d.config import get_cfg


def frame_image(index: int, height: int, width: int) -> np.ndarray:
    """RGB frame `index`: grey 8 + 4 * (index % 60) on top, 8 + 16 * (index // 60) below."""
    image = np.empty((height, width, 3), np.uint8)
    image[: height // 2] = 8 + 4 * (index % 60)
    image[height // 2 :] = 8 + 16 * (index // 60)
    return image


def frame_index_of(image) -> int:
    """Inverse of `frame_image` for a decoded (lossy) frame `[H, W, C]`."""
    image = np.asarray(image, dtype=np.float64)
    height = image.shape[0]
    top = np.median(image[: height // 2])  # the median ignores rows blended by a resize
    bottom = np.median(image[height // 2 :])
    return int(round((top - 8) / 4)) + 60 * int(round((bottom - 8) / 16))


def write_video(path: str, num_frames: int, height: int, width: int, fps: int = 30, gop: int = 0,
                codec: str = "libx264", noise: bool = False, seed: int = 0, bframes: int = 0) -> str:
    """An H.264 mp4 (or `codec`) whose frame i is `frame_image(i)`; `gop` frames between
    keyframes (0 = 2 s, as the benchmark videos). `noise` adds texture (costlier to decode);
    `bframes` > 0 puts B-frames between the P-frames (x264's default encodes have 3)."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    rng = np.random.default_rng(seed)
    with av.open(path, "w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv444p" if (width % 2 or height % 2) else "yuv420p"
        keyint = str(gop or 2 * fps)
        if codec == "libx264":
            stream.options = {"g": keyint, "keyint_min": keyint, "sc_threshold": "0", "preset": "ultrafast",
                              "bf": str(bframes)}
        else:
            stream.options = {"g": keyint}
        for index in range(num_frames):
            image = frame_image(index, height, width)
            if noise:
                image = np.clip(image.astype(np.int16) + rng.integers(-20, 20, image.shape), 0, 255).astype(np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def vfr_timestamps(num_frames: int = 120) -> list[int]:
    """Irregular presentation timestamps (time base 1/3000, nominally 30 fps = 100 ticks): a
    burst of frames 25 ticks apart (10..20), a 0.23 s gap after frame 40, the rest regular."""
    timestamps, pts = [], 0
    for index in range(num_frames):
        timestamps.append(pts)
        pts += 25 if 10 <= index < 20 else 700 if index == 40 else 100
    return timestamps


def write_vfr_video(path: str, timestamps: list[int], height: int = 48, width: int = 64, gop: int = 30,
                    bframes: int = 0, duplicate: int | None = None) -> str:
    """A variable-frame-rate H.264 mp4 whose frame i is `frame_image(i)` shown at
    `timestamps[i]` / 3000 s. `duplicate` = i gives frame i the timestamp of frame i + 1 (a
    duplicated timestamp: mp4 accepts it in the packet's pts, not in the encoder's input)."""
    from fractions import Fraction

    time_base = Fraction(1, 3000)
    with av.open(path, "w") as container:
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.time_base = stream.codec_context.time_base = time_base
        stream.options = {"g": str(gop), "keyint_min": str(gop), "sc_threshold": "0", "preset": "ultrafast",
                          "bf": str(bframes)}

        def mux(packets):
            for packet in packets:
                if duplicate is not None and packet.pts == timestamps[duplicate]:
                    packet.pts = timestamps[duplicate + 1]
                container.mux(packet)

        for index, pts in enumerate(timestamps):
            frame = av.VideoFrame.from_ndarray(frame_image(index, height, width), format="rgb24")
            frame.pts, frame.time_base = pts, time_base
            mux(stream.encode(frame))
        mux(stream.encode())
    return path


def flow_image(index: int, height: int, width: int, axis: int) -> np.ndarray:
    """Quantised flow pair `index`: x = 100 + index, y = 60 + 2 * index (flat)."""
    value = 100 + index if axis == 0 else 60 + 2 * index
    return np.full((height, width), value, np.uint8)


def write_frame_folder(folder: str, num_frames: int, height: int, width: int, flow: bool = True) -> str:
    """`img_%05d.jpg` frames 1..N and, with `flow`, `flow_x/y_%05d.jpg` pairs 1..N-1."""
    os.makedirs(folder, exist_ok=True)
    quality = [cv2.IMWRITE_JPEG_QUALITY, 95]
    for index in range(num_frames):
        bgr = cv2.cvtColor(frame_image(index, height, width), cv2.COLOR_RGB2BGR)
        cv2.imwrite(os.path.join(folder, f"img_{index + 1:05d}.jpg"), bgr, quality)
        if flow and index < num_frames - 1:
            for axis, name in ((0, "x"), (1, "y")):
                cv2.imwrite(os.path.join(folder, f"flow_{name}_{index + 1:05d}.jpg"),
                            flow_image(index, height, width, axis), quality)
    return folder


def truncate(source: str, destination: str, fraction: float = 0.5) -> str:
    with open(source, "rb") as handle:
        data = handle.read()
    with open(destination, "wb") as handle:
        handle.write(data[: int(len(data) * fraction)])
    return destination


@pytest.fixture(scope="session")
def video_dir(tmp_path_factory) -> str:
    """A handful of good and broken videos shared by the tests (written once per session)."""
    root = str(tmp_path_factory.mktemp("videos"))
    write_video(os.path.join(root, "land_30.mp4"), 90, 48, 64, fps=30, gop=20)
    write_video(os.path.join(root, "port_25.mp4"), 75, 96, 64, fps=25, gop=25)
    write_video(os.path.join(root, "odd_30.mp4"), 40, 37, 53, fps=30)
    write_video(os.path.join(root, "short_30.mp4"), 5, 48, 64, fps=30)
    write_video(os.path.join(root, "with space -x.mp4"), 30, 48, 64, fps=30)
    faststart = os.path.join(root, "faststart.mp4")
    with av.open(faststart, "w", options={"movflags": "faststart"}) as container:
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.options = {"g": "10", "keyint_min": "10", "sc_threshold": "0", "preset": "ultrafast"}
        rng = np.random.default_rng(1)
        for _ in range(120):
            image = rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    truncate(faststart, os.path.join(root, "truncated_faststart.mp4"), 0.5)
    truncate(os.path.join(root, "land_30.mp4"), os.path.join(root, "truncated.mp4"), 0.5)
    open(os.path.join(root, "empty.mp4"), "wb").close()
    with open(os.path.join(root, "not_a_video.mp4"), "w") as handle:
        handle.write("this is a text file\n" * 20)
    return root


@pytest.fixture(scope="session")
def frames_dir(tmp_path_factory) -> str:
    root = str(tmp_path_factory.mktemp("frames"))
    write_frame_folder(os.path.join(root, "a"), 20, 32, 40)
    write_frame_folder(os.path.join(root, "b"), 12, 40, 30)
    return root


@pytest.fixture
def small_cfg():
    """Config for tiny clips: 4 frames x 2, jitter [40, 48], crop 32, test size 36."""
    cfg = get_cfg()
    cfg.DATA.NUM_FRAMES = 4
    cfg.DATA.SAMPLING_RATE = 2
    cfg.DATA.TRAIN_JITTER_SCALES = [40, 48]
    cfg.DATA.TRAIN_CROP_SIZE = 32
    cfg.DATA.TEST_CROP_SIZE = 36
    cfg.DATA.MAX_CONSECUTIVE_FAILURES = 5
    cfg.TRAIN.BATCH_SIZE = 2
    cfg.DATA_LOADER.NUM_WORKERS = 0
    cfg.MODEL.NUM_CLASSES = 4
    cfg.TEST.NUM_ENSEMBLE_VIEWS = 3
    cfg.TEST.NUM_SPATIAL_CROPS = 3
    return cfg


@pytest.fixture
def loader_cfg(small_cfg, video_dir, tmp_path):
    """small_cfg reading a training list of the fixture videos (one missing, one named with a space and -)."""
    lists = tmp_path / "lists"
    lists.mkdir()
    names = ["land_30.mp4 0", "port_25.mp4 1", "odd_30.mp4 2", "short_30.mp4 3", "missing.mp4 0",
             "with space -x.mp4 1"]
    (lists / "train.csv").write_text("".join(f"{n}\n" for n in names))
    small_cfg.DATA.PATH_TO_DATA_DIR, small_cfg.DATA.PATH_PREFIX = str(lists), video_dir
    small_cfg.DATA.TEST_CROP_SIZE = 32
    return small_cfg


@pytest.fixture
def video3d_caplog(caplog):
    """caplog that also sees the `video3d` logger when setup_logging turned propagation off."""
    logger = logging.getLogger("video3d")
    attach = not logger.propagate
    if attach:
        logger.addHandler(caplog.handler)
    caplog.set_level(logging.INFO, logger="video3d")
    yield caplog
    if attach:
        logger.removeHandler(caplog.handler)
