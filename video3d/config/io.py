"""Write the merged config where a run can be reproduced from it."""

from __future__ import annotations

import os

from fvcore.common.config import CfgNode

from video3d.errors import DataError
from video3d.utils.io import atomic_write_text, write_failure


def dump_config(cfg: CfgNode, output_dir: str) -> str:
    """Write `cfg` to OUTPUT_DIR/config.yaml atomically; return the path. A folder that cannot
    be written (a full disk) is one line naming the file (DataError)."""
    path = os.path.join(output_dir, "config.yaml")
    try:
        atomic_write_text(path, cfg.dump())
    except OSError as error:
        raise DataError(write_failure(path, error)) from None
    return path
