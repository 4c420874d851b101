"""Drawing helpers: heat overlays, labelled grids (PNG), and the same frames as mp4 or gif."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from video3d.inference.video_writer import Mp4Writer
from video3d.utils.io import atomic_write


def overlay(frames: np.ndarray, heat: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    """RGB frames uint8 [T, H, W, 3] blended with heat [T, H, W] in 0..1 as a JET colour map."""
    out = np.empty_like(frames)
    for t in range(frames.shape[0]):
        colour = cv2.applyColorMap(np.clip(heat[t] * 255.0, 0, 255).astype(np.uint8), cv2.COLORMAP_JET)
        colour = cv2.cvtColor(colour, cv2.COLOR_BGR2RGB)
        out[t] = np.clip((1.0 - alpha) * frames[t] + alpha * colour, 0, 255).astype(np.uint8)
    return out


def flow_to_rgb(flow: np.ndarray, max_magnitude: float | None = None) -> np.ndarray:
    """Flow [..., 2] (x, y; any units) as RGB uint8: hue = direction, brightness = magnitude
    (the Middlebury convention); `max_magnitude` None scales to the largest vector."""
    fx, fy = flow[..., 0].astype(np.float32), flow[..., 1].astype(np.float32)
    magnitude = np.hypot(fx, fy)
    angle = np.arctan2(fy, fx)
    scale = max_magnitude if max_magnitude is not None else max(float(magnitude.max()), 1e-6)
    hsv = np.zeros((*fx.shape, 3), dtype=np.uint8)
    hsv[..., 0] = ((angle + np.pi) / (2 * np.pi) * 179.0).astype(np.uint8)
    hsv[..., 1] = 255
    hsv[..., 2] = np.clip(magnitude / scale * 255.0, 0, 255).astype(np.uint8)
    flat = hsv.reshape(-1, 1, 3)
    return cv2.cvtColor(flat, cv2.COLOR_HSV2RGB).reshape(hsv.shape)


def upscale(frames: np.ndarray, min_side: int) -> np.ndarray:
    """Frames [T, H, W, 3] enlarged by an integer factor (nearest) so the short side >= min_side."""
    factor = max(1, -(-min_side // min(frames.shape[1:3])))
    return frames if factor == 1 else frames.repeat(factor, axis=1).repeat(factor, axis=2)


def grid_figure(rows: Sequence[np.ndarray], row_titles: Sequence[str], title: str = "",
                column_titles: Sequence[str] | None = None) -> Figure:
    """The figure of `save_grid`. The left margin is the widest row title as drawn (measured
    after layout), so titles are never cut at the figure's edge."""
    columns = max(r.shape[0] for r in rows)
    cell = 1.3
    height = cell * len(rows) + (0.5 if title else 0.2)
    figure = Figure(figsize=(cell * columns + 1.6, height), dpi=100)
    FigureCanvasAgg(figure)
    axes = np.atleast_2d(figure.subplots(len(rows), columns, squeeze=False))
    for r, (frames, row_title) in enumerate(zip(rows, row_titles, strict=True)):
        for c in range(columns):
            axis = axes[r, c]
            axis.set_xticks([])
            axis.set_yticks([])
            if c < frames.shape[0]:
                axis.imshow(frames[c])
            else:
                axis.set_axis_off()
            if c == 0:
                axis.set_ylabel(row_title, fontsize=8, rotation=0, ha="right", va="center")
            if r == 0 and column_titles is not None and c < len(column_titles):
                axis.set_title(column_titles[c], fontsize=7)
    if title:
        figure.suptitle(title, fontsize=9)
    renderer = figure.canvas.get_renderer()
    widest = max(axes[r, 0].yaxis.label.get_window_extent(renderer).width for r in range(len(rows)))
    margin = max(widest / figure.dpi + 0.2, 0.4)  # inches, with the gap between title and picture
    width = cell * columns + margin + 0.1
    figure.set_size_inches(width, height)
    figure.subplots_adjust(left=margin / width, right=1 - 0.1 / width, wspace=0.04, hspace=0.08,
                           top=1 - (0.45 if title else 0.25) / height, bottom=0.02)
    return figure


def save_grid(rows: Sequence[np.ndarray], row_titles: Sequence[str], path: str, title: str = "",
              column_titles: Sequence[str] | None = None) -> None:
    """A PNG grid: one row per entry of `rows` (each [T, H, W, 3] uint8), one column per frame."""
    figure = grid_figure(rows, row_titles, title, column_titles)
    with atomic_write(path, "wb") as handle:
        figure.savefig(handle, format="png")


def side_by_side(rows: Sequence[np.ndarray]) -> np.ndarray:
    """Frames [T, H, W, 3] of each row placed left to right with a 2-pixel gap: [T, H, W', 3]."""
    gap = np.zeros((rows[0].shape[0], rows[0].shape[1], 2, 3), dtype=np.uint8)
    parts = []
    for i, frames in enumerate(rows):
        parts += [gap, frames] if i else [frames]
    return np.concatenate(parts, axis=2)


def save_mp4(frames: np.ndarray, path: str, fps: float) -> None:
    """Frames [T, H, W, 3] uint8 as an H.264 mp4 (complete or absent, see `Mp4Writer`)."""
    with Mp4Writer(path, fps, frames.shape[2], frames.shape[1]) as writer:
        for image in frames:
            writer.write(image)


def save_gif(frames: np.ndarray, path: str, fps: float) -> None:
    """Frames [T, H, W, 3] uint8 as a looping gif."""
    from PIL import Image

    images = [Image.fromarray(f) for f in frames]
    with atomic_write(path, "wb") as handle:
        images[0].save(handle, format="GIF", save_all=True, append_images=images[1:],
                       duration=max(int(1000 / fps), 20), loop=0)
