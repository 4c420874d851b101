"""Does Grad-CAM point at the moving shape? SynthMotion knows where the shape is in every frame.

    python benchmarks/bench_gradcam.py [--checkpoint CKPT] [--layer layer4] [--ffc-outputs 1,3,5,7]
                                       [--target label|pred] [--data data/synthmotion]

For every val video of the SynthMotion demo (configs/demo/synthmotion_iresnet3d_ffc.yaml by
default), the centre clip as the model sees it at validation gets a Grad-CAM map per chosen
FFC output (averaged over them) for the video's true class; the generator's shape mask
(`data_prep.synthetic.shape_masks`, same parameters as the video) goes through the same
resize and crop. Printed per class, averaged over its val videos: the mean heat inside the
mask, outside it, and their ratio (the target is >= 2x), then all classes together.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections import defaultdict

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from data_prep.synthetic import CLASS_NAMES, sample_params, shape_masks, video_rng  # noqa: E402
from video3d.config import load_config  # noqa: E402
from video3d.data import transforms  # noqa: E402
from video3d.inference.runners import load_runner  # noqa: E402
from video3d.visualize.explain import centre_clip  # noqa: E402
from video3d.visualize.gradcam import grad_cam, mask_ratio  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEMO = os.path.join(ROOT, "configs", "demo", "synthmotion_iresnet3d_ffc.yaml")
TARGET_RATIO = 2.0


def crop_masks(masks: torch.Tensor, size: int) -> torch.Tensor:
    """Masks [T, H, W] through the validation view's resize (short side `size`) and centre crop."""
    resized = transforms.resize_short_side((masks[:, None] * 255.0), size)  # float: same bilinear resize
    top, left = transforms.centre_crop_box(resized.shape[-2], resized.shape[-1], size)
    return transforms.crop_clip(resized, top, left, size)[:, 0] / 255.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cfg", default=DEMO)
    parser.add_argument("--checkpoint", default="output/demo/synthmotion_iresnet3d_ffc/checkpoints/checkpoint_best.pyth")
    parser.add_argument("--data", default="data/synthmotion", help="the SynthMotion folder of the config")
    parser.add_argument("--layer", default=None, help="default: the last stage")
    parser.add_argument("--ffc-outputs", default="1,3,5,7")
    parser.add_argument("--target", choices=("label", "pred"), default="label")
    parser.add_argument("--limit", type=int, default=0, help="videos per class (0: all)")
    args = parser.parse_args()
    cfg = load_config(args.cfg, ["DATA.PATH_TO_DATA_DIR", args.data, "DATA.PATH_PREFIX", args.data])
    model = load_runner(cfg, args.checkpoint)
    info = json.load(open(os.path.join(args.data, "synthmotion.json")))
    outputs = [int(o) - 1 for o in args.ffc_outputs.split(",")] if cfg.MODEL.HEAD == "ffc" else None
    sums: dict[int, list[float]] = defaultdict(lambda: [0.0, 0.0, 0])
    start = time.perf_counter()
    for line in open(os.path.join(args.data, "val.csv")):
        relative, label = line.split()[0], int(line.split()[1])
        match = re.search(r"val_(\d+)\.mp4$", relative)
        if match is None or (args.limit and sums[label][2] >= args.limit):
            continue  # broken files have other names
        params = sample_params(label, video_rng(info["seed"], "val", int(match.group(1))), info["size"], info["frames"])
        clip = centre_clip(cfg, os.path.join(args.data, relative))
        masks = crop_masks(torch.from_numpy(shape_masks(params)[clip.indices]), cfg.DATA.TEST_CROP_SIZE)
        maps = grad_cam(model, clip.clip, label if args.target == "label" else None, outputs, args.layer)
        heat = torch.stack([m.heat for m in maps]).mean(dim=0)
        inside, outside = mask_ratio(heat, masks)
        entry = sums[label]
        entry[0] += inside
        entry[1] += outside
        entry[2] += 1
    seconds = time.perf_counter() - start
    print(f"Grad-CAM at {args.layer or 'the last stage'}, outputs {args.ffc_outputs if outputs else '-'}, "
          f"target = {args.target}; {args.checkpoint}")
    print(f"{'class':<26}{'videos':>7}{'heat in':>9}{'heat out':>10}{'ratio':>8}")
    total_in = total_out = total_n = 0.0
    failing = []
    for label in sorted(sums):
        inside, outside, count = sums[label]
        ratio = (inside / count) / max(outside / count, 1e-9)
        failing += [CLASS_NAMES[label]] if ratio < TARGET_RATIO else []
        print(f"{CLASS_NAMES[label]:<26}{count:>7}{inside / count:>9.3f}{outside / count:>10.3f}{ratio:>7.2f}x")
        total_in, total_out, total_n = total_in + inside, total_out + outside, total_n + count
    print(f"{'all':<26}{int(total_n):>7}{total_in / total_n:>9.3f}{total_out / total_n:>10.3f}"
          f"{(total_in / total_out):>7.2f}x   ({seconds:.1f} s)")
    print(f"classes below {TARGET_RATIO:g}x: {', '.join(failing) or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
