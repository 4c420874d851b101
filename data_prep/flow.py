"""Optical flow for extraction: the algorithms, resizing and quantisation as plain functions.

Quantisation follows denseflow / mmaction2 (docs/DATA.md): clip
each component to [-bound, bound] and map it to round(255 (v + bound) / (2 bound)). Zero flow
lands on 127.5, which `np.rint` (round half to even) writes as 128; the data layer feeds the
network (q - 128) / 128. TV-L1 is OpenCV contrib's `DualTVL1OpticalFlow` with its defaults
(docs/FLOW.md), run on grayscale frames after resizing.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from video3d.errors import DataError

FLOW_ALGORITHMS = ("tvl1", "dis", "farneback")
# OpenCV's tutorial values for Farneback (docs/ENVIRONMENT.md).
FARNEBACK_PARAMS = {"pyr_scale": 0.5, "levels": 3, "winsize": 15, "iterations": 3, "poly_n": 5,
                    "poly_sigma": 1.2, "flags": 0}


def quantize_flow(component: np.ndarray, bound: float) -> np.ndarray:
    """One flow component (pixels) -> uint8: clip to +-bound, rint(255 (v + bound) / (2 bound))."""
    if bound <= 0:
        raise DataError(f"flow bound must be > 0, got {bound}")
    clipped = np.clip(np.asarray(component, dtype=np.float32), -bound, bound)
    return np.rint((clipped + bound) * (255.0 / (2.0 * bound))).astype(np.uint8)


def dequantize_flow(quantized: np.ndarray, bound: float) -> np.ndarray:
    """uint8 -> pixels, the inverse of `quantize_flow` up to bound / 255 (half a step)."""
    return np.asarray(quantized, dtype=np.float32) * (2.0 * bound / 255.0) - bound


def _round_half_up(value: float) -> int:
    return int(math.floor(value + 0.5))


def output_size(width: int, height: int, short_side: int | None = None,
                size: tuple[int, int] | None = None) -> tuple[int, int]:
    """(width, height) after resizing: a fixed `size`, or the short side scaled to `short_side`
    keeping the aspect ratio (the long side rounded half up), or unchanged."""
    if size is not None:
        return size
    if short_side is None:
        return width, height
    if width <= height:
        return short_side, max(1, _round_half_up(height * short_side / width))
    return max(1, _round_half_up(width * short_side / height)), short_side


def resize_frame(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize to (width, height): area averaging when shrinking, bilinear when enlarging."""
    height, width = image.shape[:2]
    if (width, height) == size:
        return image
    shrinking = size[0] * size[1] < width * height
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)


def source_index(output_index: int, source_fps: float, target_fps: float) -> int:
    """Source frame shown at output frame `output_index` when resampling to `target_fps`:
    the one nearest in time (ties to the later frame)."""
    return _round_half_up(output_index * source_fps / target_fps)


class FlowComputer:
    """Dense flow between two grayscale uint8 frames -> float32 [H, W, 2] (x, y) in pixels."""

    def __init__(self, algorithm: str):
        if algorithm not in FLOW_ALGORITHMS:
            raise DataError(f"flow algorithm {algorithm!r} unknown; expected one of {', '.join(FLOW_ALGORITHMS)}")
        self.algorithm = algorithm
        if algorithm == "tvl1":
            self._engine = cv2.optflow.DualTVL1OpticalFlow_create()
        elif algorithm == "dis":
            self._engine = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)

    def __call__(self, previous: np.ndarray, current: np.ndarray) -> np.ndarray:
        if self.algorithm == "farneback":
            return cv2.calcOpticalFlowFarneback(previous, current, None, **FARNEBACK_PARAMS)
        return self._engine.calc(previous, current, None)

    def parameters(self) -> dict:
        """The settings in force, read back from OpenCV, for the manifest."""
        if self.algorithm == "farneback":
            return dict(FARNEBACK_PARAMS)
        engine = self._engine
        if self.algorithm == "tvl1":
            names = ("Tau", "Lambda", "Theta", "ScalesNumber", "WarpingsNumber", "Epsilon", "InnerIterations",
                     "OuterIterations", "ScaleStep", "Gamma", "MedianFiltering", "UseInitialFlow")
        else:
            names = ("FinestScale", "PatchSize", "PatchStride", "GradientDescentIterations",
                     "VariationalRefinementIterations", "VariationalRefinementAlpha",
                     "VariationalRefinementDelta", "VariationalRefinementGamma", "UseMeanNormalization",
                     "UseSpatialPropagation")
        values = {name: getattr(engine, "get" + name)() for name in names}
        if self.algorithm == "dis":
            values["preset"] = "medium"
        return {name: (v if isinstance(v, (bool, int, str)) else float(v)) for name, v in values.items()}
