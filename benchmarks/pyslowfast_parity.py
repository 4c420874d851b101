"""How close video3d's slow / c2d / i3d are to PyTorchVideo's `create_resnet` (its hub
arguments for slow_r50, c2d_r50, i3d_r50): the same random weights and random BatchNorm
statistics through the name converter, eval mode, one random clip; prints the largest absolute
difference of the logits and the largest logit, in float32 and float64.

    python benchmarks/pyslowfast_parity.py [--frames 8] [--size 32] [--seed 0] [--threads 1]

The difference depends on the kernels torch picks (threads, shapes): the two networks run the
same operations, but a convolution's sums may be ordered differently from one call to the next.
"""

from __future__ import annotations

import argparse
import json

import torch
from pytorchvideo.models.resnet import create_resnet
from torch import nn

from video3d.config import load_config
from video3d.models import build_model
from video3d.models.convert import convert_state_dict

CLASSES = 10


def hub_kwargs(arch: str) -> tuple[dict, int]:
    """PyTorchVideo's hub arguments and the time-stride after stage 1."""
    return {
        "slow": ({"stem_conv_kernel_size": (1, 7, 7)}, 1),
        "c2d": ({"stem_conv_kernel_size": (1, 7, 7), "stage1_pool": nn.MaxPool3d,
                 "stage_conv_a_kernel_size": ((1, 1, 1),) * 4}, 2),
        "i3d": ({"stem_conv_kernel_size": (5, 7, 7), "stage1_pool": nn.MaxPool3d,
                 "stage_conv_a_kernel_size": ((3, 1, 1), [(3, 1, 1), (1, 1, 1)], [(3, 1, 1), (1, 1, 1)],
                                              [(1, 1, 1), (3, 1, 1)])}, 2),
    }[arch]


def randomize(model: nn.Module, seed: int) -> None:
    """Uniform weights in +-0.1, BN weights in +-1, running variances in [0.5, 1.5]."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if tensor.is_floating_point():
                values = torch.rand(tensor.shape, generator=generator, dtype=torch.float64)
                scale = 1.0 if "running_var" in name or name.endswith("norm.weight") else 0.1
                tensor.copy_((values + 0.5 if "running_var" in name else values - 0.5) * scale * 2)


def compare(arch: str, dtype: torch.dtype, frames: int, size: int, seed: int) -> dict:
    kwargs, time_stride = hub_kwargs(arch)
    theirs = create_resnet(model_depth=50, model_num_class=CLASSES, dropout_rate=0.0,
                           head_pool_kernel_size=(frames // time_stride, size // 32, size // 32), **kwargs)
    randomize(theirs, seed)
    ours = build_model(load_config(None, ["MODEL.ARCH", arch, "MODEL.NUM_CLASSES", str(CLASSES),
                                          "MODEL.DROPOUT_RATE", "0.0"]))
    ours.load_state_dict(convert_state_dict(theirs.state_dict(), "pytorchvideo"), strict=True)
    theirs, ours = theirs.to(dtype).eval(), ours.to(dtype).eval()
    clip = torch.randn(2, 3, frames, size, size, generator=torch.Generator().manual_seed(seed), dtype=dtype)
    with torch.no_grad():
        expected, got = theirs(clip), ours(clip)
    return {"arch": arch, "dtype": str(dtype).replace("torch.", ""),
            "max_abs_diff": (got - expected).abs().max().item(), "max_abs_logit": expected.abs().max().item()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    for arch in ("slow", "c2d", "i3d"):
        for dtype in (torch.float32, torch.float64):
            print(json.dumps(compare(arch, dtype, args.frames, args.size, args.seed)))


if __name__ == "__main__":
    main()
