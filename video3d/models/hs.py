"""Hierarchical-Split block (HS-ResNet, Yuan et al. 2020, Fig. 2 / Eq. 1), generic in (w, s).

No official code exists; the channel-conserving reading and the stride-2 form are the choices
recorded in docs/MODELS.md (PaddleClas#472 for downsampling blocks)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from video3d.models.blocks import Norm, ResidualBlock, Triple, conv3d
from video3d.models.layouts import STANDARD_ROLE, BlockRole
from video3d.models.spec import BlockSpec, stage_width


def hs_conv_widths(width: int, scale: int) -> list[int]:
    """Channels of the HS block's convs for splits 2..s: c_2 = w, c_{i+1} = w + floor(c_i / 2)
    (HS-ResNet Eq. 1, channel-conserving reading; docs/MODELS.md)."""
    widths = [width]
    for _ in range(scale - 2):
        widths.append(width + widths[-1] // 2)
    return widths


def hs_kept_widths(width: int, scale: int) -> list[int]:
    """Channels each split sends to the output: w, then ceil(c_i/2) for i < s, then c_s whole."""
    convs = hs_conv_widths(width, scale)
    return [width] + [c - c // 2 for c in convs[:-1]] + [convs[-1]]


class ConvBNReLU(nn.Sequential):
    """conv3d -> BN -> ReLU."""

    def __init__(self, in_channels: int, out_channels: int, kernel: Triple, norm: Norm,
                 stride: Triple = (1, 1, 1)):
        super().__init__(conv3d(in_channels, out_channels, kernel, stride), norm(out_channels), nn.ReLU())


class HSConv(nn.Module):
    """s splits of w channels in, s*w channels out.

    Stride 1: y_1 = x_1; y_i = conv(concat(x_i, carried half of y_{i-1})); the first ceil(c_i/2)
    channels of y_i go out, the rest is carried on; y_s goes out whole.
    Strided: x_1 is average-pooled, every other split has its own strided w -> w conv.
    """

    def __init__(self, width: int, scale: int, norm: Norm, temporal_kernel: int = 3,
                 stride: Triple = (1, 1, 1)):
        super().__init__()
        self.width = width
        self.scale = scale
        self.strided = stride != (1, 1, 1)
        kernel = (temporal_kernel, 3, 3)
        if self.strided:
            # No temporal padding: a static clip stays static (centre-inflation equality).
            self.pool = nn.AvgPool3d((stride[0], 3, 3), stride, padding=(0, 1, 1))
            self.convs = nn.ModuleList(
                ConvBNReLU(width, width, kernel, norm, stride) for _ in range(scale - 1))
        else:
            self.convs = nn.ModuleList(
                ConvBNReLU(c, c, kernel, norm) for c in hs_conv_widths(width, scale))

    @property
    def out_channels(self) -> int:
        """s x w: every input channel comes out once."""
        return self.width * self.scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        splits = torch.split(x, self.width, dim=1)
        if self.strided:
            outs = [self.pool(splits[0])] + [conv(s) for conv, s in zip(self.convs, splits[1:], strict=True)]
            return torch.cat(outs, dim=1)
        outs = [splits[0]]
        carried = None
        last = len(self.convs) - 1
        for index, (conv, split) in enumerate(zip(self.convs, splits[1:], strict=True)):
            y = conv(split if carried is None else torch.cat((split, carried), dim=1))
            if index == last:
                outs.append(y)
            else:
                kept = y.shape[1] - y.shape[1] // 2
                outs.append(y[:, :kept])
                carried = y[:, kept:]
        return torch.cat(outs, dim=1)


class HSBottleneck(ResidualBlock):
    """1x1x1 (-> s*w) -> HSConv -> 1x1x1 (-> planes x expansion)."""

    expansion = 4

    @staticmethod
    def split_width(spec: BlockSpec, stage: int) -> int:
        """Channels per split w at stage 0..3 (HS.WIDTH at the first stage)."""
        return stage_width(spec.hs_width, stage)

    @staticmethod
    def inner_width(spec: BlockSpec, stage: int) -> int:
        return HSBottleneck.split_width(spec, stage) * spec.hs_scale

    @classmethod
    def from_spec(cls, spec: BlockSpec, stage: int, in_channels: int, planes: int, norm: Norm,
                  **common) -> HSBottleneck:
        return cls(in_channels, planes, cls.split_width(spec, stage), spec.hs_scale, norm=norm, **common)

    def __init__(self, in_channels: int, planes: int, width: int, scale: int, norm: Norm,
                 role: BlockRole = STANDARD_ROLE, stride: Triple = (1, 1, 1),
                 temporal_kernel: int = 3, downsample: nn.Module | None = None,
                 relu_shortcut: bool = False):
        super().__init__(in_channels, planes * self.expansion, role, norm, downsample, relu_shortcut)
        hidden = width * scale
        self.conv1 = conv3d(in_channels, hidden, (1, 1, 1))
        self.bn1 = norm(hidden)
        self.conv2 = HSConv(width, scale, norm, temporal_kernel, stride)
        self.conv3 = conv3d(hidden, planes * self.expansion, (1, 1, 1))

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv3(self.conv2(F.relu(self.bn1(self.conv1(x)))))
