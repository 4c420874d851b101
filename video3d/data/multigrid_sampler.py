"""The multigrid batch sampler: this rank's shuffled indices of an epoch (`ResumableSampler`)
cut into batches whose size and clip shape follow the epoch's long-cycle phase and the short
cycle (video3d.config.multigrid). Each key is (epoch, index, ClipShape.key()), so the
dataset needs no state and persistent workers see every shape change.

The batches of epoch e are a pure function of (RNG_SEED, e, world size, rank), so
`set_epoch(e, skip_batches=k)` resumes exactly at batch k, mid short cycle included.
"""

from __future__ import annotations

from collections.abc import Iterator

from fvcore.common.config import CfgNode
from torch.utils.data import Sampler

from video3d.config import multigrid
from video3d.data.loader import ResumableSampler
from video3d.errors import ConfigError


class MultigridBatchSampler(Sampler):
    """Batches of (epoch, index, shape key) for DataLoader(batch_sampler=...)."""

    def __init__(self, sampler: ResumableSampler, cfg: CfgNode, per_process_batch: int):
        self.sampler, self.cfg, self.per_process_batch = sampler, cfg, per_process_batch
        self.epoch, self.skip_batches = 0, 0

    def set_epoch(self, epoch: int, skip_batches: int = 0) -> None:
        self.epoch, self.skip_batches = int(epoch), int(skip_batches)
        self.sampler.set_epoch(epoch, 0)

    def pattern(self) -> list[tuple[int, multigrid.ClipShape]]:
        """(batch size, shape) of the short cycle of the current epoch."""
        return multigrid.epoch_batches(self.cfg, self.epoch, self.per_process_batch)

    def _batches(self) -> list[tuple[int, int, int]]:
        sizes = [size for size, _ in self.pattern()]
        if sizes[0] > len(self.sampler) > 0:
            raise ConfigError(f"multigrid: epoch {self.epoch + 1} starts with a batch of {sizes[0]} clips per process "
                              f"but each process has {len(self.sampler)} training samples; lower TRAIN.BATCH_SIZE "
                              f"or use larger MULTIGRID.LONG_CYCLE_FACTORS / SHORT_CYCLE_FACTORS")
        return multigrid.cycle_batches(len(self.sampler), sizes, self.skip_batches)

    def __iter__(self) -> Iterator[list[tuple]]:
        indices = self.sampler.rank_indices()
        keys = [shape.key() for _, shape in self.pattern()]
        for start, size, position in self._batches():
            yield [(self.epoch, index, keys[position]) for index in indices[start:start + size]]

    def __len__(self) -> int:
        return len(self._batches())
