"""Frame folders behind `FrameSource`: extracted RGB frames and quantised optical flow.

Layout (the de-facto standard of denseflow / mmaction2; docs/DATA.md):

    <folder>/img_00001.jpg ...        RGB frames, 1-based
    <folder>/flow_x_00001.jpg ...     flow from frame t to t+1, x component, 1-based
    <folder>/flow_y_00001.jpg ...     y component

A folder of N RGB frames holds N - 1 flow pairs. Flow was clipped to +-20 pixels and mapped
to 0..255 (127.5 = no motion) by data_prep; the source returns the quantised bytes
`[T, H, W, 2]` (x, y) and the transforms map them to (q - 128) / 128.
Frame index i (0-based) reads file number i + 1. Folders carry no frame rate: it is taken
as given (DATA.TARGET_FPS by default, the rate data_prep extracts at).
"""

from __future__ import annotations

import os

import cv2
import numpy as np
import torch

from video3d.data.frame_source import FrameSource
from video3d.errors import DecodeError

RGB_TEMPLATE = "img_{:05d}.jpg"
FLOW_X_TEMPLATE = "flow_x_{:05d}.jpg"
FLOW_Y_TEMPLATE = "flow_y_{:05d}.jpg"


def count_frames(folder: str, prefix: str) -> int:
    """Number of files `<prefix>NNNNN.jpg` in `folder` (DecodeError if it is not a folder)."""
    try:
        with os.scandir(folder) as entries:
            return sum(1 for e in entries if e.name.startswith(prefix) and e.name.endswith(".jpg"))
    except OSError as error:
        raise DecodeError(folder, f"cannot list the frame folder: {error.strerror or error}") from error


def _read_image(path: str, flags: int) -> np.ndarray:
    image = cv2.imread(path, flags)
    if image is None:
        reason = "missing frame file" if not os.path.exists(path) else "unreadable image"
        raise DecodeError(path, reason)
    return image


class _FolderSource(FrameSource):
    prefix = ""

    def __init__(self, folder: str, num_frames: int | None = None, fps: float = 30.0):
        super().__init__(folder)
        if not os.path.isdir(folder):
            raise DecodeError(folder, "frame folder does not exist")
        self._num_frames = self._count(num_frames)
        if self._num_frames <= 0:
            raise DecodeError(folder, f"no {self.prefix}*.jpg frames in the folder")
        self._fps = float(fps)
        self._shape: tuple[int, int] | None = None

    def _count(self, num_frames: int | None) -> int:
        return count_frames(self.path, self.prefix) if num_frames is None else int(num_frames)

    def _frame_shape(self) -> tuple[int, int]:
        if self._shape is None:
            self._shape = tuple(self._read([0])[0].shape[:2])
        return self._shape

    def _load(self, index: int) -> np.ndarray:
        raise NotImplementedError

    def close(self) -> None:
        """Nothing stays open: each frame file is opened and closed by cv2.imread."""

    def _read(self, wanted: list[int]) -> dict[int, torch.Tensor]:
        frames = {i: self._load(i) for i in wanted}
        shapes = {f.shape for f in frames.values()}
        if len(shapes) > 1:
            raise DecodeError(self.path, f"frames of different sizes in one folder: {sorted(shapes)}")
        return {i: torch.from_numpy(f) for i, f in frames.items()}


class RGBFrameFolder(_FolderSource):
    """`img_%05d.jpg` frames as RGB uint8."""

    prefix = "img_"

    def _load(self, index: int) -> np.ndarray:
        bgr = _read_image(os.path.join(self.path, RGB_TEMPLATE.format(index + 1)), cv2.IMREAD_COLOR)
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


class FlowFrameFolder(_FolderSource):
    """`flow_x_/flow_y_%05d.jpg` pairs as uint8 `[H, W, 2]` (x, y).

    `num_frames`, when given, is the folder's RGB frame count N (the number a frame list
    records); the source then holds N - 1 flow pairs. Without it the flow_x files are counted.
    """

    prefix = "flow_x_"

    def _count(self, num_frames: int | None) -> int:
        return count_frames(self.path, self.prefix) if num_frames is None else int(num_frames) - 1

    CHANNELS = 2

    def _load(self, index: int) -> np.ndarray:
        x = _read_image(os.path.join(self.path, FLOW_X_TEMPLATE.format(index + 1)), cv2.IMREAD_GRAYSCALE)
        y = _read_image(os.path.join(self.path, FLOW_Y_TEMPLATE.format(index + 1)), cv2.IMREAD_GRAYSCALE)
        if x.shape != y.shape:
            raise DecodeError(self.path, f"flow_x and flow_y {index + 1} differ in size: {x.shape} vs {y.shape}")
        return np.stack([x, y], axis=-1)
