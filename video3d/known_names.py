"""Is every config value that selects a builder a name its table knows?

The builder tables (`video3d.choices.Choices`) live beside the code they build, in every layer:
models, data, engine, evaluation. Checking a loaded config against all of them needs all those
layers, so the check sits here, above them, and the command-line tools call it right after
loading (video3d/cli/base.py); the config package below checks values only. A builder looks
its name up in the same table, so code that skips this check still gets the same one-line error,
just later.
"""

from __future__ import annotations

from fvcore.common.config import CfgNode

from video3d.choices import Choices
from video3d.config import load_config
from video3d.config.keys import get_value
from video3d.data.datasets import DATASETS
from video3d.data.sources import DECODERS, FORMATS, FRAME_FOLDERS
from video3d.engine.optim import LR_POLICIES, LR_SCALINGS, OPTIMIZERS
from video3d.errors import ConfigError
from video3d.evaluation.scoring import FFC_TEST_RULES, VIEW_ENSEMBLES
from video3d.models.build import ARCHS
from video3d.models.choices import BLOCKS, HEADS, LAYOUTS, SHORTCUTS, STEMS
from video3d.models.heads import FFC_TRAIN_ENSEMBLES
from video3d.models.inflate import INFLATE_METHODS


def builder_tables() -> list[tuple[str, Choices]]:
    """(config key, its name -> builder table) for every key that selects a builder."""
    tables = [ARCHS, FRAME_FOLDERS, FORMATS, DECODERS, VIEW_ENSEMBLES, DATASETS, INFLATE_METHODS, LR_POLICIES,
              OPTIMIZERS, LR_SCALINGS, HEADS, STEMS, LAYOUTS, SHORTCUTS, BLOCKS, FFC_TRAIN_ENSEMBLES,
              FFC_TEST_RULES]
    return [(table.key, table) for table in tables] + [("TEST.DATASET", DATASETS)]


def check_known_names(cfg: CfgNode) -> CfgNode:
    """ConfigError naming the first key whose value no builder table knows. Returns cfg."""
    for key, table in builder_tables():
        value = get_value(cfg, key)
        if value not in table:
            raise ConfigError(table.error(value, key))
    return cfg


def load_checked_config(cfg_files, opts=()) -> CfgNode:
    """`load_config` plus the known-name check: what every command-line tool loads."""
    return check_known_names(load_config(cfg_files, opts))
