"""The test-time (multi-view) pipeline: one item per video, decoded once.

A `MultiViewDataset` gets its parts explicitly: the videos (`records`), how to open one
(`open_video`), where its clips lie (`clip_positions`, `video3d.data.sampling.EvenlySpacedClips`
or `SegmentClips`) and how to crop them (`ViewCrops`). All clips' frames are fetched in one
`get_frames` call (the union of their indices), resized once to short side `ViewCrops.size`
and cut into `ViewCrops.num_crops` square crops per clip; PySlowFast decodes the file once per
view (docs/DATA.md). Item: `{"views": ViewSet or None, "label", "index", "video_id",
"error": None or str}`; the `ViewSet` stands for uint8 views [V, C, T, S, S] with V = clips x
crops, view v = clip v // crops, crop v % crops, but holds only the resized frames and the
crop boxes: the consumer cuts each chunk it sends to the network on the network's device,
into the float tensor `transforms.Normalizer.views` normalises (a Kinetics item: 21 MB of
frames through the loader's queue instead of 47 MB of uint8 views, or 188 MB of float32).
A video that fails gives `failed_item`: it never raises.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from fvcore.common.config import CfgNode
from torch.utils.data import Dataset

from video3d.data import sampling, transforms
from video3d.data.datasets import DATASETS, class_names_for
from video3d.data.flow_manifest import check_flow_manifest
from video3d.data.frame_source import FrameSource
from video3d.data.lists import RecordTable, VideoRecord
from video3d.data.sources import open_source_from_cfg
from video3d.data.view_set import ViewSet
from video3d.errors import DecodeError
from video3d.utils.logging import get_logger

logger = get_logger(__name__)

ClipPositions = Callable[[int, float, int], list[list[int]]]  # (frames, fps, clips) -> frame indices per clip


@dataclass(frozen=True)
class ViewCrops:
    """Spatial part of the test views: short side resized to `size`, then `num_crops` (1 or 3)
    square crops of `size` (centre; or left / centre / right, top / centre / bottom)."""

    size: int
    num_crops: int
    boxes: Callable[[int, int, int, int], list[tuple[int, int]]] = transforms.multiview_crop_boxes

    @classmethod
    def from_cfg(cls, cfg: CfgNode) -> ViewCrops:
        """DATA.TEST_CROP_SIZE and TEST.NUM_SPATIAL_CROPS; PySlowFast's boxes for
        TEST.CLIP_SAMPLING pyslowfast."""
        boxes = transforms.pyslowfast_crop_boxes if cfg.TEST.CLIP_SAMPLING == "pyslowfast" else transforms.multiview_crop_boxes
        return cls(cfg.DATA.TEST_CROP_SIZE, cfg.TEST.NUM_SPATIAL_CROPS, boxes)


@dataclass(frozen=True)
class SourceFromCfg:
    """Opens a record's video as the config says (`open_source_from_cfg`); picklable for loader workers."""

    cfg: CfgNode

    def __call__(self, record: VideoRecord) -> FrameSource:
        return open_source_from_cfg(self.cfg, record.path, record.num_frames)


def failed_item(record: VideoRecord, index: int, error: Exception) -> dict:
    """The item of a video that could not be turned into views: no views, the reason.

    The one place a failure becomes an item: a DecodeError gives "path: reason", anything
    else "ExceptionType: message" (one bad video is that video's result, not the run's)."""
    if isinstance(error, DecodeError):
        reason = f"{error.path}: {error.reason}"
    else:
        reason = f"{type(error).__name__}: {error}"
    # Debug only: the evaluation report warns once per failed video, on rank 0.
    logger.debug("test video %s failed: %s", record.path, reason)
    return {"views": None, "label": record.label, "index": index, "video_id": record.video_id, "error": reason}


