"""Training-loader throughput: video3d's loader vs pytorchvideo's LabeledVideoDataset.

Both load 16x4 clips (16 frames 4 apart at 30 fps), random short side in [256, 320], random
224 crop, random flip, normalised float [C, T, H, W], from the same generated H.264 videos
(keyframe every 2 s, like the Kinetics re-encodes of docs/ENVIRONMENT.md),
with the same worker count and batch size, in one run. The baseline uses pytorchvideo's pyav
decoder and its equivalent transforms (UniformTemporalSubsample, RandomShortSideScale,
RandomCrop, RandomHorizontalFlip, Normalize). Runs alternate; the first batch of every run
(worker start-up) is not timed. Prints clips/s per run, the medians and their ratio.

    python benchmarks/bench_loader.py --videos 8 --seconds 10 --clips 96 --repeats 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import av
import numpy as np
import torch

import video3d  # noqa: F401  (installs the torchvision alias pytorchvideo needs)
from video3d.config import get_cfg
from video3d.data import build_loader, set_loader_epoch


def write_video(path: str, seconds: float, fps: int, height: int, width: int, seed: int) -> None:
    """Moving textured pattern plus light noise, H.264 with a keyframe every 2 s."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    base = rng.integers(0, 256, (height // 8 + 1, width // 8 + 1, 3), dtype=np.uint8)
    texture = np.kron(base, np.ones((8, 8, 1), np.uint8))[:height, :width]
    with av.open(path, "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"g": str(2 * fps), "keyint_min": str(2 * fps), "sc_threshold": "0",
                          "preset": "veryfast", "crf": "23"}
        for t in range(int(seconds * fps)):
            shift = np.roll(texture, (t * 2, t * 3), axis=(0, 1)).astype(np.float32)
            wave = 40 * np.sin((xs + 4 * t) / 17.0)[..., None] + 30 * np.cos((ys - 3 * t) / 23.0)[..., None]
            noise = rng.normal(0, 6, (height, width, 1))
            image = np.clip(0.6 * shift + wave + noise + 40, 0, 255).astype(np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def video3d_loader(list_dir: str, video_dir: str, batch_size: int, workers: int, backend: str):
    cfg = get_cfg()
    cfg.DATA.PATH_TO_DATA_DIR, cfg.DATA.PATH_PREFIX = list_dir, video_dir
    cfg.DATA.NUM_FRAMES, cfg.DATA.SAMPLING_RATE, cfg.DATA.TARGET_FPS = 16, 4, 30
    cfg.DATA.TRAIN_JITTER_SCALES, cfg.DATA.TRAIN_CROP_SIZE = [256, 320], 224
    cfg.DATA.DECODING_BACKEND = backend
    cfg.TRAIN.BATCH_SIZE, cfg.DATA_LOADER.NUM_WORKERS = batch_size, workers
    cfg.MODEL.NUM_CLASSES = 2
    return build_loader(cfg, "train", training=True)


def pytorchvideo_loader(paths: list[str], batch_size: int, workers: int):
    from pytorchvideo.data import LabeledVideoDataset, make_clip_sampler
    from pytorchvideo.transforms import (
        ApplyTransformToKey,
        Normalize,
        RandomShortSideScale,
        UniformTemporalSubsample,
    )
    from torchvision.transforms import Compose, Lambda, RandomCrop, RandomHorizontalFlip

    transform = ApplyTransformToKey("video", Compose([
        UniformTemporalSubsample(16),
        Lambda(lambda x: x / 255.0),
        Normalize((0.45, 0.45, 0.45), (0.225, 0.225, 0.225)),
        RandomShortSideScale(min_size=256, max_size=320),
        RandomCrop(224),
        RandomHorizontalFlip(p=0.5),
    ]))
    dataset = LabeledVideoDataset(
        [(path, {"label": i % 2}) for i, path in enumerate(paths)],
        clip_sampler=make_clip_sampler("random", 16 * 4 / 30),
        video_sampler=torch.utils.data.RandomSampler,
        transform=transform,
        decode_audio=False,
        decoder="pyav",
    )
    return torch.utils.data.DataLoader(dataset, batch_size=batch_size, num_workers=workers)


def clips_per_second(loader, clips: int, epoch: int | None = None) -> float:
    """Clips/s over `clips` clips after the first batch (worker start-up is not timed)."""
    if epoch is not None:
        set_loader_epoch(loader, epoch)
    seen, start = 0, None
    for batch in loader:
        assert batch["video"].shape[1:] == (3, 16, 224, 224), batch["video"].shape
        if start is None:
            start = time.perf_counter()
            continue
        seen += batch["video"].shape[0]
        if seen >= clips:
            break
    if seen < clips:
        raise RuntimeError(f"the loader ran out after {seen} timed clips; raise --videos or lower --clips")
    return seen / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--videos", type=int, default=8, help="distinct generated videos")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each video")
    parser.add_argument("--height", type=int, default=256)
    parser.add_argument("--width", type=int, default=340)
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument("--clips", type=int, default=96, help="timed clips per run")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3, help="runs of each loader (alternating)")
    parser.add_argument("--backend", default="pyav", choices=["pyav", "decord"], help="video3d decoder")
    parser.add_argument("--work-dir", default="", help="where to write the videos (default: a temp dir)")
    args = parser.parse_args()

    work_dir = args.work_dir or tempfile.mkdtemp(prefix="bench_loader_")
    video_dir = os.path.join(work_dir, "videos")
    os.makedirs(video_dir, exist_ok=True)
    names = [f"video_{i:03d}.mp4" for i in range(args.videos)]
    start = time.perf_counter()
    for i, name in enumerate(names):
        path = os.path.join(video_dir, name)
        if not os.path.exists(path):
            write_video(path, args.seconds, args.fps, args.height, args.width, seed=i)
    print(f"videos: {args.videos} x {args.seconds:g} s {args.width}x{args.height} @ {args.fps} fps in "
          f"{video_dir} ({time.perf_counter() - start:.1f} s to prepare)")

    # Enough list entries that neither loader runs dry: each video appears many times.
    copies = -(-(args.clips + 2 * args.batch_size) // args.videos) * 2
    with open(os.path.join(work_dir, "train.csv"), "w", encoding="utf-8") as handle:
        handle.writelines(f"{name} {i % 2}\n" for i, name in enumerate(names * copies))
    paths = [os.path.join(video_dir, name) for name in names * copies]

    ours_loader = video3d_loader(work_dir, video_dir, args.batch_size, args.workers, args.backend)
    ours, theirs = [], []
    for run in range(args.repeats):
        ours.append(clips_per_second(ours_loader, args.clips, epoch=run))
        theirs.append(clips_per_second(pytorchvideo_loader(paths, args.batch_size, args.workers), args.clips))
        print(f"run {run}: video3d {ours[-1]:.2f} clips/s, pytorchvideo {theirs[-1]:.2f} clips/s")
    ratio = statistics.median(ours) / statistics.median(theirs)
    print(f"median clips/s: video3d ({args.backend}) {statistics.median(ours):.2f}, "
          f"pytorchvideo LabeledVideoDataset (pyav) {statistics.median(theirs):.2f}")
    print(f"ratio video3d / pytorchvideo: {ratio:.2f}x (target >= 1.5x; 16x4 clips, 224 crop, "
          f"{args.workers} workers, batch {args.batch_size})")


if __name__ == "__main__":
    main()
