"""Side jobs of the train loop (detectron2-style hooks): LR schedule, validation with precise BN,
checkpoints, json_stats / progress bar, TensorBoard, training-curve plots.

A hook sees the trainer and overrides any of before_train, before_epoch, before_step,
after_step, after_epoch, after_train. Order matters at the end of an epoch: validation
fills the epoch record before checkpoints, logs and plots read it.
"""

from __future__ import annotations

import collections
import itertools
import os
import statistics
import sys
import time
from collections.abc import Iterable

import torch

from video3d.engine import checkpoint as ckpt
from video3d.engine.losses import smooth_one_hot, soft_target_cross_entropy
from video3d.engine.meters import all_reduce_sum, format_eta, memory_stats, topk_correct
from video3d.engine.optim import describe_lr, lr_at_epoch, set_lr
from video3d.errors import CheckpointError
from video3d.utils.distributed import get_world_size, is_distributed, is_main_process
from video3d.utils.logging import get_logger, log_json_stats

logger = get_logger(__name__)

VAL_LABEL = "val (1 centre view)"


class Hook:
    def before_train(self, trainer) -> None: ...
    def before_epoch(self, trainer) -> None: ...
    def before_step(self, trainer) -> None: ...
    def after_step(self, trainer) -> None: ...
    def after_epoch(self, trainer) -> None: ...
    def after_train(self, trainer) -> None: ...


class LRScheduleHook(Hook):
    """Sets the LR of each step from the fractional epoch (a pure function, see optim.py)."""

    def before_step(self, trainer) -> None:
        trainer.lr = lr_at_epoch(trainer.cfg, trainer.epoch + trainer.iteration / trainer.epoch_iters)
        set_lr(trainer.optimizer, trainer.lr)


@torch.no_grad()
def update_bn_stats(model: torch.nn.Module, batches: Iterable[torch.Tensor], num_batches: int) -> None:
    """Set every BN's running mean / variance to the plain average of its batch statistics over
    `num_batches` batches, instead of the training EMA (precise BN, Wu & Johnson 2021)."""
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
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


def _precise_bn(trainer) -> None:
    """Precise BN on training batches, averaged over processes."""
    model = ckpt.unwrap_model(trainer.model)
    if not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in model.modules()):
        return
    trainer.components.set_loader_epoch(trainer.train_loader, trainer.epoch, 0)
    num_batches = min(trainer.cfg.BN.NUM_BATCHES_PRECISE, len(trainer.train_loader))
    videos = (batch["video"].to(trainer.device) for batch in trainer.train_loader)
    update_bn_stats(model, videos, num_batches)
    if is_distributed():
        for module in model.modules():
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                for buffer in (module.running_mean, module.running_var):
                    torch.distributed.all_reduce(buffer)
                    buffer /= get_world_size()


@torch.no_grad()
def validate(trainer) -> dict:
    """Loss and top-1/top-5 error on the single centre view of each TEST.SPLIT video. A video
    that could not be decoded is left out (the dataset filled its slot with another video,
    which would otherwise count twice)."""
    model = ckpt.unwrap_model(trainer.model)
    model.eval()
    totals = [0.0, 0.0, 0.0, 0.0]  # loss sum, top-1 hits, top-5 hits, clips
    progress = ValIterLog(trainer)
    for batch in progress.timed(trainer.val_loader):
        videos, labels = batch["video"], batch["label"]
        if "replaced" in batch:
            keep = ~batch["replaced"]
            if not keep.any():
                continue
            videos, labels = videos[keep], labels[keep]
        videos = videos.to(trainer.device, non_blocking=True)
        labels = labels.to(trainer.device)
        with trainer.autocast():
            logits = trainer.components.training_logits(model(videos), trainer.cfg).float()
        targets = smooth_one_hot(labels, logits.shape[-1])
        top1, top5 = topk_correct(logits, labels)
        totals = [a + b for a, b in zip(totals, [float(soft_target_cross_entropy(logits, targets)) * len(labels),
                                                 top1, top5, len(labels)], strict=True)]
        progress.update(top1, top5, len(labels))
    loss_sum, top1, top5, clips = all_reduce_sum(totals, trainer.device)
    model.train()
    if not clips:
        return {}
    return {"loss": loss_sum / clips, "top1_err": 100.0 * (1 - top1 / clips),
            "top5_err": 100.0 * (1 - top5 / clips), "clips": int(clips), "time_diff": progress.seconds_per_iteration()}


