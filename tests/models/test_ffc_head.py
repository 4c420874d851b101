"""FFC head (Seo et al. 2021): seven outputs, nested active sets, training logits, the vote."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from video3d.config import get_cfg
from video3d.models import FFCHead, ffc_vote, training_logits


def make_head(features=32, classes=6, dropout=0.0):
    torch.manual_seed(0)
    head = FFCHead(features, classes, dropout)
    for layer_norm in head.filters:
        layer_norm.weight.data.uniform_(0.5, 1.5)
        layer_norm.bias.data.uniform_(-0.3, 0.3)
    return head


def feature_map(batch=4, channels=32):
    return F.relu(torch.randn(batch, channels, 2, 3, 3))  # backbones end with ReLU


def test_ffc_adds_two_parameters_per_unit_per_filter():
    head = FFCHead(2048, 400)
    linear = sum(p.numel() for p in head.fc.parameters())
    assert sum(p.numel() for p in head.parameters()) - linear == 12_288


def test_averaged_outputs_are_the_means_of_their_neighbours():
    head = make_head().eval()
    with torch.no_grad():
        out = head(feature_map())
    assert out.shape == (4, 7, 6)
    for k in (1, 3, 5):
        torch.testing.assert_close(out[:, k], (out[:, k - 1] + out[:, k + 1]) / 2)


def test_averaged_outputs_stay_consistent_under_dropout():
    head = make_head(dropout=0.5).train()
    out = head(feature_map())
    torch.testing.assert_close(out[:, 1], (out[:, 0] + out[:, 2]) / 2)


def test_filtering_shrinks_the_active_set():
    head = make_head()
    for layer_norm in head.filters:  # gamma > 0 keeps the sign of (x - mean)
        layer_norm.bias.data.zero_()
    with torch.no_grad():
        features = head.filtered_features(feature_map().mean(dim=(2, 3, 4)))
    for previous, current in zip(features[:-1], features[1:], strict=True):
        active, kept = previous > 0, current > 0
        assert not (kept & ~active).any()
        assert kept.sum() < active.sum()


def test_default_layernorm_gives_relu_of_standardised_features():
    head = FFCHead(32, 6)
    pooled = torch.rand(3, 32)
    with torch.no_grad():
        first = head.filtered_features(pooled)[1]
    standardised = (pooled - pooled.mean(1, keepdim=True)) / torch.sqrt(pooled.var(1, unbiased=False, keepdim=True) + 1e-5)
    torch.testing.assert_close(first, F.relu(standardised))


def test_out1_is_the_plain_linear_classifier_on_pooled_features():
    head = make_head().eval()
    x = feature_map()
    with torch.no_grad():
        torch.testing.assert_close(head(x)[:, 0], head.fc(x.mean(dim=(2, 3, 4))))


def test_training_logits_mean7_and_mean4():
    cfg = get_cfg()
    outputs = torch.arange(7.0).reshape(1, 7, 1).repeat(2, 1, 3)
    cfg.FFC.TRAIN_ENSEMBLE = "mean7"
    assert training_logits(outputs, cfg).tolist() == [[3.0] * 3] * 2
    cfg.FFC.TRAIN_ENSEMBLE = "mean4"  # official code: Out1, Out3, Out5, Out7 = 0, 2, 4, 6
    assert training_logits(outputs, cfg).tolist() == [[3.0] * 3] * 2
    outputs[:, 6] = 20.0
    assert training_logits(outputs, cfg)[0, 0].item() == pytest.approx((0 + 2 + 4 + 20) / 4)
    linear = torch.randn(2, 5)
    assert training_logits(linear, cfg) is linear


def test_mean4_equals_the_official_four_logit_mean_in_eval():
    head = make_head().eval()
    cfg = get_cfg()
    cfg.FFC.TRAIN_ENSEMBLE = "mean4"
    x = feature_map()
    with torch.no_grad():
        pooled = x.mean(dim=(2, 3, 4))
        official = torch.stack([head.fc(f) for f in head.filtered_features(pooled)]).mean(0)
        torch.testing.assert_close(training_logits(head(x), cfg), official)


def probs_from_votes(predictions, confidences, classes=4):
    """Per-output probabilities: `confidence` on the predicted class, the rest spread evenly."""
    probs = torch.empty(len(predictions), classes)
    for k, (c, p) in enumerate(zip(predictions, confidences, strict=True)):
        probs[k] = (1 - p) / (classes - 1)
        probs[k, c] = p
    return probs


def test_vote_clear_majority_beats_a_more_confident_minority():
    probs = probs_from_votes([1, 1, 1, 1, 2, 2, 2], [0.4, 0.4, 0.4, 0.4, 0.9, 0.9, 0.9])
    assert ffc_vote(probs.unsqueeze(0)).tolist() == [1]


def test_vote_tie_goes_to_the_most_confident_voter_among_tied_classes():
    # 3-3-1: class 3 (one vote) is the most confident overall but is not tied for the lead.
    probs = probs_from_votes([0, 0, 0, 2, 2, 2, 3], [0.5, 0.6, 0.5, 0.4, 0.7, 0.4, 0.95])
    assert ffc_vote(probs.unsqueeze(0)).tolist() == [2]


def test_vote_with_seven_different_classes_takes_the_most_confident_output():
    probs = probs_from_votes(list(range(7)), [0.3, 0.35, 0.6, 0.3, 0.4, 0.5, 0.3], classes=8)
    assert ffc_vote(probs.unsqueeze(0)).tolist() == [2]


def test_vote_equal_confidence_tie_goes_to_the_lowest_output():
    probs = probs_from_votes([1, 1, 3, 3, 0, 2, 2], [0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5])
    assert ffc_vote(probs.unsqueeze(0)).tolist() == [1]


def test_vote_is_batched_per_video():
    a = probs_from_votes([1, 1, 1, 1, 2, 2, 2], [0.4] * 4 + [0.9] * 3)
    b = probs_from_votes([0, 0, 0, 2, 2, 2, 3], [0.5, 0.6, 0.5, 0.4, 0.7, 0.4, 0.95])
    assert ffc_vote(torch.stack((a, b, a))).tolist() == [1, 2, 1]
    assert ffc_vote(torch.stack((a, b))).dtype == torch.int64
