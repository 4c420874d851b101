"""Multi-view testing (docs/DATA.md): every video decoded once, its views through the
network in chunks of TEST.BATCH_SIZE, softmax aggregated over views, FFC outputs voted.

Unlike PySlowFast's test loop, the dataset (video3d.data.multiview) yields
one item per video (not per view), videos are sharded over ranks without the padding
duplicates of a DistributedSampler, and a video that cannot be decoded is reported as failed
instead of crashing collation.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import torch
from fvcore.common.config import CfgNode
from torch import nn
from torch.utils.data import Dataset

from video3d.data import build_multiview_dataset
from video3d.data.online_flow import flow_runs_on_gpu
from video3d.data.transforms import Normalizer
from video3d.data.view_set import ViewSet, cut_views
from video3d.data.worker_errors import UnwrappingDataLoader
from video3d.engine.checkpoint import find_test_checkpoint, load_model_weights, unwrap_model
from video3d.errors import CheckpointError, DataError
from video3d.evaluation.report import report_results
from video3d.evaluation.results import VideoResult, split_failed, summarise
from video3d.evaluation.scoring import aggregate_views, video_prediction
from video3d.models import build_model
from video3d.utils.distributed import all_gather_objects, get_rank, get_world_size, is_main_process
from video3d.utils.logging import get_logger
from video3d.utils.precision import with_inference_precision

logger = get_logger(__name__)

ViewNormalizer = Callable[[torch.Tensor], torch.Tensor]  # uint8 views on the device -> network input


def shard_indices(num_videos: int, rank: int, world_size: int) -> list[int]:
    """Videos of `rank`: r, r + W, r + 2W, ... Every video belongs to exactly one rank (no
    DistributedSampler padding, whose duplicates PySlowFast's TestMeter warns about)."""
    return list(range(rank, num_videos, world_size))


class _VideoShard(Dataset):
    """The videos at `indices` of a multi-view dataset (whose items never raise: a failed video
    is an item with `views` None, `video3d.data.multiview.failed_item`)."""

    def __init__(self, dataset: Dataset, indices: list[int]):
        self.dataset = dataset
        self.indices = indices

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, position: int) -> dict:
        return self.dataset[self.indices[position]]


@dataclass
class _PendingVideo:
    item: dict
    unsent: torch.Tensor | ViewSet  # views not yet through the network
    outputs: list[torch.Tensor] = field(default_factory=list)


def _forward_chunk(model: nn.Module, pending: list[_PendingVideo], batch_size: int,
                   device: torch.device, channels_last: bool, normalize: ViewNormalizer | None) -> int:
    """Send up to `batch_size` queued views (possibly of several videos) through the network."""
    parts, owners = [], []
    room = batch_size
    for video in pending:
        if room == 0:
            break
        if len(video.unsent) == 0:
            continue
        taken, video.unsent = video.unsent[:room], video.unsent[room:]
        parts.append(taken)
        owners.append((video, len(taken)))
        room -= len(taken)
    # ViewSets are cut here, on the device, straight into the float tensor normalize() works in.
    batch = cut_views(parts, device, None if normalize is None else torch.float32)
    if normalize is not None:
        batch = normalize(batch)
    if channels_last:
        batch = batch.contiguous(memory_format=torch.channels_last_3d)
    logits = model(batch).float().cpu()
    offset = 0
    for video, count in owners:
        video.outputs.append(logits[offset:offset + count])
        offset += count
    return offset


