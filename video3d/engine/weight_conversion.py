"""Write a PySlowFast or PyTorchVideo checkpoint as a video3d checkpoint for a config's model.

Every tensor of the source must land on a model tensor of the same shape and every model
tensor must be filled; anything else is a CheckpointError naming the tensors at fault.
"""

from __future__ import annotations

import os

from fvcore.common.config import CfgNode

from video3d.engine.checkpoint import load_checkpoint, model_state_dict, save_checkpoint
from video3d.errors import CheckpointError
from video3d.models import build_model
from video3d.models.convert import FORMATS, convert_state_dict, detect_format
from video3d.utils.logging import get_logger

logger = get_logger(__name__)


def convert_checkpoint(cfg: CfgNode, source_path: str, source_format: str, out_path: str) -> dict:
    """Map `source_path` (format "pyslowfast" / "pytorchvideo") onto `build_model(cfg)` and save a
    video3d checkpoint at `out_path` (atomic). Returns {"tensors", "params", "format"}."""
    if source_format not in FORMATS:
        raise CheckpointError(f"--from {source_format!r}: expected one of {', '.join(FORMATS)}")
    if os.path.abspath(source_path) == os.path.abspath(out_path):
        raise CheckpointError(f"output {out_path} is the input file; write the converted weights elsewhere")
    state = model_state_dict(load_checkpoint(source_path), source_path)
    found = detect_format(state)
    if found != source_format:
        raise CheckpointError(f"{source_path} does not hold {source_format} weights (names look like "
                              f"{found or 'neither pyslowfast nor pytorchvideo'}: {', '.join(list(state)[:2])})")
    converted = convert_state_dict(state, source_format, source_path)
    model = build_model(cfg)
    target = model.state_dict()
    missing = [name for name in target if name not in converted]
    unexpected = [name for name in converted if name not in target]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"{len(missing)} model tensors get no value (e.g. {', '.join(missing[:3])})")
        if unexpected:
            parts.append(f"{len(unexpected)} converted tensors match no model tensor (e.g. {', '.join(unexpected[:3])})")
        raise CheckpointError(f"{source_path} does not fit MODEL.ARCH {cfg.MODEL.ARCH} RESNET.DEPTH "
                              f"{cfg.RESNET.DEPTH}: {'; '.join(parts)}")
    for name, value in converted.items():
        if value.shape != target[name].shape:
            raise CheckpointError(f"{source_path}: {name} has shape {list(value.shape)}, the model needs "
                                  f"{list(target[name].shape)} (check MODEL.NUM_CLASSES and the config)")
    model.load_state_dict(converted, strict=True)
    save_checkpoint(out_path, {"model_state": model.state_dict(), "epoch": 0, "cfg": cfg.dump(),
                               "converted_from": {"path": os.path.abspath(source_path), "format": source_format}})
    params = sum(v.numel() for v in converted.values())
    logger.info("%s (%s): %d tensors, %s values -> %s", source_path, source_format, len(converted), f"{params:,}",
                out_path)
    return {"tensors": len(converted), "params": params, "format": source_format}
