"""Training targets and loss: label smoothing, mixup / cutmix for clips, soft-target cross-entropy.

Mixing draws from torch's global generator, which checkpoints store and restore, so a
resumed run mixes exactly as an uninterrupted one.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from fvcore.common.config import CfgNode


def smooth_one_hot(labels: torch.Tensor, num_classes: int, smoothing: float = 0.0) -> torch.Tensor:
    """One-hot targets with `smoothing` spread uniformly over all classes (Szegedy et al. 2016)."""
    off = smoothing / num_classes
    targets = torch.full((labels.shape[0], num_classes), off, device=labels.device)
    targets.scatter_(1, labels.long().view(-1, 1), 1.0 - smoothing + off)
    return targets


def soft_target_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of -sum_k target_k log softmax(logits)_k."""
    return torch.sum(-targets * F.log_softmax(logits.float(), dim=-1), dim=-1).mean()


def cutmix_box(height: int, width: int, lam: float, centre_y: int, centre_x: int) -> tuple[int, int, int, int]:
    """Box (y0, y1, x0, x1) of area ~(1 - lam) centred at (centre_y, centre_x), clipped to the
    frame (Yun et al. 2019); the same box cuts every frame of a clip."""
    ratio = math.sqrt(1.0 - lam)
    cut_h, cut_w = int(height * ratio), int(width * ratio)
    y0 = min(max(centre_y - cut_h // 2, 0), height)
    y1 = min(max(centre_y + cut_h // 2, 0), height)
    x0 = min(max(centre_x - cut_w // 2, 0), width)
    x1 = min(max(centre_x + cut_w // 2, 0), width)
    return y0, y1, x0, x1


def mix_targets(labels: torch.Tensor, num_classes: int, lam: float, smoothing: float) -> torch.Tensor:
    """lam * targets + (1 - lam) * targets of the batch reversed (the partner of each clip)."""
    targets = smooth_one_hot(labels, num_classes, smoothing)
    return lam * targets + (1.0 - lam) * targets.flip(0)


def _beta(alpha: float) -> float:
    return float(torch.distributions.Beta(alpha, alpha).sample())


def mixup_batch(videos: torch.Tensor, labels: torch.Tensor, cfg: CfgNode) -> tuple[torch.Tensor, torch.Tensor]:
    """Mixup or cutmix of a [B, C, T, H, W] batch with its reverse; returns (videos, soft targets).

    With probability 1 - MIXUP.PROB the batch is left unmixed (smoothed one-hot targets).
    """
    mix = cfg.MIXUP
    num_classes = cfg.MODEL.NUM_CLASSES
    use_mixup, use_cutmix = mix.ALPHA > 0, mix.CUTMIX_ALPHA > 0
    if not (use_mixup or use_cutmix) or float(torch.rand(())) >= mix.PROB:
        return videos, smooth_one_hot(labels, num_classes, mix.LABEL_SMOOTH_VALUE)
    cut = use_cutmix and (not use_mixup or float(torch.rand(())) < mix.SWITCH_PROB)
    if cut:
        height, width = videos.shape[-2:]
        lam = _beta(mix.CUTMIX_ALPHA)
        centre_y, centre_x = int(torch.randint(height, ())), int(torch.randint(width, ()))
        y0, y1, x0, x1 = cutmix_box(height, width, lam, centre_y, centre_x)
        videos = videos.clone()
        videos[..., y0:y1, x0:x1] = videos.flip(0)[..., y0:y1, x0:x1]
        lam = 1.0 - (y1 - y0) * (x1 - x0) / (height * width)  # the area actually pasted
    else:
        lam = _beta(mix.ALPHA)
        videos = videos * lam + videos.flip(0) * (1.0 - lam)
    return videos, mix_targets(labels, num_classes, lam, mix.LABEL_SMOOTH_VALUE)


def training_targets(
    videos: torch.Tensor, labels: torch.Tensor, cfg: CfgNode
) -> tuple[torch.Tensor, torch.Tensor, bool]:
    """(videos, soft targets, mixed?) for one training batch."""
    if cfg.MIXUP.ENABLE:
        return (*mixup_batch(videos, labels, cfg), True)
    return videos, smooth_one_hot(labels, cfg.MODEL.NUM_CLASSES, cfg.SOLVER.LABEL_SMOOTHING), False
