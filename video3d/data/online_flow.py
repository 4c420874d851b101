"""Optical flow computed from a video file while testing or predicting (DATA.FORMAT video with
DATA.MODALITY flow): the same numbers as extracted flow JPEGs, without the JPEGs.

`OnlineFlowSource` wraps a video decoder and behaves like a flow frame folder
(`video3d.data.frame_folders.FlowFrameFolder`): index i is the flow from frame i to frame
i + 1, a video of N frames has N - 1, and each is uint8 `[H, W, 2]` (x, y) quantised levels.
For the indices asked it decodes exactly those frames and the next one of each (one
`get_frames` call), prepares them as data_prep.extract_flow does (resize to the extraction
size, then grayscale: `video3d.flow.frames`), computes the pairs' flow with the model's
recipe (`FlowRecipe`: DATA.FLOW_ALGO, DATA.FLOW_BOUND, DATA.FLOW_SHORT_SIDE / DATA.FLOW_SIZE,
DATA.FLOW_FPS) and quantises it (`video3d.flow.quantize`). The consumer normalises it with DATA.FLOW_MEAN /
DATA.FLOW_STD like flow read from JPEGs (docs/FLOW.md, "Flow from raw video").

TV-L1 runs on video3d.flow.TVL1 (PyTorch) on `FlowRecipe.device`, up to `batch` pairs per
call; DIS and Farneback on OpenCV, pair by pair, on the CPU.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from fvcore.common.config import CfgNode

from video3d.config.choices import FLOW_ALGORITHMS
from video3d.data.frame_source import FrameSource
from video3d.errors import ConfigError, DecodeError
from video3d.flow.frames import flow_gray, output_size, resampled_count, source_index
from video3d.flow.opencv import FlowComputer
from video3d.flow.quantize import quantize_flow
from video3d.flow.tvl1 import TVL1


@dataclass(frozen=True)
class FlowRecipe:
    """How a flow model's input is computed from frames: what data_prep.extract_flow did
    (`--algo`, `--bound`, `--short-side` / `--size`), plus where and how online TV-L1 runs."""

    algorithm: str = "tvl1"
    bound: float = 20.0
    short_side: int | None = None
    size: tuple[int, int] | None = None  # (width, height), extract_flow's --size WxH
    fps: float | None = None  # extract_flow's --fps: frames resampled to this rate first
    device: str = "cpu"
    compile: bool = False
    batch: int = 16

    def __post_init__(self):
        if self.algorithm not in FLOW_ALGORITHMS:
            raise ConfigError(FLOW_ALGORITHMS.error(self.algorithm))
        if not self.bound > 0:
            raise ConfigError(f"config key DATA.FLOW_BOUND must be > 0, got {self.bound}")
        if self.short_side is not None and self.size is not None:
            raise ConfigError("DATA.FLOW_SHORT_SIDE and DATA.FLOW_SIZE both set: extraction resizes one way "
                              "(--short-side or --size); set the other to 0 / []")
        if self.fps is not None and not self.fps > 0:
            raise ConfigError(f"config key DATA.FLOW_FPS must be > 0 (or 0: every frame), got {self.fps}")
        if self.batch < 1:
            raise ConfigError(f"online flow batch must be >= 1, got {self.batch}")

    @classmethod
    def from_cfg(cls, cfg: CfgNode, device: str | None = None) -> FlowRecipe:
        """DATA.FLOW_ALGO, FLOW_BOUND, FLOW_SHORT_SIDE, FLOW_SIZE, FLOW_FPS and FLOW_COMPILE; pairs
        per call = DATA.NUM_FRAMES (one clip); `device` defaults to `flow_device(cfg)`."""
        data = cfg.DATA
        return cls(data.FLOW_ALGO, float(data.FLOW_BOUND), int(data.FLOW_SHORT_SIDE) or None,
                   tuple(int(v) for v in data.FLOW_SIZE) or None, float(data.FLOW_FPS) or None,
                   device or flow_device(cfg), bool(data.FLOW_COMPILE), max(int(data.NUM_FRAMES), 1))

    def output_size(self, width: int, height: int) -> tuple[int, int]:
        """(width, height) the flow is computed at for a `width` x `height` video."""
        return output_size(width, height, self.short_side, self.size)


def flow_device(cfg: CfgNode) -> str:
    """Where online TV-L1 runs: the GPU the model is on (NUM_GPUS > 0 and CUDA present), else the CPU."""
    if cfg.NUM_GPUS > 0 and torch.cuda.is_available():
        return f"cuda:{torch.cuda.current_device()}"
    return "cpu"


def flow_runs_on_gpu(cfg: CfgNode) -> bool:
    """True when DATA.FORMAT video + DATA.MODALITY flow computes TV-L1 on a GPU: the test loader
    then decodes in the main process (CUDA cannot start in a forked worker)."""
    return (cfg.DATA.FORMAT == "video" and cfg.DATA.MODALITY == "flow" and cfg.DATA.FLOW_ALGO == "tvl1"
            and flow_device(cfg) != "cpu")


_SOLVERS: dict[tuple, object] = {}


def _solver(recipe: FlowRecipe):
    """One flow engine per process and setting (a compiled TV-L1 keeps its compiled graphs)."""
    key = (recipe.algorithm, recipe.compile)
    if key not in _SOLVERS:
        _SOLVERS[key] = TVL1(compile=recipe.compile) if recipe.algorithm == "tvl1" else FlowComputer(recipe.algorithm)
    return _SOLVERS[key]


def quantized_flow(firsts: np.ndarray, seconds: np.ndarray, recipe: FlowRecipe) -> torch.Tensor:
    """Flow of gray uint8 pairs `[B, H, W]` -> quantised uint8 `[B, H, W, 2]` (x, y) on the CPU."""
    solver = _solver(recipe)
    if recipe.algorithm != "tvl1":
        flows = torch.from_numpy(np.stack([solver(a, b) for a, b in zip(firsts, seconds, strict=True)]))
        return quantize_flow(flows, recipe.bound)
    device = torch.device(recipe.device)
    parts = []
    for start in range(0, len(firsts), recipe.batch):
        first = torch.from_numpy(firsts[start:start + recipe.batch]).to(device)
        second = torch.from_numpy(seconds[start:start + recipe.batch]).to(device)
        flow = solver(first, second)  # [B, 2, H, W] float32
        parts.append(quantize_flow(flow, recipe.bound).permute(0, 2, 3, 1).cpu())
    return torch.cat(parts)


class OnlineFlowSource(FrameSource):
    """The flow of a video file as a flow frame source (see the module docstring)."""

    def __init__(self, video: FrameSource, recipe: FlowRecipe):
        super().__init__(video.path)
        self.video = video
        self.recipe = recipe
        # Frame k of the flow's timeline: every frame, or extraction's --fps resampling of them.
        self._frames = video.num_frames
        if recipe.fps is not None:
            self._frames = resampled_count(video.num_frames, video.fps, recipe.fps)
        if self._frames < 2:
            video.close()
            raise DecodeError(video.path, f"{self._frames} frame(s): no flow pair")
        self._size = recipe.output_size(video.width, video.height)

    def _source(self, frame: int) -> int:
        """The video's frame shown at frame `frame` of the flow's timeline."""
        return frame if self.recipe.fps is None else source_index(frame, self.video.fps, self.recipe.fps)

    @property
    def num_frames(self) -> int:
        return self._frames - 1

    @property
    def fps(self) -> float:
        return self.video.fps if self.recipe.fps is None else self.recipe.fps

    @property
    def height(self) -> int:
        return self._size[1]

    @property
    def width(self) -> int:
        return self._size[0]

    @property
    def channels(self) -> int:
        return 2

    @property
    def pts_per_frame(self) -> float | None:
        return self.video.pts_per_frame if self.recipe.fps is None else None

    def source_frames(self, indices) -> list[int]:
        """The video's frames the flow at `indices` is computed from (both ends of each pair,
        after DATA.FLOW_FPS resampling), sorted: what to prefetch for one decoder call."""
        return sorted({self._source(f) for i in indices for f in (i, i + 1)})

    def _read(self, wanted: list[int]) -> dict[int, torch.Tensor]:
        ends = {i: (self._source(i), self._source(i + 1)) for i in wanted}
        frames = self.source_frames(wanted)
        rgb = self.video.get_frames(frames).numpy()
        gray = {index: flow_gray(image, self._size) for index, image in zip(frames, rgb, strict=True)}
        firsts = np.stack([gray[ends[i][0]] for i in wanted])
        seconds = np.stack([gray[ends[i][1]] for i in wanted])
        flows = quantized_flow(firsts, seconds, self.recipe)
        return dict(zip(wanted, flows.unbind(0), strict=True))

    def close(self) -> None:
        self.video.close()
