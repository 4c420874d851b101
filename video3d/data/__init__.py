"""Video data: frame sources (decoders, frame folders), datasets, sampling, transforms, loaders."""

from video3d.data.datasets import SegmentVideoDataset, VideoDataset, build_dataset
from video3d.data.frame_source import FrameSource
from video3d.data.lists import VideoRecord
from video3d.data.loader import build_loader, set_loader_epoch
from video3d.data.multiview import MultiViewDataset, ViewCrops, build_multiview_dataset, multiview_dataset
from video3d.data.samplers import ResumableSampler
from video3d.data.sources import open_source, open_source_from_cfg

__all__ = [
    "FrameSource",
    "MultiViewDataset",
    "ResumableSampler",
    "SegmentVideoDataset",
    "VideoDataset",
    "VideoRecord",
    "build_dataset",
    "build_loader",
    "ViewCrops",
    "build_multiview_dataset",
    "multiview_dataset",
    "open_source",
    "open_source_from_cfg",
    "set_loader_epoch",
]
