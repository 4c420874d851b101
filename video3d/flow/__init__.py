"""Optical flow as tensors: batched TV-L1 on any device (`TVL1`), plus device parsing.

Used offline by `data_prep.extract_flow --backend torch` and online wherever flow is computed
from raw video. docs/FLOW.md describes the algorithm and how it matches OpenCV's.
"""

from video3d.flow.devices import resolve_device
from video3d.flow.tvl1 import TVL1, TVL1Params

__all__ = ["TVL1", "TVL1Params", "resolve_device"]
