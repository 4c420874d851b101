import cv2
import numpy as np
import pytest

from video3d.errors import DataError
from video3d.flow.frames import output_size, resize_frame, source_index
from video3d.flow.opencv import FlowComputer
from video3d.flow.quantize import dequantize_flow, quantize_flow


def test_quantize_exact_values_and_clipping():
    values = np.array([-30.0, -20.0, -10.0, 0.0, 1.0, 10.0, 20.0, 25.0], dtype=np.float32)
    # 255 * (v + 20) / 40: -10 -> 63.75, 1 -> 133.875, 10 -> 191.25
    assert quantize_flow(values, 20).tolist() == [0, 0, 64, 128, 134, 191, 255, 255]
    assert quantize_flow(values, 20).dtype == np.uint8


def test_zero_flow_is_127_5_which_rint_writes_as_128():
    assert 255 * (0 + 20) / 40 == 127.5
    assert np.all(quantize_flow(np.zeros((3, 4)), 20) == 128)
    assert np.all(quantize_flow(np.zeros((3, 4)), 7.5) == 128)


def test_round_trip_within_half_a_step():
    bound = 20.0
    values = np.random.default_rng(0).uniform(-bound, bound, size=10_000).astype(np.float32)
    error = np.abs(dequantize_flow(quantize_flow(values, bound), bound) - values)
    assert error.max() <= bound / 255 + 1e-5  # half of one step 2 * bound / 255
    assert dequantize_flow(np.array([0, 255]), bound).tolist() == [-20.0, 20.0]


def test_non_positive_bound_is_an_error():
    with pytest.raises(DataError, match="bound"):
        quantize_flow(np.zeros(2), 0)


def test_output_size_short_side_keeps_aspect_rounding_half_up():
    assert output_size(320, 240, short_side=256) == (341, 256)  # 341.33
    assert output_size(240, 320, short_side=256) == (256, 341)
    assert output_size(64, 48, short_side=32) == (43, 32)  # 42.67
    assert output_size(30, 20, short_side=5) == (8, 5)  # 7.5 rounds up
    assert output_size(64, 48, size=(340, 256)) == (340, 256)
    assert output_size(64, 48) == (64, 48)


def test_resize_frame_returns_the_requested_size():
    image = np.zeros((48, 64, 3), np.uint8)
    assert resize_frame(image, (43, 32)).shape == (32, 43, 3)
    assert resize_frame(image, (128, 96)).shape == (96, 128, 3)
    assert resize_frame(image, (64, 48)) is image


def test_source_index_picks_the_nearest_frame_in_time():
    assert [source_index(k, 30, 15) for k in range(4)] == [0, 2, 4, 6]
    assert [source_index(k, 25, 30) for k in range(7)] == [0, 1, 2, 3, 3, 4, 5]  # 0.83, 1.67, 2.5, 3.33
    assert [source_index(k, 30, 30) for k in range(3)] == [0, 1, 2]


@pytest.mark.parametrize("algorithm", ["dis", "farneback", "tvl1"])
def test_flow_of_a_rightward_shift_is_positive_x(algorithm, make_frames):
    frames = make_frames(frames=2, width=40, height=32, step=2)
    gray = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames]
    flow = FlowComputer(algorithm)(gray[0], gray[1])
    assert flow.shape == (32, 40, 2) and flow.dtype == np.float32
    inner = flow[8:-8, 8:-8]
    assert abs(np.median(inner[..., 0]) - 2.0) < 0.5
    assert abs(np.median(inner[..., 1])) < 0.5


def test_tvl1_parameters_are_opencv_defaults():
    params = FlowComputer("tvl1").parameters()
    assert params["Tau"] == pytest.approx(0.25) and params["Lambda"] == pytest.approx(0.15)
    assert params["Theta"] == pytest.approx(0.3) and params["Epsilon"] == pytest.approx(0.01)
    assert (params["ScalesNumber"], params["WarpingsNumber"]) == (5, 5)
    assert (params["InnerIterations"], params["OuterIterations"], params["MedianFiltering"]) == (30, 10, 5)
    assert params["UseInitialFlow"] is False


def test_unknown_algorithm_is_an_error():
    with pytest.raises(DataError, match="raft"):
        FlowComputer("raft")
