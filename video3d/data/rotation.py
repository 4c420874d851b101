"""Rotation metadata (a phone's display matrix) applied as players apply it.

FFmpeg attaches a stream's display matrix to every decoded frame; PyAV reads its rotation as
`VideoFrame.rotation`, the angle in degrees by which the picture must be turned
counter-clockwise to be shown upright (ffmpeg's `-metadata:s:v rotate=90`, a clockwise
display rotation, reads -90). Only quarter turns occur in practice; flips are not applied.
"""

from __future__ import annotations

import numpy as np


def quarter_turns(rotation: float | None) -> int:
    """Counter-clockwise quarter turns (0-3) that make a frame with `rotation` upright."""
    return round((rotation or 0) / 90) % 4


def frame_turns(frame) -> int:
    """`quarter_turns` of a decoded PyAV frame (0 when it carries no display matrix)."""
    return quarter_turns(getattr(frame, "rotation", 0))


def upright_size(width: int, height: int, turns: int) -> tuple[int, int]:
    """(width, height) of a width x height picture after `turns` quarter turns."""
    return (height, width) if turns % 2 else (width, height)


def upright(image: np.ndarray, turns: int) -> np.ndarray:
    """Image [H, W, ...] turned counter-clockwise `turns` times, contiguous."""
    if turns % 4 == 0:
        return image
    return np.ascontiguousarray(np.rot90(image, turns, axes=(0, 1)))
