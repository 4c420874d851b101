"""`TrainState`: what the hooks see of the training loop, typed.

The loop owns it and moves its position; hooks read the position, the run's plan (config and
multigrid schedule) and the shared metrics (`events`, `meter`) from it, and reach the loop's
services (optimiser, loaders, model, checkpoint state) through the trainer itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from fvcore.common.config import CfgNode

from video3d.config.multigrid import MultigridSchedule
from video3d.engine.events import EventStore
from video3d.engine.meters import TrainMeter


@dataclass
class TrainState:
    cfg: CfgNode
    schedule: MultigridSchedule
    device: torch.device
    events: EventStore
    meter: TrainMeter = field(default_factory=lambda: TrainMeter())
    epoch: int = 0  # the epoch being trained, 0-based
    iteration: int = 0  # the batch of the epoch, 0-based
    epoch_iters: int = 1  # batches in the epoch
    start_epoch: int = 0  # where this process started (resume position)
    start_iter: int = 0
    global_step: int = 0  # optimiser steps so far
    stepped: bool = False  # the current batch ended with an optimiser step

    @property
    def max_epoch(self) -> int:
        """Epochs of the run: SOLVER.MAX_EPOCH, or the multigrid schedule's count."""
        return self.schedule.max_epoch

    @property
    def fractional_epoch(self) -> float:
        return self.epoch + self.iteration / self.epoch_iters
