"""Run the jobs a config asks for: train if TRAIN.ENABLE, then test if TEST.ENABLE."""

from __future__ import annotations

import os

from fvcore.common.config import CfgNode

from video3d.utils.logging import get_logger

logger = get_logger(__name__)


def env_rank() -> int:
    """Global rank from torchrun (RANK) or SLURM (SLURM_PROCID); 0 for a single process."""
    for key in ("RANK", "SLURM_PROCID"):
        if key in os.environ:
            return int(os.environ[key])
    return 0


def run_job(cfg: CfgNode) -> None:
    if cfg.TRAIN.ENABLE:
        logger.info("training: the training engine is not built yet (issue 6); skipping")
    if cfg.TEST.ENABLE:
        logger.info("testing: the multi-view evaluator is not built yet (issue 7); skipping")
