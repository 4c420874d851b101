"""Online flow (DATA.FORMAT video + DATA.MODALITY flow) against extracted flow JPEGs: the
seconds per video that the 30-view test spends building a video's views, both ways.

SynthMotion videos (96x96, 60 frames, as the demo) are generated, their flow is extracted with
data_prep.extract_flow (TV-L1, --backend torch, eager), and the demo flow model's test views
(10 clips x 3 crops of 8 frames, sampling rate 2) are built for each video from the JPEGs
(`frames`) and from the mp4 (`online`, TV-L1 eager, one thread; `--compile`: also compiled,
after one warm-up video whose time is printed apart). Runs alternate per video; medians.
The network's forward is not included (the same for both). Also prints how many frame
pairs the views of a video need, and the largest difference between the two ways' views in
quantisation levels (JPEG noise).

    OMP_NUM_THREADS=1 python benchmarks/bench_online_flow.py --videos 4 [--compile] [--algo dis]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import torch

from data_prep import extract_flow
from data_prep.synthetic import generate
from video3d.config import load_config
from video3d.data import VideoRecord, multiview_dataset

DEMO = os.path.join(os.path.dirname(__file__), os.pardir, "configs", "demo", "synthmotion_iresnet3d_ffc.yaml")


def _views_seconds(cfg, path: str) -> tuple[float, torch.Tensor, int]:
    dataset = multiview_dataset(cfg, [VideoRecord("v", path, 0)], "kinetics")
    with dataset.open_video(dataset.records[0]) as source:
        clips = dataset.clip_positions(source.num_frames, source.fps, dataset.num_clips)
    pairs = len({i for clip in clips for i in clip})
    start = time.perf_counter()
    views = dataset.views(0).cut()  # the cut counted, as before views became a ViewSet
    return time.perf_counter() - start, views, pairs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=int, default=4)
    parser.add_argument("--algo", choices=("tvl1", "dis", "farneback"), default="tvl1")
    parser.add_argument("--bound", type=float, default=20.0)
    parser.add_argument("--compile", action="store_true", help="also time online TV-L1 through torch.compile")
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as root:
        generate(root, num_train=0, num_val=args.videos, size=96, frames=60)
        flow_dir = os.path.join(root, "flow")
        backend = ["--backend", "torch", "--no-compile"] if args.algo == "tvl1" else []
        extract_flow.main([os.path.join(root, "val.csv"), flow_dir, "--prefix", root, "--algo", args.algo,
                           "--bound", str(args.bound), "--workers", "1", "--no-progress", *backend])
        with open(os.path.join(root, "val.csv"), encoding="utf-8") as handle:
            videos = [line.rsplit(maxsplit=1)[0] for line in handle if line.strip()]
        common = ["DATA.MODALITY", "flow", "DATA.FLOW_ALGO", args.algo, "DATA.FLOW_BOUND", str(args.bound)]
        ways = {"frames": load_config(DEMO, [*common, "DATA.FORMAT", "frames"]),
                "online": load_config(DEMO, [*common, "DATA.FORMAT", "video"])}
        if args.compile and args.algo == "tvl1":
            ways["online compiled"] = load_config(DEMO, [*common, "DATA.FORMAT", "video", "DATA.FLOW_COMPILE", "True"])
            warm = time.perf_counter()
            _views_seconds(ways["online compiled"], os.path.join(root, videos[0]))
            print(f"compile warm-up (first video): {time.perf_counter() - warm:.1f} s")
        times = {name: [] for name in ways}
        worst, pairs = 0.0, 0
        for video in videos:
            results = {}
            for name, cfg in ways.items():
                path = os.path.join(flow_dir, os.path.splitext(video)[0]) if name == "frames" else os.path.join(root, video)
                seconds, views, pairs = _views_seconds(cfg, path)
                times[name].append(seconds)
                results[name] = views
            worst = max(worst, float((results["frames"].int() - results["online"].int()).abs().max()))
        print(f"{len(videos)} videos, {pairs} frame pairs per video's 30 views, {args.algo}, bound {args.bound:g}")
        base = statistics.median(times["frames"])
        for name, values in times.items():
            median = statistics.median(values)
            print(f"{name:16s} {median:7.3f} s per video (median; runs {', '.join(f'{v:.3f}' for v in values)})"
                  f"  {median / base:8.1f}x frames")
        print(f"largest |frames - online| in the views: {worst:g} levels (JPEG noise)")


if __name__ == "__main__":
    main()
