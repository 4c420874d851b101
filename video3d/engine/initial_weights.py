"""TRAIN.CHECKPOINT_FILE_PATH: the initial weights of a run, and, as in PySlowFast, their epoch
and optimizer state unless TRAIN.CHECKPOINT_EPOCH_RESET.

A PySlowFast checkpoint stores the 0-based index of the epoch it completed, so its run
continues at that epoch + 1 (slowfast/utils/checkpoint.py load_train_checkpoint); a video3d
training checkpoint stores the epoch to continue at. The optimizer state loads where its
parameter groups fit this run's (video3d.engine.optimizer_state), else the optimizer restarts
with one warning line.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch
from fvcore.common.config import CfgNode
from torch import nn

from video3d.config.archs import ARCH_PRESETS
from video3d.engine import checkpoint as ckpt
from video3d.engine.optim import config_param_group_names
from video3d.engine.optimizer_state import remap_optimizer_state
from video3d.models.convert import to_video3d_names
from video3d.models.inflate import partial_load_message
from video3d.utils.logging import get_logger

logger = get_logger(__name__)


def inflate_method(cfg: CfgNode) -> tuple[str, str]:
    """(TRAIN.CHECKPOINT_INFLATE_METHOD with auto resolved, why): mean (PySlowFast's
    inflate_weight: the 2D kernel repeated over time / T) for its archs slow, c2d, i3d; centre
    (exact on a static clip) for resnet3d."""
    method = cfg.TRAIN.CHECKPOINT_INFLATE_METHOD
    if method != "auto":
        return method, "TRAIN.CHECKPOINT_INFLATE_METHOD"
    if cfg.MODEL.ARCH in ARCH_PRESETS:
        return "mean", f"auto: PySlowFast's repeat / T for MODEL.ARCH {cfg.MODEL.ARCH}"
    return "centre", f"auto: centre for MODEL.ARCH {cfg.MODEL.ARCH}"


def continue_epoch(state: Mapping, foreign: bool) -> int:
    """The 0-based epoch a run started from checkpoint `state` continues at."""
    if "converted_from" in state:  # tools/convert_weights.py output: weights only, epoch 0
        return 0
    if foreign or "iteration" not in state:  # PySlowFast numbering: the epoch it completed
        return int(state["epoch"]) + 1
    return int(state["epoch"])  # a video3d training checkpoint: the epoch to continue at


def load_initial_weights(cfg: CfgNode, model: nn.Module, optimizer: torch.optim.Optimizer,
                         load_pretrained: Callable[..., dict], path: str, max_epoch: int) -> int:
    """Load TRAIN.CHECKPOINT_FILE_PATH `path` into `model` (and, unless TRAIN.CHECKPOINT_EPOCH_RESET,
    its optimizer state into `optimizer`); return the 0-based epoch to start at."""
    state = ckpt.load_checkpoint(path)
    method, why = inflate_method(cfg) if cfg.TRAIN.CHECKPOINT_INFLATE else (None, "")
    weights, source = to_video3d_names(ckpt.model_state_dict(state, path), path)
    if source:
        logger.info("%s: %s weights, %d tensors mapped to video3d names", path, source, len(weights))
    allow_partial = cfg.TRAIN.CHECKPOINT_ALLOW_PARTIAL
    report = load_pretrained(model, weights, inflate_method=method, allow_partial=allow_partial)
    partial = partial_load_message(path, report)
    if partial and not allow_partial:
        raise ckpt.CheckpointError(f"{partial}; set TRAIN.CHECKPOINT_ALLOW_PARTIAL True to train with "
                                   "those tensors at their initial values")
    if partial:
        logger.warning("%s (TRAIN.CHECKPOINT_ALLOW_PARTIAL True: they keep their initial values)", partial)
    logger.info("initial weights from %s (inflation: %s); not loaded (new head): %s", path,
                f"{method} ({why})" if method else None, ", ".join(report.get("skipped_head", [])) or "none")
    if cfg.TRAIN.CHECKPOINT_EPOCH_RESET or "epoch" not in state:
        return 0
    start = continue_epoch(state, foreign=source is not None)
    loaded = _load_optimizer_state(cfg, model, optimizer, state, list(weights), path)
    logger.info("%s: continuing at epoch %d of %d (TRAIN.CHECKPOINT_EPOCH_RESET False)%s", path, start + 1,
                max_epoch, ", optimizer state loaded" if loaded else "")
    if start >= max_epoch:
        logger.warning("%s completed epoch %d, SOLVER.MAX_EPOCH is %d: nothing left to train; set "
                       "TRAIN.CHECKPOINT_EPOCH_RESET True to fine-tune from its weights", path, start, max_epoch)
    return start


def _load_optimizer_state(cfg: CfgNode, model: nn.Module, optimizer: torch.optim.Optimizer, state: Mapping,
                          source_order: list[str], path: str) -> bool:
    if "optimizer_state" not in state:
        return False
    named = dict(model.named_parameters())
    renumbered = remap_optimizer_state(state["optimizer_state"], [n for n in source_order if n in named],
                                       config_param_group_names(model, cfg), named, optimizer.defaults)
    if isinstance(renumbered, dict):
        try:
            optimizer.load_state_dict(renumbered)
            return True
        except (ValueError, KeyError, TypeError) as err:
            renumbered = " ".join(str(err).split())[:200]
    logger.warning("%s: optimizer state not loaded (%s); the optimizer restarts", path, renumbered)
    return False
