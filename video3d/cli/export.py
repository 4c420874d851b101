"""Export a trained model to ONNX or TorchScript (console script `video3d-export`, or tools/export.py).

    video3d-export --cfg FILE --checkpoint CKPT --format onnx|torchscript [--dtype fp32|bf16] [--out FILE] [KEY VALUE ...]

The file takes float clips [B, C, T, S, S] (C channels, T = DATA.NUM_FRAMES, S =
DATA.TEST_CROP_SIZE, any batch size B) normalised as in testing, and returns the raw logits:
[B, K], or [B, 7, K] for FFC models (the vote over the seven outputs is done in Python by
video3d-predict / video3d-demo, which accept the file as --checkpoint). Before the command
returns, the file is run on random clips (batch 2 and 3) and compared with the eager model:
the largest difference relative to the largest logit must be <= 1e-4, else exit code 1.
The file is float32 whatever TEST.MIXED_PRECISION says; --dtype bf16 (TorchScript only) traces
it under bfloat16 autocast and checks it against the eager model under the same autocast.
Default --out: the checkpoint's name with .onnx / .torchscript.pt (for a URL, in the current folder). The class names (DATA.CLASS_NAMES_FILE,
else those stored in the checkpoint) go into the file, for predict and demo.
"""

from __future__ import annotations

import os
import sys
import urllib.parse

from video3d.cli.base import command, config_parser, load_cfg, parse_config_args
from video3d.errors import DataError
from video3d.inference.class_names import model_class_names
from video3d.inference.export import DTYPES, FORMATS, TOLERANCE, export_model
from video3d.inference.runners import load_runner, model_file_kind
from video3d.utils.paths import is_local

_SUFFIX = {"onnx": ".onnx", "torchscript": ".torchscript.pt"}


def _default_out(checkpoint: str, fmt: str) -> str:
    """Beside a local checkpoint; in the current folder for a URL (named after its file)."""
    if not is_local(checkpoint):
        checkpoint = os.path.basename(urllib.parse.urlsplit(checkpoint).path) or "model"
    return os.path.splitext(checkpoint)[0] + _SUFFIX[fmt]


@command
def main(argv: list[str]) -> int:
    """Write the exported file and check it against the eager model."""
    parser = config_parser(__doc__)
    parser.add_argument("--checkpoint", required=True, help="weights to export (.pyth)")
    parser.add_argument("--format", required=True, choices=FORMATS, help="onnx or torchscript")
    parser.add_argument("--dtype", default="fp32", choices=DTYPES,
                        help="fp32 (default) or bf16: bfloat16 autocast traced into the file (torchscript only)")
    parser.add_argument("--out", default=None, help="output file (default: beside the checkpoint)")
    args, overrides = parse_config_args(parser, argv)
    cfg = load_cfg(args, overrides)
    if model_file_kind(args.checkpoint) != "checkpoint":
        raise DataError(f"--checkpoint {args.checkpoint} is already an exported model; export from the .pyth")
    out = args.out or _default_out(args.checkpoint, args.format)
    if os.path.isdir(out):
        raise DataError(f"--out {out} is a folder; give a file name")
    model = load_runner(cfg, args.checkpoint)
    names = model_class_names(cfg, model, args.checkpoint)
    check = export_model(model, cfg, args.format, out, class_names=names, dtype=args.dtype)
    verdict = "ok" if check.ok else f"FAILED (> {TOLERANCE:g})"
    print(f"wrote {out} ({args.dtype}, {os.path.getsize(out) / 1e6:.1f} MB, {len(names) if names else 'no'} class names); "
          f"vs eager {args.dtype} on random clips of batch "
          f"{' and '.join(map(str, check.batch_sizes))}: max relative difference {check.relative_error:.2e} {verdict}")
    if not check.ok:
        print(f"error: {out} does not reproduce the eager model", file=sys.stderr)
        return 1
    return 0
