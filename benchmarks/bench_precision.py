"""TEST.MIXED_PRECISION fp32 against auto: CPU-seconds per video of the 30-view test and of the demo.

    python benchmarks/bench_precision.py [--cfg configs/demo/synthmotion_iresnet3d_ffc.yaml] [--checkpoint CKPT]
                                         [--videos 8] [--rounds 3] [--demo-seconds 10] [--threads 1]

Both settings run in the same process, alternating round by round (fp32, auto, fp32, auto, ...),
after one warm-up pass each, so the ratios are paired and measured under the same load:
- the 30-view test: `evaluate_videos` on the first --videos videos of TEST.SPLIT (the main
  job's SynthMotion data; run the main job or data_prep once to generate it), decoding in this
  process (DATA_LOADER.NUM_WORKERS 0) so every CPU-second is counted;
- the demo: `LongVideoDemo` (as video3d-demo runs it: decode, windows, model, annotated.mp4,
  segments, timeline) on a generated SynthMotion long video of --demo-seconds.
CPU-seconds are user + system of this process (`resource.getrusage`), not wall time, because
the machine may be shared. Printed: what `auto` resolves to on this CPU and why, the median
CPU-s per video per setting, and auto / fp32 as the median of the per-round ratios. Weights are
random unless --checkpoint is given (the cost does not depend on them).
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import sys
import tempfile

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from data_prep.synthetic_long import generate_long  # noqa: E402
from video3d.config import load_config  # noqa: E402
from video3d.data import build_multiview_dataset  # noqa: E402
from video3d.data.transforms import Normalizer  # noqa: E402
from video3d.evaluation.evaluator import evaluate_videos  # noqa: E402
from video3d.inference.long_video import LongVideoDemo  # noqa: E402
from video3d.inference.runners import load_runner  # noqa: E402
from video3d.models import build_model  # noqa: E402
from video3d.utils.precision import inference_precision, with_inference_precision  # noqa: E402

SETTINGS = ("fp32", "auto")


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def with_precision(cfg, value: str):
    cfg = cfg.clone()
    cfg.defrost()
    cfg.TEST.MIXED_PRECISION = value
    cfg.DATA_LOADER.NUM_WORKERS = 0
    cfg.freeze()
    return cfg


def test_cost(model, cfg, dataset, indices) -> float:
    """CPU-seconds per video of the 30-view test of `indices`."""
    start = cpu_seconds()
    results = evaluate_videos(model, dataset, indices, cfg, torch.device("cpu"), Normalizer.from_cfg(cfg))
    if any(r.error for r in results):
        raise RuntimeError(f"a test video failed: {[r.error for r in results if r.error][:1]}")
    return (cpu_seconds() - start) / len(indices)


def demo_cost(model, cfg, video: str, out_dir: str) -> tuple[float, int]:
    """CPU-seconds of one demo run over `video`, and its window count."""
    demo = LongVideoDemo(cfg, with_inference_precision(model, cfg), None, audio=False)
    start = cpu_seconds()
    report = demo.run(video, out_dir)
    return cpu_seconds() - start, report.windows


def summary(name: str, costs: dict[str, list[float]], unit: str) -> str:
    ratios = [a / f for f, a in zip(costs["fp32"], costs["auto"], strict=True)]
    return (f"{name}: fp32 {statistics.median(costs['fp32']):.3f} {unit}, auto {statistics.median(costs['auto']):.3f} "
            f"{unit}; auto / fp32 {statistics.median(ratios):.2f}x (per round: "
            f"{', '.join(f'{r:.2f}' for r in ratios)})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cfg", default="configs/demo/synthmotion_iresnet3d_ffc.yaml")
    parser.add_argument("--checkpoint", default=None, help="weights (default: random)")
    parser.add_argument("--videos", type=int, default=8, help="test videos per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--demo-seconds", type=float, default=10.0, help="length of the demo's video")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("opts", nargs="*", help="config overrides KEY VALUE")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    base = load_config(args.cfg, args.opts)
    torch.manual_seed(0)
    model = load_runner(base, args.checkpoint) if args.checkpoint else build_model(base).eval()
    cfgs = {value: with_precision(base, value) for value in SETTINGS}
    auto = inference_precision(cfgs["auto"], torch.device("cpu"), log=False)
    print(f"{cpu_name()}; torch {torch.__version__}; {args.threads} thread(s); {auto.describe()}")
    if auto.dtype is None:
        print("auto is fp32 on this CPU: both settings run the same code, the ratio is ~1 by construction")
    dataset = build_multiview_dataset(cfgs["fp32"], split=base.TEST.SPLIT)
    indices = list(range(min(args.videos, len(dataset))))
    test_costs: dict[str, list[float]] = {value: [] for value in SETTINGS}
    demo_costs: dict[str, list[float]] = {value: [] for value in SETTINGS}
    with tempfile.TemporaryDirectory() as folder:
        video = os.path.join(folder, "long.mp4")
        generate_long(video, seconds=args.demo_seconds)
        for value in SETTINGS:  # warm-up: oneDNN builds its kernels for each dtype on first use
            test_cost(model, cfgs[value], dataset, indices[:1])
        windows = 0
        for round_index in range(args.rounds):
            for value in SETTINGS:
                test_costs[value].append(test_cost(model, cfgs[value], dataset, indices))
                cost, windows = demo_cost(model, cfgs[value], video, os.path.join(folder, f"out_{value}_{round_index}"))
                demo_costs[value].append(cost)
            print(f"round {round_index + 1}: test fp32 {test_costs['fp32'][-1]:.3f} / auto {test_costs['auto'][-1]:.3f} "
                  f"CPU-s per video; demo fp32 {demo_costs['fp32'][-1]:.2f} / auto {demo_costs['auto'][-1]:.2f} "
                  f"CPU-s per video", flush=True)
    print(summary(f"30-view test ({len(indices)} videos x {base.TEST.NUM_ENSEMBLE_VIEWS * base.TEST.NUM_SPATIAL_CROPS} "
                  "views)", test_costs, "CPU-s per video"))
    print(summary(f"demo ({args.demo_seconds:g} s SynthMotion long video, {windows} windows)", demo_costs,
                  "CPU-s per video"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
