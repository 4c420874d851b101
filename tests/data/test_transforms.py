"""Exact sizes, crop boxes and flips; tensor transforms on uint8 clips."""

import pytest
import torch

from video3d.data import transforms


def test_jitter_short_side_covers_range_inclusive():
    assert transforms.jitter_short_side(256, 320, 0.0) == 256
    assert transforms.jitter_short_side(256, 320, 0.5) == 288
    assert transforms.jitter_short_side(256, 320, 0.999999) == 320


def test_short_side_size_keeps_aspect():
    assert transforms.short_side_size(256, 340, 256) == (256, 340)
    assert transforms.short_side_size(240, 320, 256) == (256, 341)
    assert transforms.short_side_size(320, 240, 256) == (341, 256)
    assert transforms.short_side_size(37, 53, 36) == (36, 52)


def test_random_crop_box_extremes():
    assert transforms.random_crop_box(256, 340, 224, 0.0, 0.0) == (0, 0)
    assert transforms.random_crop_box(256, 340, 224, 0.9999, 0.9999) == (32, 116)
    assert transforms.random_crop_box(256, 340, 224, 0.5, 0.5) == (16, 58)


def test_multiview_crop_boxes_landscape_left_centre_right():
    assert transforms.multiview_crop_boxes(256, 341, 256, 3) == [(0, 0), (0, 42), (0, 85)]


def test_multiview_crop_boxes_portrait_top_centre_bottom():
    assert transforms.multiview_crop_boxes(341, 256, 256, 3) == [(0, 0), (42, 0), (85, 0)]


def test_single_test_crop_is_centre():
    assert transforms.multiview_crop_boxes(256, 341, 256, 1) == [(0, 42)]
    with pytest.raises(ValueError):
        transforms.multiview_crop_boxes(256, 341, 256, 2)


def test_flip_label_swaps_pairs_only():
    pairs = [[0, 1], [4, 5]]
    assert [transforms.flip_label(label, pairs) for label in range(7)] == [1, 0, 2, 3, 5, 4, 6]
    assert transforms.flip_label(3, []) == 3


def _ramp_clip(channels: int) -> torch.Tensor:
    return torch.arange(2 * channels * 2 * 3, dtype=torch.uint8).view(2, channels, 2, 3)


def test_flip_rgb_mirrors_width_only():
    clip = _ramp_clip(3)
    assert torch.equal(transforms.flip_clip(clip, is_flow=False), clip.flip(-1))


def test_flip_flow_mirrors_and_inverts_x_keeps_y():
    clip = _ramp_clip(2)
    flipped = transforms.flip_clip(clip, is_flow=True)
    assert torch.equal(flipped[:, 0], 255 - clip[:, 0].flip(-1))
    assert torch.equal(flipped[:, 1], clip[:, 1].flip(-1))


def test_flipped_flow_x_is_negated_after_normalisation():
    clip = torch.tensor([0, 64, 128, 200, 255], dtype=torch.uint8).view(1, 1, 1, 5).repeat(1, 2, 1, 1)
    flow = transforms.Normalizer((128.0, 128.0), (128.0, 128.0))
    before = flow.clip(clip)
    after = flow.clip(transforms.flip_clip(clip, is_flow=True))
    # (255 - q - 128) / 128 = -(q - 128) / 128 - 1/128: a negation up to the half-step of 127.5
    assert torch.allclose(after[0].flip(-1), -before[0] - 1 / 128)
    assert torch.equal(after[1].flip(-1), before[1])


def test_normalize_rgb_and_flow_values_and_layout():
    clip = torch.zeros(4, 3, 2, 2, dtype=torch.uint8)
    clip[1, 2] = 255
    out = transforms.Normalizer.for_modality("rgb", [0.45] * 3, [0.225] * 3, [128.0] * 2, [128.0] * 2).clip(clip)
    assert out.shape == (3, 4, 2, 2) and out.dtype == torch.float32
    assert out[2, 1, 0, 0].item() == pytest.approx((1 - 0.45) / 0.225)
    assert out[0, 0, 0, 0].item() == pytest.approx(-0.45 / 0.225)
    flow = torch.tensor([0, 128, 255], dtype=torch.uint8).view(1, 1, 1, 3).repeat(1, 2, 1, 1)
    normalizer = transforms.Normalizer.for_modality("flow", [0.45] * 3, [0.225] * 3, [128.0] * 2, [128.0] * 2)
    assert normalizer.clip(flow)[0, 0, 0].tolist() == [-1.0, 0.0, 127 / 128]


def test_one_normalizer_gives_clips_and_views_the_same_values():
    normalizer = transforms.Normalizer((0.45 * 255, 0.45 * 255, 0.406 * 255), (0.225 * 255, 0.224 * 255, 0.225 * 255))
    clip = torch.randint(0, 256, (4, 3, 5, 6), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    views = clip.permute(1, 0, 2, 3)[None].repeat(2, 1, 1, 1, 1)  # [N, C, T, H, W]
    assert torch.equal(normalizer.views(views)[1], normalizer.clip(clip))
    with pytest.raises(ValueError, match="2/2 values for 3 channels"):
        transforms.Normalizer((128.0, 128.0), (128.0, 128.0)).clip(clip)


def test_resize_keeps_uint8_and_constant_frames():
    clip = torch.full((3, 48, 64, 3), 77, dtype=torch.uint8).permute(0, 3, 1, 2)
    out = transforms.resize_short_side(clip, 36)
    assert out.dtype == torch.uint8 and out.shape == (3, 3, 36, 48)
    assert (out == 77).all()


def test_crop_outside_frame_is_an_error():
    clip = torch.zeros(1, 3, 10, 12, dtype=torch.uint8)
    assert transforms.crop_clip(clip, 2, 4, 8).shape == (1, 3, 8, 8)
    with pytest.raises(ValueError):
        transforms.crop_clip(clip, 3, 0, 8)
