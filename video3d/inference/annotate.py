"""Text drawn onto video frames: a dark box with one line per label, sized to the frame."""

from __future__ import annotations

import cv2
import numpy as np

_FONT = cv2.FONT_HERSHEY_SIMPLEX


def label_lines(topk: list[tuple[str, float]], vote: tuple[str, int, int] | None = None) -> list[str]:
    """"name 0.93" per class, after "vote: name 5/7" for FFC models."""
    lines = [f"vote: {vote[0]} {vote[1]}/{vote[2]}"] if vote is not None else []
    return lines + [f"{name} {score:.2f}" for name, score in topk]


def draw_lines(image: np.ndarray, lines: list[str]) -> np.ndarray:
    """A copy of RGB `image` with `lines` in the top-left corner on a half-transparent box.
    The font scales with the frame so the longest line fits its width (small videos get small
    text rather than clipped text)."""
    out = image.copy()
    if not lines:
        return out
    height, width = out.shape[:2]
    scale = min(height / 480.0, 1.2)
    thickness = 1
    (text_w, text_h), baseline = cv2.getTextSize(max(lines, key=len), _FONT, 1.0, thickness)
    scale = max(min(scale, 0.96 * width / max(text_w, 1)), 0.2)
    line_h = int(np.ceil((text_h + baseline) * scale)) + 2
    box_w = int(np.ceil(max(cv2.getTextSize(t, _FONT, scale, thickness)[0][0] for t in lines))) + 4
    box_h = min(line_h * len(lines) + 2, height)
    region = out[:box_h, :min(box_w, width)]
    region[:] = (region.astype(np.float32) * 0.4).astype(np.uint8)
    for i, text in enumerate(lines):
        y = (i + 1) * line_h - max(int(baseline * scale), 1)
        colour = (255, 255, 0) if i == 0 else (255, 255, 255)
        cv2.putText(out, text, (2, y), _FONT, scale, colour, thickness, cv2.LINE_AA)
    return out
