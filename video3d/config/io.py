"""Write the merged config where a run can be reproduced from it."""

from __future__ import annotations

import os

from fvcore.common.config import CfgNode

from video3d.utils.io import atomic_write_text


def dump_config(cfg: CfgNode, output_dir: str) -> str:
    """Write `cfg` to OUTPUT_DIR/config.yaml atomically; return the path."""
    path = os.path.join(output_dir, "config.yaml")
    atomic_write_text(path, cfg.dump())
    return path
