"""2D -> 3D inflation and weight transfer (docs/MODELS.md): a centre-inflated 3D model on a
static clip equals the 2D model on the image."""

from __future__ import annotations

import pytest
import timm
import torch
import torchvision
from torch import nn

from video3d.config import load_config
from video3d.errors import CheckpointError
from video3d.models import build_model, load_pretrained
from video3d.models.inflate import inflate_weight, partial_load_message, unloaded_backbone

IMAGE = 64  # small images keep the full-size networks fast on two cores
FRAMES = 4


def relative_error(got: torch.Tensor, expected: torch.Tensor) -> float:
    return ((got - expected).abs().max() / expected.abs().max()).item()


def static_clip(image: torch.Tensor, frames: int = FRAMES) -> torch.Tensor:
    return image.unsqueeze(2).repeat(1, 1, frames, 1, 1)


def check_centre_inflation(model_2d: nn.Module, cfg_file: str, *opts: str) -> dict:
    model_3d = build_model(load_config(cfg_file, ["MODEL.NUM_CLASSES", "1000", *opts])).eval()
    report = load_pretrained(model_3d, model_2d.state_dict(), inflate_method="centre")
    image = torch.randn(2, 3, IMAGE, IMAGE)
    with torch.no_grad():
        expected = model_2d(image)
        got = model_3d(static_clip(image))
    assert relative_error(got, expected) < 1e-4
    return report


def test_torchvision_resnet50_centre_inflates_exactly_into_resnet3d_50(randomise):
    torch.manual_seed(1)
    report = check_centre_inflation(randomise(torchvision.models.resnet50()), "configs/kinetics/resnet3d_50.yaml")
    assert report["missing"] == [] and report["unexpected"] == []
    assert len(report["inflated"]) == 53  # every conv of ResNet-50


def test_timm_resnest50d_centre_inflates_exactly_into_resnest3d_50(randomise):
    torch.manual_seed(1)
    report = check_centre_inflation(randomise(timm.create_model("resnest50d", pretrained=False)),
                                    "configs/kinetics/resnest3d_50.yaml")
    assert report["missing"] == [] and report["unexpected"] == []


@pytest.mark.parametrize("cfg_file", ["configs/kinetics/iresnet3d_50.yaml", "configs/kinetics/hsresnet3d_50.yaml"])
def test_3d_model_on_static_clip_equals_its_2d_equivalent_config(cfg_file, randomise):
    """No public 2D oracle for iResNet-3D / HS: the same code with temporal kernels 1 is one."""
    tiny = ["RESNET.STEM_WIDTH", "16", "RESNET.WIDTH_PER_GROUP", "16", "HS.WIDTH", "4", "MODEL.NUM_CLASSES", "7"]
    flat = ["RESNET.TEMPORAL_KERNELS", "[1, 1, 1, 1]", "RESNET.STEM_TEMPORAL_KERNEL", "1",
            "RESNET.TEMPORAL_STRIDES", "[1, 1, 1, 1]"]
    torch.manual_seed(2)
    model_2d = randomise(build_model(load_config(cfg_file, tiny + flat)))
    model_3d = build_model(load_config(cfg_file, tiny)).eval()
    state_2d = {k: v.squeeze(2) if v.dim() == 5 else v for k, v in model_2d.state_dict().items()}
    load_pretrained(model_3d, state_2d, inflate_method="centre")
    image = torch.randn(2, 3, IMAGE, IMAGE)
    with torch.no_grad():
        expected = model_2d(static_clip(image, 1))
        got = model_3d(static_clip(image))
    assert relative_error(got, expected) < 1e-4


def test_inflate_weight_centre_and_mean_values():
    kernel = torch.arange(4.0).reshape(1, 1, 2, 2)
    centre = inflate_weight(kernel, 3, "centre")
    assert centre.shape == (1, 1, 3, 2, 2)
    assert centre[0, 0, 1].tolist() == [[0.0, 1.0], [2.0, 3.0]]
    assert centre[0, 0, 0].abs().sum() == 0 and centre[0, 0, 2].abs().sum() == 0
    mean = inflate_weight(kernel, 4, "mean")
    assert mean[0, 0, :, 1, 1].tolist() == [0.75] * 4
    torch.testing.assert_close(mean.sum(dim=2), kernel)


