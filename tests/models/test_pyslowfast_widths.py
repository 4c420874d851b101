"""RESNET.WIDTH_PER_GROUP and NUM_GROUPS size PySlowFast's archs as in PySlowFast: the stem has
WIDTH_PER_GROUP channels, stage k outputs WIDTH_PER_GROUP x 4 x 2^k and its inner convs
NUM_GROUPS x WIDTH_PER_GROUP x 2^k (slowfast/models/video_model_builder.py, ResNet)."""

import pathlib

import pytest
import torch

from video3d.config import ConfigError, load_config
from video3d.models import build_model

PYSLOWFAST = pathlib.Path(__file__).resolve().parents[1] / "config" / "data" / "pyslowfast"
# PySlowFast's _TEMPORAL_KERNEL_BASIS: stem kernel, then per stage the a-conv kernels (cycled).
BASIS = {"slow": (1, [[1], [1], [3], [3]]), "c2d": (1, [[1], [1], [1], [1]]),
         "i3d": (5, [[3], [3, 1], [3, 1], [1, 3]])}
BLOCKS = (3, 4, 6, 3)  # ResNet-50


def pyslowfast_params(arch: str, groups: int, width: int, classes: int = 400) -> int:
    """Parameters of PySlowFast's ResNet-50 `arch`, counted from its builder's widths."""
    stem_t, kernels = BASIS[arch]
    total = 3 * width * stem_t * 7 * 7 + 2 * width  # stem conv (no bias) + BN
    dim_in, inner = width, groups * width
    for stage, blocks in enumerate(BLOCKS):
        dim_out, dim_inner = width * 4 * 2**stage, inner * 2**stage
        for i in range(blocks):
            kt = kernels[stage][i % len(kernels[stage])]
            src = dim_in if i == 0 else dim_out
            if i == 0:  # branch1: 1x1x1 projection + BN (dims or stride change in every first block)
                total += src * dim_out + 2 * dim_out
            total += src * dim_inner * kt + 2 * dim_inner  # a: kt x 1 x 1
            total += dim_inner * (dim_inner // groups) * 9 + 2 * dim_inner  # b: 1 x 3 x 3, grouped
            total += dim_inner * dim_out + 2 * dim_out  # c: 1 x 1 x 1
        dim_in = dim_out
    return total + dim_in * classes + classes  # head.projection


def _count(arch: str, groups: int, width: int) -> int:
    cfg = load_config(str(PYSLOWFAST / f"Kinetics_{arch.upper()}_8x8_R50.yaml"),
                      ["RESNET.NUM_GROUPS", str(groups), "RESNET.WIDTH_PER_GROUP", str(width)])
    with torch.device("meta"):
        return sum(p.numel() for p in build_model(cfg).parameters())


def test_the_issue_counts_measured_with_pyslowfast():
    assert _count("slow", 1, 8) == 603_928
    assert _count("slow", 32, 4) == 3_695_972
    assert _count("slow", 1, 64) == 32_454_096


@pytest.mark.parametrize("arch", sorted(BASIS))
@pytest.mark.parametrize("groups,width", [(1, 64), (1, 8), (32, 4), (8, 8), (2, 16), (64, 4)])
def test_widths_follow_width_per_group(arch, groups, width):
    assert _count(arch, groups, width) == pyslowfast_params(arch, groups, width)


def test_a_stem_width_other_than_width_per_group_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="fixes RESNET.STEM_WIDTH to RESNET.WIDTH_PER_GROUP"):
        build_model(load_config(str(PYSLOWFAST / "Kinetics_SLOW_8x8_R50.yaml"), ["RESNET.STEM_WIDTH", "32"]))
