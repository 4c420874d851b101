"""Compare a flow model's recipe (DATA.FLOW_*) with the manifest.json that data_prep.extract_flow
wrote next to the flow it trains or tests on, so a model whose config would compute other
flow online (DATA.FORMAT video) is flagged while its extracted flow is still at hand."""

from __future__ import annotations

import json
import os

from fvcore.common.config import CfgNode

from video3d.utils.logging import get_logger

logger = get_logger(__name__)

MANIFEST_FILE = "manifest.json"  # data_prep.pool.MANIFEST_FILE
_warned: set[str] = set()


def recipe_mismatches(cfg: CfgNode, manifest: dict) -> list[str]:
    """'KEY is X but the extraction used Y' for each DATA.FLOW_* setting the manifest contradicts."""
    data = cfg.DATA
    wanted = {
        "algorithm": ("DATA.FLOW_ALGO", data.FLOW_ALGO, "--algo"),
        "bound": ("DATA.FLOW_BOUND", float(data.FLOW_BOUND), "--bound"),
        "short_side": ("DATA.FLOW_SHORT_SIDE", int(data.FLOW_SHORT_SIDE) or None, "--short-side"),
        "size": ("DATA.FLOW_SIZE", list(data.FLOW_SIZE) or None, "--size"),
    }
    problems = []
    for field, (key, value, flag) in wanted.items():
        if field in manifest and manifest[field] != value:
            problems.append(f"{key} is {value} but the extraction used {flag} {manifest[field]}")
    if "fps" in manifest and (manifest["fps"] or None) != (float(data.FLOW_FPS) or None):
        problems.append(f"DATA.FLOW_FPS is {data.FLOW_FPS} but the extraction used --fps {manifest['fps']}")
    return problems


def check_flow_manifest(cfg: CfgNode) -> list[str]:
    """For DATA.FORMAT frames + DATA.MODALITY flow: warn once per manifest (DATA.PATH_PREFIX, else
    DATA.PATH_TO_DATA_DIR) about settings online flow would not reproduce; returns the problems."""
    if cfg.DATA.FORMAT != "frames" or cfg.DATA.MODALITY != "flow":
        return []
    for folder in (cfg.DATA.PATH_PREFIX, cfg.DATA.PATH_TO_DATA_DIR):
        path = os.path.join(folder, MANIFEST_FILE)
        if folder and os.path.isfile(path):
            break
    else:
        return []
    try:
        with open(path, encoding="utf-8") as handle:
            manifest = json.load(handle)
    except (OSError, ValueError):
        return []
    problems = recipe_mismatches(cfg, manifest) if isinstance(manifest, dict) else []
    if problems and path not in _warned:
        _warned.add(path)
        logger.warning("%s: %s; flow computed from video files with this config (DATA.FORMAT video) "
                       "would not be the flow this model reads (docs/FLOW.md)", path, "; ".join(problems))
    return problems
