"""Forward and forward+backward time per clip of the named 50-layer models, against
PyTorchVideo's `create_resnet` built slow_r50-style with our ResNet3D-50's kernels (5x7x7
stem, 3x3x3 in every stage, temporal stride 2 at stages 3 and 4: same 46,999,760
parameters), all at the same input, in one run.

    python benchmarks/bench_models.py [--frames 16] [--size 224] [--batch 2] [--iters 5]
                                      [--warmup 1] [--threads 2] [--models a,b,...]

Models are timed round-robin (one iteration of each in turn) so a load change on a shared
machine hits them all alike; medians, minima and the median of per-round (paired) ratios are
reported. Printed ratios (lower is faster):
resnet3d_50 / pytorchvideo (target <= 1.05), iresnet3d_50 / resnet3d_50 (target <= 1.05),
each *_ffc / its linear-head twin (target < 1.01).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
warnings.filterwarnings("ignore", message=".*torch.jit.script. is deprecated", category=FutureWarning)

from video3d.config import load_config  # noqa: E402
from video3d.models import build_model  # noqa: E402

PEER = "pytorchvideo_r50"
NAMED = ["resnet3d_50", "resnet3d_50_ffc", "iresnet3d_50", "iresnet3d_50_ffc", "hsresnet3d_50",
         "resnest3d_50"]
RATIOS = [("resnet3d_50", PEER), ("iresnet3d_50", "resnet3d_50"), ("resnet3d_50_ffc", "resnet3d_50"),
          ("iresnet3d_50_ffc", "iresnet3d_50")]


def build_peer() -> nn.Module:
    """PyTorchVideo's ResNet builder with our resnet3d_50 choices (docs/MODELS.md); its
    temporal stride sits on the 1x1x1 conv_a, ours on the 3x3x3 conv (PySlowFast puts it on
    conv_a as well). The head's fixed-size pool becomes global so any input size works."""
    from pytorchvideo.models.resnet import create_resnet

    model = create_resnet(
        input_channel=3, model_depth=50, model_num_class=400, dropout_rate=0.5,
        stem_conv_kernel_size=(5, 7, 7),
        stage_conv_a_kernel_size=((1, 1, 1),) * 4,
        stage_conv_b_kernel_size=((3, 3, 3),) * 4,
        stage_temporal_stride=(1, 1, 2, 2),
    )
    model.blocks[-1].pool = nn.AdaptiveAvgPool3d(1)
    return model


def build(name: str) -> nn.Module:
    if name == PEER:
        return build_peer()
    return build_model(load_config(f"configs/kinetics/{name}.yaml"))


def time_forward(model: nn.Module, clip: torch.Tensor) -> float:
    model.eval()
    start = time.perf_counter()
    with torch.no_grad():
        model(clip)
    return time.perf_counter() - start


def time_forward_backward(model: nn.Module, clip: torch.Tensor) -> float:
    model.train()
    model.zero_grad(set_to_none=True)
    start = time.perf_counter()
    outputs = model(clip)
    logits = outputs.mean(dim=1) if outputs.dim() == 3 else outputs
    logits.logsumexp(dim=1).sum().backward()
    return time.perf_counter() - start


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batch", type=int, default=2, help="clips per pass (ResNeSt's attention BN needs >= 2 in training)")
    parser.add_argument("--iters", type=int, default=5, help="timed iterations per model and mode")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--models", default=",".join(NAMED), help="named configs in configs/kinetics/")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    names = [PEER] + [n for n in args.models.split(",") if n]
    models = {name: build(name) for name in names}
    clip = torch.randn(args.batch, 3, args.frames, args.size, args.size)
    times: dict[str, dict[str, list[float]]] = {n: {"fwd": [], "fwd+bwd": []} for n in names}
    for iteration in range(args.warmup + args.iters):
        for name, model in models.items():
            fwd = time_forward(model, clip)
            both = time_forward_backward(model, clip)
            if iteration >= args.warmup:
                times[name]["fwd"].append(fwd / args.batch)
                times[name]["fwd+bwd"].append(both / args.batch)
    stats = {kind: {n: {mode: reduce(v) * 1e3 for mode, v in t.items()} for n, t in times.items()}
             for kind, reduce in (("median", statistics.median), ("min", min))}
    print(f"input {args.batch}x3x{args.frames}x{args.size}x{args.size}, {args.threads} threads, "
          f"{args.iters} timed iterations (+{args.warmup} warm-up), ms per clip")
    print(f"{'model':<20} {'params':>12} {'fwd median':>11} {'fwd min':>9} {'f+b median':>11} {'f+b min':>9}")
    for name, model in models.items():
        params = sum(p.numel() for p in model.parameters())
        med, low = stats["median"][name], stats["min"][name]
        print(f"{name:<20} {params:>12,} {med['fwd']:>11.1f} {low['fwd']:>9.1f} "
              f"{med['fwd+bwd']:>11.1f} {low['fwd+bwd']:>9.1f}")
    print("ratios (lower is faster): of medians, of minima, and the median of per-round ratios")
    print("(each round times every model back to back, so a paired ratio sees the same machine load)")
    for a, b in RATIOS:
        if a in times and b in times:
            parts = []
            for mode in ("fwd", "fwd+bwd"):
                paired = statistics.median(x / y for x, y in zip(times[a][mode], times[b][mode], strict=True))
                parts.append(f"{mode}: median {stats['median'][a][mode] / stats['median'][b][mode]:.3f}, "
                             f"min {stats['min'][a][mode] / stats['min'][b][mode]:.3f}, paired {paired:.3f}")
            print(f"  {a} / {b}  " + " | ".join(parts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
