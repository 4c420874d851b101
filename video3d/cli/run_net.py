"""Train and/or test a video3d model (console script `video3d-train`, or tools/run_net.py).

    video3d-train --cfg configs/kinetics/iresnet3d_50.yaml [KEY VALUE ...]
    video3d-train --cfg FILE [FILE ...] --opts KEY VALUE ...    (PySlowFast style: one job per FILE, in order)
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
    non_negative_int,
    parse_config_args,
    positive_int,
)
from video3d.config import dump_config
from video3d.engine.distributed import env_rank, launch_rank
from video3d.errors import ConfigError
from video3d.known_names import load_checked_config
from video3d.launch import run_job
from video3d.utils.logging import get_logger, setup_logging

logger = get_logger(__name__)


@command
def main(argv: list[str]) -> int:
    """Load the configs, then per config (one job per --cfg file, in order, as PySlowFast's
    run_net): write OUTPUT_DIR/config.yaml, generate SynthMotion if asked, run the job."""
    parser = config_parser(__doc__, cfg_help="YAML config file(s): one job per file, in order, each with the "
                                             "overrides (combine files with _BASE_)")
    parser.add_argument("--shard_id", type=non_negative_int, help="PySlowFast: this node's index (SHARD_ID)")
    parser.add_argument("--num_shards", type=positive_int, help="PySlowFast: number of nodes (NUM_SHARDS)")
    parser.add_argument("--init_method", help="PySlowFast: tcp://HOST:PORT of node 0, for a launch without torchrun")
    args, overrides = parse_config_args(parser, argv)
    for flag, key in (("shard_id", "SHARD_ID"), ("num_shards", "NUM_SHARDS")):
        if getattr(args, flag) is not None:  # PySlowFast's parser copies them onto the config the same way
            overrides = [*overrides, key, str(getattr(args, flag))]
    setup_logging(None, env_rank())  # the config loader's warnings (PySlowFast no-op keys) reach the console
    configs = [load_checked_config([path], overrides) for path in args.cfg_files]  # every file checked first
    _check_output_dirs(args.cfg_files, configs)
    for number, (path, cfg) in enumerate(zip(args.cfg_files, configs, strict=True), start=1):
        if len(configs) > 1:
            logger.info("job %d of %d: %s (OUTPUT_DIR %s)", number, len(configs), path, cfg.OUTPUT_DIR)
        _run_one(cfg, args.init_method)
    return 0


def _check_output_dirs(paths: list[str], configs: list) -> None:
    """Two jobs writing one OUTPUT_DIR: the second would auto-resume from the first's checkpoints."""
    owner: dict[str, str] = {}
    for path, cfg in zip(paths, configs, strict=True):
        out = os.path.abspath(cfg.OUTPUT_DIR)
        if out in owner:
            raise ConfigError(f"--cfg {owner[out]} and {path} both write OUTPUT_DIR {cfg.OUTPUT_DIR} (one job per "
                              "file: the second would resume from the first); give each file its own OUTPUT_DIR")
        owner[out] = path


def _run_one(cfg, init_method: str | None) -> None:
    rank = launch_rank(cfg, init_method)
    if rank == 0:
        os.makedirs(cfg.OUTPUT_DIR, exist_ok=True)
        dump_config(cfg, cfg.OUTPUT_DIR)
    setup_logging(cfg.OUTPUT_DIR, rank)
    ensure_synthmotion(cfg, rank)
    run_job(cfg, init_method=init_method)