class ValIterLog:
    """PySlowFast's `val_iter` json_stats lines every LOG_PERIOD validation batches (rank 0):
    window medians of this process's top-1 / top-5 error, time_diff (seconds per batch), eta."""

    def __init__(self, trainer):
        self.trainer, self.period = trainer, max(trainer.cfg.LOG_PERIOD, 1)
        self.errors: dict[str, collections.deque] = {k: collections.deque(maxlen=self.period) for k in ("top1", "top5")}
        self.times: collections.deque = collections.deque(maxlen=self.period)
        self.iteration, self.total_time, self.length = 0, 0.0, None

    def timed(self, loader: Iterable):
        self.length = len(loader) if hasattr(loader, "__len__") else None
        start = time.perf_counter()
        for batch in loader:
            yield batch
            elapsed = time.perf_counter() - start
            self.times.append(elapsed)
            self.total_time += elapsed
            self.iteration += 1
            self._log()
            start = time.perf_counter()

    def update(self, top1: int, top5: int, clips: int) -> None:
        self.errors["top1"].append(100.0 * (1 - top1 / clips))
        self.errors["top5"].append(100.0 * (1 - top5 / clips))

    def seconds_per_iteration(self) -> float:
        return self.total_time / self.iteration if self.iteration else 0.0

    def _log(self) -> None:
        if self.iteration % self.period or not is_main_process():
            return
        trainer = self.trainer
        stats = {"_type": "val_iter", "epoch": f"{trainer.epoch + 1}/{trainer.cfg.SOLVER.MAX_EPOCH}",
                 "iter": f"{self.iteration}/{self.length or '?'}", "time_diff": statistics.median(self.times),
                 "eta": format_eta(statistics.median(self.times) * ((self.length or self.iteration) - self.iteration)),
                 "view": VAL_LABEL, **memory_stats(trainer.device)}
        for key, values in self.errors.items():
            if values:
                stats[f"{key}_err"] = statistics.median(values)
        log_json_stats(stats)


class ValidationHook(Hook):
    """Every TRAIN.EVAL_PERIOD epochs (and after the last): precise BN if asked, then validation."""

    def after_epoch(self, trainer) -> None:
        period = trainer.cfg.TRAIN.EVAL_PERIOD
        last = trainer.epoch + 1 == trainer.cfg.SOLVER.MAX_EPOCH
        if period <= 0 or not ((trainer.epoch + 1) % period == 0 or last):
            return
        if trainer.cfg.BN.USE_PRECISE_STATS:
            _precise_bn(trainer)
        stats = validate(trainer)
        trainer.epoch_record.update({f"val_{key}": value for key, value in stats.items()})
        trainer.improved = bool(stats) and (trainer.best_top1_err is None or stats["top1_err"] < trainer.best_top1_err)
        if trainer.improved:
            trainer.best_top1_err = stats["top1_err"]
        if stats:
            logger.info("%s, epoch %d: loss %.4f, top1_err %.2f, top5_err %.2f (%d clips)", VAL_LABEL,
                        trainer.epoch + 1, stats["loss"], stats["top1_err"], stats["top5_err"], stats["clips"])


