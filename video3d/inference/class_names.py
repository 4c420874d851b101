"""Class names that travel with the model.

Training stores the names in every checkpoint (`class_names`, from DATA.CLASS_NAMES_FILE or
the dataset's own label files); video3d-export copies them into the file's `video3d.json`
note. predict, demo and visualize take DATA.CLASS_NAMES_FILE when it is given and the names
stored with the model when it is not, so a model run from another folder still says "grow"
rather than "6". A DATA.CLASS_NAMES_FILE that is set but missing (the configs' relative path
read from another folder is the usual cause) falls back to the stored names with a warning,
and is an error when the model has none: never class numbers with only a warning.
"""

from __future__ import annotations

import logging
import os

from fvcore.common.config import CfgNode
from torch import nn

from video3d.engine.checkpoint import load_checkpoint
from video3d.errors import DataError
from video3d.evaluation.results import load_class_names
from video3d.utils.paths import is_file

logger = logging.getLogger(__name__)

CHECKPOINT_KEY = "class_names"  # in a checkpoint dict and in an export note


def valid_names(names, num_classes: int | None = None) -> list[str] | None:
    """`names` as a list of strings when it is one (of `num_classes` entries), else None."""
    if not isinstance(names, list | tuple) or not names or not all(isinstance(n, str) for n in names):
        return None
    if num_classes is not None and len(names) != num_classes:
        return None
    return list(names)


def stored_class_names(model: nn.Module, path: str) -> list[str] | None:
    """The names stored with the model of `path`: an exported file's note (`model.note`, as
    loaded by its runner), else the checkpoint's `class_names`; None when there are none."""
    note = getattr(model, "note", None)
    if isinstance(note, dict):
        return valid_names(note.get(CHECKPOINT_KEY))
    if not path or not is_file(path):  # a URL: the copy fetched for the model
        return None
    return valid_names(load_checkpoint(path, mmap=True).get(CHECKPOINT_KEY))


def resolve_class_names(cfg: CfgNode, stored: list[str] | None) -> list[str] | None:
    """DATA.CLASS_NAMES_FILE when set, else the `stored` names when they fit MODEL.NUM_CLASSES,
    else None (class numbers are shown). A set but missing file gives the stored names with a
    warning, or a `DataError` when there are none."""
    path = cfg.DATA.CLASS_NAMES_FILE
    stored = valid_names(stored, int(cfg.MODEL.NUM_CLASSES))
    if not path:
        return stored
    if not is_file(path):
        where = "" if os.path.isabs(path) or "://" in path else f" (relative to the current folder {os.getcwd()})"
        if stored:
            logger.warning("DATA.CLASS_NAMES_FILE %s not found%s; using the %d class names stored with the model",
                           path, where, len(stored))
            return stored
        raise DataError(f"DATA.CLASS_NAMES_FILE {path} not found{where} and the model stores no class names; give "
                        "the file's full path, or DATA.CLASS_NAMES_FILE '' to show class numbers")
    names = load_class_names(path, int(cfg.MODEL.NUM_CLASSES))
    if names and stored and names != stored:
        logger.warning("DATA.CLASS_NAMES_FILE %s differs from the class names stored with the model; using the file",
                       path)
    return names if names is not None else stored


def model_class_names(cfg: CfgNode, model: nn.Module, path: str) -> list[str] | None:
    """`resolve_class_names` with the names stored with `model` (loaded from `path`)."""
    return resolve_class_names(cfg, stored_class_names(model, path))
