"""Which frames a clip reads: pure functions, tested with exact values.

Clips are `NUM_FRAMES` frames `SAMPLING_RATE` apart *at DATA.TARGET_FPS* (PySlowFast's
convention, docs/DATA.md): in a source at `fps` the step is
`SAMPLING_RATE * fps / TARGET_FPS` source frames, so a 16x4 clip covers the same 2.1 s
whatever the file's rate. Frame k of a clip starting at `start` is
`round(start + k * step)`, clamped to the last frame: videos shorter than the clip repeat
their last frame. Random draws come in as numbers in [0, 1) so the arithmetic stays pure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


def frame_step(sampling_rate: int, fps: float, target_fps: float) -> float:
    """Distance in source frames between consecutive clip frames."""
    return sampling_rate * fps / target_fps


def clip_slack(num_video_frames: int, num_frames: int, step: float) -> float:
    """How far (in source frames) a clip's start can move and still end inside the video."""
    return max(num_video_frames - 1 - (num_frames - 1) * step, 0.0)


def _round_half_up(value: float) -> int:
    return math.floor(value + 0.5)


def clip_indices(start: float, num_frames: int, step: float, num_video_frames: int) -> list[int]:
    """Frame indices of a clip starting at `start`, clamped to [0, num_video_frames - 1]."""
    last = num_video_frames - 1
    return [min(max(_round_half_up(start + k * step), 0), last) for k in range(num_frames)]


def train_clip_indices(num_video_frames: int, num_frames: int, step: float, u: float) -> list[int]:
    """A training clip whose start is `u` (uniform in [0, 1)) of the way through the slack."""
    return clip_indices(u * clip_slack(num_video_frames, num_frames, step), num_frames, step, num_video_frames)


def multiview_clip_starts(num_video_frames: int, num_frames: int, step: float, num_clips: int) -> list[float]:
    """Starts of `num_clips` test-time clips spaced evenly from the start to the end of the video:
    the first starts at frame 0 and the last ends on the last frame (the offset variant of
    PySlowFast, also MMAction2's; docs/DATA.md). One clip is centred."""
    slack = clip_slack(num_video_frames, num_frames, step)
    if num_clips == 1:
        return [slack / 2]
    return [slack * i / (num_clips - 1) for i in range(num_clips)]


def multiview_clip_indices(num_video_frames: int, num_frames: int, step: float, num_clips: int) -> list[list[int]]:
    """Frame indices of every test-time clip (see `multiview_clip_starts`)."""
    starts = multiview_clip_starts(num_video_frames, num_frames, step, num_clips)
    return [clip_indices(s, num_frames, step, num_video_frames) for s in starts]


def pyslowfast_test_clip_indices(num_video_frames: int, fps: float, num_frames: int, sampling_rate: int,
                                 target_fps: float, num_clips: int, pts_per_frame: float | None) -> list[list[int]]:
    """PySlowFast's test clips (TEST.CLIP_SAMPLING pyslowfast; slowfast/datasets/decoder.py):
    clip i of a clip spanning `clip_size` source frames starts at (N - clip_size) * i /
    num_clips; its start and end are turned into timestamps (truncated to integers) and the
    frames presented between them, plus the next one, are decoded; the clip is then
    `linspace(0, clip_size - 1, num_frames)` into those frames, clamped and truncated.
    Timestamps are modelled as k * `pts_per_frame` (stream duration / frame count, as
    PySlowFast assumes); without a duration (`pts_per_frame` None) PySlowFast decodes the
    whole video and spaces the clips over all of it."""
    clip_size = sampling_rate * num_frames / target_fps * fps
    delta = max(num_video_frames - clip_size, 0)
    clips = []
    for clip in range(num_clips):
        start = delta * clip / num_clips
        end = start + clip_size - 1
        if pts_per_frame is None:
            first, decoded, low, high = 0, num_video_frames, start, end
        else:
            start_pts, end_pts = int(start * pts_per_frame), int(end * pts_per_frame)
            kept = [k for k in range(num_video_frames) if start_pts <= k * pts_per_frame <= end_pts]
            first = kept[0] if kept else min(math.ceil(start_pts / pts_per_frame), num_video_frames - 1)
            after = (kept[-1] + 1) if kept else first
            decoded = len(kept) + (1 if after < num_video_frames else 0)  # the frame that ended the decode
            low, high = 0.0, clip_size - 1
        steps = torch.linspace(low, high, num_frames).clamp(0, max(decoded - 1, 0)).long()
        clips.append([min(first + int(k), num_video_frames - 1) for k in steps])
    return clips


