"""Per-epoch validation and precise BN: plain functions of a model and a loader."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Iterable, Iterator
from typing import Protocol

import torch
from torch import nn

from video3d.engine.losses import smooth_one_hot, soft_target_cross_entropy
from video3d.engine.meters import all_reduce_sum, topk_correct
from video3d.utils.distributed import get_world_size, is_distributed


class ValidationProgress(Protocol):
    """What `validate` reports its progress to (the validation hook's `val_iter` log lines)."""

    def timed(self, loader: Iterable[dict]) -> Iterator[dict]: ...
    def update(self, top1: int, top5: int, clips: int) -> None: ...
    def seconds_per_iteration(self) -> float: ...


@torch.no_grad()
def validate(model: nn.Module, loader: Iterable[dict], device: torch.device,
             logits_of: Callable[[torch.Tensor], torch.Tensor] = lambda outputs: outputs,
             autocast: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext,
             progress: ValidationProgress | None = None,
             normalize: Callable[[torch.Tensor], torch.Tensor] | None = None) -> dict:
    """Loss and top-1/top-5 error of `model` over `loader`'s batches, summed over processes.

    `normalize` turns the loader's uint8 videos, moved to `device`, into network input (the
    trainer's `Normalizer.views`); `logits_of` turns the model's outputs into [B, K] logits (the
    FFC head's mean of outputs);
    `autocast` is the mixed-precision context; `progress`, if given, times the batches and sees
    each batch's hits. Each video counts once: a clip whose batch marks it `replaced` (its video
    could not be decoded and the dataset filled the slot with another video, which would count
    twice) is left out, and so are the samples a padded sampler (`num_unique`) repeats to give
    every process as many.
    Returns {} when no clip was evaluated, else {"loss", "top1_err", "top5_err", "clips"} and,
    with `progress`, "time_diff" (seconds per batch). The model is left in train mode.
    """
    model.eval()
    totals = [0.0, 0.0, 0.0, 0.0]  # loss sum, top-1 hits, top-5 hits, clips
    sampler = getattr(loader, "sampler", None)
    unique = sampler.num_unique() if hasattr(sampler, "num_unique") else None
    seen = 0
    for batch in progress.timed(loader) if progress is not None else loader:
        videos, labels = batch["video"], batch["label"]
        keep = torch.ones(len(labels), dtype=torch.bool)
        if unique is not None:
            keep &= torch.arange(seen, seen + len(labels)) < unique
            seen += len(labels)
        if "replaced" in batch:
            keep &= ~batch["replaced"]
        if not keep.any():
            continue
        if not keep.all():
            videos, labels = videos[keep], labels[keep]
        videos = videos.to(device, non_blocking=True)
        if normalize is not None:
            videos = normalize(videos)
        labels = labels.to(device)
        with autocast():
            logits = logits_of(model(videos)).float()
        targets = smooth_one_hot(labels, logits.shape[-1])
        top1, top5 = topk_correct(logits, labels)
        totals = [a + b for a, b in zip(totals, [float(soft_target_cross_entropy(logits, targets)) * len(labels),
                                                 top1, top5, len(labels)], strict=True)]
        if progress is not None:
            progress.update(top1, top5, len(labels))
    loss_sum, top1, top5, clips = all_reduce_sum(totals, device)
    model.train()
    if not clips:
        return {}
    stats = {"loss": loss_sum / clips, "top1_err": 100.0 * (1 - top1 / clips),
             "top5_err": 100.0 * (1 - top5 / clips), "clips": int(clips)}
    if progress is not None:
        stats["time_diff"] = progress.seconds_per_iteration()
    return stats


def _batch_norms(model: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    return [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


def has_batch_norm(model: nn.Module) -> bool:
    """True when `model` has a BatchNorm layer (precise BN has something to do)."""
    return bool(_batch_norms(model))


@torch.no_grad()
def update_bn_stats(model: nn.Module, batches: Iterable[torch.Tensor], num_batches: int) -> None:
    """Set every BN's running mean / variance to the plain average of its batch statistics over
    `num_batches` batches, instead of the training EMA (precise BN, Wu & Johnson 2021)."""
    norms = _batch_norms(model)
    momenta = [bn.momentum for bn in norms]
    means = [torch.zeros_like(bn.running_mean) for bn in norms]
    variances = [torch.zeros_like(bn.running_var) for bn in norms]
    was_training = model.training
    model.train()
    for bn in norms:
        bn.momentum = 1.0  # running stats = the last batch's, averaged below
    seen = 0
    for seen, videos in enumerate(itertools.islice(batches, num_batches), start=1):
        model(videos)
        for bn, mean, variance in zip(norms, means, variances, strict=True):
            mean += (bn.running_mean - mean) / seen
            variance += (bn.running_var - variance) / seen
    for bn, momentum, mean, variance in zip(norms, momenta, means, variances, strict=True):
        bn.momentum = momentum
        if seen:
            bn.running_mean.copy_(mean)
            bn.running_var.copy_(variance)
    model.train(was_training)


def precise_bn(model: nn.Module, loader: Iterable[dict], num_batches: int, device: torch.device,
               normalize: Callable[[torch.Tensor], torch.Tensor] | None = None) -> None:
    """`update_bn_stats` on the first `num_batches` of `loader`'s videos (uint8, turned into
    network input by `normalize`), then averaged over processes."""
    normalize = normalize or (lambda videos: videos)
    update_bn_stats(model, (normalize(batch["video"].to(device)) for batch in loader), num_batches)
    if is_distributed():
        for module in _batch_norms(model):
            for buffer in (module.running_mean, module.running_var):
                torch.distributed.all_reduce(buffer)
                buffer /= get_world_size()
