"""Projection shortcuts of a stage's first block: `conv` (strided 1x1x1 conv + BN),
`maxpool` (iResNet section 3.2: max-pool, then 1x1x1 conv + BN), `avgdown` (ResNet-D:
avg-pool, then 1x1x1 conv + BN). The temporal stride sits here as on the block's conv."""

from __future__ import annotations

from torch import nn

from video3d.errors import ConfigError
from video3d.models.blocks import Norm, Triple, conv3d
from video3d.models.pooling import ChannelsLastMaxPool3d


def iresnet_pool(stride: Triple) -> nn.MaxPool3d:
    """Kernel (kt,3,3), kt = 3 where the temporal stride is 2 else 1: the window of the
    block's middle conv, and the choice that fits the paper's FLOP gap (reference 1.7)."""
    temporal = 3 if stride[0] > 1 else 1
    return ChannelsLastMaxPool3d((temporal, 3, 3), stride, padding=(temporal // 2, 1, 1))


def make_shortcut(kind: str, in_channels: int, out_channels: int, stride: Triple,
                  norm: Norm) -> nn.Module | None:
    """None when the identity fits (same channels, stride 1)."""
    strided = stride != (1, 1, 1)
    if not strided and in_channels == out_channels:
        return None
    if kind == "conv":
        return nn.Sequential(conv3d(in_channels, out_channels, (1, 1, 1), stride), norm(out_channels))
    if kind == "maxpool":
        pool = iresnet_pool(stride) if strided else nn.Identity()
        if in_channels == out_channels:
            return pool
        return nn.Sequential(pool, conv3d(in_channels, out_channels, (1, 1, 1)), norm(out_channels))
    if kind == "avgdown":
        pool = (nn.AvgPool3d(stride, stride, ceil_mode=True, count_include_pad=False)
                if strided else nn.Identity())
        return nn.Sequential(pool, conv3d(in_channels, out_channels, (1, 1, 1)), norm(out_channels))
    raise ConfigError(f"config key RESNET.SHORTCUT is {kind!r}; expected conv, maxpool or avgdown")
