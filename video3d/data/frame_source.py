"""The one interface every source of frames implements: video decoders and frame folders.

A `FrameSource` is opened once, reports `num_frames`, `fps`, `height` and `width`, and
returns any list of frame indices (0-based, repeats and any order allowed) as one uint8
tensor `[T, H, W, C]` (C = 3 for RGB, 2 for flow x/y) in a single `get_frames` call.
Every failure raises `video3d.errors.DecodeError(path, reason)`; a source is a context
manager and always releases its resources on `close()`.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence

import torch

from video3d.errors import DecodeError


class FrameSource(abc.ABC):
    """Random access to the frames of one video (file or folder)."""

    def __init__(self, path: str):
        self.path = path

    # What most sources share: they set `_num_frames` and `_fps` when opened, know their frame
    # shape (`_frame_shape`) and have a fixed channel count (`CHANNELS`). A source that wraps
    # another (online flow, a frame cache) overrides the properties instead.
    CHANNELS = 3
    _num_frames: int
    _fps: float

    @property
    def num_frames(self) -> int:
        """Frames available through `get_frames` (flow: pairs)."""
        return self._num_frames

    @property
    def fps(self) -> float:
        """Frames per second of the source."""
        return float(self._fps)

    def _frame_shape(self) -> tuple[int, int]:
        """(height, width) of the frames `get_frames` returns."""
        raise NotImplementedError(f"{type(self).__name__} gives no frame shape")

    @property
    def height(self) -> int:
        return self._frame_shape()[0]

    @property
    def width(self) -> int:
        return self._frame_shape()[1]

    @property
    def channels(self) -> int:
        """3 for RGB, 2 for flow."""
        return self.CHANNELS

    @property
    def pts_per_frame(self) -> float | None:
        """Stream duration / frame count in timestamp units, where the container stores both
        (PySlowFast's test clip rule uses it); None otherwise."""
        return None

    @abc.abstractmethod
    def _read(self, wanted: list[int]) -> dict[int, torch.Tensor]:
        """Frames `[H, W, C]` uint8 for the sorted, unique, in-range indices `wanted`."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the underlying file handles; safe to call twice."""

    def get_frames(self, indices: Sequence[int]) -> torch.Tensor:
        """The frames at `indices` as one uint8 tensor `[T, H, W, C]`, in the order asked."""
        indices = [int(i) for i in indices]
        if not indices:
            raise DecodeError(self.path, "no frame indices requested")
        bad = [i for i in indices if not 0 <= i < self.num_frames]
        if bad:
            raise DecodeError(self.path, f"frame index {bad[0]} outside [0, {self.num_frames})")
        frames = self._read(sorted(set(indices)))
        missing = sorted(set(indices) - frames.keys())
        if missing:
            raise DecodeError(
                self.path, f"frame {missing[0]} of {self.num_frames} could not be decoded "
                f"({len(missing)} of {len(set(indices))} requested frames missing)"
            )
        return torch.stack([frames[i] for i in indices])

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.path!r})"
