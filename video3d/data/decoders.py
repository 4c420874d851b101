"""Video file decoders behind `FrameSource`: PyAV (default) and decord.

Both open the file once and fetch any list of frame indices as one uint8 `[T, H, W, 3]`
RGB tensor. Frame k is the k-th frame in presentation order, also on variable-frame-rate
files (phone recordings, many Kinetics files): the same frame that decord returns for index
k and that `data_prep.extract_frames` writes as `img_{k+1}`. PyAV reads the presentation
timestamps of all packets once (demuxing only, no decoding) to map indices to timestamps.
PyAV seeks to the keyframe before the first wanted frame and decodes forward,
seeking again only across long gaps, so it never decodes from the start when it need not;
unwanted frames that no other frame references are not decoded at all, and only the wanted
frames are converted to RGB. A display matrix (a phone's rotation metadata) is applied as
players apply it: frames come out upright, and `height` / `width` are the upright ones. A header that promises more frames than the
file holds (a truncated download: docs/ENVIRONMENT.md, 300 frames announced, 140
decodable) surfaces as a `DecodeError` naming the first missing frame,
never as a silently short clip.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import sys
import tempfile
import time
from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from fractions import Fraction

import torch

from video3d.data.frame_source import FrameSource
from video3d.data.pyav_convert import frame_to_ndarray
from video3d.data.rotation import frame_turns, upright, upright_size
from video3d.errors import DecodeError
from video3d.utils.paths import network_timeout

ESTIMATE_SLACK = 2  # frames a duration-based frame count may overshoot the decodable ones


# How a file starts when it is a video container (MP4/MOV/3GP box types at byte 4, Matroska /
# WebM, AVI, FLV, Ogg, MPEG-PS, MPEG-TS): FFmpeg refusing such a file means it is cut or damaged.
_BOX_TYPES = (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip", b"pnot")
_MAGIC = (b"\x1a\x45\xdf\xa3", b"RIFF", b"FLV", b"OggS", b"\x00\x00\x01\xba", b"\x47")


def _starts_like_a_video(path: str) -> bool:
    try:
        with open(path, "rb") as handle:
            head = handle.read(12)
    except OSError:
        return False
    return head[4:8] in _BOX_TYPES or head.startswith(_MAGIC)


def _plain_words(error: BaseException, path: str) -> str | None:
    """What is wrong with `path`, said plainly, when FFmpeg's error alone does not say it."""
    import av

    if os.path.isdir(path):
        return "a directory, not a video file"
    if not os.path.exists(path):
        return "no such file"
    if isinstance(error, PermissionError):
        return "not readable (permission denied)"
    if os.path.getsize(path) == 0:
        return "empty file (0 bytes)"
    if isinstance(error, av.error.InvalidDataError):
        if _starts_like_a_video(path):
            return "truncated or damaged video: it starts like a video file but FFmpeg cannot read it"
        return "not a video: FFmpeg recognises no video format in it"
    return None


def reason_of(error: BaseException, path: str | None = None) -> str:
    """An exception as a failure reason: what is wrong with `path` in plain words where it
    can be told (not a video, truncated, empty, a directory, missing), then the raw `Type: message`."""
    raw = f"{type(error).__name__}: {error}"
    plain = _plain_words(error, path) if path is not None else None
    return f"{plain} ({raw})" if plain else raw


def open_video_stream(path: str, threads: int | None = None):
    """(container, stream): `path` opened with PyAV and its first video stream, decoded with
    slice threads (`threads` > 1: frame threads too; None: FFmpeg's thread count). The one way
    PyAVSource and data_prep.decode open a file; DecodeError(path, reason_of) when it cannot be
    opened or holds no video stream."""
    import av

    remote = "://" in path  # a video URL: a silent server is given up after NETWORK_TIMEOUT
    started = time.monotonic()
    try:
        container = av.open(path, timeout=network_timeout() if remote else None)
    except Exception as error:  # av.error.* for missing, empty or garbage files, directories
        if remote and time.monotonic() - started >= network_timeout():
            raise DecodeError(path, f"no answer in {network_timeout():g} s (NETWORK_TIMEOUT / --timeout)") from None
        raise DecodeError(path, reason_of(error, path)) from error
    if not container.streams.video:
        container.close()
        raise DecodeError(path, "no video stream (an audio-only or data file?)")
    stream = container.streams.video[0]
    stream.thread_type = "AUTO" if threads is not None and threads > 1 else "SLICE"
    if threads is not None:
        stream.thread_count = threads
    return container, stream


