"""`open_source`: one entry point for a video file (PyAV, decord or torchcodec) or a frame folder."""

from __future__ import annotations

from fvcore.common.config import CfgNode

from video3d.choices import Choices
from video3d.data.decoders import DecordSource, PyAVSource
from video3d.data.frame_folders import FlowFrameFolder, RGBFrameFolder
from video3d.data.frame_source import FrameSource
from video3d.data.online_flow import OnlineFlowSource
from video3d.data.torchcodec_source import TorchCodecSource
from video3d.errors import ConfigError
from video3d.flow.recipe import FlowRecipe

# Video decoders: (path, threads=...) -> FrameSource; those in GPU_DECODERS also take device=.
DECODERS = Choices("DATA.DECODING_BACKEND", {"pyav": PyAVSource, "decord": DecordSource,
                                             "torchcodec": TorchCodecSource})
GPU_DECODERS = ("torchcodec",)
# Frame-folder readers by modality: (path, num_frames=..., fps=...) -> FrameSource.
FRAME_FOLDERS = Choices("DATA.MODALITY", {"rgb": RGBFrameFolder, "flow": FlowFrameFolder})


def _open_video(path: str, modality: str, backend: str, num_frames: int | None, fps: float,
                threads: int, flow: FlowRecipe | None, device: str = "cpu") -> FrameSource:
    options = {"threads": threads}
    if device != "cpu":
        if backend not in GPU_DECODERS:
            raise ConfigError(f"DATA.DECODE_DEVICE {device} needs DATA.DECODING_BACKEND "
                              f"{' or '.join(GPU_DECODERS)}, not {backend}")
        options["device"] = device
    video = DECODERS[backend](path, **options)
    if modality == "flow":  # flow computed online from the decoded frames
        return OnlineFlowSource(video, flow or FlowRecipe())
    return video


def _open_frames(path: str, modality: str, backend: str, num_frames: int | None, fps: float,
                 threads: int, flow: FlowRecipe | None, device: str = "cpu") -> FrameSource:
    return FRAME_FOLDERS[modality](path, num_frames=num_frames, fps=fps)


# (path, modality, backend, num_frames, fps, threads, flow recipe, decode device) -> FrameSource.
FORMATS = Choices("DATA.FORMAT", {"video": _open_video, "frames": _open_frames})


def open_source(
    path: str,
    fmt: str = "video",
    modality: str = "rgb",
    backend: str = "pyav",
    num_frames: int | None = None,
    fps: float = 30.0,
    threads: int = 1,
    flow: FlowRecipe | None = None,
    device: str = "cpu",
) -> FrameSource:
    """Open `path` as a FrameSource.

    fmt "video": a video file decoded by `backend` (pyav, decord or torchcodec, the last also
    on `device` cuda); `num_frames` and `fps` are ignored (read from the file); modality "flow" computes the file's flow online with
    recipe `flow` (default `FlowRecipe()`: TV-L1, bound 20, no resize; video3d.flow.recipe).
    fmt "frames": a frame folder, RGB (`img_`) or flow
    (`flow_x_`/`flow_y_`); `num_frames` is the folder's RGB frame count from a frame list
    (None = count the files) and `fps` the rate the frames were extracted at.
    """
    return FORMATS[fmt](path, modality, backend, num_frames, fps, threads, flow, device)


def open_source_from_cfg(cfg: CfgNode, path: str, num_frames: int | None = None) -> FrameSource:
    """`open_source` with DATA.FORMAT, DATA.MODALITY, DATA.DECODING_BACKEND, DATA.DECODE_DEVICE, DATA.TARGET_FPS
    (frame folders), DATA_LOADER.DECODE_THREADS and, for flow from video files, the flow recipe
    (`FlowRecipe.from_cfg`: DATA.FLOW_*) from `cfg`."""
    flow = FlowRecipe.from_cfg(cfg) if cfg.DATA.FORMAT == "video" and cfg.DATA.MODALITY == "flow" else None
    return open_source(
        path,
        fmt=cfg.DATA.FORMAT,
        modality=cfg.DATA.MODALITY,
        backend=cfg.DATA.DECODING_BACKEND,
        num_frames=num_frames,
        fps=float(cfg.DATA.TARGET_FPS),
        threads=cfg.DATA_LOADER.DECODE_THREADS,
        flow=flow,
        device=cfg.DATA.DECODE_DEVICE,
    )
