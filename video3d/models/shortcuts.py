"""Projection shortcuts of a stage's first block: `conv` (strided 1x1x1 conv + BN),
`maxpool` (iResNet section 3.2: max-pool, then 1x1x1 conv + BN), `avgdown` (ResNet-D:
avg-pool, then 1x1x1 conv + BN). The temporal stride sits here as on the block's conv.

Each builder takes (in_channels, out_channels, stride, norm) and is called only where
`needs_projection` says the identity does not fit; `video3d.models.choices.SHORTCUTS` names them."""

from __future__ import annotations

from torch import nn

from video3d.models.blocks import Norm, Triple, conv3d
from video3d.models.pooling import ChannelsLastMaxPool3d


def iresnet_pool(stride: Triple) -> nn.MaxPool3d:
    """Kernel (kt,3,3), kt = 3 where the temporal stride is 2 else 1: the window of the
    block's middle conv, and the choice that fits the paper's FLOP gap (docs/MODELS.md)."""
    temporal = 3 if stride[0] > 1 else 1
    return ChannelsLastMaxPool3d((temporal, 3, 3), stride, padding=(temporal // 2, 1, 1))


def needs_projection(in_channels: int, out_channels: int, stride: Triple) -> bool:
    """False when the identity fits the block (same channels, stride 1)."""
    return stride != (1, 1, 1) or in_channels != out_channels


def conv_shortcut(in_channels: int, out_channels: int, stride: Triple, norm: Norm) -> nn.Module:
    """Strided 1x1x1 conv + BN (He et al. 2016, option B)."""
    return nn.Sequential(conv3d(in_channels, out_channels, (1, 1, 1), stride), norm(out_channels))


def maxpool_shortcut(in_channels: int, out_channels: int, stride: Triple, norm: Norm) -> nn.Module:
    """iResNet: max-pool where strided, then 1x1x1 conv + BN where the channels change."""
    pool = iresnet_pool(stride) if stride != (1, 1, 1) else nn.Identity()
    if in_channels == out_channels:
        return pool
    return nn.Sequential(pool, conv3d(in_channels, out_channels, (1, 1, 1)), norm(out_channels))


def avgdown_shortcut(in_channels: int, out_channels: int, stride: Triple, norm: Norm) -> nn.Module:
    """ResNet-D: average-pool where strided, then 1x1x1 conv + BN."""
    pool = (nn.AvgPool3d(stride, stride, ceil_mode=True, count_include_pad=False)
            if stride != (1, 1, 1) else nn.Identity())
    return nn.Sequential(pool, conv3d(in_channels, out_channels, (1, 1, 1)), norm(out_channels))
