"""Checkpoints: atomic saves, safe loads (`weights_only=True`), and finding the one to use.

Layout (PySlowFast names): OUTPUT_DIR/checkpoints/checkpoint_epoch_%05d.pyth after each
TRAIN.CHECKPOINT_PERIOD epochs (the number counts completed epochs), checkpoint_last.pyth
rolled every TRAIN.CHECKPOINT_ITERS optimiser steps, checkpoint_best.pyth at the best
validation top-1. A checkpoint dict holds model_state (no DDP prefix), optimizer_state,
scheduler_state, scaler_state, epoch and iteration (the position to resume from: batch
`iteration` of 0-based epoch `epoch`), rng_state, cfg (YAML text) and extras such as history.
Everything in it is a tensor or a plain Python value, so it loads with `weights_only=True`.
`checksum` holds a digest of the rest (video3d.utils.checksum), verified on every load, so a
file damaged after it was written is refused instead of resuming with NaN weights. Foreign
and older checkpoints without it still load.
"""

from __future__ import annotations

import errno
import glob
import os
import pickle
import random
import zipfile
from collections.abc import Mapping

import numpy as np
import torch
from fvcore.common.config import CfgNode
from torch import nn

from video3d.errors import CheckpointError
from video3d.models.convert import to_video3d_names
from video3d.utils.checksum import payload_checksum
from video3d.utils.io import atomic_write
from video3d.utils.logging import get_logger
from video3d.utils.paths import is_local, local_copy, open_for_writing

logger = get_logger(__name__)

EPOCH_PATTERN = "checkpoint_epoch_{:05d}.pyth"
LAST_NAME = "checkpoint_last.pyth"
BEST_NAME = "checkpoint_best.pyth"
_DDP_PREFIX = "module."
CHECKSUM_KEY = "checksum"
_ZIP_MAGIC = b"PK\x03\x04"  # torch.save's archive format
_PICKLE_PROTOCOL_2 = b"\x80\x02"  # torch.save's legacy format (and plain pickles)


def checkpoint_dir(cfg: CfgNode) -> str:
    """OUTPUT_DIR/checkpoints."""
    return os.path.join(cfg.OUTPUT_DIR, "checkpoints")


def epoch_checkpoint_path(cfg: CfgNode, completed_epochs: int) -> str:
    """OUTPUT_DIR/checkpoints/checkpoint_epoch_%05d.pyth of `epoch` completed epochs."""
    return os.path.join(checkpoint_dir(cfg), EPOCH_PATTERN.format(completed_epochs))


def save_checkpoint(path: str, state: Mapping) -> str:
    """Write `state` and its checksum to a temp file beside `path`, fsync, then rename: never
    a torn file."""
    payload = {key: value for key, value in state.items() if key != CHECKSUM_KEY}
    payload[CHECKSUM_KEY] = payload_checksum(payload)
    try:
        with (atomic_write(path, "wb") if is_local(path) else open_for_writing(path, "wb")) as handle:
            torch.save(payload, handle)
    except Exception as err:
        os_error = _os_error_in(err)
        if os_error is None:
            raise
        reason = "no space left on device" if os_error.errno == errno.ENOSPC else str(os_error.strerror or os_error)
        raise CheckpointError(f"cannot save checkpoint {path}: {reason.lower()}") from err
    return path


def _os_error_in(error: BaseException) -> OSError | None:
    """The OSError behind `error`: torch.save reports a failed write (a full disk) as
    "RuntimeError: [enforce fail at inline_container.cc] unexpected pos", the OSError only
    in its context."""
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, OSError):
            return error
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return None


def _load_failure(path: str, error: Exception) -> str:
    """What is wrong with a file torch.load refused, in plain words (never torch's advice)."""
    with open(path, "rb") as handle:
        head = handle.read(len(_ZIP_MAGIC))
    refused = isinstance(error, pickle.UnpicklingError) and "weights only" in str(error).lower()
    if not head:
        return "empty file"
    if refused and (head == _ZIP_MAGIC or head.startswith(_PICKLE_PROTOCOL_2)):
        return "holds objects other than tensors and plain values; refused, as loading them could run code"
    if head != _ZIP_MAGIC:
        return "not a video3d checkpoint (not a PyTorch archive)"
    if not zipfile.is_zipfile(path):
        return "truncated (the archive's index at the end of the file is missing)"
    return f"damaged ({type(error).__name__} while reading the archive)"


