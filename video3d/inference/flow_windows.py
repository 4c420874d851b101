"""Optical flow for the long-video demo: a flow model's windows computed from the stream.

Each decoded frame is kept as the flow algorithms see it (resized to the model's flow size,
grayscale: `video3d.flow.frames.flow_gray`). A window's clip index i is the flow from frame
i to frame i + 1, as in a flow frame folder; its pairs are computed and quantised by
`video3d.flow.recipe.flow_pairs` with the model's recipe (`FlowRecipe`: DATA.FLOW_ALGO,
FLOW_BOUND, FLOW_SHORT_SIDE / FLOW_SIZE), as online and extracted flow are, then
preprocessed like an RGB frame (short side DATA.TEST_CROP_SIZE, centre crop). Pairs shared by
overlapping windows are computed once; those before the current window are dropped.
"""

from __future__ import annotations

import numpy as np
import torch

from video3d.flow.frames import flow_gray
from video3d.flow.recipe import FlowRecipe, flow_pairs
from video3d.inference.preprocess import ClipPreprocessor


class FlowWindows:
    """Gray frames in, normalised flow clips `[1, 2, T, S, S]` out (see the module docstring)."""

    def __init__(self, recipe: FlowRecipe, preprocess: ClipPreprocessor):
        self.recipe = recipe
        self.preprocess = preprocess
        self._size: tuple[int, int] | None = None
        self._pairs: dict[int, torch.Tensor] = {}

    def gray(self, image: np.ndarray) -> np.ndarray:
        """An RGB frame [H, W, 3] as the flow algorithm takes it."""
        if self._size is None:
            self._size = self.recipe.output_size(image.shape[1], image.shape[0])
        return flow_gray(image, self._size)

    def clip(self, pairs: list[int], gray_of: dict[int, np.ndarray]) -> torch.Tensor:
        """The network input of the flow pairs `pairs` (pair i: frame i to i + 1, both in `gray_of`)."""
        missing = sorted(set(pairs) - self._pairs.keys())
        if missing:
            flows = flow_pairs(np.stack([gray_of[i] for i in missing]),
                                   np.stack([gray_of[i + 1] for i in missing]), self.recipe)
            self._pairs.update((i, self.preprocess.frame(flow.numpy())) for i, flow in zip(missing, flows, strict=True))
        for old in [i for i in self._pairs if i < min(pairs)]:
            del self._pairs[old]
        return self.preprocess.clip([self._pairs[i] for i in pairs])
