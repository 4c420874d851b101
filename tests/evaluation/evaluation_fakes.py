"""Fakes for the evaluator tests: a counting one-item-per-video dataset and a model whose
prediction is readable from its input, so expected metrics are known by hand."""

from __future__ import annotations

from collections import Counter
from types import SimpleNamespace

import torch
from torch import nn
from torch.utils.data import Dataset

from video3d.config import get_cfg
from video3d.data.multiview import failed_item
from video3d.errors import DecodeError


class ValueModel(nn.Module):
    """Logits peak at the class equal to a view's mean value (a view filled with c predicts c).
    Records the size of every forward batch."""

    def __init__(self, num_classes: int, ffc: bool = False):
        super().__init__()
        self.sharpness = nn.Parameter(torch.tensor(4.0))
        self.num_classes = num_classes
        self.ffc = ffc
        self.batch_sizes: list[int] = []

    def forward(self, views: torch.Tensor) -> torch.Tensor:
        self.batch_sizes.append(len(views))
        value = views.flatten(1).mean(dim=1)
        logits = -self.sharpness * (value[:, None] - torch.arange(self.num_classes)) ** 2
        return logits[:, None].expand(-1, 7, -1) if self.ffc else logits


class CountingVideos(Dataset):
    """Test items as `build_multiview_dataset` gives them: one per video, all its uint8 views at
    once, and a failed video as `failed_item` makes it (the multi-view dataset never raises).

    `values[i]` is the class every view of video i shows (None = the video fails to decode);
    indices in `raising` fail with a DecodeError while reading.
    """

    def __init__(self, labels: list[int], values: list[int | None], num_views: int, raising=()):
        self.records = [SimpleNamespace(video_id=f"vid{i}", path=f"/data/vid {i}.mp4", label=label)
                        for i, label in enumerate(labels)]
        self.values = values
        self.num_views = num_views
        self.raising = set(raising)
        self.calls: Counter = Counter()

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> dict:
        self.calls[index] += 1
        record = self.records[index]
        if index in self.raising:
            return failed_item(record, index, DecodeError(record.path, "invalid data found when processing input"))
        item = {"label": record.label, "video_id": record.video_id, "index": index, "error": None,
                "views": None}
        if self.values[index] is None:
            item["error"] = "moov atom not found"
        else:
            item["views"] = torch.full((self.num_views, 3, 2, 4, 4), self.values[index], dtype=torch.uint8)
        return item


def tiny_test_cfg(output_dir: str, num_classes: int = 5, clips: int = 2, crops: int = 3, batch: int = 4):
    cfg = get_cfg()
    cfg.OUTPUT_DIR = output_dir
    cfg.NUM_GPUS = 0
    cfg.MODEL.NUM_CLASSES = num_classes
    cfg.TEST.NUM_ENSEMBLE_VIEWS = clips
    cfg.TEST.NUM_SPATIAL_CROPS = crops
    cfg.TEST.BATCH_SIZE = batch
    cfg.DATA_LOADER.NUM_WORKERS = 0
    cfg.DATA.MEAN, cfg.DATA.STD = [0.0] * 3, [1 / 255] * 3  # the normaliser maps a uint8 value c to c
    return cfg
