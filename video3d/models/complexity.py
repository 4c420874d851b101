"""Model size and cost: parameters and conv+linear multiply-accumulates (fvcore)."""

from __future__ import annotations

import logging

import torch
from fvcore.common.config import CfgNode
from fvcore.nn import FlopCountAnalysis
from torch import nn

from video3d.config.checks import input_channels

# Only these count ("MACs" = conv + linear layers, docs/ENVIRONMENT.md); fvcore's
# other handles (norms, pools, element-wise ops) are left out, as the papers' tables mostly do.
_COUNTED_OPERATORS = ("conv", "linear", "addmm", "matmul", "bmm", "einsum")


def count_parameters(model: nn.Module) -> int:
    """Number of parameters of `model`."""
    return sum(p.numel() for p in model.parameters())


def input_shape(cfg: CfgNode) -> list[int]:
    """[C, T, H, W] of one training clip."""
    crop = cfg.DATA.TRAIN_CROP_SIZE
    return [input_channels(cfg), cfg.DATA.NUM_FRAMES, crop, crop]


def count_gmacs(model: nn.Module, shape: list[int]) -> float:
    """Conv + linear GMACs of one forward pass on a single clip of `shape` [C, T, H, W]."""
    was_training = model.training
    model.eval()
    clip = torch.zeros(1, *shape)
    analysis = FlopCountAnalysis(model, clip)
    analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False).tracer_warnings("none")
    fvcore_logger = logging.getLogger("fvcore")
    level = fvcore_logger.level
    fvcore_logger.setLevel(logging.ERROR)
    try:
        with torch.no_grad():
            by_operator = analysis.by_operator()
    finally:
        fvcore_logger.setLevel(level)
        model.train(was_training)
    return sum(by_operator.get(op, 0) for op in _COUNTED_OPERATORS) / 1e9
