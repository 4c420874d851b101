"""Convert PySlowFast or PyTorchVideo weights to a video3d checkpoint for a config's model
(console script `video3d-convert-weights`, or tools/convert_weights.py).

    video3d-convert-weights --from pyslowfast SLOW_8x8_R50.pyth slow_r50.pyth --cfg SLOW_8x8_R50.yaml
    video3d-convert-weights --from pytorchvideo i3d_r50.pyth i3d_r50_video3d.pyth --cfg CFG [KEY VALUE ...]

Every tensor must land: a name or shape without a counterpart is one error line. The same
mapping runs by itself when such a file is TRAIN.CHECKPOINT_FILE_PATH or TEST.CHECKPOINT_FILE_PATH.
"""

from __future__ import annotations

from video3d.cli.base import command, config_parser, load_cfg, parse_config_args, split_overrides
from video3d.engine.weight_conversion import convert_checkpoint
from video3d.models.convert import FORMATS


@command
def main(argv: list[str]) -> int:
    """Convert IN to OUT and print what landed."""
    parser = config_parser(__doc__, usage="%(prog)s --from {pyslowfast,pytorchvideo} IN OUT --cfg FILE [KEY VALUE ...]")
    parser.add_argument("--from", dest="source", required=True, choices=FORMATS, help="format of IN")
    args, rest = parse_config_args(parser, argv)
    positionals, overrides = split_overrides(rest)
    if len(positionals) != 2:
        parser.error(f"expected IN and OUT, got {len(positionals)} file name(s): {' '.join(positionals) or 'none'}")
    cfg = load_cfg(args, overrides)
    source, out = positionals
    info = convert_checkpoint(cfg, source, args.source, out)
    print(f"{source} ({info['format']}): {info['tensors']} tensors, {info['params']:,} values -> {out}")
    return 0