def stream_rate(stream) -> Fraction | None:
    """The stream's frame rate (average, else FFmpeg's guess); None when it has none."""
    rate = stream.average_rate or stream.guessed_rate
    return Fraction(rate) if rate else None


class PyAVSource(FrameSource):
    """Frames of a video file decoded with PyAV (FFmpeg)."""

    def __init__(self, path: str, threads: int = 1):
        super().__init__(path)
        self._container = None
        self._pts: list[int] | bool | None = None  # presentation timestamps, read on the first request
        self._seen_in_run: dict[int, int] = {}
        self._turns: int | None = None  # quarter turns of the display matrix, known from the first decoded frame
        self.frames_decoded = 0  # frames the decoder produced (benchmarks and tests count them)
        try:
            self._container, self._stream = open_video_stream(path, threads)
            rate = stream_rate(self._stream)
            if rate is None:
                raise DecodeError(path, "the video stream has no frame rate")
            self._rate = rate
            self._fps = float(self._rate)
            self._time_base = Fraction(self._stream.time_base)
            self._start_pts = self._stream.start_time or 0
            self._count_is_estimate = self._stream.frames <= 0
            self._num_frames = self._count_frames()
            context = self._stream.codec_context
            self._height, self._width = context.height, context.width
        except DecodeError:
            self.close()
            raise
        except Exception as error:  # av.error.* and anything FFmpeg throws at open
            self.close()
            raise DecodeError(path, reason_of(error, path)) from error
        if self._num_frames <= 0 or self._height <= 0 or self._width <= 0:
            self.close()
            raise DecodeError(path, f"empty video stream ({self._num_frames} frames, {self._width}x{self._height})")
        # Re-seek when the next wanted frame lies further ahead than this (about one GOP of a
        # typical encode); below it, decoding through is cheaper than seeking.
        self._seek_gap = max(32, int(2 * self._rate))

    def _count_frames(self) -> int:
        if self._stream.frames > 0:
            return int(self._stream.frames)
        # Containers such as webm store no frame count: estimate it from the duration (kept to
        # the millisecond); `_decode_run` forgives an estimate that overshoots by a frame or two.
        if self._stream.duration:
            seconds = self._stream.duration * self._time_base
        elif self._container.duration:
            seconds = Fraction(self._container.duration, 1_000_000)
        else:
            return 0
        return round(seconds * self._rate)

    def _upright_size(self) -> tuple[int, int]:
        """(width, height) as shown; the rotation is read from a decoded frame (frame 0 when
        none was decoded yet: FFmpeg attaches the display matrix to frames)."""
        if self._turns is None:
            self.get_frames([0])
        return upright_size(self._width, self._height, self._turns or 0)

    def _frame_shape(self) -> tuple[int, int]:
        width, height = self._upright_size()
        return height, width

    def _image(self, frame) -> torch.Tensor:
        """A decoded frame as upright RGB [H, W, 3]."""
        self._turns = frame_turns(frame)
        return torch.from_numpy(upright(frame_to_ndarray(frame, "rgb24"), self._turns))

    @property
    def pts_per_frame(self) -> float | None:
        if self._stream.duration and self._stream.frames > 0:
            return self._stream.duration / self._stream.frames
        return None

    def _timestamps(self) -> list[int] | None:
        """Presentation timestamps of all frames, sorted (position k = frame k), read once by
        demuxing the packets (size 0: the demuxer's final flush). None when a packet has no
        timestamp or the demuxer fails: the frame rate then maps timestamps to indices, which
        is exact at a constant frame rate."""
        if self._pts is None:
            try:
                pts = [packet.pts for packet in self._container.demux(self._stream) if packet.size]
            except Exception:  # a damaged container: decoding will name the frame at fault
                pts = [None]
            self._pts = False if None in pts else sorted(pts)
        return self._pts or None

    def _indices_at(self, pts: int) -> range:
        """Indices of the frames presented at `pts` (two frames when a timestamp is duplicated)."""
        timestamps = self._timestamps()
        if timestamps is None:
            index = round((pts - self._start_pts) * self._time_base * self._rate)
            return range(index, index + 1)
        first = bisect_left(timestamps, pts)
        return range(first, max(bisect_right(timestamps, pts), first + 1))  # a pts not listed: the next frame's

    def _frame_index(self, frame) -> int:
        """Index of a decoded frame; the second frame of a duplicated timestamp in one decoding
        run gets the next index."""
        indices = self._indices_at(frame.pts)
        seen = self._seen_in_run.get(frame.pts, 0)
        self._seen_in_run[frame.pts] = seen + 1
        return indices[min(seen, len(indices) - 1)]

    def _seek(self, index: int) -> None:
        timestamps = self._timestamps()
        if timestamps is None:
            pts = self._start_pts + math.floor(Fraction(index) / (self._rate * self._time_base))
        else:
            pts = timestamps[min(index, len(timestamps) - 1)]
        self._container.seek(pts, stream=self._stream, backward=True, any_frame=False)
        self._seen_in_run = {}

    def _decode_packets(self, wanted: set[int]):
        """The stream's frames from the current position, in presentation order. A packet whose
        frame is not wanted is decoded only if other frames reference it (skip_frame NONREF):
        x264's non-reference B-frames are about a quarter of a default encode. Frames near the
        end are always decoded, so an overshooting frame-count estimate repeats the true last
        frame."""
        context = self._stream.codec_context
        always_from = self._num_frames - 1 - ESTIMATE_SLACK
        for packet in self._container.demux(self._stream):
            # Decided per packet; a packet without a timestamp (or the final flush) is decoded.
            indices = None if packet.pts is None else self._indices_at(packet.pts)
            unwanted = indices is not None and wanted.isdisjoint(indices) and indices[0] < always_from
            context.skip_frame = "NONREF" if unwanted else "DEFAULT"
            for frame in packet.decode():
                self.frames_decoded += 1
                yield frame

    def _decode_run(self, wanted: list[int], i: int, out: dict[int, torch.Tensor]) -> int:
        """Decode forward from the current position into `out`, starting at wanted[i].

        Returns the position in `wanted` where a new seek is needed (len(wanted) when done).
        """
        first, last_frame, last_index = i, None, -1
        for frame in self._decode_packets(set(wanted[i:])):
            if frame.pts is None:
                raise DecodeError(self.path, "a decoded frame has no timestamp")
            index = self._frame_index(frame)
            last_frame, last_index = frame, index
            while i < len(wanted) and wanted[i] < index:
                i += 1  # passed without being decoded: left missing, reported by get_frames
            if i == len(wanted):
                return i
            if index == wanted[i]:
                out[index] = self._image(frame)
                i += 1
                if i == len(wanted):
                    return i
            if i > first and wanted[i] - index > self._seek_gap:
                return i  # progress made; a seek may skip the gap (never twice in a row: no loop)
        # End of stream: what is still wanted does not exist, unless the frame count was only
        # estimated and overshot by at most ESTIMATE_SLACK frames; those repeat the last frame.
        if self._count_is_estimate and last_frame is not None and last_index >= self._num_frames - 1 - ESTIMATE_SLACK:
            image = self._image(last_frame)
            out.update((w, image) for w in wanted[i:] if w > last_index)
        return len(wanted)

    def _read(self, wanted: list[int]) -> dict[int, torch.Tensor]:
        if self._container is None:
            raise DecodeError(self.path, "the source is closed")
        out: dict[int, torch.Tensor] = {}
        i = 0
        try:
            while i < len(wanted):
                self._seek(wanted[i])
                i = self._decode_run(wanted, i, out)
        except DecodeError:
            raise
        except Exception as error:  # corrupt packets: av.error.InvalidDataError and friends
            raise DecodeError(self.path, f"decoding failed near frame {wanted[min(i, len(wanted) - 1)]}: {reason_of(error)}") from error
        return out

    def close(self) -> None:
        if self._container is not None:
            self._container.close()
            self._container = None


