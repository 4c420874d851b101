"""Generate SynthMotion once, when a run needs it and it is missing or was made differently.

`tools/run_net.py` calls `ensure_synthmotion(cfg)` before training so that the README's demo
command works on a fresh machine. Under torchrun only rank 0 generates; the others wait.
"""

from __future__ import annotations

import json
import os
import time

from fvcore.common.config import CfgNode

from data_prep.synthetic import GENERATOR_VERSION, generate
from video3d.errors import DataError
from video3d.utils.logging import get_logger

logger = get_logger(__name__)

_INFO_FILE = "synthmotion.json"


def _wanted(cfg: CfgNode) -> dict:
    node = cfg.SYNTHMOTION
    return {
        "num_train": node.NUM_TRAIN, "num_val": node.NUM_VAL, "seed": node.SEED,
        "size": node.SIZE, "frames": node.FRAMES, "num_broken": node.NUM_BROKEN,
    }


def _matches(out_dir: str, wanted: dict) -> bool:
    try:
        with open(os.path.join(out_dir, _INFO_FILE), encoding="utf-8") as handle:
            info = json.load(handle)
    except (OSError, ValueError):
        return False
    lists_present = all(os.path.isfile(os.path.join(out_dir, f"{s}.csv")) for s in ("train", "val"))
    same_generator = info.get("generator_version") == GENERATOR_VERSION
    return lists_present and same_generator and all(info.get(k) == v for k, v in wanted.items())


def ensure_synthmotion(cfg: CfgNode, rank: int = 0, timeout_s: float = 1800.0) -> bool:
    """Make DATA.PATH_TO_DATA_DIR hold SynthMotion as SYNTHMOTION.* asks; True if generated."""
    if not cfg.SYNTHMOTION.ENABLE or not (cfg.TRAIN.ENABLE or cfg.TEST.ENABLE):
        return False
    out_dir = cfg.DATA.PATH_TO_DATA_DIR
    wanted = _wanted(cfg)
    if _matches(out_dir, wanted):
        return False
    if rank != 0:
        deadline = time.monotonic() + timeout_s
        while not _matches(out_dir, wanted):
            if time.monotonic() > deadline:
                raise DataError(f"{out_dir}: rank 0 did not finish generating SynthMotion in {timeout_s:.0f} s")
            time.sleep(2.0)
        return False
    logger.info("generating SynthMotion in %s (%s)", out_dir, wanted)
    start = time.perf_counter()
    # The info file is written last, so a killed generation is redone on the next run.
    info_path = os.path.join(out_dir, _INFO_FILE)
    if os.path.exists(info_path):
        os.remove(info_path)
    generate(out_dir, workers=max(1, os.cpu_count() or 1), progress=True, **wanted)
    logger.info("SynthMotion ready in %.1f s", time.perf_counter() - start)
    return True
