"""Extract RGB frames: one folder of `img_%05d.jpg` (1-based) per video.

    python -m data_prep.extract_frames SRC_DIR_OR_LIST OUT_DIR [--short-side 256 | --size 340x256]
                                       [--fps N] [--workers N] [--prefix P] [--quality 95]
                                       [--shard K --num-shards N]

SRC_DIR_OR_LIST is a folder searched recursively for videos, or a list file (a path per line,
or `path label`; relative paths are taken from --prefix, default the list's folder). Video
`<src>/a/b.mp4` goes to `OUT_DIR/a/b/`. Without --fps every decoded frame is kept (native
rate, as denseflow does). Resumable: finished folders are skipped, a killed run's partial
ones redone; broken videos go to OUT_DIR/failures.jsonl. Exit code 0: all written, 1: some
videos failed, 2: usage error. --shard K --num-shards N (or a SLURM job array) processes one
share of the videos so N machines fill one OUT_DIR (data_prep/shards.py; then
`python -m data_prep.merge_shards OUT_DIR`).
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass

import cv2
import numpy as np

from data_prep.decode import iter_frames
from data_prep.inputs import collect_videos
from data_prep.pool import report, run_videos
from data_prep.shards import add_shard_args, resolve_shard
from video3d.data.frame_folders import RGB_TEMPLATE
from video3d.flow.frames import output_size, resize_frame
from video3d.utils.commands import command, default_workers, positive_int

JPEG_QUALITY = 95  # OpenCV's default, what denseflow writes (docs/DATA.md)


@dataclass(frozen=True)
class ResizeOptions:
    """How frames are resized, resampled in time and encoded (JPEG quality)."""
    short_side: int | None = None
    size: tuple[int, int] | None = None
    fps: float | None = None
    quality: int = JPEG_QUALITY


def parse_size(text: str) -> tuple[int, int]:
    """argparse type: `WxH`, e.g. 340x256."""
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT such as 340x256, got {text!r}") from None
    if width < 1 or height < 1:
        raise argparse.ArgumentTypeError(f"width and height must be >= 1, got {text!r}")
    return width, height


def positive_float(text: str) -> float:
    """argparse type: a number > 0."""
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return value


def add_common_args(parser: argparse.ArgumentParser) -> None:
    """Source, output, resizing, frame rate, workers: shared by the extraction tools."""
    parser.add_argument("source", help="folder of videos (recursive) or list file")
    parser.add_argument("out_dir", help="output folder, one sub-folder per video")
    resize = parser.add_mutually_exclusive_group()
    resize.add_argument("--short-side", type=positive_int, help="resize so the short side has this many pixels")
    resize.add_argument("--size", type=parse_size, help="resize to exactly WIDTHxHEIGHT, e.g. 340x256")
    parser.add_argument("--fps", type=positive_float, help="resample to this frame rate (default: keep every frame)")
    parser.add_argument("--prefix", help="folder the relative paths of a list file start from")
    parser.add_argument("--quality", type=positive_int, default=JPEG_QUALITY, help="JPEG quality 1-100")
    parser.add_argument("--workers", type=positive_int, default=default_workers(), help="worker processes")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_shard_args(parser)


def write_jpeg(path: str, image: np.ndarray, quality: int) -> None:
    """Encode in memory and write with Python's own file API (any file name works)."""
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise OSError(f"{path}: JPEG encoding failed")
    with open(path, "wb") as handle:
        handle.write(data.tobytes())


def resized_frames(path: str, options: ResizeOptions):
    """The video's BGR frames, resampled and resized as `options` say."""
    target = None
    for image in iter_frames(path, target_fps=options.fps):
        if target is None:
            target = output_size(image.shape[1], image.shape[0], options.short_side, options.size)
        yield resize_frame(image, target)


def extract_video_frames(path: str, folder: str, options: ResizeOptions) -> int:
    """Write `img_%05d.jpg` of one video into `folder`; returns the frame count."""
    count = 0
    for count, image in enumerate(resized_frames(path, options), 1):
        write_jpeg(os.path.join(folder, RGB_TEMPLATE.format(count)), image, options.quality)
    return count


def resize_manifest(options: ResizeOptions) -> dict:
    """The resize settings as recorded in a folder's manifest."""
    return {"short_side": options.short_side, "size": list(options.size) if options.size else None,
            "fps": options.fps, "jpeg_quality": options.quality, "opencv": cv2.__version__}


@command
def main(argv: list[str] | None = None) -> int:
    """Console script video3d-extract-frames / python -m data_prep.extract_frames."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(parser)
    args = parser.parse_args(argv)
    options = ResizeOptions(args.short_side, args.size, args.fps, args.quality)
    shard = resolve_shard(args.shard, args.num_shards)
    tasks = collect_videos(args.source, args.prefix)
    manifest = {"content": "rgb", **resize_manifest(options)}
    summary = run_videos(tasks, args.out_dir, extract_video_frames, options, args.workers, "frames",
                         manifest, progress=not args.no_progress, shard=shard)
    return report(summary, args.out_dir, "frames", shard)


if __name__ == "__main__":
    sys.exit(main())
