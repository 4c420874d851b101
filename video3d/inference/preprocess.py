"""A frame as the network sees it at test time (the per-epoch validation view)."""

from __future__ import annotations

import numpy as np
import torch
from fvcore.common.config import CfgNode

from video3d.data import transforms


class ClipPreprocessor:
    """A frame [H, W, C] uint8 (RGB, or quantised flow x/y) -> the network's view of it, uint8
    [C, S, S]: short side to DATA.TEST_CROP_SIZE, centre crop; `clip` stacks and normalises
    frames into [1, C, T, S, S] (DATA.MEAN / STD, or DATA.FLOW_MEAN / FLOW_STD for flow)."""

    def __init__(self, cfg: CfgNode):
        self.size = int(cfg.DATA.TEST_CROP_SIZE)
        self.normalizer = transforms.Normalizer.from_cfg(cfg)

    def frame(self, image: np.ndarray) -> torch.Tensor:
        chw = torch.from_numpy(image).permute(2, 0, 1).unsqueeze(0)
        resized = transforms.resize_short_side(chw, self.size)
        top, left = transforms.centre_crop_box(resized.shape[-2], resized.shape[-1], self.size)
        return transforms.crop_clip(resized, top, left, self.size)[0].contiguous()

    def clip(self, frames: list[torch.Tensor]) -> torch.Tensor:
        return self.normalizer.clip(torch.stack(frames)).unsqueeze(0)
