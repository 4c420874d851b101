"""Flow quantisation: tensors and NumPy arrays give the same bytes (online flow = extraction)."""

import numpy as np
import pytest
import torch

from video3d.errors import DataError
from video3d.flow.quantize import dequantize_flow, quantize_flow


def _hard_values(bound: float) -> np.ndarray:
    """Random flow plus every half-level boundary and its float32 neighbours, the bounds, +-inf."""
    rng = np.random.default_rng(0)
    halves = ((np.arange(-1, 257, dtype=np.float32) + 0.5) * (2 * bound / 255) - bound).astype(np.float32)
    return np.concatenate([
        (rng.standard_normal(20_000) * bound).astype(np.float32), halves,
        np.nextafter(halves, np.float32(np.inf)), np.nextafter(halves, np.float32(-np.inf)),
        np.array([0.0, -bound, bound, np.inf, -np.inf], np.float32),
    ])


@pytest.mark.parametrize("bound", [20.0, 2.0, 0.75])
def test_tensor_and_numpy_quantisation_agree_on_every_boundary(bound):
    values = _hard_values(bound)
    expected = quantize_flow(values, bound)
    assert expected.dtype == np.uint8
    got = quantize_flow(torch.from_numpy(values), bound)
    assert got.dtype == torch.uint8
    np.testing.assert_array_equal(got.numpy(), expected)


def test_known_levels_zero_flow_is_128_and_the_bounds_clip():
    flow = np.array([0.0, -20.0, 20.0, -100.0, 100.0, 20.0 / 255.0], np.float32)
    assert quantize_flow(flow, 20.0).tolist() == [128, 0, 255, 0, 255, 128]
    assert quantize_flow(torch.from_numpy(flow), 20.0).tolist() == [128, 0, 255, 0, 255, 128]


def test_dequantize_inverts_within_half_a_level_for_both_types():
    flow = np.linspace(-1.9, 1.9, 101, dtype=np.float32)
    for levels in (quantize_flow(flow, 2.0), quantize_flow(torch.from_numpy(flow), 2.0)):
        back = np.asarray(dequantize_flow(levels, 2.0))
        assert np.abs(back - flow).max() <= 2.0 / 255 + 1e-6


def test_a_bound_that_is_not_positive_is_refused():
    with pytest.raises(DataError, match="flow bound must be > 0, got 0"):
        quantize_flow(torch.zeros(3), 0)
