"""Train and/or test a video3d model (console script `video3d-train`, or tools/run_net.py).

    video3d-train --cfg configs/kinetics/iresnet3d_50.yaml [KEY VALUE ...]
    video3d-train --cfg FILE [FILE ...] --opts KEY VALUE ...              (PySlowFast style)
    torchrun --nproc_per_node 8 tools/run_net.py --cfg FILE ...           (multi-GPU / multi-node)
    video3d-train --cfg FILE --init_method tcp://HOST:PORT --num_shards N --shard_id S NUM_GPUS 1
                                          (PySlowFast's multi-node flags: one process per node)
"""

from __future__ import annotations

import os

from data_prep.ensure_synthetic import ensure_synthmotion
from video3d.cli.base import (
    command,
    config_parser,
    load_cfg,
    non_negative_int,
    parse_config_args,
    positive_int,
)
from video3d.config import dump_config
from video3d.engine.distributed import env_rank, launch_rank
from video3d.engine.launch import run_job
from video3d.utils.logging import setup_logging


@command
def main(argv: list[str]) -> int:
    """Load the config, write OUTPUT_DIR/config.yaml, generate SynthMotion if asked, run the jobs."""
    parser = config_parser(__doc__)
    parser.add_argument("--shard_id", type=non_negative_int, help="PySlowFast: this node's index (SHARD_ID)")
    parser.add_argument("--num_shards", type=positive_int, help="PySlowFast: number of nodes (NUM_SHARDS)")
    parser.add_argument("--init_method", help="PySlowFast: tcp://HOST:PORT of node 0, for a launch without torchrun")
    args, overrides = parse_config_args(parser, argv)
    for flag, key in (("shard_id", "SHARD_ID"), ("num_shards", "NUM_SHARDS")):
        if getattr(args, flag) is not None:  # PySlowFast's parser copies them onto the config the same way
            overrides = [*overrides, key, str(getattr(args, flag))]
    rank = env_rank()
    setup_logging(None, rank)  # the config loader's warnings (PySlowFast no-op keys) reach the console
    cfg = load_cfg(args, overrides)
    rank = launch_rank(cfg, args.init_method)
    if rank == 0:
        os.makedirs(cfg.OUTPUT_DIR, exist_ok=True)
        dump_config(cfg, cfg.OUTPUT_DIR)
    setup_logging(cfg.OUTPUT_DIR, rank)
    ensure_synthmotion(cfg, rank)
    run_job(cfg, init_method=args.init_method)
    return 0
