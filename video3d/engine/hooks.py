"""Side jobs of the train loop (detectron2-style hooks): LR schedule, validation with precise BN,
checkpoints (with best-checkpoint tracking), json_stats / progress bar, TensorBoard, plots.

A hook overrides any of before_train, before_epoch, before_step, after_step, after_epoch,
after_train. Hooks read the loop's position from the trainer (epoch, iteration, ...) and
share metrics through its event store (`trainer.state.events`, video3d.engine.events): the loop
puts `grad_norm` and opens each epoch's record, the LR hook puts `lr`, the validation hook
puts `val_*` into the epoch record, and the checkpoint, logging, TensorBoard and plot hooks
read them. Hooks run in list order, so one that reads this epoch's `val_*` comes after the
validation hook (`default_hooks`).
"""

from __future__ import annotations

import collections
import os
import statistics
import sys
import time
from collections.abc import Iterable

from video3d.engine import checkpoint as ckpt
from video3d.engine.events import EventStore
from video3d.engine.meters import format_eta, memory_stats
from video3d.engine.optim import describe_lr, lr_at_epoch, set_lr
from video3d.engine.state import TrainLoop
from video3d.engine.validation import has_batch_norm, precise_bn, validate
from video3d.errors import CheckpointError
from video3d.utils.distributed import get_world_size, is_main_process
from video3d.utils.logging import get_logger, log_json_stats

logger = get_logger(__name__)

VAL_LABEL = "val (1 centre view)"


class Hook:
    """A side job of the train loop; each method runs at that point of the loop (no-op by default)."""

    def before_train(self, trainer: TrainLoop) -> None: ...
    def before_epoch(self, trainer: TrainLoop) -> None: ...
    def before_step(self, trainer: TrainLoop) -> None: ...
    def after_step(self, trainer: TrainLoop) -> None: ...
    def after_epoch(self, trainer: TrainLoop) -> None: ...
    def after_train(self, trainer: TrainLoop) -> None: ...


class LRScheduleHook(Hook):
    """Sets the LR of each step from the fractional epoch (a pure function, see optim.py)."""

    def before_step(self, trainer: TrainLoop) -> None:
        lr = lr_at_epoch(trainer.cfg, trainer.state.fractional_epoch, trainer.state.schedule)
        set_lr(trainer.optimizer, lr)
        trainer.state.events.put(lr=lr)


class ValIterLog:
    """PySlowFast's `val_iter` json_stats lines every LOG_PERIOD validation batches (rank 0):
    window medians of this process's top-1 / top-5 error, time_diff (seconds per batch), eta."""

    def __init__(self, trainer: TrainLoop):
        self.trainer, self.period = trainer, max(trainer.cfg.LOG_PERIOD, 1)
        self.errors: dict[str, collections.deque] = {k: collections.deque(maxlen=self.period) for k in ("top1", "top5")}
        self.times: collections.deque = collections.deque(maxlen=self.period)
        self.iteration, self.total_time, self.length = 0, 0.0, None

    def timed(self, loader: Iterable):
        """`loader`'s batches, timing each one and logging every LOG_PERIOD."""
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
        """Record one batch's top-1 / top-5 hits out of `clips`."""
        self.errors["top1"].append(100.0 * (1 - top1 / clips))
        self.errors["top5"].append(100.0 * (1 - top5 / clips))

    def seconds_per_iteration(self) -> float:
        """Mean seconds per validation batch so far."""
        return self.total_time / self.iteration if self.iteration else 0.0

    def _log(self) -> None:
        if self.iteration % self.period or not is_main_process():
            return
        trainer = self.trainer
        stats = {"_type": "val_iter", "epoch": f"{trainer.state.epoch + 1}/{trainer.state.max_epoch}",
                 "iter": f"{self.iteration}/{self.length or '?'}", "time_diff": statistics.median(self.times),
                 "eta": format_eta(statistics.median(self.times) * ((self.length or self.iteration) - self.iteration)),
                 "view": VAL_LABEL, **memory_stats(trainer.device)}
        for key, values in self.errors.items():
            if values:
                stats[f"{key}_err"] = statistics.median(values)
        log_json_stats(stats)


