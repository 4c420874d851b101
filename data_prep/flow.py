"""Optical flow for extraction: the algorithms, resizing and quantisation as plain functions.

They live in video3d.flow (the online flow of the data layer uses the same code, so the
network sees the same numbers either way) and are re-exported here under their old names.
Quantisation follows denseflow / mmaction2 (docs/DATA.md): clip each component to
[-bound, bound] and map it to round(255 (v + bound) / (2 bound)). TV-L1 is OpenCV contrib's
`DualTVL1OpticalFlow` with its defaults (docs/FLOW.md), run on grayscale frames after resizing.
"""

from __future__ import annotations

from video3d.config.choices import FLOW_ALGORITHMS
from video3d.flow.frames import output_size, resize_frame, source_index
from video3d.flow.opencv import FARNEBACK_PARAMS, FlowComputer
from video3d.flow.quantize import dequantize_flow, quantize_flow

__all__ = ["FARNEBACK_PARAMS", "FLOW_ALGORITHMS", "FlowComputer", "dequantize_flow", "output_size",
           "quantize_flow", "resize_frame", "source_index"]

