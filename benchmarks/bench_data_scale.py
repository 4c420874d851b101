"""Kinetics-shaped rehearsal of the data side: a 240,000-line list, the loader against the
decode floor, the 30-view test, worker memory, the decoders side by side, resizing.

In a temporary folder it builds: --videos distinct 10-second H.264 videos at short side 320
(568x320, 30 fps, a keyframe every 2 s), --hd-videos 1280x720 variants, and a --list-size
line train list over --classes classes pointing at the videos through symbolic links. Then,
in one run (every figure in CPU-seconds of the main process plus its loader workers, read from
/proc, so other load on a shared machine changes the wall clock but hardly the figures):

  a. startup_s: wall seconds from building the dataset on the big list to the first batch
     (2 workers); no file is stat'ed up front.
  b. loader_clips_per_core_s / cpu_s_per_clip at 8x8 and 16x4: training clips (224 crop,
     short-side jitter 256-320, 2 workers) of one whole epoch over --clips list lines, as the
     uint8 batches the loader hands over; normalize_cpu_s_per_clip is the consumer's
     normalisation of them on the CPU (on a GPU it runs there), timed apart.
  c. the decode floor of exactly those clips: PyAV alone opening the file, seeking to the
     keyframe before each clip and decoding every frame up to its last one, the clip's frames
     converted to RGB at native size, one thread; loader_over_floor = loader CPU-s per clip /
     floor CPU-s per clip.
  d. test_views_per_core_s: the 30-view test (10 clips x 3 crops, 8x8, 256 crops) of
     --test-videos videos, and test_over_floor against the floor of the same clips: the
     loader's part (decode, resize: the ViewSet a worker hands over). The views are cut by the
     consumer on the network's device; test_cut_cpu_s_per_video is that cut on the CPU (uint8)
     and test_cut_on_cpu_over_floor the total where there is no GPU.
  e. rss_mb / rss_growth_mb (and USS, the process's own pages): main process and each of
     --memory-workers workers after --memory-batches batches on the big list, growth
     between batch 100 and the last (a cheap 2x2 112-crop clip, so 2,000 batches take minutes).
  f. decoders: 8x8 loader clips/s per core with pyav, decord and torchcodec (where they load).
  g. resizing: data_prep.resize_videos' videos/s per core on the 720p clips, and 8x8 loader
     clips/s per core on the 720p sources before and after resizing to short side 320.

    python benchmarks/bench_data_scale.py [--json]        # full rehearsal, minutes
    python benchmarks/bench_data_scale.py --quick --json  # seconds: a tiny corpus, same code

--json prints one line: startup_s, loader_clips_per_core_s (per shape), cpu_s_per_clip,
loader_over_floor, test_views_per_core_s, test_over_floor, test_cut_cpu_s_per_video,
test_cut_on_cpu_over_floor, rss_mb, rss_growth_mb,
uss_growth_mb, decoders (name -> clips/s per core), resize_videos_per_core_s, hd_vs_resized,
targets (name -> met), cpu.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import shutil
import tempfile
import time
from bisect import bisect_right

import av
import numpy as np
import torch

from data_prep.resize_videos import EncodeOptions, resize_video
from video3d.config import get_cfg
from video3d.data import build_loader, datasets, set_loader_epoch
from video3d.data.datasets import build_dataset, sample_generator
from video3d.data.lists import RecordTable, kinetics_records
from video3d.data.multiview import multiview_dataset
from video3d.data.pyav_convert import frame_to_ndarray
from video3d.data.sources import DECODERS, open_source
from video3d.data.transforms import Normalizer
from video3d.errors import Video3DError

SHAPES = {"8x8": (8, 8), "16x4": (16, 4)}
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# ----------------------------------------------------------------------------- the corpus
def write_video(path: str, seconds: float, fps: int, width: int, height: int, seed: int) -> None:
    """A drifting random texture with grain: H.264 (veryfast, crf 23), a keyframe every 2 s."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (height // 8 + 8, width // 8 + 8, 3), dtype=np.uint8)
    texture = np.kron(coarse, np.ones((8, 8, 1), np.uint8))
    grain = rng.integers(-12, 13, (4, height, width, 1), dtype=np.int16)
    tmp = path + ".tmp.mp4"
    with av.open(tmp, "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"g": str(2 * fps), "keyint_min": str(2 * fps), "sc_threshold": "0",
                          "preset": "veryfast", "crf": "23", "threads": "1"}
        for t in range(int(seconds * fps)):
            dy, dx = (t // 2) % 64, t % 64
            image = texture[dy:dy + height, dx:dx + width].astype(np.int16) + grain[t % 4]
            frame = av.VideoFrame.from_ndarray(np.clip(image, 0, 255).astype(np.uint8), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    os.replace(tmp, path)


def _write_job(job):
    write_video(*job)
    return job[0]


def make_videos(folder: str, count: int, seconds: float, width: int, height: int, seed: int) -> list[str]:
    os.makedirs(folder, exist_ok=True)
    paths = [os.path.join(folder, f"video_{i:03d}.mp4") for i in range(count)]
    jobs = [(p, seconds, 30, width, height, seed + i) for i, p in enumerate(paths) if not os.path.exists(p)]
    if jobs:
        with multiprocessing.get_context("fork").Pool(min(os.cpu_count() or 1, len(jobs))) as pool:
            list(pool.imap_unordered(_write_job, jobs))
    return paths


def make_big_list(root: str, videos: list[str], lines: int, classes: int) -> str:
    """`lines` list lines over `classes` classes, each a symbolic link to one of `videos`."""
    list_dir = os.path.join(root, "lists", "big")
    list_path = os.path.join(list_dir, "train.csv")
    if os.path.exists(list_path):
        return list_dir
    os.makedirs(list_dir, exist_ok=True)
    links = os.path.join(root, "links")
    rows = []
    for c in range(classes):
        os.makedirs(os.path.join(links, f"class_{c:03d}"), exist_ok=True)
    for i in range(lines):
        label = i % classes
        relative = f"class_{label:03d}/{i:06d}.mp4"
        os.symlink(videos[i % len(videos)], os.path.join(links, relative))
        rows.append(f"{relative} {label}\n")
    with open(list_path, "w", encoding="utf-8") as handle:
        handle.writelines(rows)
    return list_dir


def make_list(root: str, name: str, paths: list[str], lines: int) -> str:
    """A list of `lines` lines cycling through `paths` (absolute; DATA.PATH_PREFIX empty)."""
    list_dir = os.path.join(root, "lists", name)
    os.makedirs(list_dir, exist_ok=True)
    with open(os.path.join(list_dir, "train.csv"), "w", encoding="utf-8") as handle:
        handle.writelines(f"{paths[i % len(paths)]} {i % 400}\n" for i in range(lines))
    return list_dir


# ----------------------------------------------------------------------------- /proc accounting
def process_cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def memory_mb(pid: int) -> tuple[float, float]:
    """(RSS, USS: the pages only this process holds) in MB."""
    rss = uss = 0
    with open(f"/proc/{pid}/smaps_rollup") as handle:
        for line in handle:
            key, _, value = line.partition(":")
            if key == "Rss":
                rss = int(value.split()[0])
            elif key in ("Private_Clean", "Private_Dirty"):
                uss += int(value.split()[0])
    return rss / 1024, uss / 1024


def worker_pids(loader) -> list[int]:
    return [worker.pid for worker in loader._iterator._workers]  # torch internals: a benchmark only


def cpu_now(pids: list[int]) -> float:
    return time.process_time() + sum(process_cpu_s(pid) for pid in pids)


# ----------------------------------------------------------------------------- configs
def train_cfg(list_dir: str, prefix: str, shape: tuple[int, int], batch: int, workers: int,
              backend: str = "pyav", crop: int = 224, jitter: tuple[int, int] = (256, 320)):
    cfg = get_cfg()
    cfg.DATA.PATH_TO_DATA_DIR, cfg.DATA.PATH_PREFIX = list_dir, prefix
    cfg.DATA.NUM_FRAMES, cfg.DATA.SAMPLING_RATE, cfg.DATA.TARGET_FPS = shape[0], shape[1], 30
    cfg.DATA.TRAIN_JITTER_SCALES, cfg.DATA.TRAIN_CROP_SIZE = list(jitter), crop
    cfg.DATA.DECODING_BACKEND = backend
    cfg.TRAIN.BATCH_SIZE, cfg.DATA_LOADER.NUM_WORKERS = batch, workers
    cfg.DATA_LOADER.PIN_MEMORY = False
    cfg.MODEL.NUM_CLASSES = 400
    return cfg


# ----------------------------------------------------------------------------- the decode floor
class KeyframeIndex:
    """Per video, read once and not timed: presentation timestamps and keyframe indices."""

    def __init__(self):
        self._cache: dict[str, tuple[list[int], list[int]]] = {}

    def __call__(self, path: str) -> tuple[list[int], list[int]]:
        if path not in self._cache:
            with av.open(path) as container:
                stream = container.streams.video[0]
                packets = [(p.pts, p.is_keyframe) for p in container.demux(stream) if p.size]
            pts = sorted(p for p, _ in packets)
            position = {p: i for i, p in enumerate(pts)}
            self._cache[path] = (pts, sorted(position[p] for p, key in packets if key))
        return self._cache[path]


def decode_floor(path: str, needed: list[int], keyframes: KeyframeIndex) -> None:
    """Decode what `needed` takes with PyAV alone: from the keyframe before each needed frame on,
    every frame, the needed ones converted to RGB at native size (one thread)."""
    pts, keys = keyframes(path)
    wanted = sorted(set(needed))
    runs: list[list[int]] = []
    for index in wanted:
        start = keys[bisect_right(keys, index) - 1]
        if runs and start <= runs[-1][1] + 1:
            runs[-1][1] = max(runs[-1][1], index)
        else:
            runs.append([start, index])
    wanted_pts = {pts[i] for i in wanted}
    with av.open(path) as container:
        stream = container.streams.video[0]
        stream.thread_type, stream.thread_count = "SLICE", 1
        for start, end in runs:
            container.seek(pts[start], stream=stream, backward=True, any_frame=False)
            for frame in container.decode(stream):
                if frame.pts in wanted_pts:
                    frame_to_ndarray(frame, "rgb24")
                if frame.pts >= pts[end]:
                    break


def floor_cpu_s(clips: list[tuple[str, list[int]]], keyframes: KeyframeIndex) -> float:
    for path, _ in clips:
        keyframes(path)  # the index is read before the clock starts
    start = time.process_time()
    for path, needed in clips:
        decode_floor(path, needed, keyframes)
    return time.process_time() - start


# ----------------------------------------------------------------------------- measurements
def loader_epoch(cfg) -> dict:
    """CPU-seconds (main + workers) and wall time of one whole epoch of the training loader,
    after a warm-up batch started the (persistent) workers; the clips the epoch drew."""
    loader = build_loader(cfg, "train", training=True)
    set_loader_epoch(loader, 0)
    next(iter(loader))
    set_loader_epoch(loader, 1)
    batches = iter(loader)  # waits for the warm-up epoch's leftovers
    pids = worker_pids(loader)
    normalize = Normalizer.from_cfg(cfg).views
    clips, normalize_cpu = 0, 0.0
    cpu0, wall0 = cpu_now(pids), time.perf_counter()
    for batch in batches:
        clips += batch["video"].shape[0]
        # The consumer's normalisation of the uint8 batch, timed apart: on a GPU it runs there.
        start = time.process_time()
        normalize(batch["video"])
        normalize_cpu += time.process_time() - start
    cpu, wall = cpu_now(pids) - cpu0 - normalize_cpu, time.perf_counter() - wall0
    samples = [index for _, index in loader.sampler][:clips]
    del batches, loader
    return {"clips": clips, "cpu_s": cpu, "wall_s": wall, "samples": samples, "normalize_cpu_s": normalize_cpu}


def clip_frames(cfg, samples: list[int], epoch: int = 1) -> list[tuple[str, list[int]]]:
    """(path, frame indices) of each training sample, drawn exactly as the dataset drew them."""
    dataset = build_dataset(cfg, "train", True)
    meta: dict[str, tuple[int, float]] = {}
    clips = []
    for index in samples:
        path = dataset.records[index].path
        if path not in meta:
            with open_source(path) as source:
                meta[path] = (source.num_frames, source.fps)
        generator = sample_generator(cfg.RNG_SEED, epoch, index, 0)
        clips.append((path, dataset.clip_indices(*meta[path], generator)))
    return clips


def measure_loader(root: str, name: str, paths: list[str], shape, args, backend: str = "pyav",
                   keyframes: KeyframeIndex | None = None) -> dict:
    list_dir = make_list(root, name, paths, args.clips)
    cfg = train_cfg(list_dir, "", shape, args.batch_size, args.workers, backend)
    run = loader_epoch(cfg)
    result = {"clips": run["clips"], "clips_per_core_s": run["clips"] / run["cpu_s"],
              "cpu_s_per_clip": run["cpu_s"] / run["clips"], "wall_clips_s": run["clips"] / run["wall_s"],
              "normalize_cpu_s_per_clip": run["normalize_cpu_s"] / run["clips"]}
    if keyframes is not None:
        floor = floor_cpu_s(clip_frames(cfg, run["samples"]), keyframes)
        result["floor_cpu_s_per_clip"] = floor / run["clips"]
        result["over_floor"] = result["cpu_s_per_clip"] / result["floor_cpu_s_per_clip"]
        result["normalized_on_cpu_over_floor"] = ((result["cpu_s_per_clip"] + result["normalize_cpu_s_per_clip"])
                                                  / result["floor_cpu_s_per_clip"])
    return result


def measure_test(root: str, paths: list[str], args, keyframes: KeyframeIndex) -> dict:
    """The 30-view test of `paths`, one process: views/s per core, and its floor."""
    list_dir = make_list(root, "test", paths, len(paths))
    cfg = train_cfg(list_dir, "", SHAPES["8x8"], 1, 0)
    cfg.TEST.NUM_ENSEMBLE_VIEWS, cfg.TEST.NUM_SPATIAL_CROPS, cfg.DATA.TEST_CROP_SIZE = 10, 3, 256
    dataset = multiview_dataset(cfg, build_dataset(cfg, "train", False).records, "kinetics")
    dataset.views(0).cut()  # warm-up (first-call set-up), not timed
    views, cpu, cut_cpu = 0, 0.0, 0.0
    for i in range(len(dataset)):
        start = time.process_time()
        view_set = dataset.views(i)  # the loader worker's part: decode, resize (a ViewSet)
        middle = time.process_time()
        view_set.cut()  # the consumer's cut, on the CPU into uint8 (on a GPU it runs there)
        cpu, cut_cpu = cpu + middle - start, cut_cpu + time.process_time() - middle
        views += len(view_set)
    clips = []
    for i in range(len(dataset)):
        with dataset.open_video(dataset.records[i]) as source:
            clips.append((dataset.records[i].path, [f for clip in dataset.clips_of(source) for f in clip]))
    floor = floor_cpu_s(clips, keyframes)
    return {"views": views, "views_per_core_s": views / cpu, "floor_views_per_core_s": views / floor,
            "over_floor": cpu / floor, "cut_cpu_s_per_video": cut_cpu / len(dataset),
            "cut_on_cpu_over_floor": (cpu + cut_cpu) / floor}


def measure_startup(big_list_dir: str, links: str, args) -> tuple[float, float]:
    cfg = train_cfg(big_list_dir, links, SHAPES["8x8"], args.batch_size, args.workers)
    start, cpu0 = time.perf_counter(), time.process_time()
    loader = build_loader(cfg, "train", training=True)
    next(iter(loader))
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu0
    del loader
    return wall, cpu


def measure_memory(big_list_dir: str, links: str, args) -> dict:
    """RSS / USS of the main process and each worker at batch 100 and after --memory-batches."""
    cfg = train_cfg(big_list_dir, links, (2, 2), args.memory_batch_size, args.memory_workers,
                    crop=112, jitter=(128, 160))
    loader = build_loader(cfg, "train", training=True)
    first_mark = min(100, args.memory_batches // 2)
    marks = {}
    for number, _ in enumerate(loader, 1):
        if number in (first_mark, args.memory_batches):
            pids = [os.getpid()] + worker_pids(loader)
            marks[number] = [memory_mb(pid) for pid in pids]
        if number == args.memory_batches:
            break
    start, end = marks[first_mark], marks[args.memory_batches]
    del loader
    return {"batches": args.memory_batches, "workers": args.memory_workers, "growth_from_batch": first_mark,
            "rss_mb": {"main": round(end[0][0], 1), "workers": [round(m[0], 1) for m in end[1:]]},
            "uss_mb": {"main": round(end[0][1], 1), "workers": [round(m[1], 1) for m in end[1:]]},
            "rss_growth_mb": round(max(e[0] - s[0] for s, e in zip(start[1:], end[1:], strict=True)), 1),
            "uss_growth_mb": round(max(e[1] - s[1] for s, e in zip(start[1:], end[1:], strict=True)), 1),
            "main_rss_growth_mb": round(end[0][0] - start[0][0], 1)}


def record_reads_uss_mb(big_list_dir: str, links: str, storage) -> float:
    """USS growth of a forked child that reads every record of the big list once, as the
    loader's workers do over an epoch: the copy-on-read of the record storage, alone."""
    cfg = train_cfg(big_list_dir, links, (2, 2), 1, 0)
    records = storage(kinetics_records(cfg, "train"))
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: read, measure, report, leave without cleanup
        os.close(read_end)
        before = memory_mb(os.getpid())[1]
        total = sum(len(records[i].path) for i in range(len(records)))
        os.write(write_end, json.dumps([memory_mb(os.getpid())[1] - before, total]).encode())
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as handle:
        growth, _ = json.loads(handle.read())
    os.waitpid(pid, 0)
    return growth


def available_decoders(names: list[str], probe: str) -> list[str]:
    usable = []
    for name in names:
        try:
            with open_source(probe, backend=name) as source:
                source.get_frames([0])
            usable.append(name)
        except Video3DError as error:
            print(f"decoder {name}: not measured ({str(error)[:160]})")
    return usable


def measure_resize(hd_paths: list[str], out_dir: str, short_side: int) -> tuple[float, list[str]]:
    os.makedirs(out_dir, exist_ok=True)
    outs = [os.path.join(out_dir, os.path.basename(p)) for p in hd_paths]
    start = time.process_time()
    for source, out in zip(hd_paths, outs, strict=True):
        resize_video(source, out, EncodeOptions(short_side=short_side))
    return len(hd_paths) / (time.process_time() - start), outs


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


# ----------------------------------------------------------------------------- main
def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a tiny corpus and short runs (seconds): checks the code")
    parser.add_argument("--json", action="store_true", help="print one JSON line at the end")
    parser.add_argument("--videos", type=int, default=64, help="distinct videos at short side 320")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--hd-videos", type=int, default=4, help="1280x720 videos (resize and 720p loader runs)")
    parser.add_argument("--list-size", type=int, default=240_000)
    parser.add_argument("--classes", type=int, default=400)
    parser.add_argument("--clips", type=int, default=96, help="clips per loader epoch (a multiple of the batch)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--test-videos", type=int, default=8)
    parser.add_argument("--memory-batches", type=int, default=2000)
    parser.add_argument("--memory-batch-size", type=int, default=2)
    parser.add_argument("--memory-workers", type=int, default=4)
    parser.add_argument("--decoders", default="pyav,decord,torchcodec")
    parser.add_argument("--work-dir", default="", help="keep the corpus here (reused by later runs)")
    parser.add_argument("--parts", default="abcdefg", help="which measurements to run (letters a-g above)")
    parser.add_argument("--plain-records", action="store_true",
                        help="datasets keep a Python list of record objects (the storage before RecordTable), "
                             "to compare memory")
    args = parser.parse_args(argv)
    if args.quick:
        args.videos, args.seconds, args.hd_videos = 4, 2.0, 1
        args.list_size, args.classes, args.clips, args.batch_size = 2400, 40, 8, 4
        args.test_videos, args.memory_batches, args.memory_workers = 2, 40, 2
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    torch.set_num_threads(1)
    root = args.work_dir or tempfile.mkdtemp(prefix="bench_data_scale_")
    size = (568, 320) if not args.quick else (170, 96)
    hd_size = (1280, 720) if not args.quick else (256, 144)
    start = time.perf_counter()
    videos = make_videos(os.path.join(root, "videos"), args.videos, args.seconds, *size, seed=0)
    hd = make_videos(os.path.join(root, "videos_720p"), args.hd_videos, args.seconds, *hd_size, seed=1000)
    big = make_big_list(root, videos, args.list_size, args.classes)
    print(f"corpus: {args.videos} x {args.seconds:g} s {size[0]}x{size[1]} + {args.hd_videos} at "
          f"{hd_size[0]}x{hd_size[1]}, {args.list_size}-line list over {args.classes} classes (links), "
          f"{time.perf_counter() - start:.0f} s, in {root}", flush=True)
    keyframes = KeyframeIndex()
    result: dict = {"cpu": cpu_model(), "cores": os.cpu_count(), "quick": args.quick,
                    "records": "list" if args.plain_records else "RecordTable",
                    "note": "CPU-seconds of the main process and its workers; the machine may be shared"}
    if args.plain_records:
        datasets.RecordTable = list
    if "a" in args.parts:
        measure_part_a(result, big, root, args)
    if "b" in args.parts or "c" in args.parts:
        measure_part_bc(result, root, videos, args, keyframes)
    if "d" in args.parts:
        measure_part_d(result, root, videos, args, keyframes)
    if "e" in args.parts:
        measure_part_e(result, big, root, args)
    if "f" in args.parts:
        measure_part_f(result, root, videos, args)
    if "g" in args.parts:
        measure_part_g(result, root, hd, size, hd_size, args)
    targets = {"loader_over_floor<=1.3": ("loader_over_floor", lambda v: max(v.values()) <= 1.3),
               "test_over_floor<=1.3": ("test_over_floor", lambda v: v <= 1.3),
               "startup_s<=10": ("startup_s", lambda v: v <= 10),
               "rss_growth_mb<=50": ("rss_growth_mb", lambda v: v <= 50)}
    result["targets"] = {name: test(result[key]) for name, (key, test) in targets.items() if key in result}
    print("targets: " + ", ".join(f"{k} {'met' if v else 'NOT met'}" for k, v in result["targets"].items()))
    if args.json:
        print(json.dumps(result))
    if not args.work_dir:
        shutil.rmtree(root, ignore_errors=True)
    return result


def measure_part_a(result: dict, big: str, root: str, args) -> None:
    startup, startup_cpu = measure_startup(big, os.path.join(root, "links"), args)
    result.update(startup_s=round(startup, 2), startup_main_cpu_s=round(startup_cpu, 2))
    print(f"a. start-up on {args.list_size} lines: {startup:.2f} s to the first batch ({startup_cpu:.2f} CPU-s main)",
          flush=True)


def measure_part_bc(result: dict, root: str, videos: list[str], args, keyframes: KeyframeIndex) -> None:
    loader = {name: measure_loader(root, f"train_{name}", videos, shape, args, keyframes=keyframes)
              for name, shape in SHAPES.items()}
    result["loader_clips_per_core_s"] = {k: round(v["clips_per_core_s"], 2) for k, v in loader.items()}
    result["cpu_s_per_clip"] = {k: round(v["cpu_s_per_clip"], 4) for k, v in loader.items()}
    result["floor_cpu_s_per_clip"] = {k: round(v["floor_cpu_s_per_clip"], 4) for k, v in loader.items()}
    result["loader_over_floor"] = {k: round(v["over_floor"], 3) for k, v in loader.items()}
    result["loader_wall_clips_s"] = {k: round(v["wall_clips_s"], 2) for k, v in loader.items()}
    result["normalize_cpu_s_per_clip"] = {k: round(v["normalize_cpu_s_per_clip"], 4) for k, v in loader.items()}
    result["loader_normalized_on_cpu_over_floor"] = {k: round(v["normalized_on_cpu_over_floor"], 3)
                                                     for k, v in loader.items()}
    for name, run in loader.items():
        print(f"b/c. loader {name}: {run['clips_per_core_s']:.2f} clips/s per core ({run['cpu_s_per_clip']:.4f} "
              f"CPU-s a clip), floor {run['floor_cpu_s_per_clip']:.4f} CPU-s a clip: {run['over_floor']:.2f}x "
              f"(uint8 batches; normalising them on the CPU adds {run['normalize_cpu_s_per_clip'] * 1000:.1f} ms a "
              f"clip: {run['normalized_on_cpu_over_floor']:.2f}x)", flush=True)


def measure_part_d(result: dict, root: str, videos: list[str], args, keyframes: KeyframeIndex) -> None:
    test = measure_test(root, videos[: args.test_videos], args, keyframes)
    result.update(test_views_per_core_s=round(test["views_per_core_s"], 2),
                  test_floor_views_per_core_s=round(test["floor_views_per_core_s"], 2),
                  test_over_floor=round(test["over_floor"], 3),
                  test_cut_cpu_s_per_video=round(test["cut_cpu_s_per_video"], 4),
                  test_cut_on_cpu_over_floor=round(test["cut_on_cpu_over_floor"], 3))
    print(f"d. 30-view test: {test['views_per_core_s']:.2f} views/s per core, floor "
          f"{test['floor_views_per_core_s']:.2f}: {test['over_floor']:.2f}x (the loader's part; cutting the views "
          f"on the CPU adds {test['cut_cpu_s_per_video'] * 1000:.0f} ms a video: {test['cut_on_cpu_over_floor']:.2f}x)",
          flush=True)


def measure_part_e(result: dict, big: str, root: str, args) -> None:
    memory = measure_memory(big, os.path.join(root, "links"), args)
    links = os.path.join(root, "links")
    memory["record_reads_uss_mb"] = {name: round(record_reads_uss_mb(big, links, storage), 1)
                                     for name, storage in (("RecordTable", RecordTable), ("list", list))}
    result.update(memory)
    print(f"e. memory after {memory['batches']} batches, {memory['workers']} workers: RSS main "
          f"{memory['rss_mb']['main']} MB, workers {memory['rss_mb']['workers']} MB; growth since batch {memory['growth_from_batch']}: "
          f"RSS {memory['rss_growth_mb']} MB, USS {memory['uss_growth_mb']} MB (largest worker); a worker reading all "
          f"{args.list_size} records once: USS +{memory['record_reads_uss_mb']} MB", flush=True)


def measure_part_f(result: dict, root: str, videos: list[str], args) -> None:
    decoders = {}
    for name in available_decoders([d for d in args.decoders.split(",") if d in DECODERS], videos[0]):
        decoders[name] = round(measure_loader(root, f"decoder_{name}", videos, SHAPES["8x8"], args, name)
                               ["clips_per_core_s"], 2)
        print(f"f. decoder {name}: {decoders[name]:.2f} clips/s per core at 8x8", flush=True)
    result["decoders"] = decoders
    result["fastest_decoder"] = max(decoders, key=decoders.get) if decoders else None


def measure_part_g(result: dict, root: str, hd: list[str], size, hd_size, args) -> None:
    resize_rate, resized = measure_resize(hd, os.path.join(root, "videos_720p_resized"), size[1])
    before = measure_loader(root, "hd", hd, SHAPES["8x8"], args)["clips_per_core_s"]
    after = measure_loader(root, "hd_resized", resized, SHAPES["8x8"], args)["clips_per_core_s"]
    result["resize_videos_per_core_s"] = round(resize_rate, 3)
    result["hd_vs_resized"] = {"720p_clips_per_core_s": round(before, 2), "resized_clips_per_core_s": round(after, 2),
                               "speed_up": round(after / before, 2)}
    print(f"g. resize_videos: {resize_rate:.3f} videos/s per core ({args.seconds:g}-s {hd_size[1]}p clips); "
          f"8x8 loader {before:.2f} -> {after:.2f} clips/s per core after resizing ({after / before:.2f}x)", flush=True)



if __name__ == "__main__":
    main()
