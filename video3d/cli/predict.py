"""Classify video files with a trained model and the multi-view test protocol
(console script `video3d-predict`, or tools/predict.py).

    video3d-predict --cfg FILE --checkpoint CKPT [--json] VIDEO... [KEY VALUE ...]

Each video is decoded once into TEST.NUM_ENSEMBLE_VIEWS x TEST.NUM_SPATIAL_CROPS views whose
softmax scores are averaged (FFC models vote), and its top-5 classes are printed with their
scores, named from DATA.CLASS_NAMES_FILE when set. Config overrides follow the videos,
starting at the first config key (or after --opts). A file that cannot be decoded gets a
one-line error and the others go on; the exit code is then 1.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

from video3d.cli.base import command, config_parser, load_cfg, parse_config_args, split_overrides
from video3d.engine.predictor import Prediction, predict_files
from video3d.engine.results import load_class_names
from video3d.inference.runners import load_runner


def parse_args(argv: list[str]) -> argparse.Namespace:
    """`--cfg`, `--checkpoint`, `--json`, then the videos, then the overrides."""
    parser = config_parser(__doc__)
    parser.add_argument("--checkpoint", required=True, help="weights (.pyth), or a video3d-export file (.onnx on onnxruntime, TorchScript)")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of text")
    args, rest = parse_config_args(parser, argv)
    args.videos, args.overrides = split_overrides(rest)
    if not args.videos:
        parser.error("give at least one video file")
    return args


def _as_json(predictions: list[Prediction], names: list[str] | None) -> str:
    entries = [
        {
            "path": p.path,
            "error": p.error,
            "top5": [{"class": k, "name": names[k] if names else str(k), "score": round(s, 6)} for k, s in p.top],
        }
        for p in predictions
    ]
    return json.dumps(entries, indent=1)


def _as_text(prediction: Prediction, names: list[str] | None) -> str:
    lines = [prediction.path]
    for rank, (k, score) in enumerate(prediction.top, 1):
        lines.append(f"  {rank}. {names[k] if names else k}  {score:.4f}")
    return "\n".join(lines)


@command
def main(argv: list[str]) -> int:
    """Print each video's top-5 classes; exit code 1 when some file could not be classified."""
    args = parse_args(argv)
    # The library's progress lines would mix with the output; failures are printed below.
    logging.getLogger("video3d").setLevel(logging.CRITICAL)
    cfg = load_cfg(args, args.overrides)
    model = load_runner(cfg, args.checkpoint)
    predictions = predict_files(cfg, model, args.videos)
    names = load_class_names(cfg.DATA.CLASS_NAMES_FILE, cfg.MODEL.NUM_CLASSES)
    for prediction in predictions:
        if prediction.error is not None:
            print(f"error: {prediction.path}: {prediction.error}", file=sys.stderr)
        elif not args.json:
            print(_as_text(prediction, names))
    if args.json:
        print(_as_json(predictions, names))
    return 1 if any(p.error is not None for p in predictions) else 0

