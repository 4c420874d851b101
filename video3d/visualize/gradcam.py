"""Grad-CAM for 3D CNNs (Selvaraju et al. 2017, extended over time): the heat of a layer's
activations A [C, T', H', W'] for class c is ReLU(sum_k w_k A_k) with w_k the mean over
(t, y, x) of d score_c / d A_k, upsampled (trilinear) to the clip's [T, H, W] and scaled to
0..1. For FFC models each of the seven outputs has its own score, so each chosen output gets
its own map (the FFC paper's figure 4 compares them).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from video3d.errors import ConfigError
from video3d.inference.scores import clip_scores


@dataclass
class HeatMap:
    """Grad-CAM of one (output, class): `heat` float [T, H, W] in 0..1 at the clip's size;
    `output` is the FFC output index (0-based, None for a linear head); `score` the softmax
    score of `target` at that output."""

    heat: torch.Tensor
    target: int
    output: int | None
    score: float


def default_layer(model: nn.Module) -> str:
    """The last stage (`layer4` for the ResNet family)."""
    names = getattr(model, "stage_names", None)
    if not names:
        raise ConfigError("this model has no stage_names; choose the layer with --layer")
    return names[-1]


def find_layer(model: nn.Module, name: str | None) -> tuple[str, nn.Module]:
    """(name, module) of the layer called `name` (None: `default_layer`)."""
    name = name or default_layer(model)
    modules = dict(model.named_modules())
    if name not in modules or name == "":
        stages = getattr(model, "stage_names", [])
        raise ConfigError(f"--layer {name!r} is not a module of this model; e.g. {', '.join(stages) or 'stem'} "
                          "or a block such as layer3.0")
    return name, modules[name]


def cam_from(activations: torch.Tensor, gradients: torch.Tensor, size: tuple[int, int, int]) -> torch.Tensor:
    """ReLU(sum_k mean(dY/dA_k) A_k) for A [C, T', H', W'], upsampled to `size` and scaled to
    max 1 (all zeros stays zeros)."""
    weights = gradients.mean(dim=(1, 2, 3))
    cam = F.relu((weights[:, None, None, None] * activations).sum(dim=0))
    cam = F.interpolate(cam[None, None], size=size, mode="trilinear", align_corners=False)[0, 0]
    peak = cam.max()
    return cam / peak if peak > 0 else cam


def grad_cam(model: nn.Module, clip: torch.Tensor, target: int | None = None, outputs: list[int] | None = None,
             layer: str | None = None, ffc_rule: str = "vote") -> list[HeatMap]:
    """Grad-CAM maps of one clip [1, C, T, H, W] for class `target` (None: the model's
    prediction, the FFC vote for FFC models); for an FFC model one map per 0-based output in
    `outputs` (None: Out1, Out3, Out5, Out7), for a linear head one map."""
    if clip.dim() != 5 or clip.shape[0] != 1:
        raise ValueError(f"expected one clip [1, C, T, H, W], got {list(clip.shape)}")
    _, module = find_layer(model, layer)
    captured: list[torch.Tensor] = []
    handle = module.register_forward_hook(lambda _m, _i, out: captured.append(out))
    model.eval()
    try:
        with torch.enable_grad():
            logits = model(clip)[0]
    finally:
        handle.remove()
    activations = captured[-1]
    if target is None:
        target = clip_scores(logits.detach().float().cpu(), ffc_rule).pred
    if not 0 <= target < logits.shape[-1]:
        raise ConfigError(f"--target {target} is not a class of this model (0..{logits.shape[-1] - 1})")
    if logits.dim() == 1:
        chosen: list[int | None] = [None]
    else:
        chosen = list(outputs) if outputs is not None else [0, 2, 4, 6]
        bad = [o for o in chosen if not 0 <= o < logits.shape[0]]
        if bad:
            raise ConfigError(f"--ffc-outputs {[o + 1 for o in bad]}: the FFC head has outputs 1..{logits.shape[0]}")
    size = tuple(clip.shape[2:])
    maps = []
    for i, output in enumerate(chosen):
        row = logits if output is None else logits[output]
        (gradients,) = torch.autograd.grad(row[target], activations, retain_graph=i < len(chosen) - 1)
        heat = cam_from(activations[0].detach(), gradients[0], size).cpu()
        maps.append(HeatMap(heat, target, output, float(torch.softmax(row.detach().float(), dim=-1)[target])))
    return maps


def window_cam(model: nn.Module, clip: torch.Tensor, layer: str | None = None, ffc_rule: str = "vote"
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """(logits, heat) of one clip [1, C, T, H, W] from one forward and one backward pass (the
    long-video demo's overlay): logits [K] or [7, K] as the model returns them, and Grad-CAM
    heat [T, H, W] in 0..1 of the predicted class (the FFC vote; the gradient of the sum of
    its score over the seven outputs, one map instead of one per output)."""
    _, module = find_layer(model, layer)
    captured: list[torch.Tensor] = []
    handle = module.register_forward_hook(lambda _m, _i, out: captured.append(out))
    try:
        with torch.enable_grad():
            logits = model(clip)[0]
    finally:
        handle.remove()
    target = clip_scores(logits.detach().float().cpu(), ffc_rule).pred
    (gradients,) = torch.autograd.grad(logits[..., target].sum(), captured[-1])
    heat = cam_from(captured[-1][0].detach(), gradients[0], tuple(clip.shape[2:]))
    return logits.detach(), heat.cpu()


def mask_ratio(heat: torch.Tensor, mask: torch.Tensor, threshold: float = 0.5) -> tuple[float, float]:
    """(mean heat inside the mask, mean heat outside) for heat and mask of the same shape."""
    inside = mask >= threshold
    if not inside.any() or inside.all():
        raise ValueError("the mask must have pixels inside and outside")
    return float(heat[inside].mean()), float(heat[~inside].mean())


def window_explainer(layer: str | None = None, ffc_rule: str = "vote"
                     ) -> Callable[[nn.Module, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
    """`window_cam` at `layer` with the FFC rule, as the long-video demo's `explain` hook."""
    return functools.partial(window_cam, layer=layer, ffc_rule=ffc_rule)
