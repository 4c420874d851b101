"""MODEL.ARCH slow / c2d / i3d: PySlowFast's single-pathway ResNets from the one skeleton.

The oracle is PyTorchVideo's own builder: `create_resnet` with the arguments of its hub models
slow_r50, c2d_r50 and i3d_r50 (pytorchvideo/models/hub/resnet.py), carrying the same random
weights through the name converter (video3d.models.convert), gives the same outputs.
"""

import re

import pytest
import torch
from pytorchvideo.models.resnet import create_resnet
from torch import nn

from video3d.config import ConfigError, load_config
from video3d.models import build_model
from video3d.models.convert import convert_state_dict, detect_format

FRAMES, SIZE, CLASSES = 8, 32, 10
# PyTorchVideo hub arguments (slow_r50, c2d_r50, i3d_r50) and the time left after stage 1.
HUB = {
    "slow": ({"stem_conv_kernel_size": (1, 7, 7)}, FRAMES),
    "c2d": ({"stem_conv_kernel_size": (1, 7, 7), "stage1_pool": nn.MaxPool3d,
             "stage_conv_a_kernel_size": ((1, 1, 1),) * 4}, FRAMES // 2),
    "i3d": ({"stem_conv_kernel_size": (5, 7, 7), "stage1_pool": nn.MaxPool3d,
             "stage_conv_a_kernel_size": ((3, 1, 1), [(3, 1, 1), (1, 1, 1)], [(3, 1, 1), (1, 1, 1)],
                                          [(1, 1, 1), (3, 1, 1)])}, FRAMES // 2),
}


def pytorchvideo_model(arch: str, depth: int = 50, classes: int = CLASSES) -> nn.Module:
    kwargs, frames = HUB[arch]
    return create_resnet(model_depth=depth, model_num_class=classes, dropout_rate=0.0,
                         head_pool_kernel_size=(frames, SIZE // 32, SIZE // 32), **kwargs)


def video3d_model(arch: str, *opts: str) -> nn.Module:
    return build_model(load_config(None, ["MODEL.ARCH", arch, "MODEL.NUM_CLASSES", str(CLASSES),
                                          "MODEL.DROPOUT_RATE", "0.0", *opts]))


def randomize(model: nn.Module, seed: int) -> None:
    """Random weights and BN statistics, so every tensor matters."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if tensor.is_floating_point():
                values = torch.rand(tensor.shape, generator=generator, dtype=torch.float64)
                scale = 1.0 if "running_var" in name or name.endswith("norm.weight") else 0.1
                tensor.copy_((values + 0.5 if "running_var" in name else values - 0.5) * scale * 2)


def test_slow_r50_has_pyslowfasts_parameter_count():
    model = build_model(load_config(None, ["MODEL.ARCH", "slow", "MODEL.NUM_CLASSES", "400"]))
    assert sum(p.numel() for p in model.parameters()) == 32_454_096


@pytest.mark.parametrize("arch", ["slow", "c2d", "i3d"])
@pytest.mark.parametrize("depth", [50, 101])
def test_parameter_counts_equal_pytorchvideos(arch, depth):
    ours = video3d_model(arch, "RESNET.DEPTH", str(depth))
    theirs = pytorchvideo_model(arch, depth)
    assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in theirs.parameters())


@pytest.mark.parametrize("arch", ["slow", "c2d", "i3d"])
def test_outputs_equal_pytorchvideos_create_resnet_with_the_same_weights(arch):
    theirs = pytorchvideo_model(arch).double().eval()
    randomize(theirs, seed=7)
    state = theirs.state_dict()
    assert detect_format(state) == "pytorchvideo"
    ours = video3d_model(arch).double().eval()
    ours.load_state_dict(convert_state_dict(state, "pytorchvideo"), strict=True)  # every tensor lands
    clip = torch.randn(2, 3, FRAMES, SIZE, SIZE, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    with torch.no_grad():
        expected, got = theirs(clip), ours(clip)
    assert expected.shape == got.shape == (2, CLASSES)
    assert (got - expected).abs().max().item() < 1e-5
    assert expected.abs().max().item() > 1e-3  # the comparison is not between two zeros


def test_i3d_alternates_temporal_kernels_on_the_first_conv_and_pools_time_after_stage_1():
    model = video3d_model("i3d")
    assert model.stem.conv1.kernel_size == (5, 7, 7)
    assert [model.layer2[i].conv1.kernel_size[0] for i in range(4)] == [3, 1, 3, 1]
    assert [model.layer4[i].conv1.kernel_size[0] for i in range(3)] == [1, 3, 1]
    assert all(block.conv2.kernel_size == (1, 3, 3) for block in model.layer3)
    assert model.stage1_pool.kernel_size == (2, 1, 1)
    limited = video3d_model("i3d", "RESNET.NUM_BLOCK_TEMP_KERNEL", "[[3], [2], [6], [3]]")
    assert [limited.layer2[i].conv1.kernel_size[0] for i in range(4)] == [3, 1, 1, 1]


def test_existing_models_keep_their_layout_without_a_stage1_pool():
    model = build_model(load_config(None, ["MODEL.NUM_CLASSES", "10", "RESNET.STAGE_BLOCKS", "[1, 1, 1, 1]"]))
    assert model.stage1_pool is None
    assert model.layer1[0].conv1.kernel_size == (1, 1, 1) and model.layer1[0].conv2.kernel_size == (3, 3, 3)


@pytest.mark.parametrize("opts, message", [
    (["MODEL.ARCH", "slow", "RESNET.TEMPORAL_KERNELS", "[3, 3, 1, 1]"],
     re.escape("MODEL.ARCH slow fixes RESNET.TEMPORAL_KERNELS to [1, 1, 3, 3], got [3, 3, 1, 1]")),
    (["MODEL.ARCH", "c2d", "RESNET.DEPTH", "152"], "MODEL.ARCH c2d is PySlowFast's ResNet: RESNET.DEPTH 50 or 101"),
    (["RESNET.TEMPORAL_CONV", "a", "RESNET.BLOCK", "splat"], "RESNET.TEMPORAL_CONV a .* needs RESNET.BLOCK bottleneck"),
    (["RESNET.TEMPORAL_KERNELS", "[3, [3, 2], 3, 3]"], "RESNET.TEMPORAL_KERNELS entry 1"),
])
def test_preset_conflicts_and_bad_axes_are_one_line(opts, message):
    with pytest.raises(ConfigError, match=message):
        load_config(None, opts)


def test_stride_1x1_moves_the_spatial_stride_to_the_first_conv():
    model = video3d_model("slow", "RESNET.STRIDE_1X1", "True")
    block = model.layer2[0]
    assert block.conv1.stride == (1, 2, 2) and block.conv2.stride == (1, 1, 1)
    default = video3d_model("slow").layer2[0]
    assert default.conv1.stride == (1, 1, 1) and default.conv2.stride == (1, 2, 2)
    clip = torch.randn(1, 3, FRAMES, SIZE, SIZE)
    assert model.eval()(clip).shape == (1, CLASSES)
