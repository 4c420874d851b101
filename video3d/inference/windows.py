"""Which frames each sliding window reads: pure arithmetic, tested with exact values.

A window is `span` = round(num_frames x step) source frames from `start` (NUM_FRAMES x
SAMPLING_RATE frames at DATA.TARGET_FPS; `step` is SAMPLING_RATE in source frames, as in
training, see `video3d.data.sampling`); the model reads `num_frames` of them, `step` apart. Windows start every `stride` frames
from frame 0. When the stream ends, one last window ending on the last frame covers the tail
the regular windows missed; a stream shorter than one window gets a single window whose
missing frames repeat the last one (as the test protocol does for short videos).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


def _round_half_up(value: float) -> int:
    return math.floor(value + 0.5)


@dataclass(frozen=True)
class WindowPlan:
    """Where the windows of a stream lie; `stride` in source frames."""

    num_frames: int
    step: float
    stride: int

    def __post_init__(self) -> None:
        if self.num_frames < 1 or self.step <= 0 or self.stride < 1:
            raise ValueError(f"bad window plan: {self.num_frames} frames, step {self.step}, stride {self.stride}")

    @property
    def span(self) -> int:
        """Source frames a window covers (NUM_FRAMES x SAMPLING_RATE at the target rate)."""
        return max(_round_half_up(self.num_frames * self.step), 1)

    def offsets(self) -> list[int]:
        """Frame offsets of a window's clip relative to its start."""
        return [_round_half_up(k * self.step) for k in range(self.num_frames)]

    def indices(self, start: int, last_frame: int | None = None) -> list[int]:
        """Frames of the window at `start`, clamped to `last_frame` when the stream is shorter."""
        frames = [start + offset for offset in self.offsets()]
        return frames if last_frame is None else [min(f, last_frame) for f in frames]

    def start_ready_at(self, frame: int) -> int | None:
        """Start of the regular window whose last frame is `frame`, if there is one."""
        start = frame - (self.span - 1)
        return start if start >= 0 and start % self.stride == 0 else None

    def tail_start(self, num_frames_seen: int, last_regular_start: int | None) -> int | None:
        """Start of the extra window that ends on the stream's last frame: None when the
        regular windows already reach it. A stream shorter than a window gets start 0."""
        if last_regular_start is None:
            return 0 if num_frames_seen > 0 else None
        start = num_frames_seen - self.span
        if last_regular_start + self.span >= num_frames_seen or start <= last_regular_start:
            return None
        return start


def default_stride(num_frames: int, step: float) -> int:
    """Half a window (at least one frame): every frame is seen by about two windows."""
    return max(1, WindowPlan(num_frames, step, 1).span // 2)


def nearest_window(frame: int, centres: list[float], first: int = 0) -> int:
    """Index in `centres` (increasing) of the window whose centre is closest to `frame`,
    searching from `first`; ties go to the earlier window."""
    best = first
    for j in range(first + 1, len(centres)):
        if abs(centres[j] - frame) < abs(centres[best] - frame):
            best = j
        elif centres[j] > frame:
            break
    return best
