"""Forward and forward+backward time per clip of the named 50-layer models, against
PyTorchVideo's `create_resnet` built slow_r50-style with our ResNet3D-50's kernels (5x7x7
stem, 3x3x3 in every stage, temporal stride 2 at stages 3 and 4: same 46,999,760
parameters), all at the same input, in one run.

    python benchmarks/bench_models.py [--frames 16] [--size 224] [--batch 2] [--iters 5]
                                      [--warmup 1] [--threads 2] [--models a,b,...]
                                      [--settings eager,cl,compile,compile+cl]
                                      [--tuned resnet3d_50,iresnet3d_50] [--peer-settings eager]
                                      [--compile-mode default]

`--settings` adds speed settings of the tuned models (each a '+'-joined subset of `cl`
= TRAIN.CHANNELS_LAST, `compile` = TRAIN.COMPILE with --compile-mode, `bf16` =
TRAIN.MIXED_PRECISION on the CPU: the trainer's autocast to bfloat16); the other models run eager, the peer under
--peer-settings (default eager). Compilation
happens in the warm-up round; its cost is printed separately (first call minus the median
step). Models are timed round-robin (one iteration of each in turn) so a load change on a
shared machine hits them all alike; medians, minima and the median of per-round (paired)
ratios are reported. Printed ratios (lower is faster):
resnet3d_50 / pytorchvideo (target <= 1.05; <= 0.8 with the best setting), iresnet3d_50 /
resnet3d_50 (target <= 1.05, also per setting), each *_ffc / its linear-head twin (target < 1.01).
"""

from __future__ import annotations

import argparse
import contextlib
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
SETTING_PARTS = ("cl", "compile", "bf16")


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


def parse_setting(setting: str) -> frozenset[str]:
    """'eager' -> {}; 'compile+cl' -> {'compile', 'cl'}; unknown parts raise ValueError."""
    parts = frozenset(p for p in setting.split("+") if p and p != "eager")
    unknown = parts - set(SETTING_PARTS)
    if unknown:
        raise ValueError(f"--settings: unknown part(s) {', '.join(sorted(unknown))}; expected eager or a '+'-joined "
                         f"subset of {', '.join(SETTING_PARTS)}")
    return parts


def contender_name(model: str, setting: frozenset[str]) -> str:
    return model + "".join(f"+{part}" for part in SETTING_PARTS if part in setting)


class Contender:
    """One model under one setting: the module to call, the input layout, the autocast."""

    def __init__(self, name: str, model: nn.Module, setting: frozenset[str], compile_mode: str):
        self.name, self.model, self.setting = name, model, setting
        if "cl" in setting:
            model.to(memory_format=torch.channels_last_3d)
        self.call = model
        if "compile" in setting:
            self.call = torch.compile(model, mode=None if compile_mode == "default" else compile_mode)

    def prepare(self, clip: torch.Tensor) -> torch.Tensor:
        return clip.contiguous(memory_format=torch.channels_last_3d) if "cl" in self.setting else clip

    def autocast(self) -> contextlib.AbstractContextManager:
        return torch.autocast("cpu", dtype=torch.bfloat16) if "bf16" in self.setting else contextlib.nullcontext()


def time_forward(contender: Contender, clip: torch.Tensor) -> float:
    contender.model.eval()
    start = time.perf_counter()
    with torch.no_grad(), contender.autocast():
        contender.call(clip)
    return time.perf_counter() - start


def time_forward_backward(contender: Contender, clip: torch.Tensor) -> float:
    contender.model.train()
    contender.model.zero_grad(set_to_none=True)
    start = time.perf_counter()
    with contender.autocast():
        outputs = contender.call(clip)
        logits = outputs.mean(dim=1) if outputs.dim() == 3 else outputs
        loss = logits.float().logsumexp(dim=1).sum()
    loss.backward()
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
    parser.add_argument("--settings", default="eager", help="speed settings of the --tuned models, comma-separated")
    parser.add_argument("--tuned", default="resnet3d_50,iresnet3d_50", help="models timed under every --settings entry")
    parser.add_argument("--peer-settings", default="eager", help="speed settings of the pytorchvideo peer")
    parser.add_argument("--compile-mode", default="default", help="torch.compile mode of the 'compile' settings")
    return parser.parse_args(argv)


def build_contenders(args: argparse.Namespace) -> list[Contender]:
    settings = [parse_setting(s) for s in args.settings.split(",") if s]
    names = [PEER] + [n for n in args.models.split(",") if n]
    tuned = {n for n in args.tuned.split(",") if n}
    contenders = []
    peer_settings = [parse_setting(s) for s in args.peer_settings.split(",") if s]
    for name in names:
        choices = peer_settings if name == PEER else settings if name in tuned else [frozenset()]
        for setting in choices:
            contenders.append(Contender(contender_name(name, setting), build(name), setting, args.compile_mode))
    return contenders


