"""SynthMotion: a small, seeded action dataset of real H.264 videos (docs/DATA.md).

    python -m data_prep.synthetic OUT_DIR [--num-train 320 --num-val 96 --seed 0 --size 96
                                           --frames 60 --fps 30 --num-broken 0 --workers N]

Each video shows one textured blob on a noisy background doing one of eight motions. The
class is invisible in a single frame: position is uniform on a torus (the blob wraps around
the borders) at every frame for every class, the angle is uniform at every frame, and the
log-size of the static-size classes is drawn from the same law as a random frame of a
grow/shrink video. Only the change over time tells the classes apart.

Layout: OUT_DIR/videos/<class>/<split>_<index>.mp4, OUT_DIR/{train,val}.csv with lines
`videos/<class>/<id>.mp4 <label>`, OUT_DIR/classnames.txt, OUT_DIR/synthmotion.json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from dataclasses import asdict, dataclass
from multiprocessing import get_context

import av
import cv2
import numpy as np
from tqdm import tqdm

from data_prep.pool import opencv_quiet_for_fork
from video3d.errors import DataError
from video3d.utils.commands import command, default_workers, non_negative_int, positive_int
from video3d.utils.io import atomic_write, atomic_write_text

CLASS_NAMES = (
    "move_left",
    "move_right",
    "move_up",
    "move_down",
    "rotate_clockwise",
    "rotate_counterclockwise",
    "grow",
    "shrink",
)
# A horizontal mirror swaps these labels (configs/demo/_base_.yaml DATA.FLIP_LABEL_MAP).
FLIP_LABEL_PAIRS = ((0, 1), (4, 5))
_SPLIT_CODES = {"train": 0, "val": 1}
_BROKEN_KINDS = ("truncated", "empty", "garbage")

# Bumped whenever the rendering or encoding changes, so a cached dataset made by another version
# is redone. 3: x264 C code (asm=0) at preset veryfast, see `encode_mp4`.
GENERATOR_VERSION = 3
_X264_OPTIONS = {"crf": "18", "preset": "veryfast", "g": "16", "threads": "1", "x264-params": "asm=0"}
# Motion per frame at the reference size of 96 pixels: over an 8-frame x stride-2 clip
# (15 frame steps) a blob moves 30-45 px, turns 90-135 degrees (12-18 degrees between two
# sampled frames, well under the 60-degree symmetry of the 3-lobed boundary) or changes size
# by 30-40 %, so a small 3D CNN learns the classes in a few CPU minutes.
_REFERENCE_SIZE = 96.0
SYNTHMOTION_FPS = 30  # frame rate of the videos unless --fps says otherwise
_SPEED_PX = (2.0, 3.0)
_SPIN_DEG = (6.0, 9.0)
_LOG_SIZE_RATE = (0.018, 0.026)
_RADIUS_FRACTION = (6.0 / 96.0, 30.0 / 96.0)  # blob radius range as a fraction of the frame side


@dataclass(frozen=True)
class MotionParams:
    """Everything that defines one video; drawn from a seeded generator by `sample_params`."""

    label: int
    size: int
    frames: int
    center_x: float  # pixels, position at frame 0 (on the torus)
    center_y: float
    angle: float  # radians at frame 0; positive = clockwise on screen (y points down)
    log_radius_mid: float  # log radius (pixels) at the middle frame of grow/shrink videos
    log_radius_offset: float  # constant offset of the static-size classes
    speed: float  # pixels per frame
    spin: float  # radians per frame
    log_size_rate: float  # log radius change per frame
    harmonics: tuple[tuple[int, float, float], ...]  # boundary (k, amplitude, phase)
    texture: str
    texture_freq: float
    texture_dir: float
    texture_phase: float
    color_a: tuple[float, float, float]
    color_b: tuple[float, float, float]
    background_seed: int
    noise_seed: int


def trajectory(params: MotionParams) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-frame (center_x, center_y, angle, radius) of the blob: the class is only here."""
    t = np.arange(params.frames, dtype=np.float64)
    mid = (params.frames - 1) / 2.0
    label = params.label
    dx = {0: -1.0, 1: 1.0}.get(label, 0.0) * params.speed
    dy = {2: -1.0, 3: 1.0}.get(label, 0.0) * params.speed
    spin = {4: 1.0, 5: -1.0}.get(label, 0.0) * params.spin
    center_x = np.mod(params.center_x + dx * t, params.size)
    center_y = np.mod(params.center_y + dy * t, params.size)
    angle = np.mod(params.angle + spin * t, 2.0 * math.pi)
    if label in (6, 7):
        sign = 1.0 if label == 6 else -1.0
        log_radius = params.log_radius_mid + sign * params.log_size_rate * (t - mid)
    else:
        log_radius = np.full_like(t, params.log_radius_mid + params.log_radius_offset)
    return center_x, center_y, angle, np.exp(log_radius)