def test_mean_inflation_is_exact_away_from_temporal_borders():
    torch.manual_seed(0)
    conv_2d = nn.Conv2d(3, 4, 3, padding=1, bias=False)
    conv_3d = nn.Conv3d(3, 4, 3, padding=(0, 1, 1), bias=False)  # no temporal padding
    conv_3d.weight.data = inflate_weight(conv_2d.weight.data, 3, "mean")
    image = torch.randn(1, 3, 6, 6)
    with torch.no_grad():
        torch.testing.assert_close(conv_3d(static_clip(image, 5))[:, :, 2], conv_2d(image))


def tiny(*opts: str):
    return build_model(load_config(None, ["RESNET.STEM_WIDTH", "8", "RESNET.WIDTH_PER_GROUP", "4",
                                          "RESNET.STAGE_BLOCKS", "[1, 1, 1, 1]", *opts]))


def test_flow_model_starts_from_rgb_weights_by_averaging_stem_channels():
    rgb = tiny()
    flow = tiny("DATA.MODALITY", "flow", "DATA.FORMAT", "frames")
    report = load_pretrained(flow, rgb.state_dict())
    assert report["channel_averaged"] == ["stem.conv1.weight"]
    assert report["missing"] == []
    expected = rgb.stem.conv1.weight.mean(dim=1, keepdim=True).expand(-1, 2, -1, -1, -1)
    torch.testing.assert_close(flow.stem.conv1.weight, expected)
    torch.testing.assert_close(flow.layer2[0].conv2.weight, rgb.layer2[0].conv2.weight)


def test_fine_tuning_keeps_everything_but_a_head_of_another_shape():
    kinetics = tiny("MODEL.NUM_CLASSES", "400", "MODEL.HEAD", "ffc")
    hmdb = tiny("MODEL.NUM_CLASSES", "51", "MODEL.HEAD", "ffc")
    fc_before = hmdb.head.fc.weight.clone()
    state = {f"module.{k}": v for k, v in kinetics.state_dict().items()}  # a DDP checkpoint
    report = load_pretrained(hmdb, state)
    assert sorted(report["skipped_head"]) == ["head.fc.bias", "head.fc.weight"]
    assert sorted(report["missing"]) == ["head.fc.bias", "head.fc.weight"]
    assert unloaded_backbone(report) == [] and partial_load_message("k400.pyth", report) is None  # allowed
    torch.testing.assert_close(hmdb.head.fc.weight, fc_before)
    torch.testing.assert_close(hmdb.head.filters[0].weight, kinetics.head.filters[0].weight)
    torch.testing.assert_close(hmdb.layer4[0].conv3.weight, kinetics.layer4[0].conv3.weight)


def test_unknown_tensors_are_reported_not_loaded():
    model = tiny()
    report = load_pretrained(model, {"classifier.weight": torch.zeros(3, 3)})
    assert report["unexpected"] == ["classifier.weight"]
    assert report["loaded"] == []
    assert "stem.conv1.weight" in unloaded_backbone(report)
    backbone = len(unloaded_backbone(report))
    assert partial_load_message("x.pyth", report).startswith(f"initial weights x.pyth leave {backbone} of {backbone} ")


def test_backbone_shape_mismatch_names_the_tensor():
    model = tiny()
    with pytest.raises(CheckpointError, match=r"layer1\.0\.conv1\.weight"):
        load_pretrained(model, {"layer1.0.conv1.weight": torch.zeros(5, 8, 1, 1, 1)})


def test_2d_kernel_without_inflate_method_says_so():
    model = tiny()
    with pytest.raises(CheckpointError, match="inflate method"):
        load_pretrained(model, {"layer1.0.conv2.weight": torch.zeros(4, 4, 3, 3)})
