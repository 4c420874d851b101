"""Video-level test metrics as pure functions: top-k and mean-class accuracy, in percent.

A video's ranking starts with its predicted class (for FFC models the voted class, which need
not be the class of highest mean probability) and continues with the other classes by
probability, so top-1 <= top-5 always holds.
"""

from __future__ import annotations

import math

import torch


def rank_classes(probs: torch.Tensor, preds: torch.Tensor, k: int) -> torch.Tensor:
    """The `k` best classes per video `[N, k]`: `preds` first, then by descending `probs`.

    Ties in `probs` keep the lower class index first (stable sort), so results are reproducible.
    """
    k = min(k, probs.shape[1])
    scores = probs.double().clone()
    scores[torch.arange(len(preds)), preds] = math.inf
    return scores.argsort(dim=1, descending=True, stable=True)[:, :k]


def topk_accuracy(ranked: torch.Tensor, labels: torch.Tensor, k: int) -> float:
    """Percent of videos whose label is among the first `k` columns of `ranked` (`[N, >=k]`)."""
    if len(labels) == 0:
        return math.nan
    hits = (ranked[:, :k] == labels[:, None]).any(dim=1)
    return 100.0 * hits.double().mean().item()


def mean_class_accuracy(preds: torch.Tensor, labels: torch.Tensor) -> float:
    """Mean over the classes present in `labels` of the per-class top-1 accuracy, in percent.

    Classes without a test video are left out (their recall is undefined), as MMAction2 does.
    """
    if len(labels) == 0:
        return math.nan
    classes = labels.unique()
    recalls = [(preds[labels == c] == c).double().mean() for c in classes]
    return 100.0 * torch.stack(recalls).mean().item()


def compute_metrics(probs: torch.Tensor, preds: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
    """top1, top5 and mean_class_acc (percent) of videos with scores `probs` `[N, K]`,
    predicted classes `preds` `[N]` and true `labels` `[N]`; NaN when N is 0."""
    ranked = rank_classes(probs, preds, 5)
    return {
        "top1": topk_accuracy(ranked, labels, 1),
        "top5": topk_accuracy(ranked, labels, 5),
        "mean_class_acc": mean_class_accuracy(preds, labels),
    }