class CheckpointHook(Hook):
    """Rolling checkpoint_last every TRAIN.CHECKPOINT_ITERS steps, epoch checkpoints every
    TRAIN.CHECKPOINT_PERIOD epochs and after the last, checkpoint_best on a better val top-1."""

    def __init__(self, cfg):
        self.cfg = cfg

    def _save(self, trainer, path: str, epoch: int, iteration: int) -> None:
        state = trainer.checkpoint_state(epoch, iteration)  # collective: every rank joins
        if is_main_process():
            try:
                ckpt.save_checkpoint(path, state)
            except CheckpointError as err:  # a full disk: say so in stdout.log too, then stop
                logger.error("%s", err)
                raise

    def after_step(self, trainer) -> None:
        every = self.cfg.TRAIN.CHECKPOINT_ITERS
        if every > 0 and trainer.stepped and trainer.global_step % every == 0:
            last = os.path.join(ckpt.checkpoint_dir(self.cfg), ckpt.LAST_NAME)
            self._save(trainer, last, trainer.epoch, trainer.iteration + 1)

    def after_epoch(self, trainer) -> None:
        done = trainer.epoch + 1
        if done % self.cfg.TRAIN.CHECKPOINT_PERIOD == 0 or done == self.cfg.SOLVER.MAX_EPOCH:
            self._save(trainer, ckpt.epoch_checkpoint_path(self.cfg, done), done, 0)
        if self.cfg.TRAIN.SAVE_BEST and trainer.improved:
            self._save(trainer, os.path.join(ckpt.checkpoint_dir(self.cfg), ckpt.BEST_NAME), done, 0)


class LoggingHook(Hook):
    """json_stats lines every LOG_PERIOD steps and per epoch; a tqdm bar when stdout is a terminal."""

    def __init__(self, cfg):
        self.cfg = cfg
        self.bar = None

    def _common(self, trainer) -> dict:
        return {"epoch": f"{trainer.epoch + 1}/{self.cfg.SOLVER.MAX_EPOCH}", "lr": trainer.lr,
                **memory_stats(trainer.device)}

    def before_train(self, trainer) -> None:
        cfg = self.cfg
        logger.info("training %s on %s for epochs %d-%d: global batch %d (%d process(es), %d accumulation "
                    "step(s)); LR policy %s, %s; LR at the start %.6g", cfg.MODEL.MODEL_NAME, trainer.device,
                    trainer.start_epoch + 1, cfg.SOLVER.MAX_EPOCH, cfg.TRAIN.BATCH_SIZE, get_world_size(),
                    cfg.TRAIN.ACCUM_STEPS, cfg.SOLVER.LR_POLICY, describe_lr(cfg), lr_at_epoch(cfg, trainer.start_epoch))

    def before_epoch(self, trainer) -> None:
        if is_main_process() and sys.stdout.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=trainer.epoch_iters, initial=trainer.iteration, leave=False,
                            desc=f"epoch {trainer.epoch + 1}/{self.cfg.SOLVER.MAX_EPOCH}", dynamic_ncols=True)

    def after_step(self, trainer) -> None:
        meter = trainer.meter
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(loss=f"{meter.median('loss'):.4f}", lr=f"{trainer.lr:.4g}")
        if (trainer.iteration + 1) % self.cfg.LOG_PERIOD and trainer.iteration + 1 != trainer.epoch_iters:
            return
        remaining = (trainer.epoch_iters - trainer.iteration - 1) + trainer.epoch_iters * (
            self.cfg.SOLVER.MAX_EPOCH - trainer.epoch - 1)
        stats = {"_type": "train_iter", "iter": f"{trainer.iteration + 1}/{trainer.epoch_iters}",
                 **self._common(trainer), "loss": meter.median("loss"), "top1_err": meter.median("top1_err"),
                 "top5_err": meter.median("top5_err"), "dt": meter.median("dt"), "dt_data": meter.median("dt_data"),
                 "dt_net": meter.median("dt_net"), "eta": format_eta(meter.seconds_per_iteration() * remaining)}
        if trainer.step_stats.get("grad_norm") is not None:  # numeric or absent (PySlowFast's parsers read a float)
            stats["grad_norm"] = trainer.step_stats["grad_norm"]
        if is_main_process():
            log_json_stats(stats)

    def after_epoch(self, trainer) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        if not is_main_process():
            return
        record, meter = trainer.epoch_record, trainer.meter
        per_iter, data_per_iter = meter.seconds_per_iteration(), meter.data_seconds_per_iteration()
        remaining = trainer.epoch_iters * (self.cfg.SOLVER.MAX_EPOCH - trainer.epoch - 1)
        train = {"_type": "train_epoch", **self._common(trainer), "loss": record["train_loss"],
                 "top1_err": record["train_top1_err"], "top5_err": record["train_top5_err"], "dt": per_iter,
                 "dt_data": data_per_iter, "dt_net": per_iter - data_per_iter,
                 "eta": format_eta(per_iter * remaining), "iters": trainer.epoch_iters}
        if trainer.step_stats.get("grad_norm") is not None:
            train["grad_norm"] = trainer.step_stats["grad_norm"]
        log_json_stats(train, self.cfg.OUTPUT_DIR)
        if "val_top1_err" in record:
            top5 = [r["val_top5_err"] for r in trainer.history if r.get("val_top5_err") is not None]
            log_json_stats({"_type": "val_epoch", "epoch": f"{trainer.epoch + 1}/{self.cfg.SOLVER.MAX_EPOCH}",
                            "view": VAL_LABEL, "loss": record["val_loss"], "top1_err": record["val_top1_err"],
                            "top5_err": record["val_top5_err"], "min_top1_err": trainer.best_top1_err,
                            "min_top5_err": min(top5), "time_diff": record.get("val_time_diff", 0.0),
                            **memory_stats(trainer.device)}, self.cfg.OUTPUT_DIR)


