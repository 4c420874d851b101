"""Re-encode videos smaller before training: H.264 yuv420p mp4 at a short side, upright.

    python -m data_prep.resize_videos SRC_DIR_OR_LIST OUT_DIR --short-side 320 [--fps F]
                                      [--gop-seconds S] [--crf 23] [--preset veryfast]
                                      [--keep-audio] [--workers N] [--prefix P]
                                      [--shard K --num-shards N]

What PySlowFast and MMAction2 users do with ffmpeg shell scripts before training on Kinetics,
through PyAV (no ffmpeg program needed). Video `<src>/a/b.webm` goes to `OUT_DIR/a/b.mp4`
(the folder structure is kept; point DATA.PATH_PREFIX at OUT_DIR and use `.mp4` paths).
The short side becomes --short-side pixels (never enlarged; both sides even, as yuv420p
needs); rotation metadata is applied, so the output is upright and carries none. Every
presented frame is kept with its timestamp unless --fps resamples (nearest frame in time, as
extract_frames --fps). A keyframe every --gop-seconds (default 2 s) keeps random access,
which is what a training loader does, cheap. Audio is dropped unless --keep-audio (AAC).
One encoder thread per worker: the workers run in parallel over videos.

SRC_DIR_OR_LIST, resuming, failures (OUT_DIR/failures.jsonl), sharding and
`python -m data_prep.merge_shards OUT_DIR` work exactly as in data_prep.extract_frames. A full
disk stops the run at once with one line naming OUT_DIR. Exit code 0: all written, 1: some
videos failed, 2: usage error (or a full disk).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from fractions import Fraction

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from data_prep.decode import VideoInfo, check_complete
from data_prep.extract_frames import positive_float
from data_prep.inputs import collect_videos
from data_prep.pool import report, run_videos
from data_prep.shards import add_shard_args, resolve_shard
from video3d.data.decoders import open_video_stream, reason_of, stream_rate
from video3d.data.rotation import frame_turns, upright, upright_size
from video3d.errors import DecodeError
from video3d.flow.frames import output_size, source_index
from video3d.utils.commands import command, default_workers, positive_int

OUTPUT_SUFFIX = ".mp4"
X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")


@dataclass(frozen=True)
class EncodeOptions:
    """How each video is re-encoded."""

    short_side: int
    fps: float | None = None
    gop_seconds: float = 2.0
    crf: int = 23
    preset: str = "veryfast"
    keep_audio: bool = False


def even_output_size(width: int, height: int, short_side: int) -> tuple[int, int]:
    """(width, height) with the short side scaled to `short_side` (never enlarged), both even."""
    if min(width, height) > short_side:
        width, height = output_size(width, height, short_side)
    return max(2, width - width % 2), max(2, height - height % 2)


def turned_yuv420p(frame, turns: int):
    """A yuv420p frame (even sides) turned counter-clockwise `turns` times, plane by plane: no
    colour conversion, so no second chroma round trip."""
    width, height = frame.width, frame.height
    flat = frame.to_ndarray().reshape(-1)  # Y, then U and V at half size
    luma, chroma = width * height, (width // 2) * (height // 2)
    planes = (flat[:luma].reshape(height, width), flat[luma:luma + chroma].reshape(height // 2, width // 2),
              flat[luma + chroma:].reshape(height // 2, width // 2))
    turned = np.concatenate([upright(plane, turns).reshape(-1) for plane in planes])
    return av.VideoFrame.from_ndarray(turned.reshape(-1, upright_size(width, height, turns)[0]), format="yuv420p")


class _VideoWriter:
    """The output container: H.264 video (and AAC audio), frames resized and turned upright."""

    def __init__(self, path: str, options: EncodeOptions, rate: Fraction, time_base: Fraction, audio_in):
        self.options = options
        self.container = av.open(path, mode="w", format="mp4")
        self.rate = rate
        self.time_base = time_base
        self.stream = None  # made at the first frame, once the upright size is known
        self.audio = None
        if audio_in is not None:
            self.audio = self.container.add_stream("aac", rate=audio_in.codec_context.sample_rate)
            self.audio.codec_context.layout = audio_in.codec_context.layout
        self._scaler = VideoReformatter()  # one swscale context for the whole video
        self._last_pts: int | None = None
        self.frames = 0

    def _open_video(self, width: int, height: int) -> None:
        codec_options = {"crf": str(self.options.crf), "preset": self.options.preset}
        stream = self.container.add_stream("libx264", rate=self.rate, options=codec_options)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.time_base = self.time_base
        stream.codec_context.time_base = self.time_base
        stream.codec_context.gop_size = max(1, round(self.options.gop_seconds * float(self.rate)))
        stream.codec_context.thread_count = 1  # one core per worker; the pool parallelises
        self.stream = stream

    def write(self, frame, pts: int) -> None:
        turns = frame_turns(frame)
        width, height = even_output_size(*upright_size(frame.width, frame.height, turns), self.options.short_side)
        if self.stream is None:
            self._open_video(width, height)
        width, height = self.stream.width, self.stream.height  # a mid-stream size change keeps the first
        scaled_w, scaled_h = upright_size(width, height, turns)  # the size before turning
        out = self._scaler.reformat(frame, scaled_w, scaled_h, "yuv420p", interpolation="AREA", threads=1)
        if turns:
            out = turned_yuv420p(out, turns)
        if self._last_pts is not None and pts <= self._last_pts:
            pts = self._last_pts + 1  # duplicated timestamps: the muxer needs them increasing
        out.pts, out.time_base, self._last_pts = pts, self.time_base, pts
        self.container.mux(self.stream.encode(out))
        self.frames += 1

    def write_audio(self, frame) -> None:
        self.container.mux(self.audio.encode(frame))

    def close(self) -> None:
        if self.stream is not None:
            self.container.mux(self.stream.encode(None))
        if self.audio is not None:
            self.container.mux(self.audio.encode(None))
        self.container.close()


def _demuxed(container, streams, path: str, info: VideoInfo):
    """Packets of `streams`; a demuxing error is the source's fault (DecodeError)."""
    packets = container.demux(*streams)
    while True:
        try:
            packet = next(packets)
        except StopIteration:
            return
        except Exception as error:  # av.error.InvalidDataError and friends
            raise DecodeError(path, f"demuxing failed after frame {info.decoded_frames}: {reason_of(error)}") from error
        yield packet