def sample_params(label: int, rng: np.random.Generator, size: int, frames: int) -> MotionParams:
    """Draw one video's parameters; every law but the motion's direction is class-independent."""
    scale = size / _REFERENCE_SIZE
    log_min, log_max = (math.log(f * size) for f in _RADIUS_FRACTION)
    # Keep the whole grow/shrink range inside [log_min, log_max] for long videos.
    rate = float(rng.uniform(*_LOG_SIZE_RATE))
    rate = min(rate, 0.8 * (log_max - log_min) / max(frames - 1, 1))
    half_span = rate * (frames - 1) / 2.0
    mid = (frames - 1) / 2.0
    # Static-size videos look like a uniformly random frame of a grow/shrink video.
    offset = rate * float(rng.uniform(-mid, mid))
    harmonics = tuple(
        (k, float(rng.uniform(0.06, 0.14)), float(rng.uniform(0.0, 2.0 * math.pi))) for k in (2, 3)
    )
    bright = bool(rng.integers(2))
    color_a = _random_color(rng, bright)
    color_b = _random_color(rng, bright)
    return MotionParams(
        label=label,
        size=size,
        frames=frames,
        center_x=float(rng.uniform(0.0, size)),
        center_y=float(rng.uniform(0.0, size)),
        angle=float(rng.uniform(0.0, 2.0 * math.pi)),
        log_radius_mid=float(rng.uniform(log_min + half_span, log_max - half_span)),
        log_radius_offset=offset,
        speed=float(rng.uniform(*_SPEED_PX)) * scale,
        spin=math.radians(float(rng.uniform(*_SPIN_DEG))),
        log_size_rate=rate,
        harmonics=harmonics,
        texture=("stripes", "checker", "gradient")[int(rng.integers(3))],
        texture_freq=float(rng.uniform(1.5, 3.0)),
        texture_dir=float(rng.uniform(0.0, 2.0 * math.pi)),
        texture_phase=float(rng.uniform(0.0, 2.0 * math.pi)),
        color_a=color_a,
        color_b=color_b,
        background_seed=int(rng.integers(2**31)),
        noise_seed=int(rng.integers(2**31)),
    )


def _random_color(rng: np.random.Generator, bright: bool) -> tuple[float, float, float]:
    """A saturated colour well away from the mid-grey background in brightness."""
    hue = rng.uniform(0.0, 1.0, size=3)
    hue = hue / max(float(hue.max()), 1e-6)
    saturation = rng.uniform(0.3, 0.8)
    value = rng.uniform(0.8, 1.0) if bright else rng.uniform(0.05, 0.2)
    rgb = value * (1.0 - saturation + saturation * hue) if bright else value + 0.1 * hue
    return tuple(float(c) for c in np.clip(rgb, 0.0, 1.0))


def _background(params: MotionParams) -> np.ndarray:
    """A static smooth grey-ish texture around mid-grey, float32 [H, W, 3] in 0..1."""
    rng = np.random.default_rng(params.background_seed)
    coarse = rng.uniform(0.35, 0.65, size=(6, 6, 3)).astype(np.float32)
    coarse = 0.7 * coarse + 0.3 * coarse.mean(axis=2, keepdims=True)
    return cv2.resize(coarse, (params.size, params.size), interpolation=cv2.INTER_CUBIC)


