"""Flow quantisation: pixels <-> the uint8 levels of flow JPEGs (docs/DATA.md).

Each component is clipped to [-bound, bound] and mapped to rint(255 (v + bound) / (2 bound))
(denseflow / MMAction2). Zero flow lands on 127.5, which round-half-to-even writes as 128;
the network sees (q - 128) / 128 (DATA.FLOW_MEAN / DATA.FLOW_STD). The same float32
arithmetic serves NumPy arrays (extraction) and tensors (online flow, any device), so the
two give the same bytes.
"""

from __future__ import annotations

import numpy as np
import torch

from video3d.errors import DataError

Array = np.ndarray | torch.Tensor


def _check_bound(bound: float) -> None:
    if not bound > 0:
        raise DataError(f"flow bound must be > 0, got {bound}")


def quantize_flow(component: Array, bound: float) -> Array:
    """Flow (pixels) -> uint8 levels: clip to +-bound, rint(255 (v + bound) / (2 bound)).

    A NumPy array gives a NumPy array, a tensor a tensor on its device; both compute in float32.
    """
    _check_bound(bound)
    scale = 255.0 / (2.0 * bound)
    if isinstance(component, torch.Tensor):
        clipped = component.to(torch.float32).clamp(-bound, bound)
        return torch.round((clipped + bound) * scale).to(torch.uint8)
    clipped = np.clip(np.asarray(component, dtype=np.float32), -bound, bound)
    return np.rint((clipped + bound) * scale).astype(np.uint8)


def dequantize_flow(quantized: Array, bound: float) -> Array:
    """uint8 levels -> pixels, the inverse of `quantize_flow` up to bound / 255 (half a step)."""
    _check_bound(bound)
    if isinstance(quantized, torch.Tensor):
        return quantized.to(torch.float32) * (2.0 * bound / 255.0) - bound
    return np.asarray(quantized, dtype=np.float32) * (2.0 * bound / 255.0) - bound
