"""The model registry and `build_model(cfg)`."""

from __future__ import annotations

import torch
from fvcore.common.config import CfgNode
from fvcore.common.registry import Registry
from torch import nn

from video3d.errors import ConfigError
from video3d.models.resnet3d import ResNet3D
from video3d.models.spec import spec_from_cfg
from video3d.utils.logging import get_logger

MODEL_REGISTRY = Registry("MODEL")
MODEL_REGISTRY.__doc__ = "Network families keyed by MODEL.ARCH; each entry takes the cfg."

logger = get_logger(__name__)


@MODEL_REGISTRY.register()
def resnet3d(cfg: CfgNode) -> nn.Module:
    """The 3D residual family: every named model is a choice of RESNET/HS/SPLAT/MODEL keys."""
    return ResNet3D(spec_from_cfg(cfg))


# PySlowFast's single-pathway ResNets: the same skeleton, with the RESNET keys their
# MODEL.ARCH fixes (video3d.config.archs).
@MODEL_REGISTRY.register()
def slow(cfg: CfgNode) -> nn.Module:
    """PySlowFast's Slow: temporal kernels 3 in stages 4-5 only, no temporal downsampling."""
    return resnet3d(cfg)


@MODEL_REGISTRY.register()
def c2d(cfg: CfgNode) -> nn.Module:
    """PySlowFast's C2D: no temporal kernel, time halved after stage 1."""
    return resnet3d(cfg)


@MODEL_REGISTRY.register()
def i3d(cfg: CfgNode) -> nn.Module:
    """PySlowFast's I3D: 5x7x7 stem, [3, 1]-alternating temporal kernels, time halved after stage 1."""
    return resnet3d(cfg)


def build_model(cfg: CfgNode) -> nn.Module:
    """The network named by MODEL.ARCH, on CPU, in train mode (the engine moves and wraps it)."""
    arch = cfg.MODEL.ARCH
    if arch not in MODEL_REGISTRY:
        known = ", ".join(sorted(name for name, _ in MODEL_REGISTRY))
        raise ConfigError(f"config key MODEL.ARCH is {arch!r}; registered: {known}")
    model = MODEL_REGISTRY.get(arch)(cfg)
    if cfg.MODEL.CHANNELS_LAST:
        model = model.to(memory_format=torch.channels_last_3d)
    params = sum(p.numel() for p in model.parameters())
    logger.info("built %s (%s): %s parameters", cfg.MODEL.MODEL_NAME, arch, f"{params:,}")
    return model
