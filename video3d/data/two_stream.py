"""Two-stream test items from one decode: the RGB views and the flow views of a video file.

`TwoStreamDataset` pairs an RGB and a flow `MultiViewDataset` over the same video files (each
with its own model's clips and crops). Item i opens video i once, fetches in one decoder call
the union of the frames the RGB clips need and the frames the flow clips' pairs need (asked
of the flow source: frames i and i + 1 of flow index i, or the frames DATA.FLOW_FPS resampling
picks), then builds the RGB views from those frames and the flow views
from their flow (`OnlineFlowSource` with the flow model's recipe). Item: `{"views": the RGB ViewSet,
"flow_views": the flow ViewSet, "label", "index", "video_id", "error"}`; a failure in
either stream fails the item (`failed_item`, with "flow_views" None too).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch.utils.data import Dataset

from video3d.data.frame_source import FrameSource
from video3d.data.multiview import MultiViewDataset, failed_item
from video3d.data.online_flow import OnlineFlowSource
from video3d.data.view_set import ViewSet
from video3d.flow.recipe import FlowRecipe


class CachedFrames(FrameSource):
    """A video source whose frames are decoded once (`prefetch`) and then served from memory."""

    def __init__(self, video: FrameSource):
        super().__init__(video.path)
        self.video = video
        self._frames: dict[int, torch.Tensor] = {}

    def prefetch(self, indices: Iterable[int]) -> None:
        """Decode `indices` in one call of the wrapped source and keep them."""
        wanted = sorted(set(indices))
        self._frames.update(zip(wanted, self.video.get_frames(wanted).unbind(0), strict=True))

    @property
    def num_frames(self) -> int:
        return self.video.num_frames

    @property
    def fps(self) -> float:
        return self.video.fps

    @property
    def height(self) -> int:
        return self.video.height

    @property
    def width(self) -> int:
        return self.video.width

    @property
    def channels(self) -> int:
        return self.video.channels

    @property
    def pts_per_frame(self) -> float | None:
        return self.video.pts_per_frame

    def _read(self, wanted: list[int]) -> dict[int, torch.Tensor]:
        missing = [i for i in wanted if i not in self._frames]
        if missing:  # not prefetched: decoded now (a second decoder call)
            self.prefetch(missing)
        return {i: self._frames[i] for i in wanted}

    def close(self) -> None:
        self._frames = {}
        self.video.close()


class TwoStreamDataset(Dataset):
    """One item per video with its RGB and its flow views (see the module docstring)."""

    def __init__(self, rgb: MultiViewDataset, flow: MultiViewDataset, recipe: FlowRecipe):
        if [r.path for r in rgb.records] != [r.path for r in flow.records]:
            raise ValueError("the RGB and flow datasets must hold the same videos in the same order")
        self.rgb = rgb
        self.flow = flow
        self.recipe = recipe
        self.records = rgb.records

    def __len__(self) -> int:
        return len(self.records)

    def views(self, index: int) -> tuple[ViewSet, ViewSet]:
        """(RGB views, flow views) of video `index`, from one decoder call; raises on a failure."""
        with self.rgb.open_video(self.records[index]) as video:
            frames = CachedFrames(video)
            flow = OnlineFlowSource(frames, self.recipe)
            rgb_frames = {i for clip in self.rgb.clips_of(frames) for i in clip}
            pairs = {i for clip in self.flow.clips_of(flow) for i in clip}
            frames.prefetch(rgb_frames | set(flow.source_frames(pairs)))
            return self.rgb.views_of(frames), self.flow.views_of(flow)

    def __getitem__(self, index: int) -> dict:
        record = self.records[index]
        try:
            rgb, flow = self.views(index)
        except Exception as error:  # any failure of one video is that video's result
            return {**failed_item(record, index, error), "flow_views": None}
        return {"views": rgb, "flow_views": flow, "label": record.label, "index": index,
                "video_id": record.video_id, "error": None}
