"""CPU cost of the long-video demo: CPU-seconds per second of video at 320x240 and 1280x720,
with and without --gradcam.

    python benchmarks/bench_demo.py [--cfg configs/demo/synthmotion_iresnet3d_ffc.yaml] [--checkpoint CKPT]
                                    [--seconds 10] [--source tests/data/real/bikes.mp4] [--threads 1]

The source video (real camera footage by default) is scaled to each size and cut to --seconds
(its frames repeated when it is shorter), written to a temp folder, then run through
`LongVideoDemo` as video3d-demo runs it (decode, preprocess, model per window, draw, encode
annotated.mp4, segments, timeline). CPU-seconds (user + system of this process, from
`resource.getrusage`) are counted instead of wall time because the machine may be shared: the
figure is what one run costs, whatever else is running. Printed per case: CPU-s per second of
video (below 1 keeps up with real time on one core), its parts (model forward/backward, the rest),
and the Grad-CAM cost as a ratio to the plain run of the same size. Weights are random unless
--checkpoint is given (the cost does not depend on them).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from fractions import Fraction

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from video3d.config import load_config  # noqa: E402
from video3d.inference.long_video import LongVideoDemo  # noqa: E402
from video3d.inference.runners import load_runner  # noqa: E402
from video3d.models import build_model  # noqa: E402
from video3d.visualize.gradcam import window_explainer  # noqa: E402

SIZES = ((320, 240), (1280, 720))
DEFAULT_SOURCE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "data", "real",
                              "bikes.mp4")  # real camera footage (tests/data/real/README.md)


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def scaled_copy(source: str, path: str, width: int, height: int, seconds: float) -> tuple[int, float]:
    """`source` resized to width x height (stretched) and looped / cut to `seconds` as H.264."""
    import av

    with av.open(source) as container:
        stream = container.streams.video[0]
        rate = stream.average_rate or Fraction(25)  # read while the container is open
        frames = [f.reformat(width=width, height=height, format="yuv420p") for f in container.decode(stream)]
    fps = float(rate)
    count = int(round(seconds * fps))
    with av.open(path, "w", format="mp4") as out:
        video = out.add_stream("libx264", rate=rate, options={"crf": "20", "preset": "veryfast"})
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        for k in range(count):
            frame = av.VideoFrame.from_ndarray(frames[k % len(frames)].to_ndarray(), format="yuv420p")
            out.mux(video.encode(frame))
        out.mux(video.encode())
    return count, fps


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cfg", default="configs/demo/synthmotion_iresnet3d_ffc.yaml")
    parser.add_argument("--checkpoint", default=None, help="weights (default: random)")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--source", default=DEFAULT_SOURCE)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (the demo's default is 1)")
    parser.add_argument("opts", nargs="*", help="config overrides KEY VALUE")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cfg = load_config(args.cfg, args.opts)
    if args.checkpoint:
        model = load_runner(cfg, args.checkpoint)
    else:
        torch.manual_seed(0)
        model = build_model(cfg).eval()
    print(f"{cfg.MODEL.MODEL_NAME} {cfg.MODEL.HEAD} head, {cfg.DATA.NUM_FRAMES}x{cfg.DATA.SAMPLING_RATE} frames at "
          f"{cfg.DATA.TEST_CROP_SIZE} px; {args.threads} thread(s); source {os.path.basename(args.source)}, "
          f"{args.seconds:g} s per case; CPU-seconds = user + system of this process")
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for width, height in SIZES:
            video = os.path.join(folder, f"input_{width}x{height}.mp4")
            frames, fps = scaled_copy(args.source, video, width, height, args.seconds)
            duration = frames / fps
            plain = None
            for gradcam in (False, True):
                demo = LongVideoDemo(cfg, model, None, audio=False,
                                     explain=window_explainer(None, cfg.FFC.TEST_ENSEMBLE) if gradcam else None)
                cpu, wall = cpu_seconds(), time.perf_counter()
                report = demo.run(video, os.path.join(folder, f"out_{width}_{gradcam}"))
                cpu, wall = cpu_seconds() - cpu, time.perf_counter() - wall
                per_second = cpu / duration
                plain = per_second if not gradcam else plain
                rows.append((width, height, gradcam, report.windows, per_second, report.model_seconds / duration,
                             wall / duration, per_second / plain))
                print(f"{width}x{height} {'--gradcam' if gradcam else 'plain    '}: {report.frames} frames, "
                      f"{report.windows} windows; {per_second:.3f} CPU-s per video second "
                      f"(model {report.model_seconds / duration:.3f} s wall per video second, "
                      f"wall total {wall / duration:.3f}); x{per_second / plain:.2f} of plain", flush=True)
    print("\n| input | Grad-CAM | windows | CPU-s per video s | model s per video s (wall) | vs plain |")
    print("|---|---|---|---|---|---|")
    for width, height, gradcam, windows, per_second, model_s, _, ratio in rows:
        print(f"| {width}x{height} | {'yes' if gradcam else 'no'} | {windows} | {per_second:.3f} | {model_s:.3f} | "
              f"{ratio:.2f}x |")
    return 0 if np.isfinite([r[4] for r in rows]).all() else 1


if __name__ == "__main__":
    sys.exit(main())