def load_checkpoint(path: str, map_location: str | torch.device = "cpu", mmap: bool = False) -> dict:
    """Load a checkpoint with `weights_only=True`; any failure is a CheckpointError naming `path`
    and saying in plain words what is wrong: empty, not a video3d checkpoint, truncated,
    damaged, checksum mismatch, or a pickle carrying arbitrary objects (code that would run).
    """
    local = local_copy(path, CheckpointError)  # a URL is fetched once into the iopath cache
    if not os.path.isfile(local):
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        checkpoint = torch.load(local, map_location=map_location, weights_only=True, mmap=mmap)
    except Exception as err:  # torch raises RuntimeError, UnpicklingError, EOFError, ... by cause
        raise CheckpointError(f"unusable checkpoint {path}: {_load_failure(local, err)}") from err
    if not isinstance(checkpoint, dict):
        raise CheckpointError(f"unusable checkpoint {path}: not a video3d checkpoint "
                              f"(holds a {type(checkpoint).__name__}, expected a dict)")
    if CHECKSUM_KEY in checkpoint:
        stored = checkpoint.pop(CHECKSUM_KEY)
        if payload_checksum(checkpoint) != stored:
            raise CheckpointError(f"unusable checkpoint {path}: checksum mismatch (the file was damaged "
                                  "after it was saved)")
    return checkpoint


def is_complete_checkpoint(path: str) -> bool:
    """True when `path` loads cleanly; tensors are memory-mapped, so this reads little."""
    try:
        load_checkpoint(path, mmap=True)
    except CheckpointError as err:
        logger.warning("skipping unusable checkpoint: %s", err)
        return False
    return True


def list_checkpoints(cfg: CfgNode) -> list[str]:
    """Epoch and rolling checkpoints in OUTPUT_DIR/checkpoints, newest write first."""
    folder = checkpoint_dir(cfg)
    paths = glob.glob(os.path.join(glob.escape(folder), "checkpoint_epoch_*.pyth"))
    last = os.path.join(folder, LAST_NAME)
    if os.path.isfile(last):
        paths.append(last)
    # mtime orders the writes of one run; the name breaks ties (last after the epoch files).
    return sorted(paths, key=lambda p: (os.path.getmtime(p), os.path.basename(p) == LAST_NAME, p), reverse=True)


def latest_checkpoint(cfg: CfgNode) -> str | None:
    """The newest complete checkpoint to resume from; incomplete ones are skipped with a warning."""
    for path in list_checkpoints(cfg):
        if is_complete_checkpoint(path):
            return path
    return None


def find_test_checkpoint(cfg: CfgNode) -> str | None:
    """TEST.CHECKPOINT_FILE_PATH, else checkpoint_best.pyth, else the newest complete one; None if none."""
    if cfg.TEST.CHECKPOINT_FILE_PATH:
        if not os.path.isfile(local_copy(cfg.TEST.CHECKPOINT_FILE_PATH, CheckpointError)):
            raise CheckpointError(f"TEST.CHECKPOINT_FILE_PATH not found: {cfg.TEST.CHECKPOINT_FILE_PATH}")
        return cfg.TEST.CHECKPOINT_FILE_PATH
    best = os.path.join(checkpoint_dir(cfg), BEST_NAME)
    if os.path.isfile(best) and is_complete_checkpoint(best):
        return best
    return latest_checkpoint(cfg)


def remove_stale_temp_files(cfg: CfgNode) -> list[str]:
    """Delete temp files left by a save that was killed before its rename."""
    pattern = os.path.join(glob.escape(checkpoint_dir(cfg)), ".tmp-*.pyth")
    stale = glob.glob(pattern)
    for path in stale:
        os.remove(path)
    return stale


