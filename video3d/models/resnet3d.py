"""ResNet3D: stem, four stages, head, assembled from a ResNetSpec (docs/MODELS.md).

Each choice is looked up in its table (`video3d.models.choices`). Stage k's first block carries
the stage's (temporal, spatial) stride on its kt x 3 x 3 conv (v1.5 style) and on its shortcut.
Module names follow torchvision / timm / iResNet (`stem.conv1`, `layer1.0.conv2`, `head.fc`)
so 2D state dicts load by name."""

from __future__ import annotations

from functools import partial

import torch
from torch import nn

from video3d.models.blocks import Norm, ResidualBlock, Triple
from video3d.models.choices import BLOCKS, HEADS, LAYOUTS, SHORTCUTS, STEMS, feature_dim, out_channels
from video3d.models.layouts import BlockRole
from video3d.models.shortcuts import needs_projection
from video3d.models.spec import BlockSpec, ResNetSpec


def make_block(block: BlockSpec, stage: int, in_channels: int, planes: int, norm: Norm,
               role: BlockRole, stride: Triple, temporal_kernel: int,
               downsample: nn.Module | None, relu_shortcut: bool) -> ResidualBlock:
    """One residual block of stage `stage` (0..3): the RESNET.BLOCK class with `block`'s settings,
    `planes` x its expansion output channels, the layout's `role`, and `downsample` as its
    shortcut (None: identity)."""
    return BLOCKS[block.kind].from_spec(block, stage, in_channels, planes, norm, role=role, stride=stride,
                                        temporal_kernel=temporal_kernel, downsample=downsample,
                                        relu_shortcut=relu_shortcut)


def make_stage(spec: ResNetSpec, stage: int, in_channels: int, norm: Norm) -> nn.Sequential:
    """Stage `stage` (0..3): its blocks in the layout's roles; the first one strided, with the
    RESNET.SHORTCUT projection where the identity does not fit."""
    roles = LAYOUTS[spec.layout](spec.stage_blocks[stage])
    stride = (spec.temporal_strides[stage], spec.spatial_strides[stage], spec.spatial_strides[stage])
    channels = out_channels(spec, stage)
    blocks = []
    for index, role in enumerate(roles):
        first = index == 0
        downsample = None
        if first and needs_projection(in_channels, channels, stride):
            downsample = SHORTCUTS[spec.shortcut](in_channels, channels, stride, norm)
        blocks.append(make_block(
            spec.block, stage, in_channels if first else channels, spec.planes(stage), norm,
            role, stride if first else (1, 1, 1), spec.block_temporal_kernel(stage, index), downsample,
            spec.official_inplace_relu))
    return nn.Sequential(*blocks)


class ResNet3D(nn.Module):
    """Input [B, C, T, H, W]; output raw logits [B, K] (linear head) or [B, 7, K] (FFC)."""

    def __init__(self, spec: ResNetSpec):
        super().__init__()
        self.spec = spec
        norm = partial(nn.BatchNorm3d, eps=spec.bn_eps, momentum=spec.bn_momentum)
        self.stem = STEMS[spec.stem](spec, norm)
        in_channels = spec.stem_width
        self.stage_names = []
        for stage in range(len(spec.stage_blocks)):
            name = f"layer{stage + 1}"
            self.add_module(name, make_stage(spec, stage, in_channels, norm))
            self.stage_names.append(name)
            in_channels = out_channels(spec, stage)
        # C2D / I3D halve time after stage 1 (PySlowFast's pool1, PyTorchVideo's stage1_pool); no parameters.
        pool = spec.stage1_temporal_pool
        self.stage1_pool = nn.MaxPool3d((pool, 1, 1), (pool, 1, 1)) if pool > 1 else None
        self.head = HEADS[spec.head](in_channels, spec.num_classes, spec.dropout)
        self.reset_parameters()

    @property
    def feature_dim(self) -> int:
        """Channels of `forward_features`' output, the head's input."""
        return feature_dim(self.spec)

    def reset_parameters(self) -> None:
        """Kaiming-normal (fan_out) convs, BN gamma 1 / beta 0 (iResNet 1.5, torchvision);
        optionally zero gamma on branch-final BNs that sit before the addition."""
        for module in self.modules():
            if isinstance(module, nn.Conv3d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.BatchNorm3d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
        if self.spec.zero_init_final_bn:
            for module in self.modules():
                if isinstance(module, ResidualBlock) and module.role.branch_bn:
                    nn.init.zeros_(module.final_bn.weight)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """[B, C, T, H, W] clip -> last stage's feature map [B, D, T', H', W']."""
        x = self.stem(x)
        for index, name in enumerate(self.stage_names):
            x = getattr(self, name)(x)
            if index == 0 and self.stage1_pool is not None:
                x = self.stage1_pool(x)
        return x

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        """Feature map -> raw logits [B, K] (linear head) or [B, 7, K] (FFC)."""
        return self.head(features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))
