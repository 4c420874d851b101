"""Grad-CAM of a video file: its centre clip as the model sees it at validation, one map per
chosen output, drawn as a grid PNG (frames x overlay) and an mp4 of the overlay whose panels
carry the same titles (input / OutN, class and score) and the source frame number."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
import torch
from fvcore.common.config import CfgNode
from torch import nn

from video3d.data.sources import open_source_from_cfg
from video3d.errors import ConfigError
from video3d.inference.annotate import draw_lines
from video3d.inference.long_video import output_folder
from video3d.inference.predictor import files_dataset
from video3d.inference.preprocess import ClipPreprocessor
from video3d.inference.runners import runner_device
from video3d.inference.scores import class_name
from video3d.visualize.gradcam import HeatMap, grad_cam
from video3d.visualize.render import overlay, save_grid, save_mp4, side_by_side, upscale


@dataclass
class CentreClip:
    """The validation view of a video: `frames` uint8 [T, S, S, 3] (what the network sees,
    before normalisation), `clip` float [1, C, T, S, S], the source frame `indices`, `fps`."""

    frames: np.ndarray
    clip: torch.Tensor
    indices: list[int]
    fps: float


def centre_clip(cfg: CfgNode, path: str) -> CentreClip:
    """Decode the centre clip of `path` (the per-epoch validation clip) and preprocess it."""
    if cfg.DATA.MODALITY != "rgb":
        raise ConfigError(f"DATA.MODALITY {cfg.DATA.MODALITY}: Grad-CAM is drawn over RGB frames; use an RGB model")
    clip_positions = files_dataset(cfg, [path]).clip_positions
    preprocess = ClipPreprocessor(cfg)
    with open_source_from_cfg(cfg, path) as source:
        indices = clip_positions(source.num_frames, source.fps, 1)[0]  # one test clip: the centre one
        images = source.get_frames(indices).numpy()
        fps = source.fps
    crops = [preprocess.frame(image) for image in images]
    frames = torch.stack(crops).permute(0, 2, 3, 1).numpy()
    return CentreClip(frames, preprocess.clip(crops), indices, fps)


def labelled(frames: np.ndarray, title: str, indices: list[int]) -> np.ndarray:
    """Each frame [T, H, W, 3] of a panel with its title and source frame number drawn on it."""
    return np.stack([draw_lines(f, [title, f"frame {i}"]) for f, i in zip(frames, indices, strict=True)])


def _output_name(heat_map: HeatMap) -> str:
    return "output" if heat_map.output is None else f"Out{heat_map.output + 1}"


@dataclass
class GradCamResult:
    maps: list[HeatMap]
    clip: CentreClip
    outputs: list[str] = field(default_factory=list)


def write_gradcam(cfg: CfgNode, model: nn.Module, video: str, out_dir: str, target: int | None = None,
                  ffc_outputs: list[int] | None = None, layer: str | None = None,
                  names: list[str] | None = None) -> GradCamResult:
    """Grad-CAM of `video`'s centre clip into `out_dir`/<video name>_gradcam.{png,mp4}; FFC
    outputs are 0-based here (the tool takes 1-based numbers, as the paper names them). A
    failure leaves no empty `out_dir` behind."""
    with output_folder(out_dir):
        return _write_gradcam(cfg, model, video, out_dir, target, ffc_outputs, layer, names)


def _write_gradcam(cfg: CfgNode, model: nn.Module, video: str, out_dir: str, target: int | None,
                   ffc_outputs: list[int] | None, layer: str | None, names: list[str] | None) -> GradCamResult:
    clip = centre_clip(cfg, video)
    maps = grad_cam(model, clip.clip.to(runner_device(model)), target, ffc_outputs, layer, cfg.FFC.TEST_ENSEMBLE)
    target_name = class_name(names, maps[0].target)
    rows = [clip.frames] + [overlay(clip.frames, m.heat.numpy()) for m in maps]
    titles = ["input"] + [f"{_output_name(m)}\n{target_name} {m.score:.2f}" for m in maps]
    stem = os.path.splitext(os.path.basename(video))[0].lstrip("-") or "video"
    png = os.path.join(out_dir, f"{stem}_gradcam.png")
    mp4 = os.path.join(out_dir, f"{stem}_gradcam.mp4")
    save_grid(rows, titles, png, title=f"Grad-CAM of {target_name} at {layer or 'the last stage'}: "
              f"{os.path.basename(video)}, frames {clip.indices[0]}..{clip.indices[-1]}",
              column_titles=[f"frame {i}" for i in clip.indices])
    step = (clip.indices[-1] - clip.indices[0]) / max(len(clip.indices) - 1, 1) or 1.0
    panels = [labelled(upscale(r, 192), title.replace("\n", " "), clip.indices) for r, title in zip(rows, titles, strict=True)]
    save_mp4(side_by_side(panels), mp4, fps=max(clip.fps / step, 1.0))
    return GradCamResult(maps, clip, [png, mp4])
