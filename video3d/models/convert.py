"""PySlowFast and PyTorchVideo state dicts under video3d's names.

PySlowFast (`slowfast/models/video_model_builder.py`, ResNet with one pathway):
    s1.pathway0_stem.{conv,bn}            -> stem.{conv1,bn1}
    s{k}.pathway0_res{i}.branch1[_bn]     -> layer{k-1}.{i}.downsample.{0,1}
    s{k}.pathway0_res{i}.branch2.{a,b,c}[_bn] -> layer{k-1}.{i}.{conv,bn}{1,2,3}
    head.projection                       -> head.fc
PyTorchVideo (`create_resnet`; its hub models slow_r50, c2d_r50, i3d_r50):
    blocks.0.{conv,norm}                  -> stem.{conv1,bn1}
    blocks.{b}.res_blocks.{i}.branch1_{conv,norm} -> layer{n}.{i}.downsample.{0,1}
    blocks.{b}.res_blocks.{i}.branch2.{conv,norm}_{a,b,c} -> layer{n}.{i}.{conv,bn}{1,2,3}
    blocks.{last}.proj                    -> head.fc
where n counts the residual stages in order (a stage-1 pool shifts the block indices).
PySlowFast's PTV* models (configs/*/pytorchvideo/) hold the PyTorchVideo network as `self.model`,
so their checkpoints name it `model.blocks...`: that prefix is dropped first.
Every tensor must find a name: `convert_state_dict` raises CheckpointError listing those that
do not (non-local blocks, a second pathway, ...), so nothing is dropped silently.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import torch

from video3d.errors import CheckpointError

FORMATS = ("pyslowfast", "pytorchvideo")

_BRANCH2 = {"a": "1", "b": "2", "c": "3"}
_PSF_STEM = re.compile(r"s1\.pathway0_stem\.(conv|bn)\.(.+)")
_PSF_BLOCK = re.compile(r"s(\d)\.pathway0_res(\d+)\.(branch1_bn|branch1|branch2\.([abc])(_bn)?)\.(.+)")
_PSF_HEAD = re.compile(r"head\.projection\.(weight|bias)")
_PTV_STEM = re.compile(r"blocks\.0\.(conv|norm)\.(.+)")
_PTV_BLOCK = re.compile(r"blocks\.(\d+)\.res_blocks\.(\d+)\.(branch1_conv|branch1_norm|branch2\.(conv|norm)_([abc]))\.(.+)")
_PTV_HEAD = re.compile(r"blocks\.(\d+)\.proj\.(weight|bias)")
_PTV_WRAPPER = "model."  # PySlowFast's PTVResNet & co.: self.model = create_resnet(...)


def without_ptv_wrapper(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """`state_dict` without PySlowFast's `model.` prefix when every key is `model.blocks.*`."""
    keys = list(state_dict)
    if keys and all(k.startswith(_PTV_WRAPPER + "blocks.") for k in keys):
        return {k[len(_PTV_WRAPPER):]: v for k, v in state_dict.items()}
    return dict(state_dict)


def detect_format(state_dict: Mapping[str, torch.Tensor]) -> str | None:
    """"pyslowfast", "pytorchvideo" (also under PySlowFast's `model.` prefix), or None (video3d's
    own names or something else)."""
    keys = list(without_ptv_wrapper(state_dict))
    if any(k.startswith("s1.pathway0_stem.") for k in keys):
        return "pyslowfast"
    if any(_PTV_STEM.fullmatch(k) for k in keys) and any(".res_blocks." in k for k in keys):
        return "pytorchvideo"
    return None


def _pyslowfast_name(key: str) -> str | None:
    if match := _PSF_STEM.fullmatch(key):
        return f"stem.{'conv1' if match.group(1) == 'conv' else 'bn1'}.{match.group(2)}"
    if match := _PSF_BLOCK.fullmatch(key):
        stage, block, part, letter, bn, leaf = match.groups()
        prefix = f"layer{int(stage) - 1}.{block}"
        if part == "branch1":
            return f"{prefix}.downsample.0.{leaf}"
        if part == "branch1_bn":
            return f"{prefix}.downsample.1.{leaf}"
        return f"{prefix}.{'bn' if bn else 'conv'}{_BRANCH2[letter]}.{leaf}"
    if match := _PSF_HEAD.fullmatch(key):
        return f"head.fc.{match.group(1)}"
    return None


def _pytorchvideo_names(keys: list[str]) -> dict[str, str]:
    stage_blocks = sorted({int(m.group(1)) for k in keys if (m := _PTV_BLOCK.fullmatch(k))})
    stage_of = {block: index + 1 for index, block in enumerate(stage_blocks)}
    names = {}
    for key in keys:
        if match := _PTV_STEM.fullmatch(key):
            names[key] = f"stem.{'conv1' if match.group(1) == 'conv' else 'bn1'}.{match.group(2)}"
        elif match := _PTV_BLOCK.fullmatch(key):
            block, index, part, kind, letter, leaf = match.groups()
            prefix = f"layer{stage_of[int(block)]}.{index}"
            if part == "branch1_conv":
                names[key] = f"{prefix}.downsample.0.{leaf}"
            elif part == "branch1_norm":
                names[key] = f"{prefix}.downsample.1.{leaf}"
            else:
                names[key] = f"{prefix}.{'conv' if kind == 'conv' else 'bn'}{_BRANCH2[letter]}.{leaf}"
        elif match := _PTV_HEAD.fullmatch(key):
            names[key] = f"head.fc.{match.group(2)}"
    return names


def _why_unmapped(keys: list[str]) -> str:
    if any("pathway1" in k for k in keys):
        return "a second pathway: two-pathway SlowFast is not built by video3d"
    if any("nonlocal" in k for k in keys):
        return "non-local blocks, which video3d does not build"
    return "no video3d counterpart"


def convert_state_dict(state_dict: Mapping[str, torch.Tensor], source: str, where: str = "<weights>") -> dict[str, torch.Tensor]:
    """`state_dict` of format `source` ("pyslowfast" / "pytorchvideo") under video3d's names.

    Raises CheckpointError naming how many tensors found no name, with examples and why.
    """
    state_dict = without_ptv_wrapper(state_dict)
    keys = list(state_dict)
    if source == "pyslowfast":
        names = {k: name for k in keys if (name := _pyslowfast_name(k)) is not None}
    elif source == "pytorchvideo":
        names = _pytorchvideo_names(keys)
    else:
        raise CheckpointError(f"unknown weight format {source!r}; expected one of {', '.join(FORMATS)}")
    unmapped = [k for k in keys if k not in names]
    if unmapped:
        raise CheckpointError(f"{where}: {len(unmapped)} of {len(keys)} {source} tensors have no video3d name "
                              f"({_why_unmapped(unmapped)}; e.g. {', '.join(unmapped[:3])})")
    return {names[k]: state_dict[k] for k in keys}


def to_video3d_names(state_dict: Mapping[str, torch.Tensor], where: str = "<weights>") -> tuple[dict[str, torch.Tensor], str | None]:
    """`(state dict under video3d's names, the detected source format or None)`."""
    source = detect_format(state_dict)
    if source is None:
        return dict(state_dict), None
    return convert_state_dict(state_dict, source, where), source