def display_turns(path: str) -> int | None:
    """Quarter turns of `path`'s display matrix, read from its first frame (PyAV); None when
    PyAV cannot open or decode the file (the caller's decoder then reports it)."""
    import av

    try:
        with av.open(path) as container:
            stream = container.streams.video[0]
            stream.thread_type = "SLICE"
            for frame in container.decode(stream):
                return frame_turns(frame)
    except Exception:  # any failure to probe: the decoder that opens the file names the reason
        return None
    return None


# decord's own log lines ("[12:00:00] /github/workspace/src/video/video_reader.cc:83: ERROR
# opening: ...") and FFmpeg's ("[mov,mp4,m4a,3gp,3g2,mj2 @ 0x5600...] moov atom not found").
_NATIVE_LINE = re.compile(rb"^\[(\d\d:\d\d:\d\d\] |[\w,]+ @ 0x[0-9a-f]+\] )")


@contextlib.contextmanager
def _native_lines_dropped() -> Iterator[None]:
    """decord and its FFmpeg write to file descriptor 2 directly; what they say about a broken
    file is in the DecodeError already (PyAV keeps FFmpeg quiet the same way). Other lines
    written meanwhile are passed on."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no usable fd 2
        yield
        return
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            kept = [line for line in capture.read().splitlines(keepends=True) if not _NATIVE_LINE.match(line)]
            if kept:
                os.write(2, b"".join(kept))


_QUARTER_TURN_FAILURE = "DECORDArrayCopyFromTo"  # decord 0.6.0's size check, failing on a turned frame


class DecordSource(FrameSource):
    """Frames of a video file decoded with decord (optional dependency).

    decord 0.6.0 applies a half turn itself but fails on a quarter turn (a portrait phone
    video: it turns the frame's shape, then copies the wrong byte count). When a read fails so
    and the file's display matrix is a quarter turn, the file is decoded by PyAV, upright,
    through this same object (found on the first failed read: nothing to pay on other files)."""

    def __init__(self, path: str, threads: int = 1):
        super().__init__(path)
        try:
            import decord
        except ImportError as error:
            raise DecodeError(path, "DATA.DECODING_BACKEND decord needs the decord package") from error
        self._reader = None
        self._pyav: PyAVSource | None = None
        self._threads = threads
        try:
            with _native_lines_dropped():
                self._reader = decord.VideoReader(path, ctx=decord.cpu(0), num_threads=threads)
            self._num_frames = len(self._reader)
            self._fps = float(self._reader.get_avg_fps())
        except Exception as error:  # decord raises RuntimeError / DECORDError
            self._reader = None
            raise DecodeError(path, reason_of(error, path)) from error
        if self._num_frames <= 0 or self._fps <= 0:
            self.close()
            raise DecodeError(path, f"empty video stream ({self._num_frames} frames at {self._fps} fps)")
        self._shape: tuple[int, int] | None = None
        self._duplicates: set[int] | None = None  # frames sharing the previous frame's timestamp

    def _frame_shape(self) -> tuple[int, int]:
        if self._pyav is not None:
            return self._pyav.height, self._pyav.width
        if self._shape is None:
            self._shape = tuple(self.get_frames([0]).shape[1:3])
        return self._shape

    def _read(self, wanted: list[int]) -> dict[int, torch.Tensor]:
        if self._pyav is not None:
            return self._pyav._read(wanted)
        if self._reader is None:
            raise DecodeError(self.path, "the source is closed")
        try:
            request = self._with_duplicate_predecessors(wanted)
            with _native_lines_dropped():
                batch = torch.from_numpy(self._reader.get_batch(request).asnumpy())
        except Exception as error:
            if _QUARTER_TURN_FAILURE in str(error) and (display_turns(self.path) or 0) % 2:
                self._pyav = PyAVSource(self.path, self._threads)
                return self._pyav._read(wanted)
            raise DecodeError(self.path, f"decoding frames {wanted[0]}..{wanted[-1]} failed: {reason_of(error)}") from error
        if batch.shape[0] != len(request):
            raise DecodeError(self.path, f"decord returned {batch.shape[0]} of {len(request)} frames")
        self._shape = (batch.shape[1], batch.shape[2])
        frames = dict(zip(request, batch.unbind(0), strict=True))
        return {index: frames[index] for index in wanted}

    def _with_duplicate_predecessors(self, wanted: list[int]) -> list[int]:
        """`wanted` plus, for a frame that shares its timestamp with the frames before it, those
        frames: decord 0.6.0's seek to the second frame of a duplicated timestamp lands one frame
        late, while reading on from the first one is exact."""
        if self._duplicates is None:
            starts = self._reader.get_frame_timestamp(range(self._num_frames))[:, 0].tolist()
            self._duplicates = {k for k in range(1, len(starts)) if starts[k] == starts[k - 1]}
        if not self._duplicates:
            return wanted
        request = set(wanted)
        for index in wanted:
            while index in self._duplicates:
                index -= 1
                request.add(index)
        return sorted(request)

    def close(self) -> None:
        self._reader = None
        if self._pyav is not None:
            self._pyav.close()
