"""How a video's view scores become its prediction: the view ensembles (DATA.ENSEMBLE_METHOD)
and the FFC test rule (FFC.TEST_ENSEMBLE). Pure functions of tensors, shared by the 30-view test,
predict, the demo's windows and serve."""

from __future__ import annotations

import torch

from video3d.choices import Choices
from video3d.models.heads import ffc_vote

# [V, ...] per-view probabilities -> [...]: DATA.ENSEMBLE_METHOD.
VIEW_ENSEMBLES = Choices("DATA.ENSEMBLE_METHOD", {
    "mean": lambda probs: probs.mean(dim=0),
    "sum": lambda probs: probs.sum(dim=0),
    "max": lambda probs: probs.amax(dim=0),
})


def aggregate_views(logits: torch.Tensor, method: str = "mean") -> torch.Tensor:
    """Softmax over classes of each view's logits, then `method` (mean, sum, max) over views.

    `[V, K]` (linear head) gives `[K]`; `[V, 7, K]` (FFC head) gives `[7, K]`, one distribution
    per output, as the FFC test rule needs (docs/MODELS.md, FFC).
    """
    return VIEW_ENSEMBLES[method](torch.softmax(logits.float(), dim=-1))


# [7, K] per-output probabilities of one video -> its predicted class: FFC.TEST_ENSEMBLE.
FFC_TEST_RULES = Choices("FFC.TEST_ENSEMBLE", {
    "vote": lambda aggregated: int(ffc_vote(aggregated.unsqueeze(0))[0]),
    "mean": lambda aggregated: int(aggregated.mean(dim=0).argmax()),
})


def video_prediction(aggregated: torch.Tensor, ffc_rule: str = "vote") -> tuple[torch.Tensor, int]:
    """(scores `[K]`, predicted class) of one video from its view-aggregated scores.

    Linear head `[K]`: the arg-max. FFC head `[7, K]`: scores = mean over the seven outputs;
    prediction = `ffc_vote` over the outputs ("vote") or the arg-max of that mean ("mean").
    """
    if aggregated.dim() == 1:
        return aggregated, int(aggregated.argmax())
    return aggregated.mean(dim=0), FFC_TEST_RULES[ffc_rule](aggregated)
