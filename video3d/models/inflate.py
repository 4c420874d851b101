"""Load weights by name: 3D checkpoints, 2D networks (torchvision ResNet, timm ResNet /
ResNeSt) inflated to 3D, RGB weights into a flow model, and fine-tuning with a new head."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from video3d.choices import Choices
from video3d.errors import CheckpointError
from video3d.utils.logging import get_logger

logger = get_logger(__name__)

# 2D networks keep stem and classifier at the top level; ours nests them.
_NAME_PREFIXES = ("", "stem.", "head.")
_WRAPPER_PREFIXES = ("module.", "model.")


def inflate_weight(weight: torch.Tensor, temporal_kernel: int, method: str) -> torch.Tensor:
    """2D kernel [O, I, kh, kw] -> 3D [O, I, kt, kh, kw].

    centre: the 2D kernel in the middle time slice, zeros elsewhere: on a static clip the 3D
    conv equals the 2D conv exactly, whatever the temporal padding.
    mean: the kernel repeated over time and divided by kt (I3D, Carreira & Zisserman 2017).
    """
    return INFLATE_METHODS[method](weight, temporal_kernel)


def centre_inflation(weight: torch.Tensor, temporal_kernel: int) -> torch.Tensor:
    """The 2D kernel in the middle time slice, zeros elsewhere."""
    inflated = weight.new_zeros(weight.shape[:2] + (temporal_kernel,) + weight.shape[2:])
    inflated[:, :, temporal_kernel // 2] = weight
    return inflated


def mean_inflation(weight: torch.Tensor, temporal_kernel: int) -> torch.Tensor:
    """The 2D kernel repeated over time, divided by kt."""
    return weight.unsqueeze(2).repeat(1, 1, temporal_kernel, 1, 1) / temporal_kernel


def _auto_inflation(weight: torch.Tensor, temporal_kernel: int) -> torch.Tensor:
    raise ValueError("TRAIN.CHECKPOINT_INFLATE_METHOD auto is resolved by the config's MODEL.ARCH first "
                     "(video3d.engine.initial_weights.inflate_method)")


# auto: mean for PySlowFast's archs (its inflate_weight), centre for resnet3d.
INFLATE_METHODS = Choices("TRAIN.CHECKPOINT_INFLATE_METHOD",
                          {"auto": _auto_inflation, "centre": centre_inflation, "mean": mean_inflation})


def _strip_wrappers(key: str) -> str:
    for prefix in _WRAPPER_PREFIXES:
        if key.startswith(prefix):
            return key[len(prefix):]
    return key


def _target_name(key: str, model_keys: Mapping[str, torch.Tensor]) -> str | None:
    key = _strip_wrappers(key)
    for prefix in _NAME_PREFIXES:
        if prefix + key in model_keys:
            return prefix + key
    return None


def _first_conv_weight(model: nn.Module) -> str | None:
    for name, module in model.named_modules():
        if isinstance(module, (nn.Conv3d, nn.Conv2d)):
            return f"{name}.weight"
    return None


def load_pretrained(model: nn.Module, state_dict: Mapping[str, torch.Tensor],
                    inflate_method: str | None = None, allow_partial: bool = False) -> dict[str, list[str]]:
    """Copy `state_dict` into `model` by name and return a report.

    - `inflate_method` "centre" / "mean": 4D conv kernels become 5D (`inflate_weight`).
    - The stem's first conv with other input channels (RGB -> flow): its input channels are
      averaged and repeated (cross-modality init, TSN, Wang et al. 2016, section 3.2).
    - A `head.*` tensor of another shape (another class count) is skipped: fine-tuning.
    Any other shape mismatch raises CheckpointError naming the tensor, unless `allow_partial`
    (TRAIN.CHECKPOINT_ALLOW_PARTIAL): then the tensor is skipped and listed under mismatched.

    Report keys: loaded, inflated, channel_averaged, skipped_head, mismatched ("name [file
    shape] vs [model shape]"), unexpected (source names with no counterpart), missing (model
    names left at their current values).
    """
    target = model.state_dict()
    first_conv = _first_conv_weight(model)
    report: dict[str, list[str]] = {key: [] for key in
                                    ("loaded", "inflated", "channel_averaged", "skipped_head", "mismatched",
                                     "unexpected", "missing")}
    updates: dict[str, torch.Tensor] = {}
    for key, value in state_dict.items():
        name = _target_name(key, target)
        if name is None:
            report["unexpected"].append(key)
            continue
        value = value.detach()
        wanted = target[name].shape
        if inflate_method is not None and value.dim() == 4 and len(wanted) == 5:
            value = inflate_weight(value, wanted[2], inflate_method)
            report["inflated"].append(name)
        if name == first_conv and value.dim() == 5 and value.shape[1] != wanted[1]:
            value = value.mean(dim=1, keepdim=True).expand(-1, wanted[1], -1, -1, -1).contiguous()
            report["channel_averaged"].append(name)
        if value.shape != wanted:
            if name.startswith("head."):
                report["skipped_head"].append(name)
                continue
            if allow_partial:
                report["mismatched"].append(f"{name} {list(value.shape)} vs {list(wanted)}")
                continue
            raise CheckpointError(
                f"pretrained tensor {key} has shape {list(value.shape)}, model {name} needs {list(wanted)}"
                + ("" if inflate_method or value.dim() != 4 else " (a 2D kernel: set an inflate method)"))
        updates[name] = value.to(target[name].dtype)
        report["loaded"].append(name)
    report["missing"] = [name for name in target if name not in updates]
    target.update(updates)
    model.load_state_dict(target)
    logger.info("pretrained weights: %d loaded (%d inflated), %d head tensors skipped, %d unexpected, %d missing",
                len(report["loaded"]), len(report["inflated"]), len(report["skipped_head"]),
                len(report["unexpected"]), len(report["missing"]))
    return report


def unloaded_backbone(report: Mapping[str, list[str]]) -> list[str]:
    """Model tensors `load_pretrained` left at their initial values, outside the head.

    A new head (fine-tuning) is expected; BN's `num_batches_tracked` counters are not weights.
    """
    return [name for name in report.get("missing", [])
            if not name.startswith("head.") and not name.endswith("num_batches_tracked")]


def partial_load_message(path: str, report: Mapping[str, list[str]], examples: int = 3) -> str | None:
    """One line when initial weights from `path` leave backbone tensors unloaded, else None."""
    missing = unloaded_backbone(report)
    if not missing:
        return None
    loaded = len(report.get("loaded", []))
    line = (f"initial weights {path} leave {len(missing)} of {len(missing) + loaded} backbone tensors unloaded "
            f"(e.g. {', '.join(missing[:examples])})")
    mismatched = report.get("mismatched", [])
    if mismatched:
        line += f"; {len(mismatched)} of another shape skipped (e.g. {', '.join(mismatched[:examples])})"
    if report.get("unexpected"):
        line += f"; {len(report['unexpected'])} tensors of the file match no model name (e.g. " \
                f"{', '.join(report['unexpected'][:examples])})"
    return line