class ValidationHook(Hook):
    """Every TRAIN.EVAL_PERIOD epochs (and after the last): precise BN if asked, then validation
    (video3d.engine.validation); puts val_loss, val_top1_err, val_top5_err, val_clips and
    val_time_diff into the epoch's record. Under multigrid, precise BN uses full-shape training
    clips and (long cycle) also runs where the clip shape changes, so every epoch checkpoint
    holds BN statistics of the shape the test uses."""

    def after_epoch(self, trainer: TrainLoop) -> None:
        cfg = trainer.cfg
        period = cfg.TRAIN.EVAL_PERIOD
        last = trainer.state.epoch + 1 == trainer.state.max_epoch
        model = ckpt.unwrap_model(trainer.model)
        if period <= 0 or not ((trainer.state.epoch + 1) % period == 0 or last):
            if cfg.BN.USE_PRECISE_STATS and trainer.state.schedule.shape_changes_after(trainer.state.epoch):
                self._precise_bn(trainer, model)
            return
        if cfg.BN.USE_PRECISE_STATS:
            self._precise_bn(trainer, model)
        stats = validate(model, trainer.val_loader, trainer.device,
                         lambda outputs: trainer.components.training_logits(outputs, cfg), trainer.autocast,
                         progress=ValIterLog(trainer), normalize=trainer.normalize)
        trainer.state.events.put_epoch(**{f"val_{key}": value for key, value in stats.items()})
        if stats:
            logger.info("%s, epoch %d: loss %.4f, top1_err %.2f, top5_err %.2f (%d clips)", VAL_LABEL,
                        trainer.state.epoch + 1, stats["loss"], stats["top1_err"], stats["top5_err"], stats["clips"])


    @staticmethod
    def _precise_bn(trainer: TrainLoop, model) -> None:
        if not has_batch_norm(model):
            return
        loader = trainer.precise_bn_loader
        trainer.components.set_loader_epoch(loader, trainer.state.epoch, 0)
        precise_bn(model, loader, min(trainer.cfg.BN.NUM_BATCHES_PRECISE, len(loader)), trainer.device,
                   trainer.normalize)


class CheckpointHook(Hook):
    """Rolling checkpoint_last every TRAIN.CHECKPOINT_ITERS steps, epoch checkpoints every
    TRAIN.CHECKPOINT_PERIOD epochs and after the last, checkpoint_best (TRAIN.SAVE_BEST) when the
    epoch's val_top1_err in the event store is below every earlier epoch's."""

    def __init__(self, cfg):
        self.cfg = cfg

    def _save(self, trainer: TrainLoop, path: str, epoch: int, iteration: int) -> None:
        state = trainer.checkpoint_state(epoch, iteration)  # collective: every rank joins
        if is_main_process():
            try:
                ckpt.save_checkpoint(path, state)
            except CheckpointError as err:  # a full disk: say so in stdout.log too, then stop
                logger.error("%s", err)
                raise

    def after_step(self, trainer: TrainLoop) -> None:
        every = self.cfg.TRAIN.CHECKPOINT_ITERS
        if every > 0 and trainer.state.stepped and trainer.state.global_step % every == 0:
            last = os.path.join(ckpt.checkpoint_dir(self.cfg), ckpt.LAST_NAME)
            self._save(trainer, last, trainer.state.epoch, trainer.state.iteration + 1)

    @staticmethod
    def improved(events: EventStore) -> bool:
        """The current epoch was validated and its top-1 error beats every earlier epoch's."""
        current = events.epoch_record.get("val_top1_err")
        earlier = events.best("val_top1_err", before_current=True)
        return current is not None and (earlier is None or current < earlier)

    def after_epoch(self, trainer: TrainLoop) -> None:
        done = trainer.state.epoch + 1
        if done % self.cfg.TRAIN.CHECKPOINT_PERIOD == 0 or done == trainer.state.max_epoch:
            self._save(trainer, ckpt.epoch_checkpoint_path(self.cfg, done), done, 0)
        if self.cfg.TRAIN.SAVE_BEST and self.improved(trainer.state.events):
            self._save(trainer, os.path.join(ckpt.checkpoint_dir(self.cfg), ckpt.BEST_NAME), done, 0)