class MultiViewDataset(Dataset):
    """One item per video of `records`: all its views (see the module docstring)."""

    def __init__(self, records: Sequence[VideoRecord], open_video: Callable[[VideoRecord], FrameSource],
                 clip_positions: ClipPositions, num_clips: int, crops: ViewCrops,
                 class_names: list[str] | None = None):
        self.records = RecordTable(records)  # compact: no copy-on-read in the workers
        self.open_video = open_video
        self.clip_positions = clip_positions
        self.num_clips = num_clips
        self.crops = crops
        self.class_names = class_names

    def __len__(self) -> int:
        return len(self.records)

    def views(self, index: int) -> ViewSet:
        """The views (uint8 `[clips x crops, C, T, S, S]`, not yet cut) of video `index`; raises
        on a failure."""
        with self.open_video(self.records[index]) as source:
            return self.views_of(source)

    def clips_of(self, source: FrameSource) -> list[list[int]]:
        """Frame indices of each clip of the video behind `source`."""
        if getattr(self.clip_positions, "needs_pts_per_frame", False):
            return self.clip_positions(source.num_frames, source.fps, self.num_clips, source.pts_per_frame)
        return self.clip_positions(source.num_frames, source.fps, self.num_clips)

    def views_of(self, source: FrameSource) -> ViewSet:
        """The views of an open source: its clips' frames fetched in one `get_frames` call and
        resized once; the views are cut by the consumer (`ViewSet`)."""
        clips = self.clips_of(source)
        union = sorted({i for clip in clips for i in clip})
        frames = source.get_frames(union)
        size = self.crops.size
        resized = transforms.resize_short_side(frames.permute(0, 3, 1, 2), size)  # [U, C, H, W]
        boxes = self.crops.boxes(resized.shape[-2], resized.shape[-1], size, self.crops.num_crops)
        position = {frame: k for k, frame in enumerate(union)}
        # GPU-decoded frames (DATA.DECODE_DEVICE cuda) stay on the GPU; the indices are small.
        return ViewSet(resized, torch.tensor([[position[f] for f in clip] for clip in clips], dtype=torch.int64),
                       torch.tensor(boxes, dtype=torch.int64).view(-1, 2), size)

    def __getitem__(self, index: int) -> dict:
        record = self.records[index]
        try:
            views = self.views(index)
        except Exception as error:  # any failure of one video is that video's result
            return failed_item(record, index, error)
        return {"views": views, "label": record.label, "index": index, "video_id": record.video_id, "error": None}


def multiview_dataset(cfg: CfgNode, records: Sequence[VideoRecord], dataset: str,
                      class_names: list[str] | None = None) -> MultiViewDataset:
    """`records` with the test-time parts the config names: TEST.NUM_ENSEMBLE_VIEWS clips placed
    as dataset `dataset` (a TEST.DATASET value) places them, ViewCrops.from_cfg, frame sources
    from DATA.FORMAT / MODALITY / DECODING_BACKEND."""
    kind = DATASETS.lookup(dataset, "TEST.DATASET")
    check_flow_manifest(cfg)
    clips = kind.view_clips(cfg)
    if cfg.TEST.CLIP_SAMPLING == "pyslowfast" and isinstance(clips, sampling.EvenlySpacedClips):
        clips = sampling.PySlowFastClips.from_cfg(cfg)
    return MultiViewDataset(records, SourceFromCfg(cfg), clips, cfg.TEST.NUM_ENSEMBLE_VIEWS,
                            ViewCrops.from_cfg(cfg), class_names)


def build_multiview_dataset(cfg: CfgNode, split: str) -> MultiViewDataset:
    """The TEST.DATASET videos of list `split`, one multi-view item per video."""
    kind = DATASETS.lookup(cfg.TEST.DATASET, "TEST.DATASET")
    return multiview_dataset(cfg, kind.records(cfg, split), cfg.TEST.DATASET,
                             class_names_for(cfg, cfg.TEST.DATASET, "TEST.DATASET"))
