"""Exported models against eager PyTorch on the CPU: time per clip, and the long-video demo's
seconds per window.

    python benchmarks/bench_export.py [--cfg configs/kinetics/iresnet3d_50.yaml] [--frames 8] [--size 224]
                                      [--batch 1] [--repeats 5] [--threads N]

Random weights (timing does not depend on them). One run: the model is exported to ONNX and
TorchScript in a temp folder (each checked against eager on export), then eager PyTorch,
onnxruntime (CPU provider) and TorchScript take turns on the same clip; printed are the median
seconds per clip of each and the ratios to eager (below 1: faster than eager).
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
from video3d.inference.export import export_model  # noqa: E402
from video3d.inference.runners import OnnxRunner, TorchScriptRunner  # noqa: E402
from video3d.models import build_model  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cfg", default="configs/kinetics/iresnet3d_50.yaml")
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=0, help="torch / onnxruntime threads (0: torch's default)")
    parser.add_argument("opts", nargs="*", help="config overrides KEY VALUE")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = load_config(args.cfg, ["DATA.NUM_FRAMES", str(args.frames), "DATA.TEST_CROP_SIZE", str(args.size), *args.opts])
    torch.manual_seed(0)
    model = build_model(cfg).eval()
    clip = torch.randn(args.batch, cfg.DATA.INPUT_CHANNEL_NUM[0], args.frames, args.size, args.size)
    with tempfile.TemporaryDirectory() as tmp:
        runners = {"eager": model}
        for fmt, name in (("onnx", "m.onnx"), ("torchscript", "m.pt")):
            start = time.perf_counter()
            check = export_model(model, cfg, fmt, os.path.join(tmp, name))
            print(f"{fmt}: exported and checked in {time.perf_counter() - start:.1f} s, "
                  f"max relative difference {check.relative_error:.1e}")
        runners["onnxruntime"] = OnnxRunner(os.path.join(tmp, "m.onnx"), threads=torch.get_num_threads())
        runners["torchscript"] = TorchScriptRunner(os.path.join(tmp, "m.pt"))
        times: dict[str, list[float]] = {name: [] for name in runners}
        with torch.inference_mode():
            for runner in runners.values():
                runner(clip)  # warm-up
            for _ in range(args.repeats):
                for name, runner in runners.items():  # interleaved, so load changes hit all alike
                    start = time.perf_counter()
                    runner(clip)
                    times[name].append((time.perf_counter() - start) / args.batch)
    eager = statistics.median(times["eager"])
    print(f"{os.path.basename(args.cfg)} {args.frames}x{args.size}, batch {args.batch}, "
          f"{torch.get_num_threads()} threads, median of {args.repeats}:")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"  {name:<12} {median:.3f} s per clip  ({median / eager:.2f}x eager)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
