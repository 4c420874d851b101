"""Decode a video input once, front to back: a file or anything PyAV opens (a camera device,
an rtsp/http stream). Unlike `video3d.data.decoders`, which fetch chosen frames of a file,
this never seeks and never needs the frame count, so it works on live sources too.
Frames come out upright (a phone's display matrix applied, as players do), and `width` /
`height` are the upright ones. A source that stays silent longer than `timeout` seconds
(NETWORK_TIMEOUT / --timeout: an RTSP server that accepts and never answers) is given up
with one line naming the URL.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from video3d.data.pyav_convert import frame_to_ndarray
from video3d.data.rotation import frame_turns, upright, upright_size
from video3d.errors import DecodeError
from video3d.utils.paths import network_timeout

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


class _Failed(Exception):
    """The first frame's decoding error, raised again when iteration reaches it."""

    def __init__(self, error: Exception, silent: bool):
        super().__init__(str(error))
        self.error, self.silent = error, silent


class VideoStream:
    """`with VideoStream(url) as stream: for frame in stream: ...`.

    Opening failures raise `DecodeError`. A failure part-way through ends the iteration
    instead, and `stopped` then says where and why, so the caller keeps what it has done;
    a file that ends well before the frame count of its header is reported the same way.
    """

    def __init__(self, url: str, options: dict[str, str] | None = None, threads: int = 1,
                 timeout: float | None = None):
        import av

        self.url = url
        self.stopped: str | None = None
        self.frames_read = 0
        self.start_time = 0.0  # the first frame's time in the input, seconds (frame times count from it)
        self.timeout = network_timeout() if timeout is None else timeout
        self._container = None
        self._decoded: Iterator | None = None
        self._turns: int | None = None  # the display matrix's quarter turns, read from the first frame
        self._ahead: list = []  # that first frame (or its error), decoded early, not yet yielded
        started = time.monotonic()
        try:
            self._container = av.open(url, options=options or {}, timeout=self.timeout)
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
            self._coded_size = (context.width, context.height)
            self.declared_frames = int(self._stream.frames or 0)
        except DecodeError:
            self.close()
            raise
        except Exception as error:  # av.error.* (missing file, not a video, refused device)
            self.close()
            if time.monotonic() - started >= self.timeout:  # FFmpeg's error after the interrupt varies
                raise DecodeError(url, self._silent()) from None
            raise DecodeError(url, f"cannot open: {type(error).__name__}: {error}") from error
        if min(self._coded_size) <= 0:
            self.close()
            raise DecodeError(url, "the video stream has no picture size ({}x{})".format(*self._coded_size))

    def _silent(self) -> str:
        return f"no answer in {self.timeout:g} s (NETWORK_TIMEOUT / --timeout)"

    def _frames(self) -> Iterator:
        if self._decoded is None:
            self._decoded = self._container.decode(self._stream)
        return self._decoded

    def _look_ahead(self) -> None:
        """Decode the first frame now to learn the rotation (FFmpeg attaches the display matrix
        to frames); iteration yields it (or raises its error) first."""
        if self._turns is not None or self._container is None:
            return
        self._turns = 0
        asked = time.monotonic()
        try:
            frame = next(self._frames())
        except StopIteration:
            return
        except Exception as error:  # reported by the iteration, where it would have happened
            self._ahead.append(_Failed(error, time.monotonic() - asked >= self.timeout))
            return
        self._turns = frame_turns(frame)
        self._ahead.append(frame)

    @property
    def width(self) -> int:
        self._look_ahead()
        return upright_size(*self._coded_size, self._turns or 0)[0]

    @property
    def height(self) -> int:
        self._look_ahead()
        return upright_size(*self._coded_size, self._turns or 0)[1]

    @property
    def fps(self) -> float:
        return float(self.rate)

    def _next_frame(self, frames: Iterator):
        if self._ahead:
            ahead = self._ahead.pop()
            if isinstance(ahead, _Failed):
                raise ahead
            return ahead
        return next(frames)

    def __iter__(self) -> Iterator[StreamFrame]:
        if self._container is None:
            raise DecodeError(self.url, "the stream is closed")
        first_time = None
        frames = self._frames()
        while True:
            asked = time.monotonic()
            try:
                frame = self._next_frame(frames)
            except StopIteration:
                break
            except Exception as error:  # corrupt packets, a dropped connection, a silent source
                silent = error.silent if isinstance(error, _Failed) else time.monotonic() - asked >= self.timeout
                error = error.error if isinstance(error, _Failed) else error
                why = self._silent() if silent else f"{type(error).__name__}: {error}"
                self.stopped = f"decoding stopped after frame {self.frames_read} ({self.frames_read / self.fps:.2f} s): {why}"
                return
            if frame.time is not None and first_time is None:
                first_time = self.start_time = frame.time
            seconds = (frame.time - first_time) if frame.time is not None else self.frames_read / self.fps
            image = upright(frame_to_ndarray(frame, "rgb24"), frame_turns(frame))
            yield StreamFrame(self.frames_read, float(seconds), image)
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
