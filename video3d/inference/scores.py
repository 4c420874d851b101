"""From one clip's raw logits to what a person reads: top-K classes, and for FFC models the
vote of the seven outputs with its number of votes (the FFC test rule on a single view)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from video3d.evaluation.scoring import aggregate_views, video_prediction


@dataclass
class ClipScores:
    """Scores of one clip: `probs` [K] (softmax; FFC: mean over the seven outputs), the predicted
    class (FFC: the vote), and for FFC how many of the outputs voted for it."""

    probs: torch.Tensor
    pred: int
    votes: int | None = None
    num_outputs: int | None = None

    def topk(self, k: int) -> list[tuple[int, float]]:
        values, classes = self.probs.topk(min(k, self.probs.numel()))
        return [(int(c), float(v)) for c, v in zip(classes, values, strict=True)]


def clip_scores(logits: torch.Tensor, ffc_rule: str = "vote") -> ClipScores:
    """`logits` of one clip: [K] (linear head) or [7, K] (FFC head)."""
    aggregated = aggregate_views(logits.unsqueeze(0))
    probs, pred = video_prediction(aggregated, ffc_rule)
    if aggregated.dim() == 1:
        return ClipScores(probs, pred)
    votes = int((aggregated.argmax(dim=-1) == pred).sum())
    return ClipScores(probs, pred, votes, int(aggregated.shape[0]))


def class_name(names: list[str] | None, k: int) -> str:
    return names[k] if names and 0 <= k < len(names) else str(k)
