"""Extract quantised optical flow: `flow_x_%05d.jpg` / `flow_y_%05d.jpg` per video.

    python -m data_prep.extract_flow SRC_DIR_OR_LIST OUT_DIR [--algo tvl1|dis|farneback]
        [--bound 20] [--short-side S | --size WxH] [--fps N] [--with-rgb] [--workers N]

A video of N frames gives N - 1 pairs; pair t is the flow from frame t to t + 1 (1-based
names). Flow is computed on grayscale frames after resizing, clipped to +-bound pixels and
mapped to 0..255 (data_prep/flow.py). --with-rgb also writes `img_%05d.jpg` from the same
decode. OUT_DIR/manifest.json records algorithm, its parameters, bound, resolution and fps;
a later run into the same OUT_DIR must use the same settings. Resumable like
extract_frames; exit code 0: all written, 1: some videos failed, 2: usage error.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass

import cv2

from data_prep.extract_frames import (
    ResizeOptions,
    add_common_args,
    resize_manifest,
    resized_frames,
    write_jpeg,
)
from data_prep.flow import FLOW_ALGORITHMS, FlowComputer, quantize_flow
from data_prep.inputs import collect_videos
from data_prep.pool import report, run_videos
from video3d.cli.base import command
from video3d.data.frame_folders import FLOW_X_TEMPLATE, FLOW_Y_TEMPLATE, RGB_TEMPLATE
from video3d.errors import DecodeError

DEFAULT_BOUND = 20.0  # pixels; denseflow -b 20 and MARS (docs/DATA.md)


@dataclass(frozen=True)
class FlowOptions:
    """How flow is extracted: resizing, algorithm, quantisation bound, RGB frames alongside."""
    resize: ResizeOptions
    algorithm: str = "tvl1"
    bound: float = DEFAULT_BOUND
    with_rgb: bool = False


_COMPUTERS: dict[str, FlowComputer] = {}


def _computer(algorithm: str) -> FlowComputer:
    """One OpenCV flow object per process and algorithm, reused across videos."""
    if algorithm not in _COMPUTERS:
        _COMPUTERS[algorithm] = FlowComputer(algorithm)
    return _COMPUTERS[algorithm]


def extract_video_flow(path: str, folder: str, options: FlowOptions) -> int:
    """Write one video's flow (and frames with `with_rgb`) into `folder`; returns the pair count."""
    compute = _computer(options.algorithm)
    quality = options.resize.quality
    previous = None
    pairs = 0
    for number, image in enumerate(resized_frames(path, options.resize), 1):
        if options.with_rgb:
            write_jpeg(os.path.join(folder, RGB_TEMPLATE.format(number)), image, quality)
        gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        if previous is not None:
            flow = compute(previous, gray)
            pairs += 1
            write_jpeg(os.path.join(folder, FLOW_X_TEMPLATE.format(pairs)), quantize_flow(flow[..., 0], options.bound), quality)
            write_jpeg(os.path.join(folder, FLOW_Y_TEMPLATE.format(pairs)), quantize_flow(flow[..., 1], options.bound), quality)
        previous = gray
    if pairs == 0:
        raise DecodeError(path, "a single frame: no flow pair")
    return pairs


def flow_manifest(options: FlowOptions) -> dict:
    """What the flow folders were made with, recorded so a rerun with other settings is refused."""
    return {"content": "flow+rgb" if options.with_rgb else "flow", "algorithm": options.algorithm,
            "parameters": FlowComputer(options.algorithm).parameters(), "bound": options.bound,
            "quantisation": "rint(255 * (clip(v, -bound, bound) + bound) / (2 * bound))",
            "color": "grayscale after resizing", **resize_manifest(options.resize)}


@command
def main(argv: list[str] | None = None) -> int:
    """Console script video3d-extract-flow / python -m data_prep.extract_flow."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(parser)
    parser.add_argument("--algo", choices=FLOW_ALGORITHMS, default="tvl1", help="flow algorithm")
    parser.add_argument("--bound", type=float, default=DEFAULT_BOUND, help="clip flow to +-bound pixels")
    parser.add_argument("--with-rgb", action="store_true", help="also write img_%%05d.jpg from the same decode")
    args = parser.parse_args(argv)
    if not args.bound > 0:
        parser.error(f"--bound must be > 0, got {args.bound}")
    resize = ResizeOptions(args.short_side, args.size, args.fps, args.quality)
    options = FlowOptions(resize, args.algo, args.bound, args.with_rgb)
    tasks = collect_videos(args.source, args.prefix)
    summary = run_videos(tasks, args.out_dir, extract_video_flow, options, args.workers, "pairs",
                         flow_manifest(options), progress=not args.no_progress)
    return report(summary, args.out_dir, "pairs")


if __name__ == "__main__":
    sys.exit(main())
