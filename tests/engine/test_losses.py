import math

import pytest
import torch

from video3d.config import get_cfg
from video3d.engine.losses import (
    cutmix_box,
    mix_targets,
    mixup_batch,
    smooth_one_hot,
    soft_target_cross_entropy,
    training_targets,
)


def test_smooth_one_hot_exact_values():
    targets = smooth_one_hot(torch.tensor([2, 0]), 4, smoothing=0.2)
    assert torch.allclose(targets[0], torch.tensor([0.05, 0.05, 0.85, 0.05]))
    assert torch.allclose(targets.sum(1), torch.ones(2))


def test_soft_target_cross_entropy_equals_cross_entropy_on_hard_targets():
    logits = torch.tensor([[2.0, 0.5, -1.0], [0.1, 0.2, 0.3]])
    labels = torch.tensor([0, 2])
    expected = torch.nn.functional.cross_entropy(logits, labels)
    assert soft_target_cross_entropy(logits, smooth_one_hot(labels, 3)) == pytest.approx(float(expected))


def test_label_smoothing_matches_torch():
    logits = torch.tensor([[2.0, 0.5, -1.0]])
    expected = torch.nn.functional.cross_entropy(logits, torch.tensor([1]), label_smoothing=0.1)
    got = soft_target_cross_entropy(logits, smooth_one_hot(torch.tensor([1]), 3, 0.1))
    assert got == pytest.approx(float(expected))


def test_cutmix_box_area_and_clipping():
    assert cutmix_box(8, 8, 0.75, 4, 4) == (2, 6, 2, 6)  # sqrt(0.25) of each side
    assert cutmix_box(8, 8, 0.75, 0, 7) == (0, 2, 5, 8)  # clipped at the frame edges


def test_mix_targets_blend_each_clip_with_its_partner():
    targets = mix_targets(torch.tensor([0, 1, 2]), 3, lam=0.7, smoothing=0.0)
    assert torch.allclose(targets, torch.tensor([[0.7, 0, 0.3], [0, 1.0, 0], [0.3, 0, 0.7]]))


def test_mixup_batch_mixes_videos_and_targets_consistently():
    cfg = get_cfg()
    cfg.MODEL.NUM_CLASSES = 2
    cfg.MIXUP.CUTMIX_ALPHA = 0.0
    cfg.MIXUP.LABEL_SMOOTH_VALUE = 0.0
    videos = torch.stack([torch.zeros(3, 2, 4, 4), torch.ones(3, 2, 4, 4)])
    torch.manual_seed(0)
    mixed, targets = mixup_batch(videos, torch.tensor([0, 1]), cfg)
    lam = float(targets[0, 0])
    assert 0.0 < lam < 1.0
    assert torch.allclose(mixed[0], torch.full((3, 2, 4, 4), 1 - lam))  # lam * 0 + (1 - lam) * 1


def test_cutmix_pastes_the_same_box_on_every_frame_and_weights_targets_by_area():
    cfg = get_cfg()
    cfg.MODEL.NUM_CLASSES = 2
    cfg.MIXUP.ALPHA = 0.0
    cfg.MIXUP.LABEL_SMOOTH_VALUE = 0.0
    videos = torch.stack([torch.zeros(3, 4, 16, 16), torch.ones(3, 4, 16, 16)])
    torch.manual_seed(3)
    mixed, targets = mixup_batch(videos, torch.tensor([0, 1]), cfg)
    pasted = mixed[0, 0, 0]
    assert all(torch.equal(mixed[0, c, t], pasted) for c in range(3) for t in range(4))
    assert float(targets[0, 1]) == pytest.approx(float(pasted.mean()))
    assert not math.isclose(float(pasted.mean()), 0.0)


def test_training_targets_without_mixup_use_solver_label_smoothing():
    cfg = get_cfg()
    cfg.MODEL.NUM_CLASSES = 4
    cfg.SOLVER.LABEL_SMOOTHING = 0.2
    videos = torch.zeros(2, 3, 1, 2, 2)
    out, targets, mixed = training_targets(videos, torch.tensor([1, 3]), cfg)
    assert out is videos and not mixed
    assert torch.allclose(targets[1], torch.tensor([0.05, 0.05, 0.05, 0.85]))