class TensorBoardHook(Hook):
    """Scalars Train/loss, Train/lr per LOG_PERIOD; epoch losses and errors (rank 0 only)."""

    def __init__(self, cfg):
        self.cfg = cfg
        self.writer = None

    def before_train(self, trainer) -> None:
        if is_main_process():
            from torch.utils.tensorboard import SummaryWriter

            log_dir = self.cfg.TENSORBOARD.LOG_DIR or os.path.join(self.cfg.OUTPUT_DIR, "runs")
            self.writer = SummaryWriter(log_dir=log_dir)

    def after_step(self, trainer) -> None:
        if self.writer is not None and (trainer.iteration + 1) % self.cfg.LOG_PERIOD == 0:
            self.writer.add_scalar("Train/loss", trainer.meter.median("loss"), trainer.global_step)
            self.writer.add_scalar("Train/lr", trainer.lr, trainer.global_step)

    def after_epoch(self, trainer) -> None:
        if self.writer is None:
            return
        names = {"train_loss": "Train/epoch_loss", "train_top1_err": "Train/Top1_err",
                 "train_top5_err": "Train/Top5_err", "val_loss": "Val/loss", "val_top1_err": "Val/Top1_err",
                 "val_top5_err": "Val/Top5_err"}
        for key, tag in names.items():
            if trainer.epoch_record.get(key) is not None:
                self.writer.add_scalar(tag, trainer.epoch_record[key], trainer.epoch + 1)
        self.writer.flush()

    def after_train(self, trainer) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


class PlotHook(Hook):
    """OUTPUT_DIR/plots/training_curves.png (rank 0): drawn after the first epoch, then at most
    every `min_interval` seconds, and once more when training ends. Drawing costs about 0.4 s;
    after every epoch that was 10-20 % of a short epoch (the demo's, or bench_train_loop's)."""

    def __init__(self, cfg, min_interval: float = 30.0, clock=time.monotonic):
        self.path = os.path.join(cfg.OUTPUT_DIR, "plots", "training_curves.png")
        self.min_interval, self.clock = min_interval, clock
        self.last_draw, self.drawn_epochs = None, None

    def _draw(self, trainer) -> None:
        from video3d.utils.plots import plot_training_curves

        plot_training_curves(trainer.history, self.path)
        self.last_draw, self.drawn_epochs = self.clock(), len(trainer.history)

    def after_epoch(self, trainer) -> None:
        if is_main_process() and (self.last_draw is None or self.clock() - self.last_draw >= self.min_interval):
            self._draw(trainer)

    def after_train(self, trainer) -> None:
        if is_main_process() and self.drawn_epochs != len(trainer.history):
            self._draw(trainer)


def default_hooks(cfg) -> list[Hook]:
    hooks = [LRScheduleHook(), ValidationHook(), CheckpointHook(cfg), LoggingHook(cfg)]
    if cfg.TENSORBOARD.ENABLE:
        hooks.append(TensorBoardHook(cfg))
    hooks.append(PlotHook(cfg))
    return hooks

