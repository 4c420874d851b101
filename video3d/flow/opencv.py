"""OpenCV's flow algorithms behind one call: TV-L1 (contrib), DIS, Farneback.

Used by data_prep.extract_flow (`--backend opencv`) and by the online flow of the data layer
for DIS and Farneback (TV-L1 online runs on video3d.flow.TVL1).
"""

from __future__ import annotations

import cv2
import numpy as np

from video3d.config.choices import FLOW_ALGORITHMS
from video3d.errors import DataError

# OpenCV's tutorial values for Farneback (docs/ENVIRONMENT.md).
FARNEBACK_PARAMS = {"pyr_scale": 0.5, "levels": 3, "winsize": 15, "iterations": 3, "poly_n": 5,
                    "poly_sigma": 1.2, "flags": 0}


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
