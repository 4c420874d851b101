"""Multi-view test items: one item per video, decoded once.

All TEST.NUM_ENSEMBLE_VIEWS clips' frames are fetched in one `get_frames` call (the union of
their indices), resized once to short side DATA.TEST_CROP_SIZE and cut into
TEST.NUM_SPATIAL_CROPS square crops per clip. PySlowFast decodes the file once per view
(30 times; shared/reference/frameworks.md 1.9). Item:
`{"views": uint8 [V, C, T, S, S] or None, "label", "index", "video_id", "error": None or str}`
with V = clips x crops, view v = clip v // crops, crop v % crops. Views stay uint8 (4x less
data through the loader's queue than float32; a Kinetics item is 94 MB instead of 377 MB);
the consumer normalises each chunk it sends to the network with `normalize_views`. A video
that cannot be decoded gives `views=None` and the reason in "error"; it never raises.
"""

from __future__ import annotations

import torch
from fvcore.common.config import CfgNode
from torch.utils.data import Dataset

from video3d.data import transforms
from video3d.data.datasets import VideoDataset, dataset_for
from video3d.data.sources import open_source_from_cfg
from video3d.errors import DecodeError
from video3d.utils.logging import get_logger

logger = get_logger(__name__)


class MultiViewTestDataset(Dataset):
    """Wraps a (validation-mode) VideoDataset: its records, sampling policy and normalisation."""

    def __init__(self, base: VideoDataset):
        self.base = base
        self.cfg = base.cfg
        self.records = base.records
        self.class_names = base.class_names
        self.num_clips = self.cfg.TEST.NUM_ENSEMBLE_VIEWS
        self.num_crops = self.cfg.TEST.NUM_SPATIAL_CROPS

    def __len__(self) -> int:
        return len(self.records)

    def _views(self, index: int) -> torch.Tensor:
        record = self.records[index]
        with open_source_from_cfg(self.cfg, record.path, record.num_frames) as source:
            clips = self.base.test_clips(source.num_frames, source.fps, self.num_clips)
            union = sorted({i for clip in clips for i in clip})
            frames = source.get_frames(union)
        size = self.cfg.DATA.TEST_CROP_SIZE
        resized = transforms.resize_short_side(frames.permute(0, 3, 1, 2), size)  # [U, C, H, W]
        # One layout change for the whole union (channels-last -> planes [C, U, H, W]); then every
        # frame of every view is one copy of whole crop rows straight into its slot of `views`
        # (30 views of 16 x 256^2 from 160 frames: 0.085 s, against 0.12 s for a fancy-indexed
        # clip per view and 0.18 s for index_select; most of the rest is faulting in `views`).
        planes = resized.permute(1, 0, 2, 3).contiguous()
        boxes = transforms.test_crop_boxes(planes.shape[-2], planes.shape[-1], size, self.num_crops)
        position = {frame: k for k, frame in enumerate(union)}
        views = torch.empty((len(clips) * len(boxes), planes.shape[0], len(clips[0]), size, size), dtype=torch.uint8)
        for c, clip in enumerate(clips):
            for b, (top, left) in enumerate(boxes):
                view = views[c * len(boxes) + b]
                for t, frame in enumerate(clip):
                    view[:, t].copy_(planes[:, position[frame], top : top + size, left : left + size])
        return views

    def normalize_views(self, views: torch.Tensor) -> torch.Tensor:
        """uint8 views `[N, C, T, S, S]` -> float32 network input, on the views' device."""
        shape = (1, -1, 1, 1, 1)
        mean = torch.tensor(self.base.mean, dtype=torch.float32, device=views.device).view(shape)
        std = torch.tensor(self.base.std, dtype=torch.float32, device=views.device).view(shape)
        return views.float().sub_(mean).div_(std)  # in place: one float tensor, not three

    def __getitem__(self, index: int) -> dict:
        record = self.records[index]
        item = {"views": None, "label": record.label, "index": index, "video_id": record.video_id, "error": None}
        try:
            item["views"] = self._views(index)
        except DecodeError as error:
            # Debug only: the evaluation report warns once per failed video, on rank 0.
            logger.debug("test video %s failed: %s", error.path, error.reason)
            item["error"] = f"{error.path}: {error.reason}"
        return item


def build_test_dataset(cfg: CfgNode, split: str) -> MultiViewTestDataset:
    """The TEST.DATASET videos of list `split`, one multi-view item per video."""
    return MultiViewTestDataset(dataset_for(cfg, cfg.TEST.DATASET, split, training=False, key="TEST.DATASET"))
