"""Classify video files with a trained model and the multi-view test protocol
(console script `video3d-predict`, or tools/predict.py).

    video3d-predict --cfg FILE --checkpoint CKPT [--json] VIDEO... [KEY VALUE ...]
    video3d-predict --cfg RGB.yaml --checkpoint RGB.pyth --flow-cfg FLOW.yaml
                    --flow-checkpoint FLOW.pyth [--flow-weight W] VIDEO... [KEY VALUE ...]

Each video is decoded once into TEST.NUM_ENSEMBLE_VIEWS x TEST.NUM_SPATIAL_CROPS views whose
softmax scores are averaged (FFC models vote), and its top-5 classes are printed with their
scores, named from DATA.CLASS_NAMES_FILE when set. A flow model reads video files with
DATA.FORMAT video: its flow is computed from the frames each view needs (docs/FLOW.md).
With --flow-cfg / --flow-checkpoint, an RGB model (--cfg) and a flow model are fused: each
video is decoded once for both, each model takes its own config's views, and the scores are
fused as tools/fuse_scores.py fuses two results files (weights 1 and --flow-weight, default 1);
both configs then read video files. Config overrides follow the videos, starting at the first
config key (or after --opts), and apply to both configs. A file that cannot be decoded gets a
one-line error and the others go on; the exit code is then 1.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys

from video3d.cli.base import command, config_parser, load_cfg, parse_config_args, split_overrides
from video3d.errors import ConfigError
from video3d.inference.class_names import model_class_names
from video3d.inference.predictor import Prediction, check_two_stream, predict_files, predict_two_stream
from video3d.inference.runners import load_runner
from video3d.known_names import load_checked_config


def parse_args(argv: list[str]) -> argparse.Namespace:
    """`--cfg`, `--checkpoint`, `--json`, then the videos, then the overrides."""
    parser = config_parser(__doc__)
    parser.add_argument("--checkpoint", required=True, help="weights (.pyth), or a video3d-export file (.onnx on onnxruntime, TorchScript)")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of text")
    parser.add_argument("--flow-cfg", metavar="FILE", help="two-stream: the flow model's config (--cfg: the RGB model's)")
    parser.add_argument("--flow-checkpoint", metavar="CKPT", help="two-stream: the flow model's weights")
    parser.add_argument("--flow-weight", type=float, metavar="W", help="two-stream: weight of the flow scores (RGB: 1; default 1)")
    args, rest = parse_config_args(parser, argv)
    args.videos, args.overrides = split_overrides(rest)
    if not args.videos:
        parser.error("give at least one video file")
    return args


def _check_two_stream_args(args: argparse.Namespace) -> None:
    """One line (ConfigError) for a half-given flow stream or a bad --flow-weight."""
    if (args.flow_cfg is None) != (args.flow_checkpoint is None):
        given, missing = ("--flow-cfg", "--flow-checkpoint") if args.flow_cfg else ("--flow-checkpoint", "--flow-cfg")
        raise ConfigError(f"{given} needs {missing}: two-stream prediction takes the flow model's config and weights")
    if args.flow_weight is not None:
        if args.flow_cfg is None:
            raise ConfigError("--flow-weight weighs the flow stream: give --flow-cfg and --flow-checkpoint too")
        if not (math.isfinite(args.flow_weight) and args.flow_weight >= 0):
            raise ConfigError(f"--flow-weight must be a finite number >= 0, got {args.flow_weight}")


def _as_json(predictions: list[Prediction], names: list[str] | None) -> str:
    return json.dumps([p.as_json(names) for p in predictions], indent=1)


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
    _check_two_stream_args(args)
    cfg = load_cfg(args, args.overrides)
    model = load_runner(cfg, args.checkpoint)
    names = model_class_names(cfg, model, args.checkpoint)  # the file, else those stored with the model
    if args.flow_cfg is None:
        predictions = predict_files(cfg, model, args.videos)
    else:
        flow_cfg = load_checked_config(args.flow_cfg, args.overrides)
        check_two_stream(cfg, flow_cfg, " ".join(args.cfg_files), args.flow_cfg)
        predictions = predict_two_stream(cfg, model, flow_cfg,
                                         load_runner(flow_cfg, args.flow_checkpoint), args.videos,
                                         1.0 if args.flow_weight is None else args.flow_weight)
    for prediction in predictions:
        if prediction.error is not None:
            print(f"error: {prediction.path}: {prediction.error}", file=sys.stderr)
        elif not args.json:
            print(_as_text(prediction, names))
    if args.json:
        print(_as_json(predictions, names))
    return 1 if any(p.error is not None for p in predictions) else 0

