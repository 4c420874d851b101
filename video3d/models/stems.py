"""Stems: `basic` (one kt x k x k conv, ResNet) and `deep` (three kt x 3 x 3 convs, ResNeSt).

Child names follow torchvision / timm (conv1, bn1, maxpool; deep: conv1.0/.1/.3/.4/.6) so
2D state dicts map onto `stem.*` by name."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from video3d.models.blocks import Norm, conv3d
from video3d.models.pooling import ChannelsLastMaxPool3d
from video3d.models.spec import ResNetSpec


class Stem(nn.Module):
    """conv1 -> bn1 -> ReLU -> [1x3x3 max-pool, stride (1,2,2)]; conv1 has spatial stride 2."""

    def __init__(self, conv1: nn.Module, bn1: nn.Module, pool: bool):
        super().__init__()
        self.conv1 = conv1
        self.bn1 = bn1
        self.maxpool = ChannelsLastMaxPool3d((1, 3, 3), (1, 2, 2), padding=(0, 1, 1)) if pool else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn1(self.conv1(x)))
        return self.maxpool(x) if self.maxpool is not None else x


def basic_stem(spec: ResNetSpec, norm: Norm) -> Stem:
    """One RESNET.STEM_TEMPORAL_KERNEL x k x k conv (k = RESNET.STEM_SPATIAL_KERNEL) to
    RESNET.STEM_WIDTH channels, BN, ReLU, optional max-pool (RESNET.STEM_POOL)."""
    kernel = (spec.stem_temporal_kernel, spec.stem_spatial_kernel, spec.stem_spatial_kernel)
    conv = conv3d(spec.in_channels, spec.stem_width, kernel, (1, 2, 2))
    return Stem(conv, norm(spec.stem_width), spec.stem_pool)


def deep_stem(spec: ResNetSpec, norm: Norm) -> Stem:
    """3x3/2 (width/2) -> 3x3 (width/2) -> 3x3 (width), BN + ReLU between (ResNeSt 2.2); the
    temporal kernel of each conv is RESNET.STEM_TEMPORAL_KERNEL."""
    kernel = (spec.stem_temporal_kernel, 3, 3)
    width = spec.stem_width
    half = width // 2
    convs = nn.Sequential(
        conv3d(spec.in_channels, half, kernel, (1, 2, 2)), norm(half), nn.ReLU(),
        conv3d(half, half, kernel), norm(half), nn.ReLU(),
        conv3d(half, width, kernel),
    )
    return Stem(convs, norm(width), spec.stem_pool)
