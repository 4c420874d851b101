"""Decode every video of a list once and record what it holds, so bad files are known early.

    python -m data_prep.scan_videos LIST [--prefix P] [--out manifest.jsonl] [--workers N]

LIST is a video list (`path label` lines, e.g. a build_lists output), a plain list of paths,
or a folder searched recursively. Relative paths are taken from --prefix (default: the
list's folder). The output (default `<LIST without .csv/.txt>_manifest.jsonl` beside it)
holds one json object per video, in list order:
{"path", "frames", "fps", "width", "height", "ok", "reason"}; `frames` counts the frames that
decoded. The broken paths are printed with their reasons (the first 20, then how many more).
Exit code 0: every video decodes, 1: some do not, 2: usage error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from multiprocessing import get_context

from tqdm import tqdm

from data_prep.decode import VideoInfo, iter_frames
from data_prep.inputs import collect_videos
from data_prep.pool import opencv_quiet_for_fork
from video3d.errors import DecodeError
from video3d.utils.commands import command, default_workers, positive_int
from video3d.utils.io import atomic_write_text

SHOWN_BROKEN = 20  # broken paths printed; the manifest lists them all


def scan_video(path: str) -> dict:
    """Decode `path` fully (YUV frames, no colour conversion) and describe it."""
    info = VideoInfo()
    reason = None
    try:
        for _ in iter_frames(path, info, pixel_format="gray"):
            pass
    except DecodeError as error:
        reason = error.reason
    return {"path": path, "frames": info.decoded_frames, "fps": info.fps, "width": info.width,
            "height": info.height, "ok": reason is None, "reason": reason}


def scan(paths: list[str], workers: int, progress: bool = True) -> list[dict]:
    """`scan_video` of every path, in order, over a pool of `workers` processes."""
    with tqdm(total=len(paths), unit="video", disable=not progress, dynamic_ncols=True) as bar:
        if workers <= 1 or len(paths) <= 1:
            results = []
            for path in paths:
                results.append(scan_video(path))
                bar.update(1)
            return results
        with opencv_quiet_for_fork(), get_context().Pool(min(workers, len(paths))) as pool:
            results = []
            for result in pool.imap(scan_video, paths, chunksize=4):
                results.append(result)
                bar.update(1)
            return results


def default_output(list_path: str) -> str:
    """Where the scan of `list_path` goes by default: the list's name with its extension replaced."""
    stem = os.path.normpath(list_path)
    for extension in (".csv", ".txt"):
        if stem.endswith(extension):
            stem = stem[: -len(extension)]
    return stem + "_manifest.jsonl"


@command
def main(argv: list[str] | None = None) -> int:
    """Console script video3d-scan-videos / python -m data_prep.scan_videos."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("list", help="video list, list of paths, or folder of videos")
    parser.add_argument("--prefix", help="folder the relative paths of the list start from")
    parser.add_argument("--out", help="output jsonl (default: beside the list)")
    parser.add_argument("--workers", type=positive_int, default=default_workers(), help="worker processes")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    tasks = collect_videos(args.list, args.prefix)
    results = scan([t.path for t in tasks], args.workers, progress=not args.no_progress)
    out = args.out or default_output(args.list)
    atomic_write_text(out, "".join(json.dumps(r) + "\n" for r in results))
    broken = [r for r in results if not r["ok"]]
    for line in broken_lines(broken, out):
        print(line)
    print(f"{len(results) - len(broken)} of {len(results)} videos decode; {len(broken)} broken; manifest {out}")
    return 1 if broken else 0


def broken_lines(broken: list[dict], manifest: str, shown: int = SHOWN_BROKEN) -> list[str]:
    """`broken: PATH: REASON` for the first `shown` broken videos, then how many more."""
    lines = [f"broken: {r['path']}: {r['reason']}" for r in broken[:shown]]
    if len(broken) > shown:
        lines.append(f"and {len(broken) - shown} more, see {manifest}")
    return lines


if __name__ == "__main__":
    sys.exit(main())
