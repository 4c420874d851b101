"""Run a trained model over a whole video (console script `video3d-demo`, or tools/demo.py).

    video3d-demo --cfg FILE --checkpoint CKPT INPUT [--out DIR] [--stride S] [--topk K] [--realtime]
                 [--threads N] [--no-audio] [--gradcam [--layer L]] [KEY VALUE ...] [-- INPUT]

The model's clip window (DATA.NUM_FRAMES x DATA.SAMPLING_RATE frames) slides over the input
every S frames (default half a window); the input is decoded once and only one window of frames
is kept. INPUT is a file or anything PyAV opens (a camera device, an rtsp/http url). CKPT is a
checkpoint (.pyth), an ONNX file (.onnx, run on onnxruntime) or a TorchScript file, both from
video3d-export. DIR (default demo_output) receives:

  annotated.mp4   the input at its size, each frame at its own time (variable frame rates are
                  kept) with the top-K classes of the nearest window (FFC models: the vote and
                  its number of votes first), and the input's sound (copied where mp4 allows,
                  else re-encoded to AAC; --no-audio leaves it out)
  windows.jsonl   one line per window: start/end frame and time, top-K classes and scores
                  (FFC: the vote), and with --realtime its latency in seconds
  segments.csv    consecutive windows with the same label merged: start, end (seconds), label,
  segments.json   mean_score (of that label over the merged windows), class, windows
  timeline.png    the segments and the top classes' scores over time, m:ss axis, several rows
                  past three minutes

Class names: DATA.CLASS_NAMES_FILE when given, else the names stored in the checkpoint or the
exported file. --gradcam draws each window's Grad-CAM of its predicted class (at module L,
default the last stage) over the frames; it needs the .pyth checkpoint and costs a backward
pass per window. A progress bar (frames, windows, ETA) is shown on a terminal, a log line
every 10 s otherwise. `--` ends the options: what follows is INPUT and KEY VALUE pairs (an
input named -x.mp4). A failed run removes the --out folder it created when it is still empty.

--realtime consumes the input no faster than its frame rate (a file behaves like a camera),
skips windows when the model falls behind and prints each window's latency.
If the input stops part-way, what was done is written and the exit code is 1.
"""

from __future__ import annotations

import sys

import torch

from video3d.cli.base import (
    command,
    config_parser,
    load_cfg,
    parse_config_args,
    positive_int,
    split_overrides,
)
from video3d.inference.class_names import model_class_names
from video3d.inference.long_video import LongVideoDemo, WindowResult
from video3d.inference.progress import DemoProgress
from video3d.inference.runners import load_runner
from video3d.inference.scores import class_name
from video3d.utils.logging import setup_logging
from video3d.utils.precision import with_inference_precision
from video3d.visualize.gradcam import window_explainer


def _printer(names: list[str] | None):
    def show(result: WindowResult) -> None:
        best, score = result.scores.topk(1)[0]
        print(f"window {result.index} [{result.start_time:.2f}-{result.end_time:.2f} s] "
              f"{class_name(names, best)} {score:.2f}  latency {result.latency:.3f} s", flush=True)
    return show


@command
def main(argv: list[str]) -> int:
    """Write annotated.mp4, windows.jsonl, segments.csv/json and timeline.png for INPUT; exit 1 if
    the input stopped early."""
    parser = config_parser(__doc__)
    parser.add_argument("--checkpoint", required=True, help="checkpoint (.pyth), ONNX (.onnx) or TorchScript file")
    parser.add_argument("--out", default="demo_output", help="output folder (default demo_output)")
    parser.add_argument("--stride", type=positive_int, default=None, help="frames between windows (default half a window)")
    parser.add_argument("--topk", type=positive_int, default=5, help="classes drawn and listed per window")
    parser.add_argument("--realtime", action="store_true", help="keep up with a live source, skipping windows")
    parser.add_argument("--threads", type=positive_int, default=1,
                        help="CPU threads per forward (default 1: one clip at a time gains little from more, "
                             "and they collapse on shared cores; raise it for large models on free cores)")
    parser.add_argument("--no-audio", action="store_true", help="leave the input's sound out of annotated.mp4")
    parser.add_argument("--gradcam", action="store_true",
                        help="draw each window's Grad-CAM of its predicted class (a .pyth checkpoint; slower)")
    parser.add_argument("--layer", default=None, help="with --gradcam: the module whose activations are used "
                                                      "(default: the last stage)")
    args, rest = parse_config_args(parser, argv)
    inputs, overrides = split_overrides(rest)
    if len(inputs) != 1:
        parser.error(f"give exactly one INPUT, got {len(inputs)}")
    if args.layer and not args.gradcam:
        parser.error("--layer goes with --gradcam")
    cfg = load_cfg(args, overrides)
    setup_logging(None)  # progress lines and the input's description reach stdout
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(args.threads)
    try:
        model = load_runner(cfg, args.checkpoint)
        names = model_class_names(cfg, model, args.checkpoint)
        if not args.gradcam:  # Grad-CAM reads the model's own layers and gradients in float32
            model = with_inference_precision(model, cfg)  # TEST.MIXED_PRECISION
        demo = LongVideoDemo(cfg, model, names, stride=args.stride, topk=args.topk,
                             realtime=args.realtime, on_window=_printer(names) if args.realtime else None,
                             progress=None if args.realtime else DemoProgress(),
                             audio=not args.no_audio,
                             explain=window_explainer(args.layer, cfg.FFC.TEST_ENSEMBLE) if args.gradcam else None)
        report = demo.run(inputs[0], args.out)
    finally:
        torch.set_num_threads(previous_threads)  # main() may run inside a larger process (tests)
    seconds_per_window = report.seconds / max(report.windows, 1)
    print(f"{inputs[0]}: {report.frames} frames ({report.frames / report.fps:.1f} s at {report.fps:.3f} fps), "
          f"{report.windows} windows in {report.seconds:.1f} s ({seconds_per_window:.3f} s per window, "
          f"model {report.model_seconds / max(report.windows, 1):.3f} s), {report.speed:.2f}x real time")
    if args.realtime and report.latencies:
        print(f"latency: mean {sum(report.latencies) / len(report.latencies):.3f} s, max {max(report.latencies):.3f} s; "
              f"{report.skipped_windows} windows skipped to keep up")
    if report.audio:
        print(report.audio)
    if report.segments:
        print(f"{report.segments} segments (windows with the same label merged)")
    for path in report.outputs:
        print(f"wrote {path}")
    if report.stopped:
        print(f"error: {inputs[0]}: {report.stopped}; the outputs hold the frames before that", file=sys.stderr)
        return 1
    return 0
