"""Block layouts: iResNet roles and BN inventory, HS channel arithmetic, ResNeSt radix-major."""

from __future__ import annotations

from functools import partial

import pytest
import torch
import torch.nn.functional as F
from timm.layers import SplitAttn as SplitAttnReference
from torch import nn

from video3d.models import build_model
from video3d.models.blocks import BasicBlock, Bottleneck
from video3d.models.hs import HSBottleneck, HSConv, hs_conv_widths, hs_kept_widths
from video3d.models.layouts import BlockRole, improved_roles
from video3d.models.splat import SplatBottleneck, SplitAttn, attention_width

norm = partial(nn.BatchNorm3d)
FIRST_MIDDLE = BlockRole(pre="relu", branch_bn=False, post="none")


def test_improved_roles_place_start_middle_and_end_blocks():
    start = BlockRole("none", True, "none")
    middle = BlockRole("bn_relu", False, "none")
    end = BlockRole("bn_relu", False, "bn_relu")
    assert improved_roles(4) == [start, FIRST_MIDDLE, middle, end]
    assert improved_roles(3) == [start, FIRST_MIDDLE, end]
    assert improved_roles(2) == [start, BlockRole("relu", False, "bn_relu")]
    assert improved_roles(1) == [BlockRole("none", False, "bn_relu")]


def test_iresnet50_bn_inventory_per_stage():
    from video3d.config import load_config

    with torch.device("meta"):
        model = build_model(load_config("configs/kinetics/iresnet3d_50.yaml"))
        baseline = build_model(load_config("configs/kinetics/resnet3d_50.yaml"))
    for stage, num_blocks in zip(model.stage_names, (3, 4, 6, 3), strict=True):
        blocks = list(getattr(model, stage))
        has_bn0 = [hasattr(b, "bn0") for b in blocks]
        has_bn3 = [hasattr(b, "bn3") for b in blocks]
        assert has_bn0 == [False, False] + [True] * (num_blocks - 2), stage
        assert has_bn3 == [True] + [False] * (num_blocks - 2) + [True], stage
        assert isinstance(blocks[0].downsample[0], nn.MaxPool3d)

    def bn_count(m):
        return sum(isinstance(x, nn.BatchNorm3d) for x in m.modules())

    assert bn_count(model) == bn_count(baseline) == 53


def test_iresnet_stage_ends_with_bn_relu_and_start_block_has_no_relu(randomise):
    torch.manual_seed(0)
    roles = improved_roles(3)
    start = randomise(Bottleneck(8, 4, 4, norm, roles[0], downsample=nn.Sequential(
        nn.Identity(), nn.Conv3d(8, 16, 1, bias=False), norm(16))))
    end = randomise(Bottleneck(16, 4, 4, norm, roles[2]))
    x = torch.randn(2, 8, 3, 6, 6)
    with torch.no_grad():
        assert (start(x) < 0).any()
        assert (end(start(x)) >= 0).all()


@pytest.mark.parametrize("official", [False, True])
def test_first_middle_block_shortcut_carries_x_or_relu_x_with_the_quirk_flag(official, randomise):
    torch.manual_seed(0)
    block = randomise(Bottleneck(16, 4, 4, norm, FIRST_MIDDLE, relu_shortcut=official))
    x = torch.randn(2, 16, 3, 5, 5)
    x_before = x.clone()
    with torch.no_grad():
        out = block(x)
        branch = block.residual(F.relu(x))
    torch.testing.assert_close(out - branch, F.relu(x) if official else x)
    torch.testing.assert_close(x, x_before)


@pytest.mark.parametrize("role", improved_roles(4) + [BlockRole("none", True, "relu")])
@pytest.mark.parametrize("kind", ["basic", "bottleneck", "hs", "splat"])
def test_blocks_never_modify_their_input(role, kind):
    torch.manual_seed(0)
    channels = 16 if kind != "basic" else 4
    if kind == "basic":
        block = BasicBlock(channels, 4, norm, role, relu_shortcut=True)
    elif kind == "bottleneck":
        block = Bottleneck(channels, 4, 4, norm, role, relu_shortcut=True)
    elif kind == "hs":
        block = HSBottleneck(channels, 4, 2, 3, norm, role, relu_shortcut=True)
    else:
        block = SplatBottleneck(channels, 4, 4, norm, role, relu_shortcut=True)
    x = torch.randn(2, channels, 3, 6, 6, requires_grad=True)
    x_before = x.detach().clone()
    block(x).sum().backward()
    torch.testing.assert_close(x.detach(), x_before)


