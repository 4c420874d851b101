"""Samplers of the training and validation loaders.

`ResumableSampler`: the sampler's order of epoch e is a permutation seeded by (RNG_SEED + e),
padded to a multiple of the world size and dealt out by rank (as torch's DistributedSampler
does), so `set_epoch(e, skip)` after a restart resumes exactly where the run stopped. It yields
(epoch, index) pairs, so the dataset's random draws follow the epoch even with persistent
workers.

`MultigridBatchSampler`: this rank's shuffled indices of an epoch cut into batches whose size
and clip shape follow the epoch's long-cycle phase and the short cycle (video3d.config.multigrid).
Each key is (epoch, index, ClipShape.key()), so the dataset needs no state and persistent
workers see every shape change. The batches of epoch e are a pure function of (RNG_SEED, e,
world size, rank), so `set_epoch(e, skip_batches=k)` resumes exactly at batch k, mid short
cycle included.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.utils.data import Sampler

from video3d.config.multigrid import ClipShape, MultigridSchedule, cycle_batches
from video3d.errors import ConfigError


class ResumableSampler(Sampler):
    """Shuffled (or ordered) indices of this rank for one epoch, optionally skipping a prefix."""

    def __init__(self, size: int, shuffle: bool, seed: int = 0, num_replicas: int = 1, rank: int = 0):
        if not 0 <= rank < num_replicas:
            raise ValueError(f"rank {rank} outside [0, {num_replicas})")
        self.size, self.shuffle, self.seed = size, shuffle, seed
        self.num_replicas, self.rank = num_replicas, rank
        self.epoch, self.skip = 0, 0

    def set_epoch(self, epoch: int, skip: int = 0) -> None:
        """Use epoch `epoch`'s order and drop this rank's first `skip` samples."""
        self.epoch, self.skip = int(epoch), int(skip)

    def rank_indices(self) -> list[int]:
        """This rank's indices of the current epoch, before skipping."""
        if self.shuffle:
            order = torch.randperm(self.size, generator=torch.Generator().manual_seed(self.seed + self.epoch)).tolist()
        else:
            order = list(range(self.size))
        per_rank = -(-self.size // self.num_replicas)
        padded = order + order[: per_rank * self.num_replicas - self.size]
        return padded[self.rank :: self.num_replicas]

    def __iter__(self):
        return iter([(self.epoch, index) for index in self.rank_indices()[self.skip :]])

    def num_unique(self) -> int:
        """How many of this rank's samples (after the skip) come first in the yielded order: the
        rest, at most one at the end, repeat another rank's sample to even out the ranks."""
        per_rank = -(-self.size // self.num_replicas)
        unique = sum(1 for j in range(per_rank) if self.rank + j * self.num_replicas < self.size)
        return max(unique - self.skip, 0)

    def __len__(self) -> int:
        return max(-(-self.size // self.num_replicas) - self.skip, 0)



class MultigridBatchSampler(Sampler):
    """Batches of (epoch, index, shape key) for DataLoader(batch_sampler=...)."""

    def __init__(self, sampler: ResumableSampler, schedule: MultigridSchedule, per_process_batch: int):
        self.sampler, self.schedule, self.per_process_batch = sampler, schedule, per_process_batch
        self.epoch, self.skip_batches = 0, 0

    def set_epoch(self, epoch: int, skip_batches: int = 0) -> None:
        self.epoch, self.skip_batches = int(epoch), int(skip_batches)
        self.sampler.set_epoch(epoch, 0)

    def pattern(self) -> list[tuple[int, ClipShape]]:
        """(batch size, shape) of the short cycle of the current epoch."""
        return self.schedule.epoch_batches(self.epoch, self.per_process_batch)

    def _batches(self) -> list[tuple[int, int, int]]:
        sizes = [size for size, _ in self.pattern()]
        if sizes[0] > len(self.sampler) > 0:
            raise ConfigError(f"multigrid: epoch {self.epoch + 1} starts with a batch of {sizes[0]} clips per process "
                              f"but each process has {len(self.sampler)} training samples; lower TRAIN.BATCH_SIZE "
                              f"or use larger MULTIGRID.LONG_CYCLE_FACTORS / SHORT_CYCLE_FACTORS")
        return cycle_batches(len(self.sampler), sizes, self.skip_batches)

    def __iter__(self) -> Iterator[list[tuple]]:
        indices = self.sampler.rank_indices()
        keys = [shape.key() for _, shape in self.pattern()]
        for start, size, position in self._batches():
            yield [(self.epoch, index, keys[position]) for index in indices[start:start + size]]

    def __len__(self) -> int:
        return len(self._batches())
