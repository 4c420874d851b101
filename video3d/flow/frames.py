"""How frames are prepared for flow, the same offline (data_prep.extract_flow) and online:
resize to the extraction size, then grayscale (docs/DATA.md)."""

from __future__ import annotations

import math

import cv2
import numpy as np


def _round_half_up(value: float) -> int:
    return int(math.floor(value + 0.5))


def output_size(width: int, height: int, short_side: int | None = None,
                size: tuple[int, int] | None = None) -> tuple[int, int]:
    """(width, height) after resizing: a fixed `size`, or the short side scaled to `short_side`
    keeping the aspect ratio (the long side rounded half up), or unchanged."""
    if size is not None:
        return tuple(size)
    if short_side is None:
        return width, height
    if width <= height:
        return short_side, max(1, _round_half_up(height * short_side / width))
    return max(1, _round_half_up(width * short_side / height)), short_side


def resize_frame(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize to (width, height): area averaging when shrinking, bilinear when enlarging."""
    height, width = image.shape[:2]
    if (width, height) == tuple(size):
        return image
    shrinking = size[0] * size[1] < width * height
    return cv2.resize(image, tuple(size), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)


def source_index(output_index: int, source_fps: float, target_fps: float) -> int:
    """Source frame shown at output frame `output_index` when resampling to `target_fps`:
    the one nearest in time (ties to the later frame), as extraction's `--fps` does."""
    return _round_half_up(output_index * source_fps / target_fps)


def resampled_count(num_source_frames: int, source_fps: float, target_fps: float) -> int:
    """Output frames of a `num_source_frames` video resampled to `target_fps`: every k whose
    `source_index` exists."""
    count = max(int((num_source_frames - 0.5) * target_fps / source_fps) - 1, 0)
    while source_index(count, source_fps, target_fps) <= num_source_frames - 1:
        count += 1
    return count


def flow_gray(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """An RGB uint8 frame [H, W, 3] as the flow algorithms see it: resized to `size` (width,
    height) with `resize_frame`, then OpenCV's grayscale (the extraction resizes the BGR frame:
    the same numbers, channel for channel)."""
    return cv2.cvtColor(resize_frame(rgb, size), cv2.COLOR_RGB2GRAY)
