"""Extract quantised optical flow: `flow_x_%05d.jpg` / `flow_y_%05d.jpg` per video.

    python -m data_prep.extract_flow SRC_DIR_OR_LIST OUT_DIR [--algo tvl1|dis|farneback]
        [--backend opencv|torch] [--device cpu|cuda|cuda:K] [--batch 8] [--no-compile]
        [--bound 20] [--short-side S | --size WxH] [--fps N] [--with-rgb] [--workers N]
        [--shard K --num-shards N]

A video of N frames gives N - 1 pairs; pair t is the flow from frame t to t + 1 (1-based
names). Flow is computed on grayscale frames after resizing, clipped to +-bound pixels and
mapped to 0..255 by `video3d.flow.recipe.flow_pairs` with a `FlowRecipe`, the pair driver
online flow uses too (the same bytes either way). --with-rgb also writes `img_%05d.jpg` from the same
decode. OUT_DIR/manifest.json records algorithm, its parameters, bound, resolution and fps;
a later run into the same OUT_DIR must use the same settings. Resumable and shardable like
extract_frames; exit code 0: all written, 1: some videos failed, 2: usage error.

`--algo tvl1` computes TV-L1 with video3d.flow by default (`--backend torch`: the same
algorithm as OpenCV's, docs/FLOW.md), --batch pairs of a video per call, on --device (`cuda`
without an index spreads the workers over the GPUs, one per worker). Each worker compiles the
solver once, with symbolic sizes, so one compile serves every frame size, batch size and pyramid
level (a dataset resized with --short-side has many frame sizes; the compiled kernels are cached
on disk for the next run); `--no-compile`: eager, no warm-up, slower per pair.
`--backend opencv` runs OpenCV contrib's DualTVL1OpticalFlow, one pair at a time, no warm-up,
on the CPU (as DIS and Farneback do): a --device other than cpu is refused.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
from dataclasses import dataclass

import cv2
import numpy as np

from data_prep.extract_frames import (
    JPEG_QUALITY,
    ResizeOptions,
    add_common_args,
    resize_manifest,
    resized_frames,
    write_jpeg,
)
from data_prep.inputs import collect_videos
from data_prep.pool import report, run_videos
from data_prep.shards import resolve_shard
from video3d.config.choices import FLOW_ALGORITHMS
from video3d.data.frame_folders import FLOW_X_TEMPLATE, FLOW_Y_TEMPLATE, RGB_TEMPLATE
from video3d.errors import ConfigError, DecodeError
from video3d.flow import TVL1Params, resolve_device
from video3d.flow.opencv import FlowComputer
from video3d.flow.recipe import DEFAULT_BOUND, FLOW_BACKENDS, FlowRecipe, flow_pairs
from video3d.utils.commands import command


@dataclass(frozen=True)
class FlowExtraction:
    """A flow extraction run: how the flow is computed (`recipe`) and what is written besides
    (`img_%05d.jpg` with `with_rgb`, JPEG `quality`)."""
    recipe: FlowRecipe
    with_rgb: bool = False
    quality: int = JPEG_QUALITY

    @property
    def resize(self) -> ResizeOptions:
        """The frames' size and rate before the algorithm, as extract_frames would write them."""
        recipe = self.recipe
        return ResizeOptions(recipe.short_side, recipe.size, recipe.fps, self.quality)


def _gray_frames(path: str, folder: str, job: FlowExtraction):
    """The video's resized grayscale frames, writing `img_%05d.jpg` on the way with `with_rgb`."""
    for number, image in enumerate(resized_frames(path, job.resize), 1):
        if job.with_rgb:
            write_jpeg(os.path.join(folder, RGB_TEMPLATE.format(number)), image, job.quality)
        yield cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


def extract_video_flow(path: str, folder: str, job: FlowExtraction) -> int:
    """Write one video's flow (and frames with `with_rgb`) into `folder`, `recipe.batch`
    consecutive pairs per `flow_pairs` call; returns the pair count."""
    batch, pairs, window = job.recipe.batch, 0, []
    frames = _gray_frames(path, folder, job)
    while True:
        window.extend(itertools.islice(frames, batch + 1 - len(window)))
        if len(window) < 2:
            break
        stack = np.stack(window)
        for levels in flow_pairs(stack[:-1], stack[1:], job.recipe).numpy():
            pairs += 1
            write_jpeg(os.path.join(folder, FLOW_X_TEMPLATE.format(pairs)), levels[..., 0], job.quality)
            write_jpeg(os.path.join(folder, FLOW_Y_TEMPLATE.format(pairs)), levels[..., 1], job.quality)
        if len(window) < batch + 1:
            break
        window = window[-1:]
    if pairs == 0:
        raise DecodeError(path, "a single frame: no flow pair")
    return pairs


def flow_manifest(job: FlowExtraction) -> dict:
    """What the flow folders were made with, recorded so a rerun with other settings is refused."""
    recipe = job.recipe
    manifest = {"content": "flow+rgb" if job.with_rgb else "flow", "algorithm": recipe.algorithm,
                "parameters": FlowComputer(recipe.algorithm).parameters(), "bound": recipe.bound,
                "quantisation": "rint(255 * (clip(v, -bound, bound) + bound) / (2 * bound))",
                "color": "grayscale after resizing", **resize_manifest(job.resize)}
    if recipe.backend == "torch":  # OpenCV runs keep their manifest, so old folders resume
        manifest["backend"] = "torch (video3d.flow.TVL1)"
        manifest["parameters"] = TVL1Params().as_dict()
    return manifest


def _recipe(args: argparse.Namespace) -> FlowRecipe:
    """The flags as a recipe; a contradiction or an unusable device is one line (ConfigError)."""
    if not args.bound > 0:
        raise ConfigError(f"--bound must be > 0, got {args.bound}")
    if args.batch < 1:
        raise ConfigError(f"--batch must be >= 1, got {args.batch}")
    if args.backend == "torch" and args.algo != "tvl1":
        raise ConfigError(f"--backend torch computes TV-L1 only, not --algo {args.algo}")
    backend = args.backend or ("torch" if args.algo == "tvl1" else "opencv")
    if backend == "opencv" and args.device != "cpu":
        raise ConfigError(f"--device {args.device}: OpenCV's {args.algo} runs on the CPU only; "
                          "--device is for TV-L1 with --backend torch")
    try:
        resolve_device(args.device)
    except ValueError as error:
        raise ConfigError(f"--device: {error}") from None
    return FlowRecipe(args.algo, args.bound, args.short_side, args.size, args.fps, backend, args.device,
                      False if args.no_compile else None, dynamic=True, batch=args.batch)


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
    job = FlowExtraction(_recipe(args), args.with_rgb, args.quality)
    shard = resolve_shard(args.shard, args.num_shards)
    tasks = collect_videos(args.source, args.prefix)
    summary = run_videos(tasks, args.out_dir, extract_video_flow, job, args.workers, "pairs",
                         flow_manifest(job), progress=not args.no_progress, shard=shard)
    return report(summary, args.out_dir, "pairs", shard)


if __name__ == "__main__":
    sys.exit(main())
