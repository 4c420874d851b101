"""Spatial transforms on uint8 clips `[T, C, H, W]`, then normalisation to float `[C, T, H, W]`.

The arithmetic (sizes, crop boxes, flip of labels and flow) is in pure functions tested
with exact values; the tensor functions apply them to a whole clip at once. Clips stay
uint8 until `normalize`: the antialiased bilinear resize runs on uint8 (about 4x faster
than on float) and the crop is a view.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F


def jitter_short_side(low: int, high: int, u: float) -> int:
    """Training short side: an integer uniform in [low, high] from `u` in [0, 1)."""
    return low + min(math.floor(u * (high - low + 1)), high - low)


def short_side_size(height: int, width: int, short_side: int) -> tuple[int, int]:
    """(height, width) after scaling the shorter side to `short_side`, keeping the aspect."""
    if height <= width:
        return short_side, max(short_side, math.floor(width * short_side / height + 0.5))
    return max(short_side, math.floor(height * short_side / width + 0.5)), short_side


def random_crop_box(height: int, width: int, size: int, u_y: float, u_x: float) -> tuple[int, int]:
    """(top, left) of a `size` square placed by `u_y`, `u_x` in [0, 1)."""
    top = min(math.floor(u_y * (height - size + 1)), height - size)
    left = min(math.floor(u_x * (width - size + 1)), width - size)
    return top, left


def centre_crop_box(height: int, width: int, size: int) -> tuple[int, int]:
    return (height - size) // 2, (width - size) // 2


def test_crop_boxes(height: int, width: int, size: int, num_crops: int) -> list[tuple[int, int]]:
    """(top, left) of the test crops: 1 = centre; 3 = left, centre, right along the long
    side of a landscape frame, top, centre, bottom of a portrait one (frameworks.md 1.9)."""
    centre = centre_crop_box(height, width, size)
    if num_crops == 1:
        return [centre]
    if num_crops != 3:
        raise ValueError(f"num_crops must be 1 or 3, got {num_crops}")
    if width >= height:
        return [(centre[0], 0), centre, (centre[0], width - size)]
    return [(0, centre[1]), centre, (height - size, centre[1])]


def flip_label(label: int, flip_label_map: Sequence[Sequence[int]]) -> int:
    """The label of the mirrored clip: pairs in DATA.FLIP_LABEL_MAP swap, others stay."""
    for a, b in flip_label_map:
        if label == a:
            return int(b)
        if label == b:
            return int(a)
    return label


def resize_clip(clip: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Antialiased bilinear resize of a uint8 clip `[T, C, H, W]` to `size` (h, w)."""
    if tuple(clip.shape[-2:]) == tuple(size):
        return clip
    return F.interpolate(clip, size=size, mode="bilinear", antialias=True, align_corners=False)


def resize_short_side(clip: torch.Tensor, short_side: int) -> torch.Tensor:
    return resize_clip(clip, short_side_size(clip.shape[-2], clip.shape[-1], short_side))


def crop_clip(clip: torch.Tensor, top: int, left: int, size: int) -> torch.Tensor:
    if top < 0 or left < 0 or top + size > clip.shape[-2] or left + size > clip.shape[-1]:
        raise ValueError(f"crop {size} at ({top}, {left}) does not fit a {tuple(clip.shape[-2:])} frame")
    return clip[..., top : top + size, left : left + size]


def flip_clip(clip: torch.Tensor, is_flow: bool) -> torch.Tensor:
    """Mirror a uint8 clip `[T, C, H, W]` left-right. Flow also inverts its x channel
    (q -> 255 - q): a mirrored motion to the right is a motion to the left; y is unchanged."""
    flipped = clip.flip(-1)
    if is_flow:
        flipped[:, 0] = 255 - flipped[:, 0]
    return flipped


def normalize(clip: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """uint8 `[T, C, H, W]` -> float `[C, T, H, W]` as (q - mean) / std per channel, with
    `mean` and `std` in the units of q (RGB: DATA.MEAN * 255; flow: 128, 128)."""
    mean_t = torch.tensor(mean, dtype=torch.float32).view(-1, 1, 1, 1)
    std_t = torch.tensor(std, dtype=torch.float32).view(-1, 1, 1, 1)
    if mean_t.shape[0] != clip.shape[1] or std_t.shape[0] != clip.shape[1]:
        raise ValueError(f"mean/std have {mean_t.shape[0]}/{std_t.shape[0]} values for {clip.shape[1]} channels")
    return (clip.permute(1, 0, 2, 3).float() - mean_t) / std_t


def normalization_for(modality: str, mean: Sequence[float], std: Sequence[float],
                      flow_mean: Sequence[float], flow_std: Sequence[float]) -> tuple[list[float], list[float]]:
    """(mean, std) in uint8 units: RGB DATA.MEAN/STD are given after /255; flow's are bytes."""
    if modality == "flow":
        return list(flow_mean), list(flow_std)
    return [m * 255.0 for m in mean], [s * 255.0 for s in std]
