"""MODEL.ARCH slow, c2d and i3d: PySlowFast's single-pathway ResNets as presets of the one
skeleton (no network copies). Each preset fixes the RESNET keys that make the architecture;
RESNET.DEPTH (50 / 101), NUM_GROUPS, WIDTH_PER_GROUP, ZERO_INIT_FINAL_BN, NUM_BLOCK_TEMP_KERNEL,
the head and the data keys stay free. As in PySlowFast, WIDTH_PER_GROUP sets the stem width
(RESNET.STEM_WIDTH follows it) and so every stage width.

The values follow PySlowFast's `_TEMPORAL_KERNEL_BASIS` and `_POOL1`
(slowfast/models/video_model_builder.py) and PyTorchVideo's hub builders slow_r50, c2d_r50,
i3d_r50: the temporal kernel sits on the first 1x1 conv of each bottleneck (TEMPORAL_CONV a),
no temporal stride anywhere, C2D and I3D halve time with a max-pool after stage 1.
"""

from __future__ import annotations

from typing import Any

from fvcore.common.config import CfgNode

from video3d.config.defaults import get_cfg
from video3d.config.keys import get_value, set_value
from video3d.errors import ConfigError

_STRUCTURE = {
    "RESNET.STEM": "basic", "RESNET.STEM_SPATIAL_KERNEL": 7, "RESNET.STEM_POOL": True,
    "RESNET.LAYOUT": "standard", "RESNET.SHORTCUT": "conv", "RESNET.BLOCK": "bottleneck",
    "RESNET.TEMPORAL_CONV": "a", "RESNET.TEMPORAL_STRIDES": [1, 1, 1, 1], "RESNET.STAGE_BLOCKS": [],
}

ARCH_PRESETS: dict[str, dict[str, Any]] = {
    "slow": {**_STRUCTURE, "RESNET.STEM_TEMPORAL_KERNEL": 1, "RESNET.TEMPORAL_KERNELS": [1, 1, 3, 3],
             "RESNET.STAGE1_TEMPORAL_POOL": 1},
    "c2d": {**_STRUCTURE, "RESNET.STEM_TEMPORAL_KERNEL": 1, "RESNET.TEMPORAL_KERNELS": [1, 1, 1, 1],
            "RESNET.STAGE1_TEMPORAL_POOL": 2},
    "i3d": {**_STRUCTURE, "RESNET.STEM_TEMPORAL_KERNEL": 5, "RESNET.TEMPORAL_KERNELS": [3, [3, 1], [3, 1], [1, 3]],
            "RESNET.STAGE1_TEMPORAL_POOL": 2},
}
# What MODEL.ARCH can build: the resnet3d family and its presets (video3d.models.build.ARCHS
# holds the builders; a test keeps the two equal).
BUILT_ARCHS = ("resnet3d", *ARCH_PRESETS)
PRESET_DEPTHS = (50, 101)  # PySlowFast's _MODEL_STAGE_DEPTH


def apply_arch_preset(cfg: CfgNode) -> CfgNode:
    """Set the keys MODEL.ARCH fixes (nothing for resnet3d). A key the config set to another
    value than both the default and the preset is a ConfigError: it would be ignored."""
    preset = ARCH_PRESETS.get(cfg.MODEL.ARCH)
    if preset is None:
        return cfg
    arch = cfg.MODEL.ARCH
    if cfg.RESNET.DEPTH not in PRESET_DEPTHS:
        raise ConfigError(f"MODEL.ARCH {arch} is PySlowFast's ResNet: RESNET.DEPTH 50 or 101, got {cfg.RESNET.DEPTH}")
    defaults = get_cfg()
    for key, value in preset.items():
        given = get_value(cfg, key)
        if given != value and given != get_value(defaults, key):
            raise ConfigError(f"MODEL.ARCH {arch} fixes {key} to {value!r}, got {given!r}; "
                              "use MODEL.ARCH resnet3d to choose it")
        set_value(cfg, key, value)
    # PySlowFast's stem has WIDTH_PER_GROUP channels and stage k outputs WIDTH_PER_GROUP x 4 x 2^k
    # (inner: NUM_GROUPS x WIDTH_PER_GROUP x 2^k): every width follows WIDTH_PER_GROUP.
    width = cfg.RESNET.WIDTH_PER_GROUP
    if cfg.RESNET.STEM_WIDTH not in (width, get_value(defaults, "RESNET.STEM_WIDTH")):
        raise ConfigError(f"MODEL.ARCH {arch} fixes RESNET.STEM_WIDTH to RESNET.WIDTH_PER_GROUP ({width}), got "
                          f"{cfg.RESNET.STEM_WIDTH}; use MODEL.ARCH resnet3d to choose it")
    cfg.RESNET.STEM_WIDTH = width
    return cfg
