"""Video data: frame sources (decoders, frame folders), datasets, sampling, transforms, loaders."""

from video3d.data.datasets import SegmentVideoDataset, VideoDataset, build_dataset
from video3d.data.frame_source import FrameSource
from video3d.data.lists import VideoRecord
from video3d.data.loader import ResumableSampler, build_loader, set_loader_epoch
from video3d.data.sources import open_source, open_source_from_cfg
from video3d.data.test_views import MultiViewTestDataset, build_test_dataset

__all__ = [
    "FrameSource",
    "MultiViewTestDataset",
    "ResumableSampler",
    "SegmentVideoDataset",
    "VideoDataset",
    "VideoRecord",
    "build_dataset",
    "build_loader",
    "build_test_dataset",
    "open_source",
    "open_source_from_cfg",
    "set_loader_epoch",
]
