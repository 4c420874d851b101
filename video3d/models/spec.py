"""The small spec object that fixes every choice of a 3D residual network, and the pure
arithmetic behind it (blocks per depth, stage widths). Each choice's builders are the tables
of `video3d.models.choices`; a block's channel arithmetic is its class's, reached through
`choices.out_channels` / `choices.inner_width` (docs/MODELS.md). This module imports no other
part of video3d.models, so every builder can take a spec."""

from __future__ import annotations

from dataclasses import dataclass, field

from fvcore.common.config import CfgNode

from video3d.config.archs import apply_arch_preset
from video3d.config.checks import input_channels
from video3d.errors import ConfigError


def stage_width(first_stage_width: int, stage: int) -> int:
    """Channels double from one stage to the next (He et al. 2016, Table 1): stage 0..3."""
    return first_stage_width * 2**stage


# Blocks per stage of the standard depths (He et al. 2016, Table 1; iResNet uses the same).
STANDARD_STAGE_BLOCKS = {
    18: (2, 2, 2, 2),
    34: (3, 4, 6, 3),
    50: (3, 4, 6, 3),
    101: (3, 4, 23, 3),
    152: (3, 8, 36, 3),
    200: (3, 24, 36, 3),
}


@dataclass(frozen=True)
class BlockSpec:
    """The residual transformation and its width settings (first-stage values, doubled per stage)."""

    kind: str = "bottleneck"  # basic, bottleneck, hs, splat
    groups: int = 1  # bottleneck: 3x3 conv groups (ResNeXt cardinality)
    width_per_group: int = 64  # bottleneck: channels per group of the first stage
    hs_width: int = 16  # hs: channels per split w
    hs_scale: int = 6  # hs: number of splits s
    radix: int = 2  # splat: R
    cardinality: int = 1  # splat: K
    splat_width: int = 64  # splat: width per cardinal group of the first stage
    avd: bool = True  # splat: average-pool downsampling in strided blocks
    avd_first: bool = False  # splat: pool before the split-attention conv
    temporal_conv: str = "b"  # bottleneck: the temporal kernel on conv2 (b, the 3x3) or conv1 (a, the 1x1)
    stride_1x1: bool = False  # bottleneck: the spatial stride on conv1 instead of conv2


@dataclass(frozen=True)
class ResNetSpec:
    """Everything a ResNet3D is built from; `spec_from_cfg` fills it from the config tree."""

    stage_blocks: tuple[int, ...] = STANDARD_STAGE_BLOCKS[50]
    block: BlockSpec = field(default_factory=BlockSpec)
    in_channels: int = 3
    stem: str = "basic"
    stem_width: int = 64
    stem_temporal_kernel: int = 5
    stem_spatial_kernel: int = 7
    stem_pool: bool = True
    layout: str = "standard"
    shortcut: str = "conv"
    temporal_kernels: tuple[int | tuple[int, ...], ...] = (3, 3, 3, 3)  # per stage: a kernel or a cycled list
    num_block_temp_kernel: tuple[int, ...] = ()  # per stage: blocks with a temporal kernel; () = all
    stage1_temporal_pool: int = 1  # temporal max-pool after stage 1 (C2D / I3D: 2)
    temporal_strides: tuple[int, ...] = (1, 1, 2, 2)
    spatial_strides: tuple[int, ...] = (1, 2, 2, 2)
    head: str = "linear"
    num_classes: int = 400
    dropout: float = 0.5
    bn_eps: float = 1e-5
    bn_momentum: float = 0.1
    official_inplace_relu: bool = False
    zero_init_final_bn: bool = False

    def block_temporal_kernel(self, stage: int, index: int) -> int:
        """Temporal kernel of block `index` of stage `stage`: the stage's kernel, or its list cycled
        over the blocks (I3D's [3, 1]), for the first NUM_BLOCK_TEMP_KERNEL blocks; 1 after them
        (PySlowFast's resnet_helper rule)."""
        if self.num_block_temp_kernel and index >= self.num_block_temp_kernel[stage]:
            return 1
        kernel = self.temporal_kernels[stage]
        return kernel[index % len(kernel)] if isinstance(kernel, tuple) else kernel

    def planes(self, stage: int) -> int:
        """Block planes at stage 0..3: the stem width doubled per stage (64, 128, 256, 512)."""
        return stage_width(self.stem_width, stage)


