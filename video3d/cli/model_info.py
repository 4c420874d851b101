"""Parameters and conv+linear GMACs (fvcore) of the network a config builds
(console script `video3d-model-info`, or tools/model_info.py).

    video3d-model-info --cfg configs/kinetics/iresnet3d_50.yaml
    video3d-model-info --cfg configs/demo/synthmotion_iresnet3d_ffc.yaml --json
    video3d-model-info --cfg FILE DATA.NUM_FRAMES 32 MODEL.HEAD ffc
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence

warnings.filterwarnings("ignore", message=".*torch.jit.script. is deprecated", category=FutureWarning)

from video3d.cli.base import command, config_parser, parse_config_args  # noqa: E402
from video3d.known_names import load_checked_config  # noqa: E402
from video3d.models import build_model  # noqa: E402
from video3d.models.complexity import count_gmacs, count_parameters, input_shape  # noqa: E402


def model_info(cfg_files: str | Sequence[str], overrides: Sequence[str]) -> dict:
    """Name, parameter count, GMACs and input shape [C, T, H, W] of the configured model."""
    cfg = load_checked_config(cfg_files, overrides)
    model = build_model(cfg)
    shape = input_shape(cfg)
    return {"name": cfg.MODEL.MODEL_NAME, "params": count_parameters(model),
            "gmacs": count_gmacs(model, shape), "input": shape}


@command
def main(argv: list[str]) -> int:
    """Print the model's size as text or, with --json, one JSON object."""
    parser = config_parser(__doc__, usage="%(prog)s --cfg FILE [--json] [KEY VALUE ...]")
    parser.add_argument("--json", action="store_true", help='print one JSON object {"params", "gmacs", "input"}')
    args, overrides = parse_config_args(parser, argv)
    info = model_info(args.cfg_files, overrides)
    if args.json:
        print(json.dumps({"params": info["params"], "gmacs": round(info["gmacs"], 4), "input": info["input"]}))
    else:
        print(f"model:      {info['name']}")
        print(f"parameters: {info['params']:,}")
        print(f"GMACs:      {info['gmacs']:.2f} (conv + linear, fvcore, one clip)")
        print(f"input:      {info['input']} [C, T, H, W]")
    return 0
