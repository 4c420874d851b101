"""Split-Attention bottleneck (ResNeSt, Zhang et al. 2020, section 3), radix-major like the
official code and timm, so their 2D state dicts load by name (docs/MODELS.md)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from video3d.models.blocks import Norm, ResidualBlock, Triple, conv3d
from video3d.models.layouts import STANDARD_ROLE, BlockRole
from video3d.models.spec import BlockSpec, stage_width


def attention_width(channels: int, radix: int) -> int:
    """Hidden width of the attention MLP: max(C*R/4, 32) (official reduction_factor 4)."""
    return max(channels * radix // 4, 32)


def radix_softmax(logits: torch.Tensor, radix: int, cardinality: int) -> torch.Tensor:
    """[N, K*R*c] logits laid out [k][r][c] (grouped fc2) -> radix-major [N, R*K*c] weights,
    softmax over the radix axis; a sigmoid when R = 1."""
    if radix == 1:
        return torch.sigmoid(logits)
    batch = logits.shape[0]
    grouped = logits.reshape(batch, cardinality, radix, -1).transpose(1, 2)
    return F.softmax(grouped, dim=1).reshape(batch, -1)


class SplitAttn(nn.Module):
    """Grouped conv to R*C channels (R chunks of C), attention over the R chunks, their sum."""

    def __init__(self, channels: int, norm: Norm, radix: int = 2, cardinality: int = 1,
                 temporal_kernel: int = 3, stride: Triple = (1, 1, 1)):
        super().__init__()
        self.radix = radix
        self.cardinality = cardinality
        hidden = attention_width(channels, radix)
        self.conv = conv3d(channels, channels * radix, (temporal_kernel, 3, 3), stride,
                           groups=cardinality * radix)
        self.bn0 = norm(channels * radix)
        self.fc1 = nn.Conv3d(channels, hidden, 1, groups=cardinality)
        self.bn1 = norm(hidden)
        self.fc2 = nn.Conv3d(hidden, channels * radix, 1, groups=cardinality)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn0(self.conv(x)))
        batch, channels = x.shape[:2]
        if self.radix > 1:
            chunks = x.reshape(batch, self.radix, channels // self.radix, *x.shape[2:])
            gap = chunks.sum(dim=1)
        else:
            gap = x
        gap = gap.mean(dim=(2, 3, 4), keepdim=True)
        attn = self.fc2(F.relu(self.bn1(self.fc1(gap))))
        attn = radix_softmax(attn.flatten(1), self.radix, self.cardinality)
        if self.radix == 1:
            return x * attn.reshape(batch, -1, 1, 1, 1)
        attn = attn.reshape(batch, self.radix, channels // self.radix, 1, 1, 1)
        return (chunks * attn).sum(dim=1)


class SplatBottleneck(ResidualBlock):
    """1x1x1 -> [avd] -> SplitAttn -> [avd] -> 1x1x1. With avd on, a strided block pools
    instead of striding its conv; the pool has no temporal padding (docs/MODELS.md)."""

    expansion = 4

    @staticmethod
    def inner_width(spec: BlockSpec, stage: int) -> int:
        return stage_width(spec.splat_width * spec.cardinality, stage)

    @classmethod
    def from_spec(cls, spec: BlockSpec, stage: int, in_channels: int, planes: int, norm: Norm,
                  **common) -> SplatBottleneck:
        return cls(in_channels, planes, cls.inner_width(spec, stage), norm=norm, radix=spec.radix,
                   cardinality=spec.cardinality, avd=spec.avd, avd_first=spec.avd_first, **common)

    def __init__(self, in_channels: int, planes: int, width: int, norm: Norm,
                 role: BlockRole = STANDARD_ROLE, stride: Triple = (1, 1, 1),
                 temporal_kernel: int = 3, radix: int = 2, cardinality: int = 1,
                 avd: bool = True, avd_first: bool = False,
                 downsample: nn.Module | None = None, relu_shortcut: bool = False):
        super().__init__(in_channels, planes * self.expansion, role, norm, downsample, relu_shortcut)
        use_avd = avd and stride != (1, 1, 1)
        pool = nn.AvgPool3d((stride[0], 3, 3), stride, padding=(0, 1, 1)) if use_avd else None
        self.conv1 = conv3d(in_channels, width, (1, 1, 1))
        self.bn1 = norm(width)
        self.avd_first = pool if avd_first else None
        self.conv2 = SplitAttn(width, norm, radix, cardinality, temporal_kernel,
                               (1, 1, 1) if use_avd else stride)
        self.avd_last = None if avd_first else pool
        self.conv3 = conv3d(width, planes * self.expansion, (1, 1, 1))

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        if self.avd_first is not None:
            out = self.avd_first(out)
        out = self.conv2(out)
        if self.avd_last is not None:
            out = self.avd_last(out)
        return self.conv3(out)
