"""The training loop: one screen of loop (`Trainer.train` / `run_epoch` / `run_step`), everything
else hung on it as hooks (video3d.engine.hooks).

Exact resume: the data order and augmentation of a sample are functions of (seed, epoch,
index) (data layer); the global RNGs are reseeded from (seed, epoch, rank) at each epoch
start and checkpoints store the position, the RNG states and the optimiser state, so a run
resumed from a mid-epoch checkpoint continues with the same batches, mixup draws and dropout
masks as the run that was killed.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from fvcore.common.config import CfgNode
from torch import nn

from video3d.config.multigrid import MultigridSchedule
from video3d.data.transforms import Normalizer
from video3d.engine import checkpoint as ckpt
from video3d.engine.distributed import get_device, process_info
from video3d.engine.events import EventStore
from video3d.engine.fast_step import (
    autocast_dtype,
    check_compile,
    compile_training_model,
    prepare_batch,
    to_training_layout,
)
from video3d.engine.hooks import Hook, default_hooks
from video3d.engine.initial_weights import load_initial_weights
from video3d.engine.losses import soft_target_cross_entropy, training_targets
from video3d.engine.meters import all_reduce_sum, step_scalars, topk_correct
from video3d.engine.optim import build_optimizer
from video3d.engine.optimizer_state import load_resume_optimizer_state
from video3d.engine.state import TrainState
from video3d.errors import Video3DError
from video3d.models.sub_batchnorm import use_sub_batch_norm
from video3d.utils.distributed import all_gather_objects, get_rank, get_world_size, is_distributed
from video3d.utils.logging import get_logger

logger = get_logger(__name__)


class TrainingDivergedError(Video3DError, FloatingPointError):
    """The loss became NaN or infinite; the message names the epoch and iteration."""


@dataclass
class TrainComponents:
    """What the loop builds from other layers; tests inject tiny stand-ins."""

    build_model: Callable[[CfgNode], nn.Module]
    build_loader: Callable[[CfgNode, str, bool, Any], Iterable]  # (cfg, split, training, multigrid schedule)
    set_loader_epoch: Callable[[Any, int, int], None]
    training_logits: Callable[[torch.Tensor, CfgNode], torch.Tensor]
    load_pretrained: Callable[..., dict]


def default_components() -> TrainComponents:
    """The real models and data layers (imported here: they are heavy and tests replace them)."""
    from video3d.data import build_loader, set_loader_epoch
    from video3d.models import build_model, load_pretrained, training_logits

    return TrainComponents(build_model, build_loader, set_loader_epoch, training_logits, load_pretrained)


def seed_everything(*seed_parts: int) -> None:
    """Seed python, numpy and torch from a tuple of integers (e.g. seed, epoch, rank)."""
    import random

    seed = int(np.random.SeedSequence([int(p) for p in seed_parts]).generate_state(1)[0])
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _timed(batches: Iterator) -> Iterator[tuple[Any, float]]:
    while True:
        start = time.perf_counter()
        try:
            batch = next(batches)
        except StopIteration:
            return
        yield batch, time.perf_counter() - start


class Trainer:
    """Builds the model, optimiser and loaders from `cfg` (through `components`), resumes or loads
    initial weights, and runs the loop; side jobs are `hooks` (default: `default_hooks(cfg)`)
    sharing metrics and the loop position through `self.state` (video3d.engine.state)."""

    def __init__(self, cfg: CfgNode, components: TrainComponents | None = None, hooks: list[Hook] | None = None):
        self.cfg = cfg  # never rewritten: the multigrid plan is the schedule object
        self.schedule = MultigridSchedule.from_cfg(cfg)
        if self.schedule.cycles:
            logger.info(self.schedule.describe())
        self.components = components or default_components()
        self.device = get_device(cfg, process_info().local_rank)
        check_compile(cfg, self.device)
        self.model = to_training_layout(self.components.build_model(cfg).to(self.device), cfg)
        if self.schedule.cycles and cfg.MULTIGRID.BN_BASE_SIZE:
            use_sub_batch_norm(self.model, cfg.MULTIGRID.BN_BASE_SIZE)
        self.optimizer = build_optimizer(self.model, cfg)
        self.amp_dtype = autocast_dtype(cfg, self.device)
        # Loader batches are uint8; they are normalised here, on the training device.
        self.normalize = Normalizer.from_cfg(cfg).views
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp_dtype == torch.float16)
        self._train_loader = self._val_loader = self._precise_bn_loader = None
        self.hooks = default_hooks(cfg) if hooks is None else hooks
        self.state = TrainState(cfg, self.schedule, self.device, EventStore(window=cfg.LOG_PERIOD))
        self.state.events.put(lr=0.0)
        self._resume_rng: dict | None = None
        self._resume_meter: dict | None = None
        self._restore()
        self.model = compile_training_model(self._wrap(self.model), cfg, self.device)

    # ------------------------------------------------------------------ the loop
    def train(self) -> list[dict]:
        """Train from the start (or resume) position to the schedule's last epoch (SOLVER.MAX_EPOCH
        without multigrid); returns the epoch history."""
        self._check_batch_size()
        try:
            self._call("before_train")
            for epoch in range(self.state.start_epoch, self.state.max_epoch):
                self.state.epoch = epoch
                self.run_epoch()
        except BaseException:
            try:
                self._call("after_train")
            except Exception as err:  # e.g. the final plot on the same full disk: keep the first error
                logger.warning("closing the run failed too: %s", err)
            raise
        self._call("after_train")
        return self.history

    @property
    def history(self) -> list[dict]:
        """One record per finished epoch (epoch, lr, train_*, val_*): the event store's history."""
        return self.state.events.history

    def run_epoch(self) -> None:
        """Train one epoch from the resume position (or its start), then close its record."""
        state = self.state
        skip = state.start_iter if state.epoch == state.start_epoch else 0
        state.epoch_iters = self._epoch_length(skip)
        batches = iter(self.train_loader)
        self._start_epoch_state()
        self.model.train()
        state.iteration = skip
        self._call("before_epoch")
        for state.iteration, (batch, dt_data) in enumerate(_timed(batches), start=skip):
            self._call("before_step")
            start = time.perf_counter()
            stats = self.run_step(batch)
            dt_net = time.perf_counter() - start
            state.events.put(grad_norm=stats["grad_norm"])
            state.events.put_window(**step_scalars(**stats["meter"], dt_data=dt_data, dt_net=dt_net))
            state.meter.update(**stats["meter"], dt_data=dt_data, dt_net=dt_net)
            self._call("after_step")
        state.events.start_epoch_record(epoch=state.epoch + 1, lr=state.events.get("lr"),
                                        **{f"train_{k}": v for k, v in state.meter.epoch_stats().items()})
        self._call("after_epoch")

    def run_step(self, batch: dict) -> dict:
        """Forward, loss and backward of one batch; an optimiser step every TRAIN.ACCUM_STEPS
        batches (and at the epoch's end). Returns {"grad_norm": norm before clipping or None,
        "meter": loss, samples, top-1 / top-5 hits summed over processes (None under mixup)}.
        Raises TrainingDivergedError on a NaN or infinite loss."""
        if batch["video"].dtype != torch.uint8:  # a custom loader of already-normalised clips
            raise Video3DError(f"training batches must be uint8 clips (the trainer normalises them on {self.device} with "
                               f"DATA.MEAN / DATA.STD), got {batch['video'].dtype}")
        videos = prepare_batch(self.normalize(batch["video"].to(self.device, non_blocking=True)), self.cfg)
        labels = batch["label"].to(self.device, non_blocking=True)
        videos, targets, mixed = training_targets(videos, labels, self.cfg)
        accum, state = self.cfg.TRAIN.ACCUM_STEPS, self.state
        state.stepped = (state.iteration + 1) % accum == 0 or state.iteration + 1 == state.epoch_iters
        sync = contextlib.nullcontext() if state.stepped or not is_distributed() else self.model.no_sync()
        with sync:
            with self.autocast():
                logits = self.components.training_logits(self.model(videos), self.cfg)
                loss = soft_target_cross_entropy(logits, targets)
            if not torch.isfinite(loss):
                raise TrainingDivergedError(f"training loss is {loss.item()} at epoch {state.epoch + 1}, "
                                            f"iteration {state.iteration + 1}; try a lower SOLVER.BASE_LR")
            self.scaler.scale(loss / accum).backward()
        grad_norm = self._optimizer_step() if state.stepped else None
        top1, top5 = (None, None) if mixed else topk_correct(logits.detach(), labels)
        reduced = all_reduce_sum([loss.item() * len(labels), len(labels), top1 or 0, top5 or 0], self.device)
        samples = reduced[1]
        return {"grad_norm": grad_norm, "meter": {
            "loss": reduced[0] / samples, "samples": samples,
            "top1_correct": None if mixed else reduced[2], "top5_correct": None if mixed else reduced[3]}}

    # ------------------------------------------------------------------ pieces of a step
    def _optimizer_step(self) -> float:
        """Clip at TRAIN.CLIP_GRAD_NORM when set, then step; returns the global gradient norm
        before clipping (PySlowFast's json_stats grad_norm), of the unscaled gradients."""
        self.scaler.unscale_(self.optimizer)  # a no-op without float16's GradScaler
        params = [p for p in self.model.parameters() if p.grad is not None]
        if self.cfg.TRAIN.CLIP_GRAD_NORM > 0:
            grad_norm = float(nn.utils.clip_grad_norm_(params, self.cfg.TRAIN.CLIP_GRAD_NORM))
        else:
            grad_norm = float(nn.utils.get_total_norm([p.grad for p in params]))
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        self.state.global_step += 1
        return grad_norm

    def autocast(self) -> contextlib.AbstractContextManager:
        """The mixed-precision context of TRAIN.MIXED_PRECISION, else a no-op."""
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.amp_dtype)

    @property
    def train_loader(self) -> Iterable:
        """The TRAIN.SPLIT loader, built on first use."""
        if self._train_loader is None:
            self._train_loader = self.components.build_loader(self.cfg, self.cfg.TRAIN.SPLIT, True, self.schedule)
        return self._train_loader

    @property
    def precise_bn_loader(self) -> Iterable:
        """Training batches for precise BN: the train loader, or full-shape clips under multigrid."""
        if not self.schedule.cycles:
            return self.train_loader
        if self._precise_bn_loader is None:
            self._precise_bn_loader = self.components.build_loader(
                self.cfg, self.cfg.TRAIN.SPLIT, True, self.schedule.without_cycles())
        return self._precise_bn_loader

    @property
    def val_loader(self) -> Iterable:
        """The TEST.SPLIT loader (one centre view per video), built on first use."""
        if self._val_loader is None:
            self._val_loader = self.components.build_loader(self.cfg, self.cfg.TEST.SPLIT, False, None)
        return self._val_loader

    def _check_batch_size(self) -> None:
        """TRAIN.BATCH_SIZE is clips per optimiser step: the LR scaling assumes it."""
        per_process = getattr(self.train_loader, "batch_size", None)
        clips = per_process * get_world_size() * self.cfg.TRAIN.ACCUM_STEPS if per_process else None
        if clips is not None and clips != self.cfg.TRAIN.BATCH_SIZE:
            logger.warning("TRAIN.BATCH_SIZE is %d but each optimiser step sees %d clips (%d per process x %d "
                           "processes x TRAIN.ACCUM_STEPS %d); the LR is scaled for %d", self.cfg.TRAIN.BATCH_SIZE,
                           clips, per_process, get_world_size(), self.cfg.TRAIN.ACCUM_STEPS, self.cfg.TRAIN.BATCH_SIZE)

    def _epoch_length(self, skip: int) -> int:
        """Batches in the full epoch; the loader is then positioned after the first `skip`."""
        self.components.set_loader_epoch(self.train_loader, self.state.epoch, 0)
        length = len(self.train_loader)
        if skip:
            self.components.set_loader_epoch(self.train_loader, self.state.epoch, skip)
        return max(length, 1)

    def _start_epoch_state(self) -> None:
        """Global RNGs from (seed, epoch, rank) and a fresh meter, or the RNG states and epoch
        totals saved mid-epoch when resuming."""
        seed_everything(self.cfg.RNG_SEED, self.state.epoch, get_rank())
        self.state.meter.reset()
        self.state.events.clear_windows()
        if self._resume_rng is not None:
            ckpt.restore_rng_state(self._resume_rng)
            self._resume_rng = None
        if self._resume_meter is not None:
            self.state.meter.load_state_dict(self._resume_meter)
            self._resume_meter = None

    def _call(self, event: str) -> None:
        for hook in self.hooks:
            getattr(hook, event)(self)

    # ------------------------------------------------------------------ model set-up and checkpoints
    def _wrap(self, model: nn.Module) -> nn.Module:
        if get_world_size() == 1:
            return model
        if self.cfg.BN.NORM_TYPE == "sync_batchnorm":
            if self.device.type == "cuda":
                model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
            else:
                logger.warning("BN.NORM_TYPE sync_batchnorm needs GPUs; keeping per-process BatchNorm on the CPU")
        device_ids = [self.device.index] if self.device.type == "cuda" else None
        return nn.parallel.DistributedDataParallel(model, device_ids=device_ids)

    def checkpoint_state(self, epoch: int, iteration: int) -> dict:
        """Everything needed to continue at batch `iteration` of epoch `epoch` (collective call)."""
        rng_states = all_gather_objects(ckpt.capture_rng_state())
        return {
            "model_state": ckpt.unwrap_model(self.model).state_dict(),
            "optimizer_state": self.optimizer.state_dict(),
            "scheduler_state": {"policy": self.cfg.SOLVER.LR_POLICY, "lr": self.state.events.get("lr")},
            "scaler_state": self.scaler.state_dict(),
            "epoch": epoch,
            "iteration": iteration,
            "global_step": self.state.global_step,
            "rng_state": rng_states[0],
            "rng_states_per_rank": rng_states,
            "meter_state": self.state.meter.state_dict() if iteration else {},
            "history": list(self.state.events.history),
            "best_top1_err": self.state.events.best("val_top1_err"),
            "cfg": self.cfg.dump(),
            "class_names": self.class_names(),  # predict / demo / export name the classes from it
        }

    def class_names(self) -> list[str] | None:
        """The training set's class names by label (DATA.CLASS_NAMES_FILE or the dataset's own
        label files), None when it has none (Kinetics lists without a names file)."""
        names = getattr(getattr(self.train_loader, "dataset", None), "class_names", None)
        return [str(name) for name in names] if names else None

    def _restore(self) -> None:
        """Resume from the newest complete checkpoint (TRAIN.AUTO_RESUME), else load initial weights."""
        path = None
        if self.cfg.TRAIN.AUTO_RESUME:
            if get_rank() == 0 and ckpt.remove_stale_temp_files(self.cfg):
                logger.info("removed temp files of an interrupted checkpoint save")
            path = all_gather_objects(ckpt.latest_checkpoint(self.cfg))[0]  # rank 0 decides
        if path:
            self._load_training_state(path)
        elif self.cfg.TRAIN.CHECKPOINT_FILE_PATH:
            self._load_initial_weights(self.cfg.TRAIN.CHECKPOINT_FILE_PATH)

    def _load_training_state(self, path: str) -> None:
        state = ckpt.load_checkpoint(path, map_location=self.device)
        ckpt.check_resumable(state, path)
        try:
            self.model.load_state_dict(ckpt.model_state_dict(state, path))
            load_resume_optimizer_state(self.optimizer, self.model, self.cfg, state["optimizer_state"])
        except (RuntimeError, ValueError, KeyError) as err:
            reason = " ".join(str(err).split())[:300]
            raise ckpt.CheckpointError(f"auto-resume found {path}, which does not fit this model and config "
                                       f"({reason}); move it out of {ckpt.checkpoint_dir(self.cfg)} or set a "
                                       "new OUTPUT_DIR") from err
        if state.get("scaler_state") and self.scaler.is_enabled():
            self.scaler.load_state_dict(state["scaler_state"])
        self.state.start_epoch, self.state.start_iter = int(state["epoch"]), int(state["iteration"])
        self.state.global_step = int(state.get("global_step", 0))
        self.state.events = EventStore(state.get("history", []), window=self.cfg.LOG_PERIOD)  # best = the history's
        self.state.events.put(lr=0.0)
        if self.state.start_iter:  # mid-epoch: continue the RNG streams and epoch totals where they were
            per_rank = state.get("rng_states_per_rank") or [state["rng_state"]]
            self._resume_rng = per_rank[get_rank()] if len(per_rank) == get_world_size() else per_rank[0]
            self._resume_meter = state.get("meter_state") or None
        logger.info("resumed from %s at epoch %d, iteration %d", path, self.state.start_epoch + 1,
                    self.state.start_iter)

    def _load_initial_weights(self, path: str) -> None:
        self.state.start_epoch = load_initial_weights(self.cfg, self.model, self.optimizer,
                                                      self.components.load_pretrained, path, self.state.max_epoch)


def train(cfg: CfgNode, components: TrainComponents | None = None) -> list[dict]:
    """Build everything from `cfg` and train; returns the per-epoch history."""
    return Trainer(cfg, components).train()
