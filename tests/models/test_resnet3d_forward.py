"""Every combination of the orthogonal choices builds, runs forward and backward (tiny widths).

48x48 inputs: PyTorch pools reject inputs smaller than the kernel before padding, and 32x32
would leave 2x2 maps at stage 4."""

from __future__ import annotations

import itertools

import pytest
import torch

from video3d.errors import ConfigError
from video3d.models import build_model, training_logits

STEMS = ("basic", "deep")
LAYOUTS = ("standard", "improved")
SHORTCUTS = ("conv", "maxpool", "avgdown")
BLOCKS = ("basic", "bottleneck", "hs", "splat")
HEADS = ("linear", "ffc")
# One-block, three-block (Start/Middle/End) and two-block stages, with temporal strides.
STAGES = ["RESNET.STAGE_BLOCKS", "[1, 3, 2, 1]"]


@pytest.mark.parametrize(("stem", "layout", "shortcut", "block"),
                         list(itertools.product(STEMS, LAYOUTS, SHORTCUTS, BLOCKS)))
def test_every_combination_trains_one_step(stem, layout, shortcut, block, tiny_cfg):
    torch.manual_seed(0)
    for head in HEADS:
        cfg = tiny_cfg(*STAGES, "RESNET.STEM", stem, "RESNET.LAYOUT", layout, "RESNET.SHORTCUT", shortcut,
                       "RESNET.BLOCK", block, "MODEL.HEAD", head)
        model = build_model(cfg)
        clip = torch.randn(2, 3, 4, 48, 48)
        outputs = model(clip)
        assert outputs.shape == ((2, 5) if head == "linear" else (2, 7, 5))
        training_logits(outputs, cfg).logsumexp(dim=1).sum().backward()
        grads = [p.grad for p in model.parameters()]
        assert all(g is not None and torch.isfinite(g).all() for g in grads)
        assert next(model.stem.parameters()).grad.abs().sum() > 0


def test_demo_config_builds_the_embedded_model_and_runs_on_its_clip_size():
    from video3d.config import load_config

    cfg = load_config("configs/demo/synthmotion_iresnet3d_ffc.yaml")
    model = build_model(cfg)
    clip = torch.randn(2, 3, cfg.DATA.NUM_FRAMES, cfg.DATA.TRAIN_CROP_SIZE, cfg.DATA.TRAIN_CROP_SIZE)
    features = model.forward_features(clip)
    assert features.shape[:2] == (2, model.feature_dim)
    assert model.forward_head(features).shape == (2, 7, cfg.MODEL.NUM_CLASSES)


def test_flow_model_takes_two_channel_clips(tiny_cfg):
    model = build_model(tiny_cfg("DATA.MODALITY", "flow", "DATA.FORMAT", "frames"))
    assert model.stem.conv1.in_channels == 2
    assert model(torch.randn(1, 2, 4, 48, 48)).shape == (1, 5)


def test_temporal_strides_sit_on_the_stage_first_block(tiny_cfg):
    model = build_model(tiny_cfg("RESNET.TEMPORAL_STRIDES", "[1, 1, 2, 2]"))
    features = model.forward_features(torch.randn(1, 3, 8, 32, 32))
    assert features.shape[2] == 2
    assert model.layer3[0].conv2.stride == (2, 2, 2)
    assert model.layer3[0].downsample[0].stride == (2, 2, 2)
    assert model.layer3[1].conv2.stride == (1, 1, 1)


def test_temporal_kernels_are_per_stage(tiny_cfg):
    model = build_model(tiny_cfg("RESNET.TEMPORAL_KERNELS", "[1, 1, 3, 3]"))
    assert model.layer2[0].conv2.kernel_size == (1, 3, 3)
    assert model.layer3[0].conv2.kernel_size == (3, 3, 3)


def test_eval_mode_keeps_the_output_contract(tiny_cfg):
    model = build_model(tiny_cfg("MODEL.HEAD", "ffc")).eval()
    with torch.no_grad():
        assert model(torch.randn(3, 3, 4, 32, 32)).shape == (3, 7, 5)


def test_channels_last_model_gives_the_same_logits(tiny_cfg):
    torch.manual_seed(0)
    plain = build_model(tiny_cfg()).eval()
    fast = build_model(tiny_cfg("MODEL.CHANNELS_LAST", "True")).eval()
    fast.load_state_dict(plain.state_dict())
    clip = torch.randn(1, 3, 4, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(fast(clip), plain(clip), rtol=1e-4, atol=1e-5)


def test_unknown_arch_names_the_key(tiny_cfg):
    cfg = tiny_cfg()
    cfg.MODEL.ARCH = "vit"
    with pytest.raises(ConfigError, match="MODEL.ARCH"):
        build_model(cfg)
