"""Sequential full decodes with PyAV for the extraction and scanning tools.

The data layer's `open_source` fetches chosen frame indices; extraction wants every frame in
order, which one forward pass of the demuxer gives at the lowest cost. Both open files, read
frame rates and word failures with the same primitives (`video3d.data.decoders`:
`open_video_stream`, `stream_rate`, `reason_of`) and convert frames with
`video3d.data.pyav_convert` and `video3d.data.rotation`. A file is treated as
broken when it cannot be opened, a packet fails to decode, no frame comes out, or fewer
frames come out than the header announces (a truncated download) beyond a small slack.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from video3d.data.decoders import (
    ESTIMATE_SLACK,  # frames a header may over-announce (edit lists, a dropped last frame)
    open_video_stream,
    reason_of,
    stream_rate,
)
from video3d.data.pyav_convert import frame_to_ndarray
from video3d.data.rotation import frame_turns, upright
from video3d.errors import DecodeError
from video3d.flow.frames import source_index


@dataclass
class VideoInfo:
    """What a full decode learned about a file; filled while `iter_frames` runs."""

    fps: float = 0.0
    width: int = 0
    height: int = 0
    announced_frames: int = 0
    decoded_frames: int = 0


def iter_frames(path: str, info: VideoInfo | None = None, target_fps: float | None = None,
                pixel_format: str = "bgr24") -> Iterator[np.ndarray]:
    """Every frame of `path` in order as uint8 [H, W, 3] (`bgr24` for OpenCV), upright (a
    display matrix applied), resampled to `target_fps` when given (nearest frame in time).
    Raises DecodeError(path, reason)."""
    info = info if info is not None else VideoInfo()
    container, stream = open_video_stream(path)
    with container:
        rate = stream_rate(stream)
        info.fps = float(rate) if rate else 0.0
        info.announced_frames = max(int(stream.frames), 0)
        info.width, info.height = stream.codec_context.width, stream.codec_context.height
        if target_fps is not None and info.fps <= 0:
            raise DecodeError(path, "the video stream has no frame rate to resample from")
        output_index = 0
        try:
            for frame in container.decode(stream):
                image = upright(frame_to_ndarray(frame, pixel_format), frame_turns(frame))  # as players show it
                info.height, info.width = image.shape[:2]
                index = info.decoded_frames
                info.decoded_frames += 1
                if target_fps is None:
                    yield image
                    continue
                while source_index(output_index, info.fps, target_fps) <= index:
                    yield image
                    output_index += 1
        except DecodeError:
            raise
        except Exception as error:  # corrupt packets: av.error.InvalidDataError and friends
            raise DecodeError(path, f"damaged or cut after frame {info.decoded_frames}, decoding failed: "
                                    f"{reason_of(error)}") from error
    check_complete(path, info)


def check_complete(path: str, info: VideoInfo) -> None:
    """DecodeError when a full decode gave no frame, or fewer than the header announces."""
    if info.decoded_frames == 0:
        raise DecodeError(path, "no frame could be decoded")
    if info.decoded_frames < info.announced_frames - ESTIMATE_SLACK:
        raise DecodeError(path, f"truncated: decoded {info.decoded_frames} of the "
                                f"{info.announced_frames} frames the header announces")
