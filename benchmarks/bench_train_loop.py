"""What the trainer's side jobs cost: video3d's Trainer against a bare PyTorch loop, in one run.

    python benchmarks/bench_train_loop.py [--steps 20] [--repeats 3] [--checkpoint-iters 10]

Both train the demo network (configs/demo/synthmotion_iresnet3d_ffc.yaml: iResNet-3D with the
FFC head, 8 x 56 x 56 clips, batch 8) on the same in-memory batches (no decoding, so only the
loop is measured), on the CPU with one thread:

- bare: model, SGD, soft-target cross-entropy on the mean FFC logits, backward, step;
- trainer: `video3d.engine.trainer.Trainer` with its default hooks (per-step LR schedule,
  meters, json_stats every LOG_PERIOD steps, plots and checkpoints at the epoch end) plus a
  rolling checkpoint every `--checkpoint-iters` steps (atomic write with fsync), validation off.

Runs alternate (bare, trainer, bare, ...) so load changes hit both. Printed: median seconds
per step of each over the repeats, and the trainer / bare ratio.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from video3d.config import load_config  # noqa: E402
from video3d.data.transforms import Normalizer  # noqa: E402
from video3d.engine.losses import smooth_one_hot, soft_target_cross_entropy  # noqa: E402
from video3d.engine.trainer import TrainComponents, Trainer, seed_everything  # noqa: E402
from video3d.models import build_model, load_pretrained, training_logits  # noqa: E402
from video3d.utils.logging import setup_logging  # noqa: E402

DEMO = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "configs", "demo",
                    "synthmotion_iresnet3d_ffc.yaml")


class InMemoryLoader:
    """A fixed list of batches with the DataLoader attributes the trainer reads."""

    def __init__(self, batches: list[dict]):
        self.batches, self.batch_size, self.skip = batches, len(batches[0]["label"]), 0

    def __iter__(self):
        return iter(self.batches[self.skip:])

    def __len__(self) -> int:
        return len(self.batches) - self.skip


def make_batches(steps: int, cfg) -> list[dict]:
    generator = torch.Generator().manual_seed(0)
    shape = (cfg.TRAIN.BATCH_SIZE, 3, cfg.DATA.NUM_FRAMES, cfg.DATA.TRAIN_CROP_SIZE, cfg.DATA.TRAIN_CROP_SIZE)
    # uint8 clips, as the loader gives them; both contenders normalise them.
    return [{"video": torch.randint(0, 256, shape, generator=generator, dtype=torch.uint8),
             "label": torch.randint(cfg.MODEL.NUM_CLASSES, (shape[0],), generator=generator)} for _ in range(steps)]


def run_bare(cfg, batches: list[dict]) -> float:
    seed_everything(0)
    model = build_model(cfg)
    normalize = Normalizer.from_cfg(cfg).views
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    start = time.perf_counter()
    for batch in batches:
        logits = training_logits(model(normalize(batch["video"])), cfg)
        loss = soft_target_cross_entropy(logits, smooth_one_hot(batch["label"], cfg.MODEL.NUM_CLASSES))
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    return (time.perf_counter() - start) / len(batches)


def run_trainer(cfg, batches: list[dict]) -> float:
    def set_epoch(loader, epoch, skip):
        loader.skip = skip

    components = TrainComponents(build_model, lambda *_: InMemoryLoader(batches), set_epoch, training_logits,
                                 load_pretrained)
    seed_everything(0)
    trainer = Trainer(cfg, components)
    start = time.perf_counter()
    trainer.train()
    return (time.perf_counter() - start) / len(batches)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--checkpoint-iters", type=int, default=10)
    args = parser.parse_args()
    torch.set_num_threads(1)
    setup_logging(None, rank=1)  # errors only: the trainer's log lines are not what is measured
    bare, ours = [], []
    with tempfile.TemporaryDirectory() as workdir:
        for repeat in range(args.repeats):
            cfg = load_config(DEMO, ["SYNTHMOTION.ENABLE", "False", "SOLVER.MAX_EPOCH", "1", "TRAIN.EVAL_PERIOD", "0",
                                     "TRAIN.AUTO_RESUME", "False", "TRAIN.CHECKPOINT_ITERS", str(args.checkpoint_iters),
                                     "OUTPUT_DIR", os.path.join(workdir, f"run{repeat}")])
            batches = make_batches(args.steps, cfg)
            bare.append(run_bare(cfg, batches))
            ours.append(run_trainer(cfg, batches))
    bare_median, ours_median = statistics.median(bare), statistics.median(ours)
    print(f"steps per run {args.steps}, repeats {args.repeats}, rolling checkpoint every {args.checkpoint_iters} steps")
    print(f"bare loop      median {bare_median * 1000:8.1f} ms/step  (runs: {', '.join(f'{t * 1000:.1f}' for t in bare)})")
    print(f"video3d Trainer median {ours_median * 1000:8.1f} ms/step  (runs: {', '.join(f'{t * 1000:.1f}' for t in ours)})")
    print(f"trainer / bare ratio {ours_median / bare_median:.3f}")


if __name__ == "__main__":
    main()
