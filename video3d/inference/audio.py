"""Put the input's sound back into the demo's annotated.mp4.

The annotated video is written without sound (frames are drawn as they are decoded); this
adds the input's first audio stream afterwards, in one pass over packets. Codecs an mp4 can
hold (AAC, MP3, AC-3, Opus, FLAC, ALAC) are copied as they are, without re-encoding; others
(PCM from an .avi or .mov, Vorbis from a .webm) are re-encoded to AAC. The sound is cut to the
annotated video's time span (the first video frame is time 0), so it stays in sync when the
input's audio starts earlier than its video, or when the input stopped part-way (copied
packets are cut whole: to within one audio frame, ~20 ms).
"""

from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass
from fractions import Fraction

logger = logging.getLogger(__name__)

MP4_AUDIO_CODECS = frozenset({"aac", "mp3", "ac3", "eac3", "opus", "flac", "alac"})


@dataclass
class AudioCopy:
    """What `add_audio` did: the input's codec, and whether it was copied or re-encoded."""

    codec: str
    copied: bool

    def describe(self) -> str:
        return f"audio {self.codec} copied" if self.copied else f"audio {self.codec} re-encoded to aac"


def has_audio(url: str) -> bool:
    """True when `url` is a local file with an audio stream (live sources are not re-read)."""
    import av

    if not os.path.isfile(url):
        return False
    try:
        with av.open(url) as container:
            return bool(container.streams.audio)
    except Exception:  # an unreadable input was reported by the video decoder already
        return False


def add_audio(video_path: str, source: str, video_start: float = 0.0) -> AudioCopy | None:
    """Rewrite `video_path` (a video-only mp4) with the first audio stream of `source` added,
    its time `video_start` (seconds, the input's first video frame) at the video's time 0.
    None, and the file unchanged, when the source has no audio."""
    import av

    directory, name = os.path.split(os.path.abspath(video_path))
    tmp = os.path.join(directory, f".tmp-{os.getpid()}-audio-{name}")
    with av.open(source) as audio_in, av.open(video_path) as video_in:
        if not audio_in.streams.audio:
            return None
        audio = audio_in.streams.audio[0]
        video = video_in.streams.video[0]
        duration = _duration(video_in, video)
        codec = audio.codec_context.name  # read while the container is open
        copied = codec in MP4_AUDIO_CODECS
        try:
            with av.open(tmp, mode="w", format="mp4") as out:
                video_out = out.add_stream_from_template(video)
                audio_out = out.add_stream_from_template(audio) if copied else out.add_stream("aac",
                                                                                                rate=audio.rate or 48000)
                if not copied:  # named layouts only (a file may say "1 channels"); more than two are downmixed
                    audio_out.layout = "mono" if audio.codec_context.channels == 1 else "stereo"
                for packet in video_in.demux(video):
                    if packet.dts is None:
                        continue
                    packet.stream = video_out
                    out.mux(packet)
                if copied:
                    _copy_packets(audio_in, audio, audio_out, out, video_start, duration)
                else:
                    _encode_frames(audio_in, audio, audio_out, out, video_start, duration)
        except Exception:
            with contextlib.suppress(FileNotFoundError):
                os.remove(tmp)
            raise
    os.replace(tmp, video_path)
    return AudioCopy(codec, copied)


def _duration(container, video) -> float:
    if video.duration is not None and video.time_base:
        return float(video.duration * video.time_base)
    return float(container.duration or 0) / 1e6


def _copy_packets(container, audio, audio_out, out, video_start: float, duration: float) -> None:
    time_base = audio.time_base
    shift = round(Fraction(video_start).limit_denominator(10**9) / time_base)
    end = round(Fraction(duration).limit_denominator(10**9) / time_base)
    for packet in container.demux(audio):
        if packet.pts is None or packet.dts is None:
            continue
        pts = packet.pts - shift
        if pts + (packet.duration or 0) <= 0 or pts >= end:
            continue  # sound before the first video frame or after the last one
        packet.pts, packet.dts = pts, packet.dts - shift
        packet.stream = audio_out
        out.mux(packet)


def _encode_frames(container, audio, audio_out, out, video_start: float, duration: float) -> None:
    import av

    resampler = av.AudioResampler(format=audio_out.codec_context.format, layout=audio_out.codec_context.layout,
                                  rate=audio_out.codec_context.rate)
    rate = audio_out.codec_context.rate
    skip = round(video_start * rate)
    last = round(duration * rate)
    written = 0
    for frame in container.decode(audio):
        frame.pts = None  # the resampler and encoder count samples from here on
        for chunk in resampler.resample(frame):
            if skip >= chunk.samples:
                skip -= chunk.samples
                continue
            if written >= last:
                break
            chunk.pts = written
            written += chunk.samples
            out.mux(audio_out.encode(chunk))
    out.mux(audio_out.encode(None))