def paired_ratio(a: list[float], b: list[float]) -> float:
    return statistics.median(x / y for x, y in zip(a, b, strict=True))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    contenders = build_contenders(args)
    clip = torch.randn(args.batch, 3, args.frames, args.size, args.size)
    times: dict[str, dict[str, list[float]]] = {c.name: {"fwd": [], "fwd+bwd": []} for c in contenders}
    first: dict[str, dict[str, float]] = {c.name: {} for c in contenders}
    for iteration in range(args.warmup + args.iters):
        print(f"round {iteration + 1}/{args.warmup + args.iters}", file=sys.stderr, flush=True)
        for contender in contenders:
            x = contender.prepare(clip)
            fwd = time_forward(contender, x)
            both = time_forward_backward(contender, x)
            if iteration == 0:
                first[contender.name] = {"fwd": fwd, "fwd+bwd": both}
            if iteration >= args.warmup:
                times[contender.name]["fwd"].append(fwd / args.batch)
                times[contender.name]["fwd+bwd"].append(both / args.batch)
    stats = {kind: {n: {mode: reduce(v) * 1e3 for mode, v in t.items()} for n, t in times.items()}
             for kind, reduce in (("median", statistics.median), ("min", min))}
    print(f"input {args.batch}x3x{args.frames}x{args.size}x{args.size}, {args.threads} threads, "
          f"{args.iters} timed iterations (+{args.warmup} warm-up), ms per clip; torch {torch.__version__}")
    print(f"{'model':<28} {'params':>12} {'fwd median':>11} {'fwd min':>9} {'f+b median':>11} {'f+b min':>9}")
    for contender in contenders:
        name = contender.name
        params = sum(p.numel() for p in contender.model.parameters())
        med, low = stats["median"][name], stats["min"][name]
        print(f"{name:<28} {params:>12,} {med['fwd']:>11.1f} {low['fwd']:>9.1f} "
              f"{med['fwd+bwd']:>11.1f} {low['fwd+bwd']:>9.1f}")
    compiled = [c for c in contenders if "compile" in c.setting]
    if compiled:
        print("compile time (first call minus the median step, seconds; eval and train graphs compile separately):")
        for contender in compiled:
            name = contender.name
            parts = [f"{mode} {first[name][mode] - stats['median'][name][mode] * args.batch / 1e3:.1f}"
                     for mode in ("fwd", "fwd+bwd")]
            print(f"  {name:<28} " + ", ".join(parts))
    print("ratios (lower is faster): of medians, of minima, and the median of per-round ratios")
    print("(each round times every contender back to back, so a paired ratio sees the same machine load)")
    for a, b in ratio_pairs(contenders):
        parts = []
        for mode in ("fwd", "fwd+bwd"):
            parts.append(f"{mode}: median {stats['median'][a][mode] / stats['median'][b][mode]:.3f}, "
                         f"min {stats['min'][a][mode] / stats['min'][b][mode]:.3f}, "
                         f"paired {paired_ratio(times[a][mode], times[b][mode]):.3f}")
        print(f"  {a} / {b}  " + " | ".join(parts))
    resnets = [c.name for c in contenders if c.name.split("+")[0] == "resnet3d_50"]
    if len(resnets) > 1:
        best = min(resnets, key=lambda n: paired_ratio(times[n]["fwd+bwd"], times[PEER]["fwd+bwd"]))
        print(f"best resnet3d_50 setting for fwd+bwd: {best}, paired {paired_ratio(times[best]['fwd+bwd'], times[PEER]['fwd+bwd']):.3f}"
              f" x {PEER} (target <= 0.8)")
    return 0


def ratio_pairs(contenders: list[Contender]) -> list[tuple[str, str]]:
    """(a, b) pairs to print: the fixed RATIOS, every setting of resnet3d_50 against the peer,
    and iresnet3d_50 against resnet3d_50 under the same setting."""
    names = {c.name for c in contenders}
    pairs = [(a, b) for a, b in RATIOS if a in names and b in names]
    for contender in contenders:
        if not contender.setting:
            continue
        suffix = contender.name[len(contender.name.split("+")[0]):]
        if contender.name.startswith("resnet3d_50+"):
            pairs.append((contender.name, PEER))
            if PEER + suffix in names:
                pairs.append((contender.name, PEER + suffix))
        if contender.name.startswith("iresnet3d_50+") and "resnet3d_50" + suffix in names:
            pairs.append((contender.name, "resnet3d_50" + suffix))
    return pairs


if __name__ == "__main__":
    sys.exit(main())
