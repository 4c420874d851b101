"""Shared helpers for the model tests: tiny configs of the same code, meta-device counting."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from video3d.config import load_config
from video3d.models import build_model

# Same network code, tiny widths: stage planes 4..32, inner widths 4..32.
TINY = [
    "RESNET.STEM_WIDTH", "8", "RESNET.WIDTH_PER_GROUP", "4", "HS.WIDTH", "2",
    "SPLAT.BOTTLENECK_WIDTH", "4", "MODEL.NUM_CLASSES", "5", "RESNET.STEM_TEMPORAL_KERNEL", "3",
]


@pytest.fixture(autouse=True)
def single_thread():
    """Two shared cores: one thread per test process keeps small convs from thrashing."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture
def tiny_cfg():
    def make(*opts: str, cfg_file: str | None = None):
        return load_config(cfg_file, list(TINY) + list(opts))
    return make


@pytest.fixture
def count_params():
    """Parameters of the network a config builds, on the meta device (no memory, no init cost)."""
    def count(cfg_file: str | None = None, *opts: str) -> int:
        cfg = load_config(cfg_file, list(opts))
        with torch.device("meta"):
            model = build_model(cfg)
        return sum(p.numel() for p in model.parameters())
    return count


def randomise_bn(module: nn.Module) -> nn.Module:
    """Random BN statistics and affine parameters, eval mode: no branch is silently identity
    (timm zero-inits the last BN gamma of each block)."""
    for m in module.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.3, 0.3)
            m.running_mean.uniform_(-0.3, 0.3)
            m.running_var.uniform_(0.5, 1.5)
    return module.eval()


@pytest.fixture
def randomise():
    return randomise_bn
