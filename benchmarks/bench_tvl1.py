"""video3d's PyTorch TV-L1 against OpenCV contrib's `DualTVL1OpticalFlow`, in one run.

Consecutive frame pairs of a video (grayscale, resized to --size with area averaging, as
`data_prep.extract_flow` does) go through both: OpenCV with one single-threaded process per
core, each taking its share of the pairs; video3d in this process on --device, --batch pairs
per call, in one single-threaded process per core as well on the CPU (one process on a GPU).
The two alternate --repeats times and the medians are printed, with the agreement
of the flows (end-point difference, and the share of values within one level after the
bound-20 quantisation of data_prep) and video3d's peak memory per pair. Shared machines are
noisy: compare the ratio, measured in the same run, not absolute numbers. Each worker also
counts the CPU time it used, so "pairs per CPU-second" (what one busy core delivers) is
printed as well: on a loaded machine it stays near the idle figure while pairs/s drops.
`--dynamic` compiles with symbolic sizes (one compile for every frame and batch size, what
`data_prep.extract_flow` does) instead of one compile per shape.

    python benchmarks/bench_tvl1.py --video tests/data/real/bikes.mp4 --pairs 16 --size 340x256 --batch 8
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from multiprocessing import get_context

import cv2
import numpy as np
import torch

from data_prep.decode import iter_frames
from data_prep.extract_frames import parse_size
from video3d.cli.base import command
from video3d.errors import ConfigError, DecodeError
from video3d.flow import TVL1, resolve_device
from video3d.flow.quantize import quantize_flow

BOUND = 20.0  # data_prep.extract_flow's default


def read_gray_frames(path: str, count: int, size: tuple[int, int] | None) -> np.ndarray:
    """The first `count` frames of `path` as uint8 [count, H, W] grayscale, resized to `size`."""
    frames = []
    for image in iter_frames(path):
        if size is not None and (image.shape[1], image.shape[0]) != size:
            image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        frames.append(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY))
        if len(frames) == count:
            break
    if len(frames) < 2:
        raise DecodeError(path, f"{len(frames)} frame(s), need at least 2 for a flow pair")
    return np.stack(frames)


def _opencv_flows(frames: np.ndarray, indices: list[int]) -> tuple[list[np.ndarray], float]:
    """(flows, CPU seconds this process spent on them)."""
    cv2.setNumThreads(1)
    solver = cv2.optflow.DualTVL1OpticalFlow_create()
    start = time.process_time()
    flows = [solver.calc(frames[i], frames[i + 1], None) for i in indices]
    return flows, time.process_time() - start


def opencv_run(pool, frames: np.ndarray, processes: int) -> tuple[float, float, np.ndarray]:
    """All pairs through OpenCV, split over `processes` workers:
    (pairs/s, pairs per CPU-second, flows [N, H, W, 2])."""
    pairs = len(frames) - 1
    shares = [list(range(k, pairs, processes)) for k in range(processes)]
    start = time.perf_counter()
    results = pool.starmap(_opencv_flows, [(frames, share) for share in shares])
    elapsed = time.perf_counter() - start
    flows = np.empty((pairs, *frames.shape[1:], 2), np.float32)
    for share, (result, _) in zip(shares, results, strict=True):
        for index, flow in zip(share, result, strict=True):
            flows[index] = flow
    return pairs / elapsed, pairs / sum(cpu for _, cpu in results), flows


_SOLVER: dict = {}


def _torch_worker_init(compile: bool | None, dynamic: bool = False) -> None:
    """One thread per process: on a busy machine OpenMP barriers across threads stall."""
    torch.set_num_threads(1)
    _SOLVER["tvl1"] = TVL1(compile=compile, dynamic=dynamic)


def _torch_flows_timed(frames: np.ndarray, indices: list[int], batch: int, device: str) -> tuple[np.ndarray, float]:
    """(flows, CPU seconds this process spent on them)."""
    start = time.process_time()
    flows = _torch_flows(frames, indices, batch, device)
    return flows, time.process_time() - start


def _torch_flows(frames: np.ndarray, indices: list[int], batch: int, device: str) -> np.ndarray:
    solver = _SOLVER["tvl1"]
    tensor = torch.from_numpy(frames).to(device)
    outputs = []
    for start in range(0, len(indices), batch):
        chunk = torch.as_tensor(indices[start:start + batch], device=tensor.device)
        outputs.append(solver(tensor[chunk], tensor[chunk + 1]))
    if tensor.device.type == "cuda":
        torch.cuda.synchronize(tensor.device)
    return torch.cat(outputs).permute(0, 2, 3, 1).cpu().numpy()


def _torch_warmup(frames: np.ndarray, batch: int, device: str) -> tuple[float, float | None, bool]:
    """Compile every pyramid level on a full batch; (seconds, peak MiB per pair, compiled)."""
    indices = [i % (len(frames) - 1) for i in range(batch)]
    start = time.perf_counter()
    _torch_flows(frames, indices, batch, device)
    elapsed = time.perf_counter() - start
    return elapsed, peak_memory_per_pair(_SOLVER["tvl1"], torch.from_numpy(frames).to(device), indices), \
        _SOLVER["tvl1"].compiled


def torch_run(pool, frames: np.ndarray, batch: int, device: str, processes: int) -> tuple[float, float, np.ndarray]:
    """All pairs through video3d's TV-L1, `batch` per call, the pairs split over `processes`
    workers (CPU) or in this process (GPU): (pairs/s, pairs per CPU-second, flows [N, H, W, 2])."""
    pairs = len(frames) - 1
    shares = [list(range(k, pairs, processes)) for k in range(processes)]
    start = time.perf_counter()
    if pool is None:
        results = [_torch_flows_timed(frames, shares[0], batch, device)]
    else:
        results = pool.starmap(_torch_flows_timed, [(frames, share, batch, device) for share in shares])
    elapsed = time.perf_counter() - start
    flows = np.empty((pairs, *frames.shape[1:], 2), np.float32)
    for share, (result, _) in zip(shares, results, strict=True):
        flows[share] = result
    return pairs / elapsed, pairs / sum(cpu for _, cpu in results), flows


def agreement(ours: np.ndarray, reference: np.ndarray) -> dict:
    """End-point difference (px) and the share of quantised values within one level."""
    epe = np.sqrt(((ours - reference) ** 2).sum(-1))
    levels = np.abs(quantize_flow(ours, BOUND).astype(np.int16) - quantize_flow(reference, BOUND).astype(np.int16))
    return {"epe_mean_px": float(epe.mean()), "epe_p95_px": float(np.percentile(epe, 95)),
            "epe_max_px": float(epe.max()), "within_one_level_pct": float(100.0 * (levels <= 1).mean())}


def _rss_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def peak_memory_per_pair(solver: TVL1, frames: torch.Tensor, indices: list[int]) -> float | None:
    """MiB one pair adds at the peak of a batched call: CUDA's allocator peak, or on the CPU
    the growth of the resident-set high-water mark after resetting it (Linux)."""
    chunk = torch.as_tensor(indices, device=frames.device)
    first, second = frames[chunk], frames[chunk + 1]
    batch = len(indices)
    if frames.device.type == "cuda":
        torch.cuda.synchronize(frames.device)
        base = torch.cuda.memory_allocated(frames.device)
        torch.cuda.reset_peak_memory_stats(frames.device)
        solver(first, second)
        torch.cuda.synchronize(frames.device)
        return (torch.cuda.max_memory_allocated(frames.device) - base) / batch / 2**20
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")  # resets VmHWM to the current resident size
    except OSError:
        return None
    base = _rss_kib("VmRSS")
    solver(first, second)
    peak = _rss_kib("VmHWM")
    if base is None or peak is None:
        return None
    return max(peak - base, 0) / batch / 1024


@command
def main(argv: list[str] | None = None) -> int:
    """An undecodable --video or an unusable --device is one line on stderr, exit code 2."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--video", required=True, help="video file whose consecutive frames make the pairs")
    parser.add_argument("--pairs", type=int, default=16, help="frame pairs (default 16)")
    parser.add_argument("--size", type=parse_size, default=(340, 256),
                        help="WIDTHxHEIGHT to resize to (default 340x256)")
    parser.add_argument("--native", action="store_true", help="keep the video's own size (overrides --size)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:K for video3d's TV-L1")
    parser.add_argument("--batch", type=int, default=8, help="pairs per video3d call (default 8)")
    parser.add_argument("--repeats", type=int, default=3, help="alternating timed runs of each (default 3)")
    parser.add_argument("--processes", type=int, default=len(os.sched_getaffinity(0)),
                        help="OpenCV processes (default: one per core)")
    parser.add_argument("--no-compile", action="store_true", help="run video3d's TV-L1 without torch.compile")
    parser.add_argument("--dynamic", action="store_true",
                        help="compile with symbolic sizes (one compile for every shape, as extract_flow does)")
    parser.add_argument("--json", action="store_true", help="print one line holding one JSON object")
    args = parser.parse_args(argv)
    for name in ("pairs", "batch", "repeats", "processes"):
        if getattr(args, name) < 1:
            raise ConfigError(f"--{name} must be >= 1, got {getattr(args, name)}")
    try:
        device = resolve_device(args.device)
    except ValueError as error:
        raise ConfigError(f"--device: {error}") from None
    cv2.setNumThreads(1)
    frames = read_gray_frames(args.video, args.pairs + 1, None if args.native else args.size)
    pairs, height, width = frames.shape[0] - 1, frames.shape[1], frames.shape[2]
    compile_mode = False if args.no_compile else None
    on_gpu = device.type == "cuda"
    torch_processes = 1 if on_gpu else args.processes
    runs: dict[str, list[float]] = {"opencv": [], "torch": [], "opencv_cpu": [], "torch_cpu": []}
    context = get_context("spawn")
    with context.Pool(args.processes) as cv_pool, \
            context.Pool(torch_processes, _torch_worker_init, (compile_mode, args.dynamic)) as torch_pool:
        cv_pool.starmap(_opencv_flows, [(frames[:2], [0])] * args.processes)  # start the workers
        if on_gpu:
            torch_pool.close()
            torch_pool = None
            _torch_worker_init(compile_mode, args.dynamic)
            torch.set_num_threads(len(os.sched_getaffinity(0)))
            warmups = [_torch_warmup(frames, args.batch, str(device))]
        else:
            warmups = torch_pool.starmap(_torch_warmup, [(frames, args.batch, str(device))] * torch_processes)
        warmup_s = max(w[0] for w in warmups)
        peaks = [w[1] for w in warmups if w[1] is not None]
        peak_mib = max(peaks) if peaks else None
        compiled = all(w[2] for w in warmups)
        for _ in range(args.repeats):
            rate, per_cpu_s, reference = opencv_run(cv_pool, frames, args.processes)
            runs["opencv"].append(rate)
            runs["opencv_cpu"].append(per_cpu_s)
            rate, per_cpu_s, ours = torch_run(torch_pool, frames, args.batch, str(device), torch_processes)
            runs["torch"].append(rate)
            runs["torch_cpu"].append(per_cpu_s)
    opencv_rate, torch_rate = statistics.median(runs["opencv"]), statistics.median(runs["torch"])
    opencv_cpu, torch_cpu = statistics.median(runs["opencv_cpu"]), statistics.median(runs["torch_cpu"])
    result = {"video": args.video, "pairs": pairs, "size": f"{width}x{height}", "device": str(device),
              "batch": args.batch, "compiled": compiled, "dynamic": args.dynamic, "opencv_processes": args.processes,
              "torch_processes": torch_processes,
              **agreement(ours, reference), "torch_pairs_per_s": torch_rate, "opencv_pairs_per_s": opencv_rate,
              "ratio": torch_rate / opencv_rate, "torch_pairs_per_cpu_s": None if on_gpu else torch_cpu,
              "opencv_pairs_per_cpu_s": opencv_cpu, "cpu_ratio": None if on_gpu else torch_cpu / opencv_cpu,
              "load_average": os.getloadavg()[0], "peak_mib_per_pair": peak_mib, "warmup_s": warmup_s,
              "torch_runs": runs["torch"], "opencv_runs": runs["opencv"],
              "opencv": cv2.__version__}
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"{pairs} pairs of {args.video} at {width}x{height}; video3d on {device} in {torch_processes} "
          f"process(es) (batch {args.batch}, compiled: {compiled}, warm-up {warmup_s:.1f} s) vs OpenCV "
          f"{cv2.__version__} in {args.processes} single-threaded processes; {args.repeats} alternating runs")
    print(f"agreement: EPE mean {result['epe_mean_px']:.4f} px, p95 {result['epe_p95_px']:.4f} px, "
          f"max {result['epe_max_px']:.3f} px; {result['within_one_level_pct']:.2f} % within one level (bound 20)")
    print(f"pairs/s (median): video3d {torch_rate:.3f}, OpenCV {opencv_rate:.3f}, ratio {result['ratio']:.2f}x   "
          f"runs: video3d {', '.join(f'{v:.3f}' for v in runs['torch'])}; "
          f"OpenCV {', '.join(f'{v:.3f}' for v in runs['opencv'])}")
    if not on_gpu:
        print(f"pairs per CPU-second (one busy core, median): video3d {torch_cpu:.3f}, OpenCV {opencv_cpu:.3f}, "
              f"ratio {result['cpu_ratio']:.2f}x (load average {result['load_average']:.1f})")
    memory = "not measured" if peak_mib is None else f"{peak_mib:.1f} MiB"
    print(f"peak memory per pair (video3d, batch {args.batch}): {memory}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
