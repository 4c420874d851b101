"""Run a toy training job in its own process (for the resume and gloo tests).

    python engine_toy_run.py OUTPUT_DIR [--kill-after-step N] [--demo-data DIR] [KEY VALUE ...]

`--demo-data DIR` trains the demo config on the real builders with SynthMotion in DIR instead
of the toy model and clips.

`--kill-after-step N` sends SIGKILL to this process right after optimiser step N (after the
step's checkpoint, if one is due): no clean-up runs, as with a crash or a pre-empted job.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from engine_toys import DEMO, demo_opts, toy_cfg, toy_components  # noqa: E402

from video3d.config import load_config  # noqa: E402
from video3d.engine.distributed import env_rank  # noqa: E402
from video3d.engine.hooks import Hook, default_hooks  # noqa: E402
from video3d.engine.trainer import Trainer, seed_everything  # noqa: E402
from video3d.launch import run_job  # noqa: E402
from video3d.utils.logging import setup_logging  # noqa: E402


class KillAfterStep(Hook):
    def __init__(self, step: int):
        self.step = step

    def after_step(self, trainer) -> None:
        if trainer.state.global_step == self.step:
            os.kill(os.getpid(), signal.SIGKILL)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("output_dir")
    parser.add_argument("--kill-after-step", type=int, default=0)
    parser.add_argument("--demo-data", default="")
    args, overrides = parser.parse_known_args()
    torch.set_num_threads(1)  # same reduction order in every run: bitwise-comparable weights
    if args.demo_data:
        cfg, components = load_config(DEMO, [*demo_opts(args.demo_data, args.output_dir), *overrides]), None
    else:
        cfg, components = toy_cfg(args.output_dir, *overrides), toy_components()
    setup_logging(cfg.OUTPUT_DIR, env_rank())
    if args.kill_after_step:
        seed_everything(cfg.RNG_SEED, 0)  # as run_job does for a single process
        Trainer(cfg, components, hooks=[*default_hooks(cfg), KillAfterStep(args.kill_after_step)]).train()
    else:
        run_job(cfg, components)


if __name__ == "__main__":
    main()
