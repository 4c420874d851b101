"""Parameters and conv+linear GMACs (fvcore) of the network a config builds.

    python tools/model_info.py --cfg configs/kinetics/iresnet3d_50.yaml
    python tools/model_info.py --cfg configs/demo/synthmotion_iresnet3d_ffc.yaml --json
    python tools/model_info.py --cfg FILE DATA.NUM_FRAMES 32 MODEL.HEAD ffc
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
warnings.filterwarnings("ignore", message=".*torch.jit.script. is deprecated", category=FutureWarning)

from video3d.config import load_config  # noqa: E402
from video3d.errors import Video3DError  # noqa: E402
from video3d.models import build_model  # noqa: E402
from video3d.models.complexity import count_gmacs, count_parameters, input_shape  # noqa: E402


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                     usage="%(prog)s --cfg FILE [--json] [KEY VALUE ...]")
    parser.add_argument("--cfg", dest="cfg_file", required=True, help="YAML config file")
    parser.add_argument("--json", action="store_true", help='print one JSON object {"params", "gmacs", "input"}')
    args, rest = parser.parse_known_args(argv)
    unknown = [token for token in rest if token.startswith("--")]
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    args.overrides = rest  # KEY VALUE pairs; values may start with "-"
    return args


def model_info(cfg_file: str, overrides: list[str]) -> dict:
    cfg = load_config(cfg_file, overrides)
    model = build_model(cfg)
    shape = input_shape(cfg)
    return {"name": cfg.MODEL.MODEL_NAME, "params": count_parameters(model),
            "gmacs": count_gmacs(model, shape), "input": shape}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        info = model_info(args.cfg_file, args.overrides)
    except Video3DError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps({"params": info["params"], "gmacs": round(info["gmacs"], 4), "input": info["input"]}))
    else:
        print(f"model:      {info['name']}")
        print(f"parameters: {info['params']:,}")
        print(f"GMACs:      {info['gmacs']:.2f} (conv + linear, fvcore, one clip)")
        print(f"input:      {info['input']} [C, T, H, W]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