def _decoded(packet, path: str, info: VideoInfo) -> list:
    try:
        return packet.decode()
    except Exception as error:  # corrupt packets
        raise DecodeError(path, f"decoding failed after frame {info.decoded_frames}: {reason_of(error)}") from error


def resize_video(path: str, out_path: str, options: EncodeOptions) -> int:
    """Re-encode `path` into `out_path` (mp4) as `options` say; returns the frames written.
    A fault of the source raises DecodeError; a write error (a full disk) its own OSError."""
    info = VideoInfo()
    container, video = open_video_stream(path, threads=1)  # one thread: the pool runs a video per core
    with container:
        source_rate = stream_rate(video)
        if source_rate is None:
            raise DecodeError(path, "the video stream has no frame rate")
        info.fps = float(source_rate)
        info.announced_frames = max(int(video.frames), 0)
        audio_in = container.streams.audio[0] if options.keep_audio and container.streams.audio else None
        if options.fps is None:
            rate, time_base = source_rate, Fraction(video.time_base)
        else:
            rate = Fraction(options.fps).limit_denominator(1001000)
            time_base = 1 / rate
        writer = _VideoWriter(out_path, options, rate, time_base, audio_in)
        try:
            output_index = 0
            streams = [video] + ([audio_in] if audio_in is not None else [])
            for packet in _demuxed(container, streams, path, info):
                if packet.stream is not video:
                    for frame in _decoded(packet, path, info):
                        writer.write_audio(frame)
                    continue
                for frame in _decoded(packet, path, info):
                    index = info.decoded_frames
                    info.decoded_frames += 1
                    if options.fps is None:
                        writer.write(frame, frame.pts if frame.pts is not None else index)
                        continue
                    while source_index(output_index, info.fps, options.fps) <= index:
                        writer.write(frame, output_index)
                        output_index += 1
            check_complete(path, info)
        finally:
            writer.close()
    return writer.frames


def encode_manifest(options: EncodeOptions) -> dict:
    """The settings recorded in OUT_DIR/manifest.json (a rerun with others is refused)."""
    return {"content": "video", "codec": "h264", "pix_fmt": "yuv420p", "short_side": options.short_side,
            "fps": options.fps, "gop_seconds": options.gop_seconds, "crf": options.crf,
            "preset": options.preset, "keep_audio": options.keep_audio}


def _crf(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 51:
        raise argparse.ArgumentTypeError(f"x264 CRF must be in 0..51, got {text!r}")
    return value


@command
def main(argv: list[str] | None = None) -> int:
    """Console script video3d-resize-videos / python -m data_prep.resize_videos."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", help="folder of videos (recursive) or list file")
    parser.add_argument("out_dir", help="output folder; <src>/a/b.webm becomes OUT_DIR/a/b.mp4")
    parser.add_argument("--short-side", type=positive_int, required=True,
                        help="short side of the output in pixels (never enlarged)")
    parser.add_argument("--fps", type=positive_float, help="resample to this frame rate (default: keep every frame)")
    parser.add_argument("--gop-seconds", type=positive_float, default=2.0, help="seconds between keyframes")
    parser.add_argument("--crf", type=_crf, default=23, help="x264 constant rate factor (lower: better, larger)")
    parser.add_argument("--preset", choices=X264_PRESETS, default="veryfast", help="x264 speed preset")
    parser.add_argument("--keep-audio", action="store_true", help="keep the first audio stream (as AAC)")
    parser.add_argument("--prefix", help="folder the relative paths of a list file start from")
    parser.add_argument("--workers", type=positive_int, default=default_workers(), help="worker processes")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_shard_args(parser)
    args = parser.parse_args(argv)
    options = EncodeOptions(args.short_side, args.fps, args.gop_seconds, args.crf, args.preset, args.keep_audio)
    shard = resolve_shard(args.shard, args.num_shards)
    tasks = collect_videos(args.source, args.prefix)
    summary = run_videos(tasks, args.out_dir, resize_video, options, args.workers, "frames",
                         encode_manifest(options), progress=not args.no_progress, shard=shard,
                         suffix=OUTPUT_SUFFIX)
    return report(summary, args.out_dir, "frames", shard)


if __name__ == "__main__":
    sys.exit(main())