def test_hs_channel_arithmetic_for_28w_6s():
    assert hs_conv_widths(28, 6) == [28, 42, 49, 52, 54]
    assert hs_kept_widths(28, 6) == [28, 14, 21, 25, 26, 54]
    assert sum(hs_kept_widths(28, 6)) == 6 * 28


@pytest.mark.parametrize(("width", "scale"), [(28, 6), (16, 6), (3, 5), (5, 4), (7, 2), (1, 8)])
def test_hs_conv_conserves_channels_including_odd_widths(width, scale):
    conv = HSConv(width, scale, norm, temporal_kernel=1)
    assert [c[0].out_channels for c in conv.convs] == hs_conv_widths(width, scale)
    assert conv(torch.randn(1, width * scale, 1, 4, 4)).shape == (1, width * scale, 1, 4, 4)
    assert sum(hs_kept_widths(width, scale)) == width * scale


def test_hs_with_two_splits_is_identity_then_one_conv(randomise):
    torch.manual_seed(0)
    conv = randomise(HSConv(3, 2, norm))
    x = torch.randn(2, 6, 3, 5, 5)
    with torch.no_grad():
        out = conv(x)
        torch.testing.assert_close(out[:, :3], x[:, :3])
        torch.testing.assert_close(out[:, 3:], conv.convs[0](x[:, 3:]))


def test_hs_strided_block_equals_pool_plus_one_grouped_conv(randomise):
    torch.manual_seed(0)
    width, scale, stride = 4, 5, (2, 2, 2)
    conv = randomise(HSConv(width, scale, norm, temporal_kernel=3, stride=stride))
    grouped = nn.Conv3d(width * (scale - 1), width * (scale - 1), 3, stride, 1, groups=scale - 1, bias=False)
    bn = norm(width * (scale - 1)).eval()
    with torch.no_grad():
        grouped.weight.copy_(torch.cat([c[0].weight for c in conv.convs]))
        for name in ("weight", "bias", "running_mean", "running_var"):
            getattr(bn, name).copy_(torch.cat([getattr(c[1], name) for c in conv.convs]))
        x = torch.randn(2, width * scale, 4, 8, 8)
        pooled = F.avg_pool3d(x[:, :width], (2, 3, 3), stride, padding=(0, 1, 1))
        expected = torch.cat((pooled, F.relu(bn(grouped(x[:, width:])))), dim=1)
        torch.testing.assert_close(conv(x), expected)


def test_attention_width_follows_the_official_reduction():
    assert [attention_width(gw, 2) for gw in (64, 128, 256, 512)] == [32, 64, 128, 256]
    assert attention_width(8, 2) == 32


@pytest.mark.parametrize(("radix", "cardinality"), [(4, 2), (2, 1), (1, 4)])
def test_split_attention_equals_timm_radix_major_layout(radix, cardinality, randomise):
    torch.manual_seed(0)
    channels = 64
    ours = randomise(SplitAttn(channels, norm, radix, cardinality, temporal_kernel=3))
    reference = SplitAttnReference(channels, channels, kernel_size=3, padding=1, groups=cardinality,
                                      radix=radix, norm_layer=nn.BatchNorm2d)
    randomise(reference)
    ours_state = ours.state_dict()
    for key, value in reference.state_dict().items():
        if value.dim() == 4:
            kt = ours_state[key].shape[2]
            value = F.pad(value.unsqueeze(2), (0, 0, 0, 0, kt // 2, kt // 2))
        ours_state[key] = value
    ours.load_state_dict(ours_state)
    image = torch.randn(2, channels, 6, 6)
    with torch.no_grad():
        expected = reference(image)
        got = ours(image.unsqueeze(2).repeat(1, 1, 3, 1, 1))
    for t in range(3):
        torch.testing.assert_close(got[:, :, t], expected, rtol=1e-4, atol=1e-5)
