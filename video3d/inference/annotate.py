"""Text drawn onto video frames: a dark box with one line per label, sized to the frame."""

from __future__ import annotations

import cv2
import numpy as np

_FONT = cv2.FONT_HERSHEY_SIMPLEX
MIN_TEXT_PX = 9  # smaller Hershey text is not readable


def label_lines(topk: list[tuple[str, float]], vote: tuple[str, int, int] | None = None) -> list[str]:
    """"name 0.93" per class, after "vote: name 5/7" for FFC models."""
    lines = [f"vote: {vote[0]} {vote[1]}/{vote[2]}"] if vote is not None else []
    return lines + [f"{name} {score:.2f}" for name, score in topk]


def draw_lines(image: np.ndarray, lines: list[str], max_height: float = 0.35, max_width: float = 0.6) -> np.ndarray:
    """A copy of RGB `image` with `lines` in the top-left corner on a half-transparent box.

    Text and box scale with the frame: text a 34th of its short side (at least MIN_TEXT_PX, so
    a 176x144 video stays readable; a portrait video is not given text for its long side), the box at most `max_height` of its height and `max_width` of
    its width. On small frames the lines that do not fit are left out (the first lines, the
    best classes, stay) and long class names are shortened with "..", the score kept."""
    out = image.copy()
    if not lines:
        return out
    height, width = out.shape[:2]
    (_, unit_h), unit_base = cv2.getTextSize("Ag", _FONT, 1.0, 1)
    text_px = max(min(height, width) / 34.0, MIN_TEXT_PX)
    scale = text_px / unit_h
    thickness = max(1, int(round(text_px / 16.0)))
    pad = max(2, int(round(text_px * 0.3)))
    line_h = int(np.ceil(text_px + unit_base * scale)) + pad
    shown = lines[:max(1, int((height * max_height - pad) // line_h))]
    room = max(int(width * max_width) - 2 * pad, 1)
    shown = [fit_width(text, scale, thickness, room) for text in shown]
    box_w = min(max(cv2.getTextSize(t, _FONT, scale, thickness)[0][0] for t in shown) + 2 * pad, width)
    box_h = min(line_h * len(shown) + pad, height)
    region = out[:box_h, :box_w]
    region[:] = (region.astype(np.float32) * 0.4).astype(np.uint8)
    for i, text in enumerate(shown):
        y = (i + 1) * line_h - int(round(unit_base * scale))
        colour = (255, 255, 0) if i == 0 else (255, 255, 255)
        cv2.putText(out, text, (pad, y), _FONT, scale, colour, thickness, cv2.LINE_AA)
    return out


def fit_width(text: str, scale: float, thickness: int, room: int) -> str:
    """`text` shortened in its name part ("rotate_count.. 0.93") until it is at most `room`
    pixels wide at `scale`; the last word (the score or vote count) is kept."""
    if cv2.getTextSize(text, _FONT, scale, thickness)[0][0] <= room:
        return text
    head, _, tail = text.rpartition(" ")
    if not head:
        head, tail = text, ""
    suffix = f".. {tail}" if tail else ".."
    while head and cv2.getTextSize(head + suffix, _FONT, scale, thickness)[0][0] > room:
        head = head[:-1]
    return head + suffix
