"""The data side of 30-view testing: our decode-once path against per-view and per-clip decoding.

    python benchmarks/bench_eval.py [--videos 3] [--repeats 3] [--size 340x256] [--workdir DIR]

Generated H.264 videos (10 s, 30 fps, a keyframe every 2 s) are turned into 10 clips x 3 crops
of 16 x 256 x 256 (stride 4, the Kinetics default), three ways, in one run:

- ours: `video3d.data.multiview_dataset`'s item, all clips' frames in one `get_frames` call
  (seek once, decode forward, skip unwanted non-reference frames, convert only the wanted
  ones), views cut in memory;
- per-view, PySlowFast's way (docs/DATA.md): for each of the 30 views open the
  file, seek to the clip's window, decode and convert every frame of the window, keep the
  clip's frames, crop one view;
- per-clip, PyTorchVideo's way: one open container per video; for each of the 10 clips seek,
  decode and convert the window once, cut its 3 crops.

All three sample the same frame indices and normalise the same way (checked: identical views),
with one decoder thread each. Printed: decoded frames per video, median wall time per video,
and the speed-up of ours over each.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tempfile
import time
from fractions import Fraction

import av
import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from video3d.config import get_cfg  # noqa: E402
from video3d.data import (  # noqa: E402
    MultiViewDataset,
    VideoRecord,
    multiview_dataset,
    open_source_from_cfg,
    transforms,
)

SECONDS, FPS, GOP_SECONDS = 10, 30, 2


def write_video(path: str, width: int, height: int, seed: int) -> None:
    """A moving gradient with drifting blocks and mild noise (H.264, yuv420p, GOP 2 s)."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    with av.open(path, "w") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.gop_size = GOP_SECONDS * FPS
        stream.options = {"keyint_min": str(GOP_SECONDS * FPS), "sc_threshold": "0", "crf": "23"}
        for t in range(SECONDS * FPS):
            base = 127 + 100 * np.sin((xs + 3 * t) / 23.0) * np.cos((ys - 2 * t) / 31.0)
            image = np.stack([base, np.roll(base, t, axis=1), 255 - base], axis=-1)
            image += rng.normal(0, 6, image.shape)
            top, left = (5 * t) % (height - 40), (7 * t) % (width - 40)
            image[top:top + 40, left:left + 40] = (255, 40, 40)
            frame = av.VideoFrame.from_ndarray(np.clip(image, 0, 255).astype(np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def _window_frames(container, stream, first: int, last: int) -> tuple[dict[int, torch.Tensor], int]:
    """Seek before frame `first`, decode to frame `last`, converting every frame of the window
    to RGB (what PySlowFast's pyav_decode and PyTorchVideo's EncodedVideoPyAV do)."""
    time_base, rate = Fraction(stream.time_base), Fraction(stream.average_rate)
    start = stream.start_time or 0
    container.seek(start + math.floor(Fraction(first) / (rate * time_base)), stream=stream,
                   backward=True, any_frame=False)
    frames, decoded = {}, 0
    for frame in container.decode(stream):
        decoded += 1
        index = round((frame.pts - start) * time_base * rate)
        if index > last:
            break
        if index >= first:
            frames[index] = torch.from_numpy(frame.to_ndarray(format="rgb24"))
    return frames, decoded


class Protocol:
    """Clip indices, crop boxes and normalisation shared by the three ways."""

    def __init__(self, cfg, dataset: MultiViewDataset, path: str):
        with open_source_from_cfg(cfg, path) as source:
            self.clips = dataset.clip_positions(source.num_frames, source.fps, cfg.TEST.NUM_ENSEMBLE_VIEWS)
            height, width = source.height, source.width
        self.size = cfg.DATA.TEST_CROP_SIZE
        new_h, new_w = transforms.short_side_size(height, width, self.size)
        self.boxes = transforms.multiview_crop_boxes(new_h, new_w, self.size, cfg.TEST.NUM_SPATIAL_CROPS)
        self.normalizer = transforms.Normalizer.from_cfg(cfg)

    def clip_tensor(self, frames: dict[int, torch.Tensor], clip: list[int], normalise: bool) -> torch.Tensor:
        """uint8 `[C, T, H, W]` resized, or float `[C, T, H, W]` normalised as the data layer does."""
        uint8 = transforms.resize_short_side(torch.stack([frames[i] for i in clip]).permute(0, 3, 1, 2), self.size)
        return self.normalizer.clip(uint8) if normalise else uint8.permute(1, 0, 2, 3)

    def crop(self, clip: torch.Tensor, box: tuple[int, int]) -> torch.Tensor:
        top, left = box
        return clip[..., top:top + self.size, left:left + self.size]


def per_view(protocol: Protocol, path: str, normalise: bool = True) -> tuple[torch.Tensor, int]:
    views, decoded = [], 0
    for clip in protocol.clips:
        for box in protocol.boxes:
            with av.open(path) as container:
                stream = container.streams.video[0]
                stream.thread_count = 1
                frames, count = _window_frames(container, stream, min(clip), max(clip))
            decoded += count
            views.append(protocol.crop(protocol.clip_tensor(frames, clip, normalise), box))
    return torch.stack(views), decoded


def per_clip(protocol: Protocol, path: str, normalise: bool = True) -> tuple[torch.Tensor, int]:
    views, decoded = [], 0
    with av.open(path) as container:
        stream = container.streams.video[0]
        stream.thread_count = 1
        for clip in protocol.clips:
            frames, count = _window_frames(container, stream, min(clip), max(clip))
            decoded += count
            tensor = protocol.clip_tensor(frames, clip, normalise)
            views.extend(protocol.crop(tensor, box) for box in protocol.boxes)
    return torch.stack(views), decoded


def ours_decoded_frames(cfg, protocol: Protocol, path: str) -> int:
    """Frames our source decodes for one video: the same single `get_frames` call, counted."""
    union = sorted({i for clip in protocol.clips for i in clip})
    with open_source_from_cfg(cfg, path) as source:
        source.get_frames(union)
        return source.frames_decoded


def _median_seconds(ways, num_videos: int, repeats: int) -> list[float]:
    """Median seconds per video of each way; the order of the ways rotates between passes."""
    times: list[list[float]] = [[] for _ in ways]
    for repeat in range(repeats):
        order = [(k + repeat) % len(ways) for k in range(len(ways))]
        for k in order:
            for i in range(num_videos):
                start = time.perf_counter()
                ways[k](i)
                times[k].append(time.perf_counter() - start)
    return [statistics.median(t) for t in times]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=int, default=3, help="generated videos")
    parser.add_argument("--repeats", type=int, default=3, help="timed passes per way (median reported)")
    parser.add_argument("--size", default="340x256", help="video WIDTHxHEIGHT")
    parser.add_argument("--workdir", help="where the videos go (default: a temp folder)")
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.split("x"))
    torch.set_num_threads(1)

    cfg = get_cfg()
    cfg.DATA.NUM_FRAMES, cfg.DATA.SAMPLING_RATE, cfg.DATA.TEST_CROP_SIZE = 16, 4, min(256, width, height)
    cfg.TEST.NUM_ENSEMBLE_VIEWS, cfg.TEST.NUM_SPATIAL_CROPS = 10, 3
    cfg.DATA_LOADER.DECODE_THREADS = 1
    with tempfile.TemporaryDirectory(dir=args.workdir) as workdir:
        paths = [os.path.join(workdir, f"video {i}.mp4") for i in range(args.videos)]
        for seed, path in enumerate(paths):
            write_video(path, width, height, seed)
        records = [VideoRecord(f"video{i}", p, 0) for i, p in enumerate(paths)]
        dataset = multiview_dataset(cfg, records, cfg.TEST.DATASET)
        normalizer = transforms.Normalizer.from_cfg(cfg)
        protocols = [Protocol(cfg, dataset, p) for p in paths]

        names = ("ours (decode once)", "per-view (PySlowFast)", "per-clip (PyTorchVideo)")
        stages = {
            "uint8 views": (
                lambda i: dataset[i]["views"].cut(),  # the cut counted: the other ways return cut views
                lambda i: per_view(protocols[i], paths[i], normalise=False)[0],
                lambda i: per_clip(protocols[i], paths[i], normalise=False)[0],
            ),
            "float views": (
                lambda i: normalizer.views(dataset[i]["views"]),
                lambda i: per_view(protocols[i], paths[i])[0],
                lambda i: per_clip(protocols[i], paths[i])[0],
            ),
        }
        for stage, ways in stages.items():
            for i in range(len(paths)):
                reference = ways[0](i)
                for name, way in zip(names[1:], ways[1:], strict=True):
                    if not torch.equal(way(i), reference):
                        raise SystemExit(f"{name} gives other {stage} than ours for {paths[i]}")
        frames = (
            [ours_decoded_frames(cfg, protocols[i], p) for i, p in enumerate(paths)],
            [per_view(protocols[i], p, normalise=False)[1] for i, p in enumerate(paths)],
            [per_clip(protocols[i], p, normalise=False)[1] for i, p in enumerate(paths)],
        )
        seconds = {stage: _median_seconds(ways, len(paths), args.repeats) for stage, ways in stages.items()}

    print(f"{args.videos} videos {width}x{height}, {SECONDS * FPS} frames, keyframe every {GOP_SECONDS} s; "
          f"10 clips x 3 crops of 16 x {cfg.DATA.TEST_CROP_SIZE}^2 (stride 4); median of {args.repeats} "
          "passes over all videos")
    print(f"{'way':26s} {'decoded frames/video':>21s} {'uint8 views s/video':>20s} {'float views s/video':>20s}")
    for k, name in enumerate(names):
        print(f"{name:26s} {statistics.mean(frames[k]):21.1f} {seconds['uint8 views'][k]:20.3f} "
              f"{seconds['float views'][k]:20.3f}")
    for k, name in enumerate(names[1:], 1):
        print(f"ours vs {name}: {statistics.mean(frames[k]) / statistics.mean(frames[0]):.2f}x fewer decoded "
              f"frames; {seconds['uint8 views'][k] / seconds['uint8 views'][0]:.2f}x faster to uint8 views, "
              f"{seconds['float views'][k] / seconds['float views'][0]:.2f}x faster to float views")
    return 0


if __name__ == "__main__":
    sys.exit(main())