def stage_blocks_for(depth: int, explicit: list[int] | tuple[int, ...] = ()) -> tuple[int, ...]:
    """`explicit` if given, else the standard list for `depth`."""
    if explicit:
        if any(int(n) < 1 for n in explicit):
            raise ConfigError(f"config key RESNET.STAGE_BLOCKS needs positive counts, got {list(explicit)}")
        return tuple(int(n) for n in explicit)
    if depth not in STANDARD_STAGE_BLOCKS:
        raise ConfigError(f"config key RESNET.DEPTH is {depth}; expected one of {sorted(STANDARD_STAGE_BLOCKS)}")
    return STANDARD_STAGE_BLOCKS[depth]


def spec_from_cfg(cfg: CfgNode) -> ResNetSpec:
    """Read the MODEL, RESNET, IRESNET, HS, SPLAT, BN and DATA keys into a ResNetSpec (after
    the MODEL.ARCH preset: slow, c2d, i3d fix the RESNET keys of PySlowFast's networks)."""
    cfg = apply_arch_preset(cfg.clone())
    r = cfg.RESNET
    block = BlockSpec(
        kind=r.BLOCK,
        groups=r.NUM_GROUPS,
        width_per_group=r.WIDTH_PER_GROUP,
        hs_width=cfg.HS.WIDTH,
        hs_scale=cfg.HS.SCALE,
        radix=cfg.SPLAT.RADIX,
        cardinality=cfg.SPLAT.CARDINALITY,
        splat_width=cfg.SPLAT.BOTTLENECK_WIDTH,
        avd=cfg.SPLAT.AVD,
        avd_first=cfg.SPLAT.AVD_FIRST,
        temporal_conv=r.TEMPORAL_CONV,
        stride_1x1=r.STRIDE_1X1,
    )
    if block.kind == "hs" and block.hs_scale < 2:
        raise ConfigError(f"config key HS.SCALE must be >= 2, got {block.hs_scale}")
    if block.kind == "basic" and r.NUM_GROUPS != 1:
        raise ConfigError(f"config key RESNET.NUM_GROUPS must be 1 with RESNET.BLOCK basic, got {r.NUM_GROUPS}")
    if r.STEM == "deep" and r.STEM_WIDTH % 2:
        raise ConfigError(f"config key RESNET.STEM_WIDTH must be even for the deep stem, got {r.STEM_WIDTH}")
    return ResNetSpec(
        stage_blocks=stage_blocks_for(r.DEPTH, r.STAGE_BLOCKS),
        block=block,
        in_channels=input_channels(cfg),
        stem=r.STEM,
        stem_width=r.STEM_WIDTH,
        stem_temporal_kernel=r.STEM_TEMPORAL_KERNEL,
        stem_spatial_kernel=r.STEM_SPATIAL_KERNEL,
        stem_pool=r.STEM_POOL,
        layout=r.LAYOUT,
        shortcut=r.SHORTCUT,
        temporal_kernels=tuple(tuple(k) if isinstance(k, (list, tuple)) else k for k in r.TEMPORAL_KERNELS),
        num_block_temp_kernel=tuple(r.NUM_BLOCK_TEMP_KERNEL),
        stage1_temporal_pool=r.STAGE1_TEMPORAL_POOL,
        temporal_strides=tuple(r.TEMPORAL_STRIDES),
        spatial_strides=tuple(r.SPATIAL_STRIDES),
        head=cfg.MODEL.HEAD,
        num_classes=cfg.MODEL.NUM_CLASSES,
        dropout=cfg.MODEL.DROPOUT_RATE,
        bn_eps=cfg.BN.EPSILON,
        bn_momentum=cfg.BN.MOMENTUM,
        official_inplace_relu=cfg.IRESNET.OFFICIAL_INPLACE_RELU,
        zero_init_final_bn=r.ZERO_INIT_FINAL_BN,
    )
