"""`open_source`: one entry point for a video file (PyAV or decord) or a frame folder."""

from __future__ import annotations

from fvcore.common.config import CfgNode

from video3d.data.decoders import DecordSource, PyAVSource
from video3d.data.frame_folders import FlowFrameFolder, RGBFrameFolder
from video3d.data.frame_source import FrameSource
from video3d.errors import ConfigError

_DECODERS = {"pyav": PyAVSource, "decord": DecordSource}


def open_source(
    path: str,
    fmt: str = "video",
    modality: str = "rgb",
    backend: str = "pyav",
    num_frames: int | None = None,
    fps: float = 30.0,
    threads: int = 1,
) -> FrameSource:
    """Open `path` as a FrameSource.

    fmt "video": a video file decoded by `backend` (pyav or decord); `num_frames` and `fps`
    are ignored (read from the file). fmt "frames": a frame folder, RGB (`img_`) or flow
    (`flow_x_`/`flow_y_`); `num_frames` is the folder's RGB frame count from a frame list
    (None = count the files) and `fps` the rate the frames were extracted at.
    """
    if fmt == "video":
        if modality != "rgb":
            raise ConfigError(f"DATA.MODALITY {modality} needs DATA.FORMAT frames (flow is read from frame folders)")
        if backend not in _DECODERS:
            raise ConfigError(f"DATA.DECODING_BACKEND is {backend!r}; expected one of {', '.join(_DECODERS)}")
        return _DECODERS[backend](path, threads=threads)
    if fmt == "frames":
        if modality == "rgb":
            return RGBFrameFolder(path, num_frames=num_frames, fps=fps)
        if modality == "flow":
            return FlowFrameFolder(path, num_frames=num_frames, fps=fps)
        raise ConfigError(f"DATA.MODALITY is {modality!r}; expected rgb or flow")
    raise ConfigError(f"DATA.FORMAT is {fmt!r}; expected video or frames")


def open_source_from_cfg(cfg: CfgNode, path: str, num_frames: int | None = None) -> FrameSource:
    """`open_source` with DATA.FORMAT, DATA.MODALITY, DATA.DECODING_BACKEND, DATA.TARGET_FPS
    (frame folders) and DATA_LOADER.DECODE_THREADS from `cfg`."""
    return open_source(
        path,
        fmt=cfg.DATA.FORMAT,
        modality=cfg.DATA.MODALITY,
        backend=cfg.DATA.DECODING_BACKEND,
        num_frames=num_frames,
        fps=float(cfg.DATA.TARGET_FPS),
        threads=cfg.DATA_LOADER.DECODE_THREADS,
    )
