"""Classify video files with a trained model and the multi-view test protocol.

    python tools/predict.py --cfg FILE --checkpoint CKPT [--json] VIDEO... [KEY VALUE ...]

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
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from video3d.config import get_cfg, load_config  # noqa: E402
from video3d.engine.evaluator import load_test_model  # noqa: E402
from video3d.engine.predictor import Prediction, predict_files  # noqa: E402
from video3d.engine.results import load_class_names  # noqa: E402
from video3d.errors import Video3DError  # noqa: E402


def is_config_key(token: str) -> bool:
    """True when `token` names a key of the config tree, e.g. TEST.NUM_ENSEMBLE_VIEWS."""
    node = get_cfg()
    for part in token.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return not isinstance(node, dict)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cfg", dest="cfg_file", required=True, help="YAML config of the model")
    parser.add_argument("--checkpoint", required=True, help="weights to load (.pyth)")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of text")
    parser.add_argument("--opts", action="store_true", help="marks the start of KEY VALUE overrides")
    args, rest = parser.parse_known_args(argv)
    unknown = [token for token in rest if token.startswith("--")]
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)} (a file named so: write ./{unknown[0]})")
    first_key = next((i for i, token in enumerate(rest) if is_config_key(token)), len(rest))
    args.videos, args.overrides = rest[:first_key], rest[first_key:]
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


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    # The library's progress lines would mix with the output; failures are printed below.
    logging.getLogger("video3d").setLevel(logging.CRITICAL)
    try:
        cfg = load_config(args.cfg_file, args.overrides)
        model = load_test_model(cfg, args.checkpoint)
        predictions = predict_files(cfg, model, args.videos)
        names = load_class_names(cfg.DATA.CLASS_NAMES_FILE, cfg.MODEL.NUM_CLASSES)
    except Video3DError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for prediction in predictions:
        if prediction.error is not None:
            print(f"error: {prediction.path}: {prediction.error}", file=sys.stderr)
        elif not args.json:
            print(_as_text(prediction, names))
    if args.json:
        print(_as_json(predictions, names))
    return 1 if any(p.error is not None for p in predictions) else 0


if __name__ == "__main__":
    sys.exit(main())
