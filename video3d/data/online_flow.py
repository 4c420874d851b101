"""Optical flow computed from a video file while testing or predicting (DATA.FORMAT video with
DATA.MODALITY flow): the same numbers as extracted flow JPEGs, without the JPEGs.

`OnlineFlowSource` wraps a video decoder and behaves like a flow frame folder
(`video3d.data.frame_folders.FlowFrameFolder`): index i is the flow from frame i to frame
i + 1, a video of N frames has N - 1, and each is uint8 `[H, W, 2]` (x, y) quantised levels.
For the indices asked it decodes exactly those frames and the next one of each (one
`get_frames` call), prepares them as data_prep.extract_flow does (resize to the extraction
size, then grayscale: `video3d.flow.frames`), and computes and quantises the pairs' flow
with the model's recipe (`video3d.flow.recipe`: `FlowRecipe.from_cfg` reads DATA.FLOW_ALGO,
DATA.FLOW_BOUND, DATA.FLOW_SHORT_SIDE / DATA.FLOW_SIZE, DATA.FLOW_FPS; `flow_pairs`, the pair
driver extract_flow uses too). The consumer normalises it with DATA.FLOW_MEAN /
DATA.FLOW_STD like flow read from JPEGs (docs/FLOW.md, "Flow from raw video").

TV-L1 runs on video3d.flow.TVL1 (PyTorch) on `FlowRecipe.device`, up to `batch` pairs per
call; DIS and Farneback on OpenCV, pair by pair, on the CPU.
"""

from __future__ import annotations

import numpy as np
import torch
from fvcore.common.config import CfgNode

from video3d.data.frame_source import FrameSource
from video3d.errors import DecodeError
from video3d.flow.frames import flow_gray, resampled_count, source_index
from video3d.flow.recipe import FlowRecipe, flow_device, flow_pairs


def flow_runs_on_gpu(cfg: CfgNode) -> bool:
    """True when DATA.FORMAT video + DATA.MODALITY flow computes TV-L1 on a GPU: the test loader
    then decodes in the main process (CUDA cannot start in a forked worker)."""
    return (cfg.DATA.FORMAT == "video" and cfg.DATA.MODALITY == "flow" and cfg.DATA.FLOW_ALGO == "tvl1"
            and flow_device(cfg) != "cpu")


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
        self._size: tuple[int, int] | None = None  # asked of the video when first needed (below)

    def _source(self, frame: int) -> int:
        """The video's frame shown at frame `frame` of the flow's timeline."""
        return frame if self.recipe.fps is None else source_index(frame, self.video.fps, self.recipe.fps)

    @property
    def num_frames(self) -> int:
        return self._frames - 1

    @property
    def fps(self) -> float:
        return self.video.fps if self.recipe.fps is None else self.recipe.fps

    def _flow_size(self) -> tuple[int, int]:
        """(width, height) of the flow. Read lazily: a decoder may have to decode a frame to
        know its upright size, which a prefetch (two_stream.CachedFrames) does anyway."""
        if self._size is None:
            self._size = self.recipe.output_size(self.video.width, self.video.height)
        return self._size

    @property
    def height(self) -> int:
        return self._flow_size()[1]

    @property
    def width(self) -> int:
        return self._flow_size()[0]

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
        gray = {index: flow_gray(image, self._flow_size()) for index, image in zip(frames, rgb, strict=True)}
        firsts = np.stack([gray[ends[i][0]] for i in wanted])
        seconds = np.stack([gray[ends[i][1]] for i in wanted])
        flows = flow_pairs(firsts, seconds, self.recipe)
        return dict(zip(wanted, flows.unbind(0), strict=True))

    def close(self) -> None:
        self.video.close()
