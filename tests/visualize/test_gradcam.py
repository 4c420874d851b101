"""Grad-CAM mechanics on models whose answer is known, and on a tiny FFC model."""

import pytest
import torch
from torch import nn

from video3d.errors import ConfigError
from video3d.visualize.gradcam import cam_from, grad_cam, mask_ratio


class _Toy(nn.Module):
    """features = 2 x input (stride 2 in space); class 0 = mean of the features, class 1 = minus it."""

    stage_names = ["features"]

    def __init__(self):
        super().__init__()
        self.features = nn.Conv3d(1, 1, kernel_size=(1, 2, 2), stride=(1, 2, 2), bias=False)
        nn.init.constant_(self.features.weight, 0.5)

    def forward(self, x):
        pooled = self.features(x).mean(dim=(2, 3, 4))
        return torch.cat([pooled, -pooled], dim=1)


def _square_clip():
    clip = torch.zeros(1, 1, 4, 16, 16)
    clip[..., 4:8, 8:12] = 1.0
    mask = torch.zeros(4, 16, 16)
    mask[:, 4:8, 8:12] = 1.0
    return clip, mask


def test_heat_follows_the_features_that_raise_the_class_score():
    clip, mask = _square_clip()
    (heat_map,) = grad_cam(_Toy(), clip, target=0)
    assert heat_map.heat.shape == (4, 16, 16) and heat_map.output is None
    assert float(heat_map.heat.max()) == pytest.approx(1.0)
    inside, outside = mask_ratio(heat_map.heat, mask)
    assert inside > 0.5 and outside < 0.1
    assert heat_map.heat[0, 6, 10] == pytest.approx(1.0, abs=0.05) and heat_map.heat[0, 14, 2] == 0.0


def test_a_class_the_features_lower_gets_no_heat():
    clip, _ = _square_clip()
    (heat_map,) = grad_cam(_Toy(), clip, target=1)
    assert float(heat_map.heat.abs().max()) == 0.0


def test_default_target_is_the_prediction():
    clip, _ = _square_clip()
    assert grad_cam(_Toy(), clip)[0].target == 0
    assert grad_cam(_Toy(), -clip)[0].target == 1


def test_cam_weights_channels_by_their_mean_gradient():
    activations = torch.stack([torch.ones(1, 2, 2), torch.full((1, 2, 2), 2.0)])
    gradients = torch.stack([torch.full((1, 2, 2), 1.0), torch.full((1, 2, 2), -0.25)])
    cam = cam_from(activations, gradients, (1, 2, 2))  # 1 * 1 - 0.25 * 2 = 0.5 everywhere, scaled to 1
    assert torch.allclose(cam, torch.ones(1, 2, 2))


def test_ffc_model_gets_one_map_per_chosen_output(tiny_cfg, tiny_model):
    clip = torch.randn(1, 3, 4, 32, 32)
    maps = grad_cam(tiny_model, clip)
    assert [m.output for m in maps] == [0, 2, 4, 6]
    assert len({m.target for m in maps}) == 1
    for heat_map in maps:
        assert heat_map.heat.shape == (4, 32, 32)
        assert 0.0 <= float(heat_map.heat.min()) and float(heat_map.heat.max()) <= 1.0 + 1e-6
    maps = grad_cam(tiny_model, clip, target=3, outputs=[6], layer="layer3")
    assert [(m.output, m.target) for m in maps] == [(6, 3)]
    assert all(p.grad is None for p in tiny_model.parameters())  # the model's gradients are left alone


def test_bad_layer_output_or_class_is_a_config_error(tiny_model):
    clip = torch.randn(1, 3, 4, 32, 32)
    with pytest.raises(ConfigError, match="--layer 'layer9'"):
        grad_cam(tiny_model, clip, layer="layer9")
    with pytest.raises(ConfigError, match=r"--ffc-outputs \[8\]"):
        grad_cam(tiny_model, clip, outputs=[7])
    with pytest.raises(ConfigError, match="--target 8"):
        grad_cam(tiny_model, clip, target=8)
