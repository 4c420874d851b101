"""Train and/or test a video3d model (console script `video3d-train`, or tools/run_net.py).

    video3d-train --cfg configs/kinetics/iresnet3d_50.yaml [KEY VALUE ...]
    video3d-train --cfg FILE [FILE ...] --opts KEY VALUE ...              (PySlowFast style)
    torchrun --nproc_per_node 8 tools/run_net.py --cfg FILE ...           (multi-GPU / multi-node)
"""

from __future__ import annotations

import os

from data_prep.ensure_synthetic import ensure_synthmotion
from video3d.cli.base import command, config_parser, load_cfg, parse_config_args
from video3d.config import dump_config
from video3d.engine.distributed import env_rank
from video3d.engine.launch import run_job
from video3d.utils.logging import setup_logging


@command
def main(argv: list[str]) -> int:
    """Load the config, write OUTPUT_DIR/config.yaml, generate SynthMotion if asked, run the jobs."""
    args, overrides = parse_config_args(config_parser(__doc__), argv)
    rank = env_rank()
    setup_logging(None, rank)  # the config loader's warnings (PySlowFast no-op keys) reach the console
    cfg = load_cfg(args, overrides)
    if rank == 0:
        os.makedirs(cfg.OUTPUT_DIR, exist_ok=True)
        dump_config(cfg, cfg.OUTPUT_DIR)
    setup_logging(cfg.OUTPUT_DIR, rank)
    ensure_synthmotion(cfg, rank)
    run_job(cfg)
    return 0
