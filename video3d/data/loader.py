"""DataLoader construction: the global batch split over processes, the samplers of
video3d.data.samplers.

TRAIN.BATCH_SIZE is the global batch per optimiser step: each of the world_size processes
loads BATCH_SIZE // (world_size x TRAIN.ACCUM_STEPS) clips per micro-batch when training. The sampler's order of epoch e is a permutation
seeded by (RNG_SEED + e), padded to a multiple of the world size and dealt out by rank
(as torch's DistributedSampler does), so `set_loader_epoch(loader, e, skip_batches=k)`
after a restart resumes exactly at batch k of epoch e. The sampler yields (epoch, index)
pairs, so the dataset's random draws follow the epoch even with persistent workers.
"""

from __future__ import annotations

import torch
from fvcore.common.config import CfgNode
from torch.utils.data import DataLoader

from video3d.config import multigrid
from video3d.config.multigrid import MultigridSchedule
from video3d.data.datasets import build_dataset
from video3d.data.samplers import MultigridBatchSampler, ResumableSampler
from video3d.data.worker_errors import UnwrappingDataLoader
from video3d.errors import ConfigError
from video3d.utils.distributed import get_rank, get_world_size


def per_process_batch_size(global_batch: int, world_size: int, accum_steps: int = 1) -> int:
    """Clips per process and micro-batch; ConfigError when the global batch does not divide."""
    if global_batch % (world_size * accum_steps):
        raise ConfigError(f"TRAIN.BATCH_SIZE {global_batch} is not divisible by the {world_size} processes "
                          f"x TRAIN.ACCUM_STEPS {accum_steps}")
    return global_batch // (world_size * accum_steps)


def build_loader(cfg: CfgNode, split: str, training: bool, schedule: MultigridSchedule | None = None) -> DataLoader:
    """Batches `{"video": [B, C, T, H, W], "label": [B], "index": [B], "video_id": list, "replaced": [B]}` of
    `build_dataset(cfg, split, training)`; shuffled and drop_last when `training`. Training
    with MULTIGRID.LONG_CYCLE / SHORT_CYCLE: batches of varying size and clip shape
    (`MultigridBatchSampler` over `schedule`, the trainer's, or one built from `cfg`; the
    loader's batch_size is then None). A schedule `without_cycles` gives full-shape batches."""
    dataset = build_dataset(cfg, split, training)
    world_size = get_world_size()
    sampler = ResumableSampler(len(dataset), shuffle=training, seed=cfg.RNG_SEED,
                               num_replicas=world_size, rank=get_rank())
    workers = cfg.DATA_LOADER.NUM_WORKERS
    batch_size = per_process_batch_size(cfg.TRAIN.BATCH_SIZE, world_size, cfg.TRAIN.ACCUM_STEPS if training else 1)
    batching: dict = {"batch_size": batch_size, "sampler": sampler, "drop_last": training}
    schedule = schedule or (MultigridSchedule.from_cfg(cfg) if training and multigrid.enabled(cfg) else None)
    if training and schedule is not None and schedule.cycles:
        batching = {"batch_sampler": MultigridBatchSampler(sampler, schedule, batch_size)}
    return UnwrappingDataLoader(
        dataset,
        **batching,
        num_workers=workers,
        # batches decoded on the GPU (DATA.DECODE_DEVICE cuda) are already there: nothing to pin
        pin_memory=bool(cfg.DATA_LOADER.PIN_MEMORY and torch.cuda.is_available() and cfg.DATA.DECODE_DEVICE == "cpu"),
        persistent_workers=workers > 0,  # a broken file is then logged once per worker, not once per epoch
        prefetch_factor=2 if workers > 0 else None,
    )


def set_loader_epoch(loader: DataLoader, epoch: int, skip_batches: int = 0) -> None:
    """Fix `loader`'s order to epoch `epoch` and skip the `skip_batches` batches already done."""
    if loader.batch_size is None:  # variable batches (multigrid): the batch sampler counts them
        loader.batch_sampler.set_epoch(epoch, skip_batches)
    else:
        loader.sampler.set_epoch(epoch, skip_batches * loader.batch_size)
    loader.dataset.set_epoch(epoch)
