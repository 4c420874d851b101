"""Train and/or test a video3d model.

    python tools/run_net.py --cfg configs/kinetics/iresnet3d_50.yaml [KEY VALUE ...]
    python tools/run_net.py --cfg FILE --opts KEY VALUE ...        (PySlowFast style)
    torchrun --nproc_per_node 8 tools/run_net.py --cfg FILE ...    (multi-GPU / multi-node)
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from data_prep.ensure_synthetic import ensure_synthmotion  # noqa: E402
from video3d.config import dump_config, load_config  # noqa: E402
from video3d.engine.launch import env_rank, run_job  # noqa: E402
from video3d.errors import Video3DError  # noqa: E402
from video3d.utils.logging import setup_logging  # noqa: E402


def parse_args(argv: list[str]) -> argparse.Namespace:
    """`--cfg FILE` plus overrides given bare (`KEY VALUE`) or after `--opts`, or both."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cfg", dest="cfg_file", required=True, help="YAML config file")
    parser.add_argument("--opts", action="store_true", help="marks the start of KEY VALUE overrides")
    args, rest = parser.parse_known_args(argv)
    unknown = [tok for tok in rest if tok.startswith("--")]
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    args.overrides = rest
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        cfg = load_config(args.cfg_file, args.overrides)
        rank = env_rank()
        if rank == 0:
            os.makedirs(cfg.OUTPUT_DIR, exist_ok=True)
            dump_config(cfg, cfg.OUTPUT_DIR)
        setup_logging(cfg.OUTPUT_DIR, rank)
        ensure_synthmotion(cfg, rank)
        run_job(cfg)
    except Video3DError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
