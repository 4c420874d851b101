"""A long SynthMotion video: consecutive clips of random classes, for the long-video demo.

    python -m data_prep.synthetic_long OUT.mp4 [--seconds 600 --size 96 --segment-frames 60 --fps 30 --seed 0]

Each segment is one SynthMotion video (a new blob doing one of the eight motions, drawn as in
`data_prep.synthetic`), so the class changes at every cut. Frames are rendered and encoded one
segment at a time (memory does not grow with the length). OUT.json beside the video lists
the segments: `{"fps", "size", "frames", "segments": [{"start_frame", "end_frame", "label",
"name"}]}`, the ground truth a demo's windows.jsonl can be compared with.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

from data_prep.synthetic import CLASS_NAMES, render_video, sample_params
from video3d.errors import DataError
from video3d.inference.video_writer import Mp4Writer
from video3d.utils.commands import command, positive_int
from video3d.utils.io import atomic_write_text


def segment_labels(num_segments: int, seed: int) -> list[int]:
    """A seeded class per segment; consecutive segments differ."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(7,)))
    labels: list[int] = []
    for _ in range(num_segments):
        choices = [k for k in range(len(CLASS_NAMES)) if not labels or k != labels[-1]]
        labels.append(int(rng.choice(choices)))
    return labels


def generate_long(path: str, seconds: float = 600.0, size: int = 96, segment_frames: int = 60,
                  fps: int = 30, seed: int = 0) -> dict:
    """Write the video to `path` and its segment list to `path` with .json; returns the list."""
    if size < 16 or size % 2:
        raise DataError(f"--size must be an even number >= 16, got {size}")
    total = int(round(seconds * fps))
    if total < 1 or segment_frames < 2:
        raise DataError(f"--seconds {seconds} at {fps} fps with {segment_frames}-frame segments makes no video")
    labels = segment_labels(-(-total // segment_frames), seed)
    segments = []
    with Mp4Writer(path, fps, size, size) as writer:
        for i, label in enumerate(labels):
            start = i * segment_frames
            count = min(segment_frames, total - start)
            rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(8, i)))
            params = sample_params(label, rng, size, segment_frames)
            for image in render_video(params)[:count]:
                writer.write(image)
            segments.append({"start_frame": start, "end_frame": start + count - 1, "label": label,
                             "name": CLASS_NAMES[label]})
    info = {"fps": fps, "size": size, "frames": total, "segments": segments}
    atomic_write_text(os.path.splitext(path)[0] + ".json", json.dumps(info, indent=1) + "\n")
    return info


@command
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", help="output .mp4 (the segment list goes beside it as .json)")
    parser.add_argument("--seconds", type=float, default=600.0, help="length of the video")
    parser.add_argument("--size", type=positive_int, default=96, help="frame side in pixels (even)")
    parser.add_argument("--segment-frames", type=positive_int, default=60, help="frames per class segment")
    parser.add_argument("--fps", type=positive_int, default=30, help="frame rate")
    parser.add_argument("--seed", type=int, default=0, help="seed (same seed, same video)")
    args = parser.parse_args(argv)
    info = generate_long(args.out, args.seconds, args.size, args.segment_frames, args.fps, args.seed)
    print(f"{args.out}: {info['frames']} frames, {len(info['segments'])} segments")
    return 0


if __name__ == "__main__":
    sys.exit(main())
