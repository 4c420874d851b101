"""Every YAML under configs/ loads, passes the checks, and writes to its own OUTPUT_DIR."""

import collections
import functools
import pathlib

import pytest

from video3d.config import load_config

CONFIGS = sorted((pathlib.Path(__file__).resolve().parents[2] / "configs").rglob("*.yaml"))
RUNNABLE = [path for path in CONFIGS if not path.name.startswith("_")]
_load = functools.cache(lambda path: load_config(str(path)))  # each file parsed once per session


def test_configs_are_found():
    assert len(RUNNABLE) >= 30


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_config_loads_and_passes_checks(path):
    cfg = _load(path)
    assert cfg.MODEL.NUM_CLASSES > 0


def test_runnable_configs_do_not_share_an_output_dir():
    # Two configs with one OUTPUT_DIR would auto-resume from each other's checkpoints.
    owners = collections.defaultdict(list)
    for path in RUNNABLE:
        owners[_load(path).OUTPUT_DIR].append(path.name)
    shared = {out: names for out, names in owners.items() if len(names) > 1}
    assert not shared