class LoggingHook(Hook):
    """json_stats lines every LOG_PERIOD steps and per epoch; a tqdm bar when stdout is a terminal."""

    def __init__(self, cfg):
        self.cfg = cfg
        self.bar = None

    def _common(self, trainer: TrainLoop) -> dict:
        return {"epoch": f"{trainer.state.epoch + 1}/{trainer.state.max_epoch}", "lr": trainer.state.events.get("lr"),
                **memory_stats(trainer.device)}

    def before_train(self, trainer: TrainLoop) -> None:
        cfg = self.cfg
        logger.info("training %s on %s for epochs %d-%d: global batch %d (%d process(es), %d accumulation "
                    "step(s)); LR policy %s, %s; LR at the start %.6g", cfg.MODEL.MODEL_NAME, trainer.device,
                    trainer.state.start_epoch + 1, trainer.state.max_epoch, cfg.TRAIN.BATCH_SIZE, get_world_size(),
                    cfg.TRAIN.ACCUM_STEPS, cfg.SOLVER.LR_POLICY, describe_lr(cfg),
                    lr_at_epoch(cfg, trainer.state.start_epoch, trainer.state.schedule))

    def before_epoch(self, trainer: TrainLoop) -> None:
        if is_main_process() and sys.stdout.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=trainer.state.epoch_iters, initial=trainer.state.iteration, leave=False,
                            desc=f"epoch {trainer.state.epoch + 1}/{trainer.state.max_epoch}", dynamic_ncols=True)

    def after_step(self, trainer: TrainLoop) -> None:
        state = trainer.state
        events = state.events
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(loss=f"{events.median('loss'):.4f}", lr=f"{events.get('lr'):.4g}")
        if (state.iteration + 1) % self.cfg.LOG_PERIOD and state.iteration + 1 != state.epoch_iters:
            return
        remaining = (state.epoch_iters - state.iteration - 1) + state.epoch_iters * (state.max_epoch - state.epoch - 1)
        stats = {"_type": "train_iter", "iter": f"{state.iteration + 1}/{state.epoch_iters}", **self._common(trainer),
                 **{key: events.median(key) for key in ("loss", "top1_err", "top5_err", "dt", "dt_data", "dt_net")},
                 "eta": format_eta(state.meter.seconds_per_iteration() * remaining)}
        if events.get("grad_norm") is not None:  # numeric or absent (PySlowFast's parsers read a float)
            stats["grad_norm"] = events.get("grad_norm")
        if is_main_process():
            log_json_stats(stats)

    def after_epoch(self, trainer: TrainLoop) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        if not is_main_process():
            return
        record, meter = trainer.state.events.epoch_record, trainer.state.meter
        per_iter, data_per_iter = meter.seconds_per_iteration(), meter.data_seconds_per_iteration()
        remaining = trainer.state.epoch_iters * (trainer.state.max_epoch - trainer.state.epoch - 1)
        train = {"_type": "train_epoch", **self._common(trainer), "loss": record["train_loss"],
                 "top1_err": record["train_top1_err"], "top5_err": record["train_top5_err"], "dt": per_iter,
                 "dt_data": data_per_iter, "dt_net": per_iter - data_per_iter,
                 "eta": format_eta(per_iter * remaining), "iters": trainer.state.epoch_iters}
        if trainer.state.events.get("grad_norm") is not None:
            train["grad_norm"] = trainer.state.events.get("grad_norm")
        log_json_stats(train, self.cfg.OUTPUT_DIR)
        if "val_top1_err" in record:
            log_json_stats({"_type": "val_epoch", "epoch": f"{trainer.state.epoch + 1}/{trainer.state.max_epoch}",
                            "view": VAL_LABEL, "loss": record["val_loss"], "top1_err": record["val_top1_err"],
                            "top5_err": record["val_top5_err"], "min_top1_err": trainer.state.events.best("val_top1_err"),
                            "min_top5_err": trainer.state.events.best("val_top5_err"), "time_diff": record.get("val_time_diff", 0.0),
                            **memory_stats(trainer.device)}, self.cfg.OUTPUT_DIR)


class TensorBoardHook(Hook):
    """Scalars Train/loss, Train/lr per LOG_PERIOD; epoch losses and errors (rank 0 only)."""

    def __init__(self, cfg):
        self.cfg = cfg
        self.writer = None

    def before_train(self, trainer: TrainLoop) -> None:
        if is_main_process():
            from torch.utils.tensorboard import SummaryWriter

            log_dir = self.cfg.TENSORBOARD.LOG_DIR or os.path.join(self.cfg.OUTPUT_DIR, "runs")
            self.writer = SummaryWriter(log_dir=log_dir)

    def after_step(self, trainer: TrainLoop) -> None:
        if self.writer is not None and (trainer.state.iteration + 1) % self.cfg.LOG_PERIOD == 0:
            self.writer.add_scalar("Train/loss", trainer.state.events.median("loss"), trainer.state.global_step)
            self.writer.add_scalar("Train/lr", trainer.state.events.get("lr"), trainer.state.global_step)

    def after_epoch(self, trainer: TrainLoop) -> None:
        if self.writer is None:
            return
        names = {"train_loss": "Train/epoch_loss", "train_top1_err": "Train/Top1_err",
                 "train_top5_err": "Train/Top5_err", "val_loss": "Val/loss", "val_top1_err": "Val/Top1_err",
                 "val_top5_err": "Val/Top5_err"}
        record = trainer.state.events.epoch_record
        for key, tag in names.items():
            if record.get(key) is not None:
                self.writer.add_scalar(tag, record[key], trainer.state.epoch + 1)
        self.writer.flush()

    def after_train(self, trainer: TrainLoop) -> None:
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

    def _draw(self, trainer: TrainLoop) -> None:
        from video3d.utils.plots import plot_training_curves

        history = trainer.state.events.history
        plot_training_curves(history, self.path)
        self.last_draw, self.drawn_epochs = self.clock(), len(history)

    def after_epoch(self, trainer: TrainLoop) -> None:
        if is_main_process() and (self.last_draw is None or self.clock() - self.last_draw >= self.min_interval):
            self._draw(trainer)

    def after_train(self, trainer: TrainLoop) -> None:
        if is_main_process() and self.drawn_epochs != len(trainer.state.events.history):
            self._draw(trainer)


def default_hooks(cfg) -> list[Hook]:
    """LR schedule, validation, checkpoints, logging, [TensorBoard], plots, in this order: the
    checkpoint, logging and plot hooks read the epoch's validation results."""
    hooks = [LRScheduleHook(), ValidationHook(), CheckpointHook(cfg), LoggingHook(cfg)]
    if cfg.TENSORBOARD.ENABLE:
        hooks.append(TensorBoardHook(cfg))
    hooks.append(PlotHook(cfg))
    return hooks

