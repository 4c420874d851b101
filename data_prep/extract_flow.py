"""Extract quantised optical flow: `flow_x_%05d.jpg` / `flow_y_%05d.jpg` per video.

    python -m data_prep.extract_flow SRC_DIR_OR_LIST OUT_DIR [--algo tvl1|dis|farneback]
        [--backend opencv|torch] [--device cpu|cuda|cuda:K] [--batch 8] [--no-compile]
        [--bound 20] [--short-side S | --size WxH] [--fps N] [--with-rgb] [--workers N]
        [--shard K --num-shards N]

A video of N frames gives N - 1 pairs; pair t is the flow from frame t to t + 1 (1-based
names). Flow is computed on grayscale frames after resizing, clipped to +-bound pixels and
mapped to 0..255 (data_prep/flow.py). --with-rgb also writes `img_%05d.jpg` from the same
decode. OUT_DIR/manifest.json records algorithm, its parameters, bound, resolution and fps;
a later run into the same OUT_DIR must use the same settings. Resumable and shardable like
extract_frames; exit code 0: all written, 1: some videos failed, 2: usage error.

`--algo tvl1` computes TV-L1 with video3d.flow by default (`--backend torch`: the same
algorithm as OpenCV's, docs/FLOW.md), --batch pairs of a video per call, on --device (`cuda`
without an index spreads the workers over the GPUs, one per worker). Each worker compiles the
solver once, with symbolic sizes, so one compile serves every frame size, batch size and pyramid
level (a dataset resized with --short-side has many frame sizes; the compiled kernels are cached
on disk for the next run); `--no-compile`: eager, no warm-up, slower per pair.
`--backend opencv` runs OpenCV contrib's DualTVL1OpticalFlow, one pair at a time, no warm-up.
"""

from __future__ import annotations

import argparse
import itertools
import multiprocessing
import os
import sys
from dataclasses import dataclass

import cv2
import numpy as np
import torch

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
from data_prep.shards import resolve_shard
from video3d.cli.base import command
from video3d.data.frame_folders import FLOW_X_TEMPLATE, FLOW_Y_TEMPLATE, RGB_TEMPLATE
from video3d.errors import DecodeError
from video3d.flow import TVL1, TVL1Params, resolve_device

DEFAULT_BOUND = 20.0  # pixels; denseflow -b 20 and MARS (docs/DATA.md)


FLOW_BACKENDS = ("opencv", "torch")


@dataclass(frozen=True)
class FlowOptions:
    """How flow is extracted: resizing, algorithm, quantisation bound, RGB frames alongside."""
    resize: ResizeOptions
    algorithm: str = "tvl1"
    bound: float = DEFAULT_BOUND
    with_rgb: bool = False
    backend: str = "opencv"
    device: str = "cpu"
    batch: int = 8
    compile: bool | None = None
    dynamic: bool = True  # one compile per worker for every frame size, batch size and pyramid level


_COMPUTERS: dict[str, FlowComputer] = {}


def _computer(algorithm: str) -> FlowComputer:
    """One OpenCV flow object per process and algorithm, reused across videos."""
    if algorithm not in _COMPUTERS:
        _COMPUTERS[algorithm] = FlowComputer(algorithm)
    return _COMPUTERS[algorithm]


def _torch_device(name: str) -> torch.device:
    """`cuda` without an index: worker k of the pool takes GPU k modulo the GPU count."""
    device = torch.device(name)
    if device.type == "cuda" and device.index is None:
        identity = multiprocessing.current_process()._identity
        worker = identity[0] - 1 if identity else 0
        device = torch.device("cuda", worker % torch.cuda.device_count())
    return device


def _torch_solver(options: FlowOptions) -> TVL1:
    key = f"torch-{options.compile}-{options.dynamic}"
    if key not in _TORCH_SOLVERS:
        _TORCH_SOLVERS[key] = TVL1(compile=options.compile, dynamic=options.dynamic)
    return _TORCH_SOLVERS[key]


_TORCH_SOLVERS: dict[str, TVL1] = {}


def _write_pair(folder: str, number: int, flow: np.ndarray, options: FlowOptions) -> None:
    quality = options.resize.quality
    write_jpeg(os.path.join(folder, FLOW_X_TEMPLATE.format(number)), quantize_flow(flow[..., 0], options.bound), quality)
    write_jpeg(os.path.join(folder, FLOW_Y_TEMPLATE.format(number)), quantize_flow(flow[..., 1], options.bound), quality)


