"""Training-step time of one config's model under the speed settings, against float32 eager,
in one run: forward + backward of a batch of the config's training clip shape.

    python benchmarks/bench_step_settings.py [--cfg configs/demo/synthmotion_iresnet3d_ffc.yaml]
        [--settings cl,bf16,cl+bf16] [--rounds 12] [--warmup 2] [--threads 1] [--batch B]

Settings are '+'-joined parts: `cl` = TRAIN.CHANNELS_LAST, `bf16` = TRAIN.MIXED_PRECISION on
the CPU (autocast to bfloat16, as the trainer does). The contenders start from the same
weights and are timed round-robin (one step of each in turn), so a load change on a shared
machine hits them all alike; the figure to read is the median of per-round ratios against
float32 eager (lower is faster). The data loader is not timed: see bench_train_loop.py.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import time

import torch

from video3d.config import load_config
from video3d.models import build_model

PARTS = ("cl", "bf16")


def parse_setting(text: str) -> frozenset[str]:
    parts = frozenset(p for p in text.split("+") if p and p != "fp32")
    unknown = parts - set(PARTS)
    if unknown:
        raise SystemExit(f"--settings: unknown part(s) {', '.join(sorted(unknown))}; expected '+'-joined {', '.join(PARTS)}")
    return parts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cfg", default="configs/demo/synthmotion_iresnet3d_ffc.yaml")
    parser.add_argument("--settings", default="cl,bf16,cl+bf16")
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch", type=int, default=0, help="clips per step (0 = TRAIN.BATCH_SIZE)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cfg = load_config(args.cfg, [])
    batch = args.batch or cfg.TRAIN.BATCH_SIZE
    shape = (batch, len(cfg.DATA.MEAN) if cfg.DATA.MODALITY == "rgb" else 2, cfg.DATA.NUM_FRAMES,
             cfg.DATA.TRAIN_CROP_SIZE, cfg.DATA.TRAIN_CROP_SIZE)
    settings = [frozenset()] + [parse_setting(s) for s in args.settings.split(",") if s]
    torch.manual_seed(0)
    reference = build_model(cfg)
    models = []
    for setting in settings:
        model = build_model(cfg)
        model.load_state_dict(reference.state_dict())
        model.train()
        if "cl" in setting:
            model.to(memory_format=torch.channels_last_3d)
        models.append(model)
    clip = torch.randn(shape)
    times: list[list[float]] = [[] for _ in settings]
    for _ in range(args.warmup + args.rounds):
        for index, (setting, model) in enumerate(zip(settings, models, strict=True)):
            x = clip.contiguous(memory_format=torch.channels_last_3d) if "cl" in setting else clip
            cast = torch.autocast("cpu", dtype=torch.bfloat16) if "bf16" in setting else contextlib.nullcontext()
            start = time.perf_counter()
            with cast:
                logits = model(x)
            logits.float().logsumexp(-1).sum().backward()
            model.zero_grad(set_to_none=True)
            times[index].append(time.perf_counter() - start)
    print(f"{args.cfg}: batch {'x'.join(map(str, shape))}, {args.threads} thread(s), {args.rounds} rounds "
          f"(+{args.warmup} warm-up), forward+backward ms per step")
    base = times[0][args.warmup:]
    for setting, series in zip(settings, times, strict=True):
        timed = series[args.warmup:]
        paired = statistics.median(a / b for a, b in zip(timed, base, strict=True))
        name = "+".join(p for p in PARTS if p in setting) or "fp32 eager"
        print(f"  {name:12s} median {1000 * statistics.median(timed):8.1f}  paired vs fp32 eager {paired:.3f}")


if __name__ == "__main__":
    main()
