"""Decode a video input once, front to back: a file or anything PyAV opens (a camera device,
an rtsp/http stream). Unlike `video3d.data.decoders`, which fetch chosen frames of a file,
this never seeks and never needs the frame count, so it works on live sources too.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from video3d.data.pyav_convert import frame_to_ndarray
from video3d.errors import DecodeError

# A header's frame count may overshoot the decodable frames by a frame or two (edit lists,
# rounding of a duration); more than this missing means the stream stopped early.
COUNT_SLACK = 2


@dataclass
class StreamFrame:
    """One decoded frame: its index in decoding order, its time in seconds from the first
    frame, and its pixels as uint8 RGB [H, W, 3]."""

    index: int
    time: float
    image: np.ndarray


class VideoStream:
    """`with VideoStream(url) as stream: for frame in stream: ...`.

    Opening failures raise `DecodeError`. A failure part-way through ends the iteration
    instead, and `stopped` then says where and why, so the caller keeps what it has done;
    a file that ends well before the frame count of its header is reported the same way.
    """

    def __init__(self, url: str, options: dict[str, str] | None = None, threads: int = 1):
        import av

        self.url = url
        self.stopped: str | None = None
        self.frames_read = 0
        self.start_time = 0.0  # the first frame's time in the input, seconds (frame times count from it)
        self._container = None
        try:
            self._container = av.open(url, options=options or {})
            if not self._container.streams.video:
                raise DecodeError(url, "no video stream")
            self._stream = self._container.streams.video[0]
            self._stream.thread_type = "AUTO" if threads > 1 else "SLICE"
            self._stream.thread_count = threads
            rate = self._stream.average_rate or self._stream.guessed_rate or self._stream.base_rate
            if not rate:
                raise DecodeError(url, "the video stream has no frame rate")
            self.rate = Fraction(rate)
            self.time_base = self._stream.time_base  # of the frames' pts (None for some live sources)
            context = self._stream.codec_context
            self.width, self.height = context.width, context.height
            self.declared_frames = int(self._stream.frames or 0)
        except DecodeError:
            self.close()
            raise
        except Exception as error:  # av.error.* (missing file, not a video, refused device)
            self.close()
            raise DecodeError(url, f"cannot open: {type(error).__name__}: {error}") from error
        if self.width <= 0 or self.height <= 0:
            self.close()
            raise DecodeError(url, f"the video stream has no picture size ({self.width}x{self.height})")

    @property
    def fps(self) -> float:
        return float(self.rate)

    def __iter__(self) -> Iterator[StreamFrame]:
        if self._container is None:
            raise DecodeError(self.url, "the stream is closed")
        first_time = None
        frames = self._container.decode(self._stream)
        while True:
            try:
                frame = next(frames)
            except StopIteration:
                break
            except Exception as error:  # corrupt packets, a dropped connection
                self.stopped = (f"decoding stopped after frame {self.frames_read} "
                                f"({self.frames_read / self.fps:.2f} s): {type(error).__name__}: {error}")
                return
            if frame.time is not None and first_time is None:
                first_time = self.start_time = frame.time
            time = (frame.time - first_time) if frame.time is not None else self.frames_read / self.fps
            image = frame_to_ndarray(frame, "rgb24")
            yield StreamFrame(self.frames_read, float(time), image)
            self.frames_read += 1
        if self.frames_read == 0:
            self.stopped = "no frame could be decoded"
        elif self.declared_frames and self.frames_read < self.declared_frames - COUNT_SLACK:
            self.stopped = (f"the stream ended after frame {self.frames_read} "
                            f"({self.frames_read / self.fps:.2f} s) of the {self.declared_frames} its header announces")

    def close(self) -> None:
        if self._container is not None:
            self._container.close()
            self._container = None

    def __enter__(self) -> VideoStream:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
