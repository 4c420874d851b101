"""Heads: `linear` (GAP, dropout, FC) and `ffc` (Sequential Feature Filtering Classifier,
Seo et al. 2021), plus the FFC's training logits and test-time vote as pure functions."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from fvcore.common.config import CfgNode
from torch import nn

from video3d.choices import Choices

FFC_OUTPUTS = 7
# Out1, Out3, Out5, Out7 are the FC on F_0..F_3; the official code trains on their mean.
FFC_BASE_OUTPUTS = (0, 2, 4, 6)


class LinearHead(nn.Module):
    """Global average pooling, dropout, one FC: [B, C, T, H, W] -> [B, K] logits."""

    def __init__(self, in_features: int, num_classes: int, dropout: float = 0.5):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(in_features, num_classes)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """[B, C, T, H, W] feature map -> [B, K] logits."""
        return self.fc(self.dropout(features.mean(dim=(2, 3, 4))))


class FFCHead(nn.Module):
    """F_0 = GAP; F_i = ReLU(LN_i(F_{i-1})), i = 1..3; one shared FC gives seven outputs:
    Out1/3/5/7 = FC(F_0..F_3), Out2/4/6 = FC of the mean of neighbouring features, which by
    linearity is the mean of the neighbouring logits (FFC paper section 3).
    Dropout acts on each base feature just before the FC, after the filters (docs/MODELS.md)."""

    def __init__(self, in_features: int, num_classes: int, dropout: float = 0.5, num_filters: int = 3):
        super().__init__()
        self.filters = nn.ModuleList(nn.LayerNorm(in_features) for _ in range(num_filters))
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(in_features, num_classes)

    def filtered_features(self, pooled: torch.Tensor) -> list[torch.Tensor]:
        """[F_0, F_1, ..., F_n] for pooled features F_0 [B, C]."""
        features = [pooled]
        for layer_norm in self.filters:
            features.append(F.relu(layer_norm(features[-1])))
        return features

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """[B, C, T, H, W] feature map -> [B, 7, K] logits Out1..Out7."""
        base = [self.fc(self.dropout(f)) for f in self.filtered_features(features.mean(dim=(2, 3, 4)))]
        outputs = [base[0]]
        for previous, current in zip(base[:-1], base[1:], strict=True):
            outputs.extend(((previous + current) / 2, current))
        return torch.stack(outputs, dim=1)


def training_logits(outputs: torch.Tensor, cfg: CfgNode) -> torch.Tensor:
    """[B, K] logits for the loss: identity for a linear head; for the FFC's [B, 7, K] the mean
    of all seven (FFC.TRAIN_ENSEMBLE mean7, paper) or of Out1/3/5/7 (mean4, official code)."""
    if outputs.dim() == 2:
        return outputs
    if outputs.dim() != 3 or outputs.shape[1] != FFC_OUTPUTS:
        raise ValueError(f"expected [B, K] or [B, {FFC_OUTPUTS}, K] outputs, got {list(outputs.shape)}")
    return FFC_TRAIN_ENSEMBLES[cfg.FFC.TRAIN_ENSEMBLE](outputs)


def mean_of_all_outputs(outputs: torch.Tensor) -> torch.Tensor:
    """[B, 7, K] -> [B, K]: the mean of Out1..Out7 (the paper)."""
    return outputs.mean(dim=1)


def mean_of_base_outputs(outputs: torch.Tensor) -> torch.Tensor:
    """[B, 7, K] -> [B, K]: the mean of Out1/3/5/7 (the official code)."""
    return outputs[:, list(FFC_BASE_OUTPUTS)].mean(dim=1)


FFC_TRAIN_ENSEMBLES = Choices("FFC.TRAIN_ENSEMBLE", {"mean7": mean_of_all_outputs, "mean4": mean_of_base_outputs})


def ffc_vote(probs: torch.Tensor) -> torch.Tensor:
    """Vote of the FFC outputs (paper section 3.3) on per-output probabilities [N, O, K].

    Each output votes for its argmax class; the class with most votes wins. A tie goes to the
    most confident output among those voting for a tied class (then the lowest output index).
    Returns the predicted classes, LongTensor [N].
    """
    if probs.dim() != 3:
        raise ValueError(f"expected probabilities [N, outputs, K], got {list(probs.shape)}")
    confidence, predicted = probs.max(dim=2)
    votes = F.one_hot(predicted, probs.shape[2]).sum(dim=1)
    tied = votes == votes.max(dim=1, keepdim=True).values
    voter_in_tie = tied.gather(1, predicted)
    score = confidence.masked_fill(~voter_in_tie, float("-inf"))
    best_output = score.argmax(dim=1, keepdim=True)
    return predicted.gather(1, best_output).squeeze(1)
