"""Residual blocks: the layout (where BNs and ReLUs sit, `BlockRole`) is shared; subclasses
give the transformation (basic, bottleneck) as `residual(x)`, ending with the conv whose BN
the role places before or after the addition.

A block class carries its channel arithmetic: `expansion` (output channels = planes x
expansion), `inner_width(spec, stage)` and `from_spec(...)`, which reads its settings from a
`BlockSpec`; `video3d.models.choices.BLOCKS` names the classes (docs/EXTENDING.md)."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from video3d.models.layouts import STANDARD_ROLE, BlockRole
from video3d.models.spec import BlockSpec, stage_width

Norm = Callable[[int], nn.Module]
Triple = tuple[int, int, int]


def conv3d(in_channels: int, out_channels: int, kernel: Triple, stride: Triple = (1, 1, 1),
           groups: int = 1) -> nn.Conv3d:
    """Bias-free conv with 'same' padding along each axis."""
    padding = tuple(k // 2 for k in kernel)
    return nn.Conv3d(in_channels, out_channels, kernel, stride=stride, padding=padding,
                     groups=groups, bias=False)


class ResidualBlock(nn.Module):
    """out = post(sum), sum = shortcut(x) + [BN](residual(pre(x))) as the role says.

    The branch-final BN is called `final_bn_name` (bn3 / bn2, as in torchvision and iResNet),
    whether it sits before the addition (standard, Start) or after it (iResNet End).
    """

    final_bn_name = "bn3"
    expansion = 1  # output channels = planes x expansion

    @staticmethod
    def inner_width(spec: BlockSpec, stage: int) -> int:
        """Channels of the block's inner (3x3) part at stage 0..3."""
        return stage_width(spec.groups * spec.width_per_group, stage)

    @classmethod
    def from_spec(cls, spec: BlockSpec, stage: int, in_channels: int, planes: int, norm: Norm,
                  **common) -> ResidualBlock:
        """The block of stage `stage` with `spec`'s settings; `common` holds role, stride,
        temporal_kernel, downsample and relu_shortcut, which every block takes."""
        raise NotImplementedError

    def __init__(self, in_channels: int, out_channels: int, role: BlockRole, norm: Norm,
                 downsample: nn.Module | None, relu_shortcut: bool = False):
        super().__init__()
        self.role = role
        # The official iResNet code aliases its in-place ReLU onto the shortcut (docs/MODELS.md).
        self.relu_shortcut = relu_shortcut and role.pre == "relu"
        if role.pre == "bn_relu":
            self.bn0 = norm(in_channels)
        if role.branch_bn or role.post == "bn_relu":
            setattr(self, self.final_bn_name, norm(out_channels))
        self.downsample = downsample

    @property
    def final_bn(self) -> nn.Module | None:
        """The branch-final BN (`final_bn_name`), None where the role has none."""
        return getattr(self, self.final_bn_name, None)

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        """The branch's transformation, up to (not including) its final BN."""
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pre = self.role.pre
        h = F.relu(self.bn0(x)) if pre == "bn_relu" else F.relu(x) if pre == "relu" else x
        out = self.residual(h)
        if self.role.branch_bn:
            out = self.final_bn(out)
        if self.downsample is not None:
            shortcut = self.downsample(x)
        else:
            shortcut = h if self.relu_shortcut else x
        out = out + shortcut
        if self.role.post == "bn_relu":
            out = F.relu(self.final_bn(out))
        elif self.role.post == "relu":
            out = F.relu(out)
        return out


class BasicBlock(ResidualBlock):
    """Two kt x 3 x 3 convs (ResNet-18/34); the first carries the stride."""

    final_bn_name = "bn2"

    @classmethod
    def from_spec(cls, spec: BlockSpec, stage: int, in_channels: int, planes: int, norm: Norm,
                  **common) -> BasicBlock:
        return cls(in_channels, planes, norm, **common)

    def __init__(self, in_channels: int, planes: int, norm: Norm, role: BlockRole = STANDARD_ROLE,
                 stride: Triple = (1, 1, 1), temporal_kernel: int = 3,
                 downsample: nn.Module | None = None, relu_shortcut: bool = False):
        super().__init__(in_channels, planes * self.expansion, role, norm, downsample, relu_shortcut)
        kernel = (temporal_kernel, 3, 3)
        self.conv1 = conv3d(in_channels, planes, kernel, stride)
        self.bn1 = norm(planes)
        self.conv2 = conv3d(planes, planes, kernel)

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(F.relu(self.bn1(self.conv1(x))))


class Bottleneck(ResidualBlock):
    """1x1x1 -> kt x 3 x 3 (strided, grouped: ResNeXt) -> 1x1x1, v1.5 style."""

    expansion = 4

    @classmethod
    def from_spec(cls, spec: BlockSpec, stage: int, in_channels: int, planes: int, norm: Norm,
                  **common) -> Bottleneck:
        return cls(in_channels, planes, cls.inner_width(spec, stage), groups=spec.groups, norm=norm,
                   temporal_conv=spec.temporal_conv, stride_1x1=spec.stride_1x1, **common)

    def __init__(self, in_channels: int, planes: int, width: int, norm: Norm,
                 role: BlockRole = STANDARD_ROLE, stride: Triple = (1, 1, 1),
                 temporal_kernel: int = 3, groups: int = 1,
                 downsample: nn.Module | None = None, relu_shortcut: bool = False,
                 temporal_conv: str = "b", stride_1x1: bool = False):
        super().__init__(in_channels, planes * self.expansion, role, norm, downsample, relu_shortcut)
        # temporal_conv "a": kernel and temporal stride on conv1 (PySlowFast, PyTorchVideo); "b": on conv2.
        on_a = temporal_conv == "a"
        spatial = (1, stride[1], stride[2])
        stride_a = (stride[0] if on_a else 1, *(spatial[1:] if stride_1x1 else (1, 1)))
        stride_b = (1 if on_a else stride[0], *((1, 1) if stride_1x1 else spatial[1:]))
        self.conv1 = conv3d(in_channels, width, (temporal_kernel if on_a else 1, 1, 1), stride_a)
        self.bn1 = norm(width)
        self.conv2 = conv3d(width, width, (1 if on_a else temporal_kernel, 3, 3), stride_b, groups=groups)
        self.bn2 = norm(width)
        self.conv3 = conv3d(width, planes * self.expansion, (1, 1, 1))

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        return self.conv3(out)