def segment_bounds(num_video_frames: int, num_segments: int) -> list[tuple[int, int]]:
    """TSN segments as inclusive (first, last) frames: the video cut into `num_segments`
    equal parts (PySlowFast `ssv2.py::get_seq_frames`); a short video repeats frames."""
    size = (num_video_frames - 1) / num_segments
    return [(_round_half_up(size * i), _round_half_up(size * (i + 1))) for i in range(num_segments)]


def segment_indices(num_video_frames: int, positions: list[float]) -> list[int]:
    """One frame per segment, at relative `positions[i]` in [0, 1) of segment i (len(positions)
    segments). Training draws the positions at random (TSN); testing uses `segment_view_positions`."""
    bounds = segment_bounds(num_video_frames, len(positions))
    return [first + min(math.floor(p * (last - first + 1)), last - first) for (first, last), p in zip(bounds, positions, strict=True)]


def segment_view_positions(num_segments: int, clip: int, num_clips: int) -> list[float]:
    """Relative positions of test-time clip `clip` of `num_clips`: one clip takes the middle of
    each segment; several clips take evenly spread offsets (MMAction2's test mode)."""
    return [(clip + 0.5) / num_clips] * num_segments


@dataclass(frozen=True)
class EvenlySpacedClips:
    """Test-time clip positions of Kinetics and HMDB51: `num_clips` clips of DATA.NUM_FRAMES
    frames, DATA.SAMPLING_RATE apart at DATA.TARGET_FPS, spaced evenly from start to end."""

    num_frames: int
    sampling_rate: int
    target_fps: float

    @classmethod
    def from_cfg(cls, cfg) -> EvenlySpacedClips:
        """DATA.NUM_FRAMES, DATA.SAMPLING_RATE and DATA.TARGET_FPS."""
        return cls(cfg.DATA.NUM_FRAMES, cfg.DATA.SAMPLING_RATE, cfg.DATA.TARGET_FPS)

    def __call__(self, num_video_frames: int, fps: float, num_clips: int) -> list[list[int]]:
        """Frame indices of each clip of a video of `num_video_frames` frames at `fps`."""
        step = frame_step(self.sampling_rate, fps, self.target_fps)
        return multiview_clip_indices(num_video_frames, self.num_frames, step, num_clips)


@dataclass(frozen=True)
class PySlowFastClips:
    """TEST.CLIP_SAMPLING pyslowfast for Kinetics and HMDB51: PySlowFast's clip positions
    (`pyslowfast_test_clip_indices`), which depend on the stream's timestamps too."""

    num_frames: int
    sampling_rate: int
    target_fps: float
    needs_pts_per_frame = True  # the multi-view dataset passes FrameSource.pts_per_frame

    @classmethod
    def from_cfg(cls, cfg) -> PySlowFastClips:
        return cls(cfg.DATA.NUM_FRAMES, cfg.DATA.SAMPLING_RATE, cfg.DATA.TARGET_FPS)

    def __call__(self, num_video_frames: int, fps: float, num_clips: int,
                 pts_per_frame: float | None = None) -> list[list[int]]:
        return pyslowfast_test_clip_indices(num_video_frames, fps, self.num_frames, self.sampling_rate,
                                            self.target_fps, num_clips, pts_per_frame)


@dataclass(frozen=True)
class SegmentClips:
    """Test-time clip positions of SSv2: one frame per each of DATA.NUM_FRAMES segments, clip k
    of K at offset (k + 0.5) / K inside every segment (`segment_view_positions`)."""

    num_segments: int

    @classmethod
    def from_cfg(cls, cfg) -> SegmentClips:
        """DATA.NUM_FRAMES segments."""
        return cls(cfg.DATA.NUM_FRAMES)

    def __call__(self, num_video_frames: int, fps: float, num_clips: int) -> list[list[int]]:
        """Frame indices of each clip of a video of `num_video_frames` frames (fps unused)."""
        return [segment_indices(num_video_frames, segment_view_positions(self.num_segments, k, num_clips))
                for k in range(num_clips)]