def forward_views(model: nn.Module, items: Iterable[dict], batch_size: int, device: torch.device,
                  channels_last: bool = False, normalize: ViewNormalizer | None = None,
                  ) -> Iterator[tuple[dict, torch.Tensor | None]]:
    """(item, logits `[V, ...]` on the CPU) per video; `None` logits for a failed item.

    `normalize` turns a chunk of (uint8) views into network input on the device, so only the
    views of one forward are ever float.

    Views of consecutive videos share forwards, so every forward but the last holds exactly
    `batch_size` views whatever the views per video (30 for Kinetics, 1-3 for SSv2), and at
    most `batch_size` + one video's views wait in memory.
    """
    pending: list[_PendingVideo] = []
    queued = 0
    for item in items:
        if item["views"] is None:
            yield item, None
            continue
        views = item["views"]
        if isinstance(views, ViewSet):
            views = views.to(device, non_blocking=True)  # its frames cross once, however many forwards
        pending.append(_PendingVideo(item, views))
        queued += len(item["views"])
        while queued >= batch_size:
            queued -= _forward_chunk(model, pending, batch_size, device, channels_last, normalize)
            while pending and len(pending[0].unsent) == 0:
                done = pending.pop(0)
                yield done.item, torch.cat(done.outputs)
    while queued:
        queued -= _forward_chunk(model, pending, batch_size, device, channels_last, normalize)
    for done in pending:
        yield done.item, torch.cat(done.outputs)


