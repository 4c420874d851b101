"""Pictures for people (console script `video3d-visualize`, or tools/visualize.py).

    video3d-visualize gradcam --cfg FILE --checkpoint CKPT VIDEO [--target CLASS] [--ffc-outputs 1,3,5,7]
                              [--layer L] [--out DIR] [KEY VALUE ...]
    video3d-visualize clips --cfg FILE [--split train|val|test] [--num N] [--out DIR] [KEY VALUE ...]

gradcam: Grad-CAM of VIDEO's centre clip (the validation view) for CLASS (a number or a class
name from DATA.CLASS_NAMES_FILE or the checkpoint's stored names; default the prediction, the
vote for FFC models) at layer L (default the last stage, e.g.
layer4; any module name such as layer3 or layer4.0). Writes DIR/<video>_gradcam.png (the
clip's frames, then one overlay row per output: FFC models one row per output in
--ffc-outputs, numbered 1-7 as in the FFC paper) and DIR/<video>_gradcam.mp4 (the same side
by side over time). CKPT must be a checkpoint (.pyth): Grad-CAM needs gradients.

clips: N samples of the split as the network is fed them (train: random clip, scale jitter,
crop, flip and augmentation; val/test: the validation view), denormalised; flow is shown
colour-coded (hue = direction, brightness = magnitude). Writes DIR/clips.png (one row per
sample, with its label) and DIR/clip_<k>_<video>.gif per sample.
"""

from __future__ import annotations

import argparse
import sys

from video3d.cli.base import (
    command,
    config_parser,
    load_cfg,
    parse_config_args,
    positive_int,
    split_overrides,
)
from video3d.errors import ConfigError, DataError
from video3d.inference.class_names import model_class_names, resolve_class_names
from video3d.inference.runners import load_runner, model_file_kind
from video3d.visualize.clips import browse_clips
from video3d.visualize.explain import write_gradcam

SUBCOMMANDS = ("gradcam", "clips")


def _class_index(text: str | None, names: list[str] | None) -> int | None:
    if text is None:
        return None
    if text.isdigit():
        return int(text)
    if names and text in names:
        return names.index(text)
    raise ConfigError(f"--target {text!r} is neither a class number nor a class name of this model "
                      "(DATA.CLASS_NAMES_FILE or the checkpoint's stored names)")


def _outputs(text: str | None) -> list[int] | None:
    if text is None:
        return None
    try:
        numbers = [int(part) for part in text.split(",") if part.strip()]
    except ValueError as error:
        raise ConfigError(f"--ffc-outputs {text!r}: expected numbers 1-7 separated by commas") from error
    if not numbers:
        raise ConfigError("--ffc-outputs is empty")
    return [n - 1 for n in numbers]


def _gradcam(argv: list[str]) -> int:
    parser = config_parser(__doc__, usage="video3d-visualize gradcam --cfg FILE --checkpoint CKPT VIDEO [options]")
    parser.add_argument("--checkpoint", required=True, help="checkpoint (.pyth)")
    parser.add_argument("--target", default=None, help="class number or name (default: the prediction)")
    parser.add_argument("--ffc-outputs", default=None, help="FFC outputs to show, 1-7 (default 1,3,5,7)")
    parser.add_argument("--layer", default=None, help="module whose activations are used (default: last stage)")
    parser.add_argument("--out", default="visualize_output", help="output folder")
    args, rest = parse_config_args(parser, argv)
    videos, overrides = split_overrides(rest)
    if len(videos) != 1:
        parser.error(f"give exactly one VIDEO, got {len(videos)}")
    cfg = load_cfg(args, overrides)
    if model_file_kind(args.checkpoint) != "checkpoint":
        raise DataError(f"--checkpoint {args.checkpoint} is an exported model; Grad-CAM needs the .pyth checkpoint")
    outputs = _outputs(args.ffc_outputs)
    if outputs is not None and cfg.MODEL.HEAD != "ffc":
        raise ConfigError("--ffc-outputs needs an FFC model (MODEL.HEAD ffc)")
    model = load_runner(cfg, args.checkpoint)
    names = model_class_names(cfg, model, args.checkpoint)  # the file, else those stored in the checkpoint
    result = write_gradcam(cfg, model, videos[0], args.out, _class_index(args.target, names), outputs, args.layer,
                           names)
    for heat_map in result.maps:
        where = f"Out{heat_map.output + 1}" if heat_map.output is not None else "output"
        print(f"{where}: class {heat_map.target} score {heat_map.score:.3f}")
    for path in result.outputs:
        print(f"wrote {path}")
    return 0


def _clips(argv: list[str]) -> int:
    parser = config_parser(__doc__, usage="video3d-visualize clips --cfg FILE [--split S] [--num N] [options]")
    parser.add_argument("--split", default="train", choices=("train", "val", "test"), help="which list")
    parser.add_argument("--num", type=positive_int, default=8, help="samples to show")
    parser.add_argument("--out", default="visualize_output", help="output folder")
    args, overrides = parse_config_args(parser, argv)
    cfg = load_cfg(args, overrides)
    names = resolve_class_names(cfg, None)
    clips, written = browse_clips(cfg, args.split, args.num, args.out, names)
    if not clips:
        raise DataError(f"the {args.split} list has no videos")
    for path in written:
        print(f"wrote {path}")
    return 0


@command
def main(argv: list[str]) -> int:
    """`gradcam` or `clips` (see the module docstring)."""
    if not argv or argv[0] not in SUBCOMMANDS:
        parser = argparse.ArgumentParser(prog="video3d-visualize", description=__doc__,
                                         formatter_class=argparse.RawDescriptionHelpFormatter)
        parser.add_argument("command", choices=SUBCOMMANDS)
        parser.parse_args(argv[:1])  # prints the usage and exits 2 (or 0 for --help)
        return 2
    return _gradcam(argv[1:]) if argv[0] == "gradcam" else _clips(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
