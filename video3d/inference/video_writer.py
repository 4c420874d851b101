"""H.264 mp4 output through PyAV, written under a temp name and renamed when closed, so the
file under the final name is always a complete, playable video. Frames may carry their own
presentation time, so a variable-frame-rate input keeps its timing."""

from __future__ import annotations

import contextlib
import os
from fractions import Fraction

import numpy as np


class Mp4Writer:
    """`with Mp4Writer(path, fps, width, height) as out: out.write(rgb)`.

    Frames are uint8 RGB [H, W, 3] of the given size. 4:2:0 H.264 needs even sides: an odd
    width or height is padded by repeating the last column / row (one pixel).
    Leaving the block, even on an exception, flushes the encoder, closes the container and
    renames it into place; nothing is written when no frame came.

    `write(image, time)` places the frame at `time` seconds (rounded to `time_base`, e.g. the
    input stream's, so the input's timestamps come back exactly); without times, frame i is at
    i / fps. A time that does not move forward is moved one tick after the previous frame.
    """

    def __init__(self, path: str, fps: float | Fraction, width: int, height: int, crf: int = 20,
                 time_base: Fraction | None = None):
        import av

        self.path = path
        self.frames_written = 0
        directory, name = os.path.split(os.path.abspath(path))
        os.makedirs(directory, exist_ok=True)
        self._tmp = os.path.join(directory, f".tmp-{os.getpid()}-{name}")
        self._size = (height, width)
        self._container = av.open(self._tmp, mode="w", format="mp4")
        rate = Fraction(fps).limit_denominator(1001 * 1000) if not isinstance(fps, Fraction) else fps
        self._stream = self._container.add_stream("libx264", rate=rate, options={"crf": str(crf), "preset": "veryfast"})
        self._stream.width = width + width % 2
        self._stream.height = height + height % 2
        self._stream.pix_fmt = "yuv420p"
        # The encoder counts in this time base; the mp4 muxer keeps each frame's pts.
        self.time_base = Fraction(time_base) if time_base else 1 / rate
        self._stream.codec_context.time_base = self.time_base
        self._stream.time_base = self.time_base
        self._last_pts: int | None = None
        self._rate = rate

    def write(self, image: np.ndarray, time: float | None = None) -> None:
        import av

        if image.shape[:2] != self._size:
            raise ValueError(f"frame of size {image.shape[:2]} for a {self._size} video")
        pad_h, pad_w = self._stream.height - image.shape[0], self._stream.width - image.shape[1]
        if pad_h or pad_w:
            image = np.pad(image, ((0, pad_h), (0, pad_w), (0, 0)), mode="edge")
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
        if time is None:
            pts = round(self.frames_written / self._rate / self.time_base)
        else:
            pts = round(Fraction(time).limit_denominator(10**9) / self.time_base)
        if self._last_pts is not None and pts <= self._last_pts:
            pts = self._last_pts + 1
        frame.pts, frame.time_base, self._last_pts = pts, self.time_base, pts
        self._container.mux(self._stream.encode(frame))
        self.frames_written += 1

    @property
    def end_time(self) -> float:
        """Seconds from the first frame to the end of the last one (its time plus one frame at
        the nominal rate); 0 before any frame."""
        if self._last_pts is None:
            return 0.0
        return float(self._last_pts * self.time_base + 1 / self._rate)

    def close(self) -> None:
        """Flush and close; the file appears under its name only if it holds a frame."""
        if self._container is None:
            return
        try:
            if self.frames_written:
                self._container.mux(self._stream.encode())
        finally:
            self._container.close()
            self._container = None
        if self.frames_written:
            os.replace(self._tmp, self.path)
        else:
            with contextlib.suppress(FileNotFoundError):
                os.remove(self._tmp)

    def __enter__(self) -> Mp4Writer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
