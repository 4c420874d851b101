"""The tiny demo model of the inference tests."""

from tests.inference.conftest import tiny_cfg, tiny_model, video_40  # noqa: F401