def _texture(params: MotionParams, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Texture value in 0..1 in the blob's own (rotating, scaling) coordinates."""
    along = u * math.cos(params.texture_dir) + v * math.sin(params.texture_dir)
    across = -u * math.sin(params.texture_dir) + v * math.cos(params.texture_dir)
    wave = math.pi * params.texture_freq
    if params.texture == "stripes":
        return 0.5 + 0.5 * np.sin(wave * along + params.texture_phase)
    if params.texture == "checker":
        return (np.sin(wave * along + params.texture_phase) * np.sin(wave * across) > 0).astype(np.float64)
    return np.clip(0.5 + 0.5 * along, 0.0, 1.0)


def _blob_frames(params: MotionParams):
    """Per frame t: (t, alpha [H, W] float64 in 0..1, u, v): the blob's coverage of each pixel
    (anti-aliased edge) and every pixel's coordinates in the blob's own rotating, scaling frame."""
    size = params.size
    grid = np.arange(size, dtype=np.float64) + 0.5
    xs, ys = np.meshgrid(grid, grid)
    center_x, center_y, angle, radius = trajectory(params)
    for t in range(params.frames):
        # Shortest offset on the torus, so a blob leaving one border enters at the other.
        dx = np.mod(xs - center_x[t] + size / 2.0, size) - size / 2.0
        dy = np.mod(ys - center_y[t] + size / 2.0, size) - size / 2.0
        cos_a, sin_a = math.cos(angle[t]), math.sin(angle[t])
        u = (cos_a * dx + sin_a * dy) / radius[t]
        v = (-sin_a * dx + cos_a * dy) / radius[t]
        rho = np.hypot(u, v)
        phi = np.arctan2(v, u)
        boundary = np.ones_like(rho)
        for k, amplitude, phase in params.harmonics:
            boundary += amplitude * np.cos(k * phi + phase)
        yield t, np.clip((boundary - rho) * radius[t] + 0.5, 0.0, 1.0), u, v


def shape_masks(params: MotionParams) -> np.ndarray:
    """Where the blob is in every frame of `render_video(params)`: float32 [T, H, W], 1 inside,
    0 outside, fractional on the anti-aliased edge. Draws no random numbers, so asking for the
    masks never changes the video."""
    masks = np.empty((params.frames, params.size, params.size), dtype=np.float32)
    for t, alpha, _, _ in _blob_frames(params):
        masks[t] = alpha
    return masks


def render_video(params: MotionParams) -> np.ndarray:
    """All frames of one video, uint8 [T, H, W, 3] RGB."""
    size = params.size
    background = _background(params)
    noise_rng = np.random.default_rng(params.noise_seed)
    color_a = np.asarray(params.color_a, dtype=np.float32)
    color_b = np.asarray(params.color_b, dtype=np.float32)
    frames = np.empty((params.frames, size, size, 3), dtype=np.uint8)
    for t, blob_alpha, u, v in _blob_frames(params):
        alpha = blob_alpha[..., None].astype(np.float32)
        tex = _texture(params, u, v)[..., None].astype(np.float32)
        shape = tex * color_a + (1.0 - tex) * color_b
        image = alpha * shape + (1.0 - alpha) * background
        image += noise_rng.normal(0.0, 6.0 / 255.0, size=image.shape).astype(np.float32)
        frames[t] = np.clip(np.rint(image * 255.0), 0, 255).astype(np.uint8)
    return frames


def encode_mp4(frames: np.ndarray, path: str, fps: int) -> None:
    """Write uint8 [T, H, W, 3] frames as H.264 mp4, byte-identical for identical input.

    The bytes are reproducible: one encoder thread, the bitexact muxer flag, and x264's plain C
    code (asm=0). Its SIMD code reads uninitialised frame padding and, measured here on
    AVX-512, gave 4 different files in 150 encodes of the same frames; it also differs between
    CPU types. C code costs ~0.06 s per 96 px 60-frame video at preset veryfast. The file is
    written under a temp name and renamed, so a killed run never leaves a half file.
    """
    directory, name = os.path.split(path)
    tmp = os.path.join(directory, f".tmp-{os.getpid()}-{name}")
    try:
        with av.open(tmp, mode="w", format="mp4") as container:
            container.flags |= av.container.Flags.bitexact.value
            stream = container.add_stream("libx264", rate=fps, options=_X264_OPTIONS)
            stream.width = frames.shape[2]
            stream.height = frames.shape[1]
            stream.pix_fmt = "yuv420p"
            for image in frames:
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
                container.mux(stream.encode(frame))
            container.mux(stream.encode())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def video_rng(seed: int, split: str, index: int) -> np.random.Generator:
    """The generator of one video: a pure function of (seed, split, index), any worker count."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(_SPLIT_CODES[split], index)))


def split_labels(count: int, seed: int, split: str) -> list[int]:
    """Balanced labels (counts differ by at most one), in a seeded random order."""
    labels = [i % len(CLASS_NAMES) for i in range(count)]
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(_SPLIT_CODES[split], 2**31)))
    return [labels[i] for i in rng.permutation(count)]


def relative_video_path(label: int, video_id: str) -> str:
    """Path of a video relative to OUT_DIR, as written in the lists."""
    return f"videos/{CLASS_NAMES[label]}/{video_id}.mp4"


def _make_video(job: tuple[str, str, int, int, int, int, int, int]) -> None:
    out_dir, split, index, label, seed, size, frames, fps = job
    params = sample_params(label, video_rng(seed, split, index), size, frames)
    path = os.path.join(out_dir, relative_video_path(label, f"{split}_{index:05d}"))
    encode_mp4(render_video(params), path, fps)


def _write_broken(path: str, kind: str, source: str, seed: int) -> None:
    """A deliberately unreadable video: the first half of a real file, no bytes, or noise."""
    if kind == "truncated":
        with open(source, "rb") as handle:
            data = handle.read()
        data = data[: len(data) // 2]
    elif kind == "empty":
        data = b""
    else:
        data = np.random.default_rng(seed).integers(0, 256, size=4096, dtype=np.uint8).tobytes()
    with atomic_write(path, "wb") as handle:
        handle.write(data)


def generate(
    out_dir: str,
    num_train: int = 320,
    num_val: int = 96,
    seed: int = 0,
    size: int = 96,
    frames: int = 60,
    fps: int = SYNTHMOTION_FPS,
    num_broken: int = 0,
    workers: int = 1,
    progress: bool = False,
) -> dict[str, list[tuple[str, int]]]:
    """Write the dataset under `out_dir`; returns each split's (relative path, label) list."""
    if size < 16 or size % 2:
        raise DataError(f"--size must be an even number >= 16 (H.264 4:2:0), got {size}")
    if frames < 2:
        raise DataError(f"--frames must be >= 2, got {frames}")
    for name in CLASS_NAMES:
        os.makedirs(os.path.join(out_dir, "videos", name), exist_ok=True)
    counts = {"train": num_train, "val": num_val}
    lists: dict[str, list[tuple[str, int]]] = {}
    jobs = []
    for split, count in counts.items():
        labels = split_labels(count, seed, split)
        lists[split] = [(relative_video_path(lab, f"{split}_{i:05d}"), lab) for i, lab in enumerate(labels)]
        jobs += [(out_dir, split, i, lab, seed, size, frames, fps) for i, lab in enumerate(labels)]
    if workers > 1 and len(jobs) > 1:
        with opencv_quiet_for_fork(), get_context().Pool(min(workers, len(jobs))) as pool:
            for _ in tqdm(pool.imap_unordered(_make_video, jobs, chunksize=4), total=len(jobs), disable=not progress):
                pass
    else:
        for job in tqdm(jobs, disable=not progress):
            _make_video(job)
    for split in counts:
        _add_broken(out_dir, split, lists[split], num_broken, seed)
        text = "".join(f"{path} {label}\n" for path, label in lists[split])
        atomic_write_text(os.path.join(out_dir, f"{split}.csv"), text)
    atomic_write_text(os.path.join(out_dir, "classnames.txt"), "".join(f"{n}\n" for n in CLASS_NAMES))
    info = {
        "generator_version": GENERATOR_VERSION,
        "classes": list(CLASS_NAMES),
        "flip_label_pairs": [list(p) for p in FLIP_LABEL_PAIRS],
        "num_train": num_train,
        "num_val": num_val,
        "seed": seed,
        "size": size,
        "frames": frames,
        "fps": fps,
        "num_broken": num_broken,
        "example_params": asdict(sample_params(0, video_rng(seed, "train", 0), size, frames)),
    }
    atomic_write_text(os.path.join(out_dir, "synthmotion.json"), json.dumps(info, indent=1) + "\n")
    return lists


def _add_broken(out_dir: str, split: str, entries: list[tuple[str, int]], count: int, seed: int) -> None:
    """Insert `count` broken files at evenly spread positions of a split's list."""
    if count == 0:
        return
    if not entries:
        raise DataError(f"--num-broken needs at least one good {split} video to truncate")
    source = os.path.join(out_dir, entries[0][0])
    for k in range(count):
        kind = _BROKEN_KINDS[k % len(_BROKEN_KINDS)]
        label = k % len(CLASS_NAMES)
        rel = relative_video_path(label, f"{split}_broken_{k:03d}_{kind}")
        _write_broken(os.path.join(out_dir, rel), kind, source, seed * 1000 + k)
        position = (k + 1) * len(entries) // (count + 1)
        entries.insert(position, (rel, label))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Output folder, sizes of the splits, seed and video settings (None: sys.argv)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out_dir", help="output folder (lists, class names, videos/)")
    parser.add_argument("--num-train", type=non_negative_int, default=320, help="training videos")
    parser.add_argument("--num-val", type=non_negative_int, default=96, help="validation videos")
    parser.add_argument("--seed", type=int, default=0, help="dataset seed (same seed, same bytes)")
    parser.add_argument("--size", type=positive_int, default=96, help="frame side in pixels (even)")
    parser.add_argument("--frames", type=positive_int, default=60, help="frames per video")
    parser.add_argument("--fps", type=positive_int, default=SYNTHMOTION_FPS, help="frame rate")
    parser.add_argument("--num-broken", type=non_negative_int, default=0, help="broken files added to each list")
    parser.add_argument("--workers", type=positive_int, default=default_workers(), help="worker processes")
    return parser.parse_args(argv)


@command
def main(argv: list[str] | None = None) -> int:
    """Console script video3d-synthetic / python -m data_prep.synthetic."""
    args = parse_args(argv)
    lists = generate(
        args.out_dir,
        num_train=args.num_train,
        num_val=args.num_val,
        seed=args.seed,
        size=args.size,
        frames=args.frames,
        fps=args.fps,
        num_broken=args.num_broken,
        workers=args.workers,
        progress=True,
    )
    print(f"SynthMotion: {len(lists['train'])} train, {len(lists['val'])} val entries in {args.out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
