"""Exact parameter counts of the named models (docs/MODELS.md)."""

from __future__ import annotations

import pytest

# 3D, 16x224x224 input does not change parameter counts; K400 = 400 classes, SSv2 = 174.
NAMED_COUNTS = {
    "resnet3d_50": (46_999_760, 46_536_686),
    "iresnet3d_50": (46_999_760, 46_536_686),
    "resnest3d_50": (48_945_360, 48_482_286),
    "hsresnet3d_50": (41_575_827, 41_112_753),
    "hsresnet3d_50_28w6s": (101_274_783, 100_811_709),
}
FFC_OVERHEAD = 12_288  # 3 LayerNorms x (2048 gamma + 2048 beta), FFC paper "0.012M"
TWO_D = ["RESNET.TEMPORAL_KERNELS", "[1, 1, 1, 1]", "RESNET.STEM_TEMPORAL_KERNEL", "1",
         "RESNET.STEM_SPATIAL_KERNEL", "7", "MODEL.NUM_CLASSES", "1000"]


@pytest.mark.parametrize("name", sorted(NAMED_COUNTS))
def test_named_model_has_exact_kinetics_and_ssv2_counts(name, count_params):
    kinetics, ssv2 = NAMED_COUNTS[name]
    assert count_params(f"configs/kinetics/{name}.yaml") == kinetics
    assert count_params(f"configs/ssv2/{name}.yaml") == ssv2


@pytest.mark.parametrize("name", sorted(NAMED_COUNTS))
def test_ffc_twin_adds_exactly_three_layernorms(name, count_params):
    kinetics, ssv2 = NAMED_COUNTS[name]
    assert count_params(f"configs/kinetics/{name}_ffc.yaml") == kinetics + FFC_OVERHEAD
    assert count_params(f"configs/ssv2/{name}_ffc.yaml") == ssv2 + FFC_OVERHEAD


@pytest.mark.parametrize(("name", "count"), [
    ("resnet3d_50", 25_557_032),  # torchvision resnet50
    ("iresnet3d_50", 25_557_032),  # official iresnet50: same convs and BN widths
    ("resnest3d_50", 27_483_240),  # timm resnest50d
    ("hsresnet3d_50", 26_875_557),  # HS-ResNet-50 16w-6s (docs/MODELS.md)
])
def test_two_d_equivalent_settings_reproduce_the_2d_counts(name, count, count_params):
    assert count_params(f"configs/kinetics/{name}.yaml", *TWO_D) == count


def test_iresnet_depths_match_the_official_2d_counts(count_params):
    # Official iresnet101 = 44,549,160 (paper 44.55M); 152 / 200 equal torchvision resnet152
    # and timm resnet200 (same convs and BN widths, rearranged).
    assert count_params("configs/kinetics/iresnet3d_101.yaml", *TWO_D) == 44_549_160
    assert count_params("configs/kinetics/iresnet3d_152.yaml", *TWO_D) == 60_192_808
    assert count_params("configs/kinetics/iresnet3d_200.yaml", *TWO_D) == 64_673_832


def test_resnext101_32x4d_matches_torchvision_in_2d(count_params):
    # timm resnext101_32x4d (1000 classes).
    assert count_params("configs/hmdb51/resnext3d_101.yaml", *TWO_D) == 44_177_704


def test_flow_input_changes_only_the_stem(count_params):
    rgb = count_params("configs/kinetics/iresnet3d_50.yaml")
    flow = count_params("configs/kinetics/iresnet3d_50.yaml", "DATA.MODALITY", "flow", "DATA.FORMAT", "frames")
    assert rgb - flow == 64 * 5 * 7 * 7  # one input channel of the 5x7x7 stem conv
