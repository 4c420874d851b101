"""The clip browser: what the network is fed after sampling and augmentation, denormalised,
so a wrong crop, a bad flip or a broken normalisation shows before a day of training."""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
from fvcore.common.config import CfgNode

from video3d.data import build_dataset
from video3d.inference.annotate import draw_lines
from video3d.inference.long_video import output_folder
from video3d.inference.scores import class_name
from video3d.visualize.render import flow_to_rgb, save_gif, save_grid, upscale

GRID = "clips.png"


def as_rgb(frames: np.ndarray) -> np.ndarray:
    """[T, H, W, 3] RGB as is; [T, H, W, 2] quantised flow (128 = no motion) colour-coded."""
    if frames.shape[-1] == 3:
        return frames
    return flow_to_rgb(frames.astype(np.float32) - 128.0, max_magnitude=128.0)


@dataclass
class BrowsedClip:
    index: int
    video_id: str
    label: int
    frames: np.ndarray  # uint8 [T, H, W, 3] as shown (flow colour-coded)
    flipped: bool = False  # the label changed: a mirrored clip of a class in DATA.FLIP_LABEL_MAP


def browse_clips(cfg: CfgNode, split: str, num: int, out_dir: str, names: list[str] | None = None
                 ) -> tuple[list[BrowsedClip], list[str]]:
    """Write `num` samples of `split` (train: random clip, jitter, crop, flip, augmentation;
    val / test: the validation view) to `out_dir`: clips.png (one row per sample) and
    clip_<k>_<video id>.gif each; returns the samples and the files written. A failure leaves
    no empty `out_dir` behind."""
    with output_folder(out_dir):
        return _browse(cfg, split, num, out_dir, names)


def _browse(cfg: CfgNode, split: str, num: int, out_dir: str, names: list[str] | None
            ) -> tuple[list[BrowsedClip], list[str]]:
    dataset = build_dataset(cfg, split, training=split == "train")
    dataset.set_epoch(0)
    count = min(num, len(dataset))
    picks = sorted({int(i) for i in np.linspace(0, len(dataset) - 1, count)}) if count else []
    clips, written = [], []
    for k, index in enumerate(picks):
        item = dataset[index]
        frames = as_rgb(item["video"].permute(1, 2, 3, 0).numpy())  # loader items are uint8 [C, T, H, W]
        clip = BrowsedClip(int(item["index"]), str(item["video_id"]), int(item["label"]), frames)
        clip.flipped = clip.label != dataset.records[clip.index].label  # a label-aware flip changed it
        clips.append(clip)
        shown = upscale(frames, 128)
        label = f"{item['label']} {class_name(names, int(item['label']))}"
        safe_id = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in str(item["video_id"]))[:60]
        gif = os.path.join(out_dir, f"clip_{k:02d}_{safe_id}.gif")
        save_gif(np.stack([draw_lines(f, [label]) for f in shown]), gif, fps=8)
        written.append(gif)
    if clips:
        grid = os.path.join(out_dir, GRID)
        kind = "train (sampled and augmented)" if split == "train" else f"{split} (validation view)"
        save_grid([c.frames for c in clips],
                  [f"{c.label} {class_name(names, c.label)}{' (flipped)' if c.flipped else ''}\n"
                   f"{os.path.basename(c.video_id)}" for c in clips], grid,
                  title=f"{cfg.MODEL.MODEL_NAME}: {kind} clips, denormalised, {cfg.DATA.MODALITY}")
        written.insert(0, grid)
    return clips, written
