"""The spec object: blocks per depth, stage widths, and config errors that name the key."""

from __future__ import annotations

import pytest

from video3d.config import load_config
from video3d.errors import ConfigError
from video3d.models import build_model, spec_from_cfg
from video3d.models.choices import feature_dim, inner_width, out_channels
from video3d.models.spec import stage_blocks_for


def test_stage_blocks_follow_depth_unless_given():
    assert stage_blocks_for(50) == (3, 4, 6, 3)
    assert stage_blocks_for(101) == (3, 4, 23, 3)
    assert stage_blocks_for(200) == (3, 24, 36, 3)
    assert stage_blocks_for(50, [1, 1, 1, 1]) == (1, 1, 1, 1)


@pytest.mark.parametrize(("cfg_file", "inner"), [
    ("configs/kinetics/resnet3d_50.yaml", [64, 128, 256, 512]),
    ("configs/hmdb51/resnext3d_101.yaml", [128, 256, 512, 1024]),  # 32 groups x 4 channels
    ("configs/kinetics/resnest3d_50.yaml", [64, 128, 256, 512]),
    ("configs/kinetics/hsresnet3d_50.yaml", [96, 192, 384, 768]),  # 6 splits x 16 channels
    ("configs/kinetics/hsresnet3d_50_28w6s.yaml", [168, 336, 672, 1344]),
])
def test_inner_widths_of_named_models(cfg_file, inner):
    spec = spec_from_cfg(load_config(cfg_file))
    assert [inner_width(spec.block, stage) for stage in range(4)] == inner
    assert [out_channels(spec, stage) for stage in range(4)] == [256, 512, 1024, 2048]


def test_demo_spec_is_tiny_and_reads_input_channels():
    spec = spec_from_cfg(load_config("configs/demo/synthmotion_iresnet3d_ffc.yaml"))
    assert spec.stage_blocks == (1, 1, 1, 1)
    assert feature_dim(spec) == 256
    assert spec.in_channels == 3
    flow = spec_from_cfg(load_config("configs/demo/synthmotion_iresnet3d_ffc.yaml",
                                     ["DATA.MODALITY", "flow", "DATA.FORMAT", "frames"]))
    assert flow.in_channels == 2


@pytest.mark.parametrize(("opts", "key"), [
    (["HS.SCALE", "1", "RESNET.BLOCK", "hs"], "HS.SCALE"),
    (["RESNET.BLOCK", "basic", "RESNET.DEPTH", "18", "RESNET.NUM_GROUPS", "2"], "RESNET.NUM_GROUPS"),
    (["RESNET.STEM", "deep", "RESNET.STEM_WIDTH", "9"], "RESNET.STEM_WIDTH"),
    (["RESNET.DEPTH", "77", "RESNET.BLOCK", "bottleneck"], "RESNET.DEPTH"),
    (["RESNET.STAGE_BLOCKS", "[1, 0, 1, 1]"], "RESNET.STAGE_BLOCKS"),
])
def test_bad_model_settings_name_the_key(opts, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        build_model(load_config(None, opts))


def test_resnet18_and_34_use_basic_blocks(count_params):
    # torchvision resnet18 / resnet34 (1000 classes) in the 2D-equivalent setting.
    flat = ["RESNET.BLOCK", "basic", "RESNET.TEMPORAL_KERNELS", "[1, 1, 1, 1]", "RESNET.STEM_TEMPORAL_KERNEL", "1",
            "MODEL.NUM_CLASSES", "1000"]
    assert count_params(None, "RESNET.DEPTH", "18", *flat) == 11_689_512
    assert count_params(None, "RESNET.DEPTH", "34", *flat) == 21_797_672
    assert count_params(None, "RESNET.DEPTH", "18", "RESNET.LAYOUT", "improved", "RESNET.SHORTCUT", "maxpool",
                        *flat) == 11_689_512  # official iresnet18


def test_config_arch_choices_are_the_registered_models():
    from video3d.config.archs import BUILT_ARCHS
    from video3d.models import ARCHS

    assert ARCHS.names == BUILT_ARCHS
