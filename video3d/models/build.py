"""The MODEL.ARCH table and `build_model(cfg)`."""

from __future__ import annotations

import torch
from fvcore.common.config import CfgNode
from torch import nn

from video3d.choices import Choices
from video3d.models.resnet3d import ResNet3D
from video3d.models.spec import spec_from_cfg
from video3d.utils.logging import get_logger

logger = get_logger(__name__)


def resnet3d(cfg: CfgNode) -> nn.Module:
    """The 3D residual family: every named model is a choice of RESNET/HS/SPLAT/MODEL keys."""
    return ResNet3D(spec_from_cfg(cfg))


# PySlowFast's single-pathway ResNets: the same skeleton, with the RESNET keys their
# MODEL.ARCH fixes (video3d.config.archs).
def slow(cfg: CfgNode) -> nn.Module:
    """PySlowFast's Slow: temporal kernels 3 in stages 4-5 only, no temporal downsampling."""
    return resnet3d(cfg)


def c2d(cfg: CfgNode) -> nn.Module:
    """PySlowFast's C2D: no temporal kernel, time halved after stage 1."""
    return resnet3d(cfg)


def i3d(cfg: CfgNode) -> nn.Module:
    """PySlowFast's I3D: 5x7x7 stem, [3, 1]-alternating temporal kernels, time halved after stage 1."""
    return resnet3d(cfg)


# MODEL.ARCH -> (cfg -> network). Another family registers with `ARCHS.register(name)`.
ARCHS = Choices("MODEL.ARCH", {"resnet3d": resnet3d, "slow": slow, "c2d": c2d, "i3d": i3d})


def build_model(cfg: CfgNode) -> nn.Module:
    """The network named by MODEL.ARCH, on CPU, in train mode (the engine moves and wraps it)."""
    arch = cfg.MODEL.ARCH
    model = ARCHS[arch](cfg)
    if cfg.MODEL.CHANNELS_LAST:
        model = model.to(memory_format=torch.channels_last_3d)
    params = sum(p.numel() for p in model.parameters())
    logger.info("built %s (%s): %s parameters", cfg.MODEL.MODEL_NAME, arch, f"{params:,}")
    return model
