"""Fuse the per-video scores of several test runs (two-stream: RGB + flow) and report the metrics
(console script `video3d-fuse-scores`, or tools/fuse_scores.py).

    video3d-fuse-scores rgb/results.json flow/results.json [--weights 1 1.5] [--out fused.json]

Videos are matched by id; the fused score of a video is the weighted average of its scores
(default weights all 1) and its prediction the arg-max. The inputs must hold the same videos
with the same labels and class count (video3d-results-v1 files, TEST.SAVE_RESULTS_PATH).
"""

from __future__ import annotations

import argparse
import math

from video3d.cli.base import add_timeout_flag, command
from video3d.evaluation.results import fuse_results, load_results, save_results
from video3d.utils.paths import set_network_timeout


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The results files and one weight per file (default 1)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", nargs="+", metavar="RESULTS", help="results JSON files to fuse")
    parser.add_argument("--weights", nargs="+", type=float, metavar="W", help="one weight per file (default 1)")
    parser.add_argument("--out", metavar="PATH", help="write the fused results (same format) here")
    add_timeout_flag(parser)
    args = parser.parse_args(argv)
    if len(args.results) < 2:
        parser.error("give at least two results files to fuse")
    if args.weights is None:
        args.weights = [1.0] * len(args.results)
    if len(args.weights) != len(args.results):
        parser.error(f"--weights takes one weight per results file: {len(args.weights)} for {len(args.results)}")
    if any(w < 0 or not math.isfinite(w) for w in args.weights) or sum(args.weights) <= 0:
        parser.error(f"--weights must be finite, non-negative and not all zero, got {args.weights}")
    return args


def _metrics_line(name: str, metrics: dict) -> str:
    if metrics["top1"] is None:
        return f"{name}: no evaluated videos"
    return (
        f"{name}: top-1 {metrics['top1']:.2f}%  top-5 {metrics['top5']:.2f}%  "
        f"mean class {metrics['mean_class_acc']:.2f}%  ({metrics['num_videos']} videos)"
    )


@command
def main(argv: list[str]) -> int:
    """Print each input's metrics and the fused ones; write the fused results with --out."""
    args = parse_args(argv)
    if args.timeout is not None:
        set_network_timeout(args.timeout)
    documents = [load_results(path) for path in args.results]
    fused = fuse_results(documents, args.weights, args.results)
    for path, document in zip(args.results, documents, strict=True):
        print(_metrics_line(path, document["metrics"]))
    weights = ", ".join(f"{w:g}" for w in args.weights)
    print(_metrics_line(f"fused (weights {weights})", fused["metrics"]))
    if args.out:
        save_results(args.out, fused)
        print(f"fused results written to {args.out}")
    return 0
