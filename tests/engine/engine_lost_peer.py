"""A 2-process gloo job started by hand (RANK / WORLD_SIZE, no torchrun) whose rank 1 dies at
its first training step; rank 0 must end with one line. Run by test_distributed.py."""

from __future__ import annotations

import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from engine_toys import toy_cfg, toy_components  # noqa: E402

from video3d.cli.base import command  # noqa: E402
from video3d.engine.trainer import Trainer  # noqa: E402
from video3d.launch import run_job  # noqa: E402


@command
def main(argv: list[str]) -> int:
    torch.set_num_threads(1)
    if os.environ["RANK"] == "1":
        Trainer.run_step = lambda self, batch: os._exit(1)  # a crash, with no clean-up
    run_job(toy_cfg(argv[0], "TRAIN.BATCH_SIZE", "8", "SOLVER.BASE_BATCH_SIZE", "8"), toy_components())
    return 0


if __name__ == "__main__":
    sys.exit(main())
