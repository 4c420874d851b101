"""`TrainState`: what the hooks see of the training loop, typed.

The loop owns it and moves its position; hooks read the position, the run's plan (config and
multigrid schedule) and the shared metrics (`events`, `meter`) from it, and reach the loop's
services (optimiser, loaders, model, checkpoint state) through the trainer itself, typed as
the `TrainLoop` protocol (so the hooks need not import the trainer, which imports them).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch
from fvcore.common.config import CfgNode
from torch import nn

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


class TrainLoop(Protocol):
    """What a hook may use of the loop (video3d.engine.trainer.Trainer implements it): the state,
    and the services a side job needs: the optimiser (LR), the model, loaders, autocast and the
    components (validation, precise BN), and the checkpoint payload."""

    cfg: CfgNode
    state: TrainState
    device: torch.device
    model: nn.Module
    optimizer: torch.optim.Optimizer
    components: Any  # TrainComponents
    normalize: Callable[[torch.Tensor], torch.Tensor]  # a loader batch's uint8 videos -> network input

    @property
    def val_loader(self) -> Iterable: ...

    @property
    def precise_bn_loader(self) -> Iterable: ...

    def autocast(self) -> contextlib.AbstractContextManager: ...

    def checkpoint_state(self, epoch: int, iteration: int) -> dict: ...