def views_per_forward(test_batch_size: int, world_size: int) -> int:
    """Views one process sends through the network at once: TEST.BATCH_SIZE counts views over
    all processes, as PySlowFast's TEST.BATCH_SIZE counts clips over all GPUs (at least 1)."""
    return max(test_batch_size // world_size, 1)


def split_list_note(cfg: CfgNode) -> str:
    """The list file a Kinetics-style test reads, for the log: TEST.SPLIT defaults to val (val.csv,
    also the validation list) where PySlowFast tests test.csv."""
    if cfg.TEST.DATASET != "kinetics":
        return ""
    path = os.path.join(cfg.DATA.PATH_TO_DATA_DIR, f"{cfg.TEST.SPLIT}.csv")
    return f" ({path}{'' if cfg.TEST.SPLIT == 'test' else '; PySlowFast tests test.csv: TEST.SPLIT test'})"


def evaluate_videos(model: nn.Module, dataset: Dataset, indices: list[int], cfg: CfgNode,
                    device: torch.device, normalizer: Normalizer) -> list[VideoResult]:
    """Results of this rank's videos `indices` of a multi-view dataset (one loader item per
    video, uint8 views batched, each chunk normalised by `normalizer` on `device`). Flow computed
    online on a GPU (`flow_runs_on_gpu`) is computed in this process, with no loader workers."""
    on_gpu = flow_runs_on_gpu(cfg) or cfg.DATA.DECODE_DEVICE != "cpu"  # CUDA cannot live in forked workers
    workers = 0 if on_gpu else cfg.DATA_LOADER.NUM_WORKERS
    loader = UnwrappingDataLoader(
        _VideoShard(dataset, indices), batch_size=None, num_workers=workers,
        pin_memory=cfg.DATA_LOADER.PIN_MEMORY and device.type == "cuda" and cfg.DATA.DECODE_DEVICE == "cpu",
    )
    results = []
    model = with_inference_precision(model, cfg)  # TEST.MIXED_PRECISION; float32 logits out
    start = time.perf_counter()
    with torch.inference_mode():
        chunk = views_per_forward(cfg.TEST.BATCH_SIZE, get_world_size())
        views = forward_views(model, loader, chunk, device, cfg.MODEL.CHANNELS_LAST, normalizer.views)
        for item, logits in views:
            results.append(_video_result(dataset, item, logits, cfg))
            if len(results) % max(cfg.LOG_PERIOD, 1) == 0:
                elapsed = time.perf_counter() - start
                logger.info("test: %d/%d videos, %.2f videos/s", len(results), len(indices),
                            len(results) / elapsed)
    return results


def _video_result(dataset: Dataset, item: dict, logits: torch.Tensor | None, cfg: CfgNode) -> VideoResult:
    index = int(item["index"])
    result = VideoResult(index=index, video_id=str(item["video_id"]), label=int(item["label"]),
                         path=str(dataset.records[index].path))
    if logits is None:
        result.error = str(item.get("error") or "no views")
        return result
    aggregated = aggregate_views(logits, cfg.DATA.ENSEMBLE_METHOD)
    result.probs, result.pred = video_prediction(aggregated, cfg.FFC.TEST_ENSEMBLE)
    result.num_views = len(logits)
    return result


def gather_results(local: list[VideoResult]) -> list[VideoResult]:
    """Every rank's results, merged in test-list order; each video must appear exactly once."""
    merged = sorted((r for part in all_gather_objects(local) for r in part), key=lambda r: r.index)
    indices = [r.index for r in merged]
    if len(set(indices)) != len(indices):
        raise RuntimeError("a test video was evaluated twice; the shards overlap")
    return merged


def inference_device(cfg: CfgNode) -> torch.device:
    """The GPU of this process when NUM_GPUS > 0 and one exists, else the CPU."""
    if cfg.NUM_GPUS > 0 and torch.cuda.is_available():
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def load_test_model(cfg: CfgNode, checkpoint: str | None = None) -> nn.Module:
    """`build_model(cfg)` with the weights of `checkpoint`, by default the ones
    `find_test_checkpoint` picks (TEST.CHECKPOINT_FILE_PATH, else best, else newest).

    No checkpoint is an error, not a warning: numbers from random weights look like results.
    """
    model = build_model(cfg)
    path = checkpoint or find_test_checkpoint(cfg)
    if not path:
        raise CheckpointError(
            f"no weights to test: TEST.CHECKPOINT_FILE_PATH is empty and {cfg.OUTPUT_DIR}/checkpoints "
            "holds no checkpoint (train first or set TEST.CHECKPOINT_FILE_PATH)"
        )
    load_model_weights(model, path)
    logger.info("testing the weights of %s", path)
    return model.to(inference_device(cfg))


def run_test(cfg: CfgNode, model: nn.Module | None = None) -> dict:
    """Multi-view test of `cfg.TEST.SPLIT`; returns top1, top5, mean_class_acc (percent),
    num_videos, num_views (per video) and failed (list of {video_id, path, reason}) on every
    rank. Rank 0 writes the results file, the confusion matrix and the json_stats line.

    `model` defaults to `load_test_model(cfg)`; a DDP-wrapped model is unwrapped (DDP's
    buffer broadcast in forward would hang when ranks hold different numbers of videos).
    """
    if model is None:
        model = load_test_model(cfg)
    model = unwrap_model(model)
    device = next(model.parameters()).device
    dataset = build_multiview_dataset(cfg, split=cfg.TEST.SPLIT)
    configured_views = cfg.TEST.NUM_ENSEMBLE_VIEWS * cfg.TEST.NUM_SPATIAL_CROPS
    indices = shard_indices(len(dataset), get_rank(), get_world_size())
    logger.info(
        "testing %d videos of split %r%s: %d clips x %d crops per video, %d views per forward in each of %d "
        "process(es) (TEST.BATCH_SIZE %d over all processes)",
        len(dataset), cfg.TEST.SPLIT, split_list_note(cfg), cfg.TEST.NUM_ENSEMBLE_VIEWS, cfg.TEST.NUM_SPATIAL_CROPS,
        views_per_forward(cfg.TEST.BATCH_SIZE, get_world_size()), get_world_size(), cfg.TEST.BATCH_SIZE,
    )
    was_training = model.training
    model.eval()
    try:
        local = evaluate_videos(model, dataset, indices, cfg, device, Normalizer.from_cfg(cfg))
    finally:
        model.train(was_training)
    results = gather_results(local)
    done, failed = split_failed(results)
    view_counts = {r.num_views for r in done}
    if len(view_counts) > 1:
        logger.warning("test videos got different view counts %s", sorted(view_counts))
    summary = summarise(results, max(view_counts, default=configured_views))
    if is_main_process():
        report_results(cfg, results, summary)
    if not done:
        first = f" (first: {failed[0].path or failed[0].video_id}: {failed[0].error})" if failed else ""
        raise DataError(f"no test video could be evaluated: {len(failed)} of {len(results)} failed{first}")
    return summary