def unwrap_model(model: nn.Module) -> nn.Module:
    """The module inside torch.compile (TRAIN.COMPILE) and DistributedDataParallel / DataParallel wrappers."""
    while True:
        if isinstance(model, nn.parallel.DistributedDataParallel | nn.DataParallel):
            model = model.module
        elif isinstance(getattr(model, "_orig_mod", None), nn.Module):  # torch.compile's OptimizedModule
            model = model._orig_mod
        else:
            return model


def strip_ddp_prefix(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The state dict without DDP's `module.` prefix, when every key carries it."""
    if state_dict and all(key.startswith(_DDP_PREFIX) for key in state_dict):
        return {key[len(_DDP_PREFIX):]: value for key, value in state_dict.items()}
    return dict(state_dict)


def model_state_dict(checkpoint: Mapping, path: str = "<checkpoint>") -> dict[str, torch.Tensor]:
    """The weights in a video3d checkpoint or a foreign one (`state_dict`, `model`, or bare)."""
    for key in ("model_state", "state_dict", "model"):
        if isinstance(checkpoint.get(key), Mapping):
            return strip_ddp_prefix(checkpoint[key])
    if checkpoint and all(isinstance(value, torch.Tensor) for value in checkpoint.values()):
        return strip_ddp_prefix(checkpoint)
    raise CheckpointError(f"checkpoint {path} holds no model weights (keys: {sorted(checkpoint)[:8]})")


RESUME_KEYS = ("model_state", "optimizer_state", "epoch", "iteration")


def check_resumable(checkpoint: Mapping, path: str) -> None:
    """A file auto-resume can continue from: a video3d training checkpoint. Anything else
    (a PySlowFast or PyTorchVideo file, bare weights) is one CheckpointError line."""
    absent = [key for key in RESUME_KEYS if key not in checkpoint]
    if absent:
        pyslowfast = "model_state" in checkpoint and "epoch" in checkpoint
        kind = "a PySlowFast checkpoint" if pyslowfast else "not a video3d training checkpoint"
        raise CheckpointError(
            f"auto-resume found {path}, {kind} (no {', '.join(absent)}); move it out of "
            f"{os.path.dirname(path) or '.'} and give it as TRAIN.CHECKPOINT_FILE_PATH to start from its "
            "weights, or set TRAIN.AUTO_RESUME False"
        )


def load_model_weights(model: nn.Module, path: str) -> dict:
    """Load the weights of checkpoint `path` into `model` (strict, by name; a PySlowFast or
    PyTorchVideo file is mapped to video3d's names first); return the checkpoint."""
    checkpoint = load_checkpoint(path)
    state, source = to_video3d_names(model_state_dict(checkpoint, path), path)
    if source:
        logger.info("%s: %s weights, %d tensors mapped to video3d names", path, source, len(state))
    target = unwrap_model(model)
    try:
        target.load_state_dict(state, strict=True)
    except RuntimeError as err:
        reason = " ".join(str(err).split())[:400]
        raise CheckpointError(f"checkpoint {path} does not fit the model: {reason}") from err
    return checkpoint


def capture_rng_state() -> dict:
    """Python, numpy and torch RNG states as tensors and plain values (weights_only-safe)."""
    py_version, py_internal, py_gauss = random.getstate()
    np_kind, np_keys, np_pos, np_has_gauss, np_gauss = np.random.get_state()
    state = {
        "python": {"version": py_version, "state": torch.tensor(py_internal, dtype=torch.int64),
                   "gauss_next": py_gauss},
        "numpy": {"kind": np_kind, "keys": torch.from_numpy(np_keys.astype(np.int64)), "pos": int(np_pos),
                  "has_gauss": int(np_has_gauss), "cached_gaussian": float(np_gauss)},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: Mapping) -> None:
    """Inverse of `capture_rng_state`."""
    py = state["python"]
    random.setstate((py["version"], tuple(int(v) for v in py["state"].tolist()), py["gauss_next"]))
    np_state = state["numpy"]
    np.random.set_state((np_state["kind"], np_state["keys"].numpy().astype(np.uint32), np_state["pos"],
                         np_state["has_gauss"], np_state["cached_gaussian"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        cuda_states = state["cuda"]
        if len(cuda_states) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda_states)