def _gray_frames(path: str, folder: str, options: FlowOptions):
    """The video's resized grayscale frames, writing `img_%05d.jpg` on the way with `with_rgb`."""
    for number, image in enumerate(resized_frames(path, options.resize), 1):
        if options.with_rgb:
            write_jpeg(os.path.join(folder, RGB_TEMPLATE.format(number)), image, options.resize.quality)
        yield cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


def _torch_pairs(path: str, folder: str, options: FlowOptions) -> int:
    """TV-L1 with video3d.flow: `batch` consecutive pairs per call."""
    solver, device = _torch_solver(options), _torch_device(options.device)
    pairs, window = 0, []
    frames = _gray_frames(path, folder, options)
    while True:
        window.extend(itertools.islice(frames, options.batch + 1 - len(window)))
        if len(window) < 2:
            return pairs
        stack = torch.from_numpy(np.stack(window)).to(device)
        flows = solver(stack[:-1], stack[1:]).permute(0, 2, 3, 1).cpu().numpy()
        for flow in flows:
            pairs += 1
            _write_pair(folder, pairs, flow, options)
        if len(window) < options.batch + 1:
            return pairs
        window = window[-1:]


def extract_video_flow(path: str, folder: str, options: FlowOptions) -> int:
    """Write one video's flow (and frames with `with_rgb`) into `folder`; returns the pair count."""
    if options.backend == "torch":
        pairs = _torch_pairs(path, folder, options)
    else:
        compute = _computer(options.algorithm)
        previous, pairs = None, 0
        for gray in _gray_frames(path, folder, options):
            if previous is not None:
                pairs += 1
                _write_pair(folder, pairs, compute(previous, gray), options)
            previous = gray
    if pairs == 0:
        raise DecodeError(path, "a single frame: no flow pair")
    return pairs


def flow_manifest(options: FlowOptions) -> dict:
    """What the flow folders were made with, recorded so a rerun with other settings is refused."""
    manifest = {"content": "flow+rgb" if options.with_rgb else "flow", "algorithm": options.algorithm,
                "parameters": FlowComputer(options.algorithm).parameters(), "bound": options.bound,
                "quantisation": "rint(255 * (clip(v, -bound, bound) + bound) / (2 * bound))",
                "color": "grayscale after resizing", **resize_manifest(options.resize)}
    if options.backend == "torch":  # OpenCV runs keep their manifest, so old folders resume
        manifest["backend"] = "torch (video3d.flow.TVL1)"
        manifest["parameters"] = TVL1Params().as_dict()
    return manifest


@command
def main(argv: list[str] | None = None) -> int:
    """Console script video3d-extract-flow / python -m data_prep.extract_flow."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(parser)
    parser.add_argument("--algo", choices=list(FLOW_ALGORITHMS), default="tvl1", help="flow algorithm")
    parser.add_argument("--backend", choices=FLOW_BACKENDS, default=None,
                        help="TV-L1 from video3d.flow (PyTorch, any device; the default for --algo tvl1) or "
                             "from OpenCV contrib (dis and farneback are always OpenCV's)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:K for --backend torch")
    parser.add_argument("--batch", type=int, default=8, help="frame pairs per call for --backend torch")
    parser.add_argument("--no-compile", action="store_true", help="--backend torch without torch.compile")
    parser.add_argument("--bound", type=float, default=DEFAULT_BOUND, help="clip flow to +-bound pixels")
    parser.add_argument("--with-rgb", action="store_true", help="also write img_%%05d.jpg from the same decode")
    args = parser.parse_args(argv)
    if not args.bound > 0:
        parser.error(f"--bound must be > 0, got {args.bound}")
    if args.batch < 1:
        parser.error(f"--batch must be >= 1, got {args.batch}")
    if args.backend == "torch" and args.algo != "tvl1":
        parser.error(f"--backend torch computes TV-L1 only, not --algo {args.algo}")
    if args.backend is None:
        args.backend = "torch" if args.algo == "tvl1" else "opencv"
    if args.backend == "torch":
        try:
            resolve_device(args.device)
        except ValueError as error:
            parser.error(str(error))
    shard = resolve_shard(args.shard, args.num_shards)
    resize = ResizeOptions(args.short_side, args.size, args.fps, args.quality)
    options = FlowOptions(resize, args.algo, args.bound, args.with_rgb, args.backend, args.device, args.batch,
                          False if args.no_compile else None)
    tasks = collect_videos(args.source, args.prefix)
    summary = run_videos(tasks, args.out_dir, extract_video_flow, options, args.workers, "pairs",
                         flow_manifest(options), progress=not args.no_progress, shard=shard)
    return report(summary, args.out_dir, "pairs", shard)


if __name__ == "__main__":
    sys.exit(main())
