"""What a person gets from the demo: segments, per-frame timing of VFR input, the input's
sound, Grad-CAM overlays, progress lines, and no empty folder after a failure."""

import csv
import json
import logging
from fractions import Fraction

import av
import numpy as np
import pytest

from tests.inference.conftest import NAMES, write_video
from video3d.errors import DecodeError
from video3d.inference.long_video import LongVideoDemo
from video3d.inference.progress import DemoProgress, format_eta
from video3d.visualize.gradcam import window_explainer


def _write_av(path, times, size=(32, 32), audio_codec=None, container="mp4", seconds=None, flat=False):
    """A video with frames at `times` (seconds; uneven = variable frame rate), noise or `flat`
    grey, and optionally a 440 Hz mono track of `seconds` in `audio_codec`."""
    width, height = size
    with av.open(str(path), "w", format=container) as out:
        video = out.add_stream("libx264", rate=30, options={"g": "4"})
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.codec_context.time_base = video.time_base = Fraction(1, 90000)
        audio = out.add_stream(audio_codec, rate=16000) if audio_codec else None
        if audio is not None:
            audio.layout = "mono"
        rng = np.random.default_rng(0)
        for t in times:
            image = np.full((height, width, 3), 128, np.uint8) if flat else rng.integers(0, 255, (height, width, 3),
                                                                                        dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts, frame.time_base = round(t * 90000), Fraction(1, 90000)
            out.mux(video.encode(frame))
        out.mux(video.encode())
        if audio is not None:
            fmt = audio.codec_context.format.name
            samples = np.sin(2 * np.pi * 440 * np.arange(int((seconds or times[-1]) * 16000)) / 16000) * 0.3
            for start in range(0, len(samples), 1024):
                chunk = samples[start:start + 1024]
                data = chunk.astype(np.float32) if "flt" in fmt else (chunk * 30000).astype(np.int16)
                frame = av.AudioFrame.from_ndarray(data[None], format=fmt, layout="mono")
                frame.rate, frame.pts = 16000, start
                out.mux(audio.encode(frame))
            out.mux(audio.encode())
    return str(path)


def _times(path):
    with av.open(str(path)) as container:
        return [float(f.time) for f in container.decode(video=0)]


def _streams(path):
    with av.open(str(path)) as container:
        return [(s.type, s.codec_context.name) for s in container.streams]


def test_segments_merge_the_windows_by_label_and_cover_the_video(tiny_cfg, tiny_model, video_40, tmp_path):
    out = tmp_path / "out"
    report = LongVideoDemo(tiny_cfg, tiny_model, NAMES).run(video_40, str(out))
    windows = [json.loads(line) for line in (out / "windows.jsonl").read_text().splitlines()]
    rows = list(csv.DictReader((out / "segments.csv").open()))
    document = json.loads((out / "segments.json").read_text())
    assert [r["label"] for r in rows] == [s["label"] for s in document["segments"]]
    assert report.segments == len(rows) and str(out / "segments.json") in report.outputs
    # each segment's windows, in order, carry its label (the vote), and together they are all windows
    labels = [w["vote"]["name"] for w in windows]
    expanded = [s["label"] for s in document["segments"] for _ in range(s["windows"])]
    assert expanded == labels
    assert all(a["label"] != b["label"] for a, b in zip(document["segments"], document["segments"][1:], strict=False))
    assert float(rows[0]["start"]) == 0.0 and document["duration"] == pytest.approx(40 / 30, abs=1e-3)
    assert float(rows[-1]["end"]) == pytest.approx(39 / 30, abs=1e-3)  # the last window ends on frame 39


def test_variable_frame_rate_input_keeps_each_frames_time(tiny_cfg, tiny_model, tmp_path):
    times = [0.0, 0.033, 0.1, 0.2, 0.25, 0.4, 0.45, 0.5, 0.7, 0.72, 0.9, 1.0]
    video = _write_av(tmp_path / "vfr.mp4", times)
    LongVideoDemo(tiny_cfg, tiny_model, NAMES, audio=False).run(video, str(tmp_path / "out"))
    assert _times(tmp_path / "out" / "annotated.mp4") == pytest.approx(times, abs=1e-4)


@pytest.mark.parametrize("codec, container, copied", [("aac", "mp4", True), ("pcm_s16le", "matroska", False)])
def test_the_inputs_sound_is_copied_or_reencoded_and_no_audio_leaves_it_out(
        tiny_cfg, tiny_model, tmp_path, codec, container, copied):
    video = _write_av(tmp_path / f"sound.{container}", [k / 30 for k in range(30)], audio_codec=codec,
                      container=container, seconds=1.5)
    report = LongVideoDemo(tiny_cfg, tiny_model, NAMES).run(video, str(tmp_path / "out"))
    annotated = tmp_path / "out" / "annotated.mp4"
    assert _streams(annotated) == [("video", "h264"), ("audio", "aac")]
    assert report.audio == ("audio aac copied" if copied else f"audio {codec} re-encoded to aac")
    with av.open(str(annotated)) as result:
        sound = sum(f.samples for f in result.decode(audio=0)) / 16000
    assert sound == pytest.approx(1.0, abs=0.1)  # cut to the video's second, not the input's 1.5 s
    assert len(_times(annotated)) == 30
    LongVideoDemo(tiny_cfg, tiny_model, NAMES, audio=False).run(video, str(tmp_path / "silent"))
    assert _streams(tmp_path / "silent" / "annotated.mp4") == [("video", "h264")]


def test_gradcam_draws_heat_over_the_square_the_model_sees(tiny_cfg, tiny_model, tmp_path):
    video = _write_av(tmp_path / "wide.mp4", [k / 30 for k in range(16)], size=(64, 32), flat=True)
    LongVideoDemo(tiny_cfg, tiny_model, NAMES, topk=1, audio=False).run(video, str(tmp_path / "plain"))
    LongVideoDemo(tiny_cfg, tiny_model, NAMES, topk=1, audio=False,
                  explain=window_explainer(None, tiny_cfg.FFC.TEST_ENSEMBLE)).run(video, str(tmp_path / "cam"))

    def frames(folder):
        with av.open(str(folder / "annotated.mp4")) as container:
            return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)]).astype(int)

    plain, cam = frames(tmp_path / "plain"), frames(tmp_path / "cam")
    assert plain.shape == cam.shape == (16, 32, 64, 3)
    difference = np.abs(plain - cam).mean(axis=(0, 3))
    # the centre 32x32 square (columns 16..47) is overlaid, the sides are not
    assert difference[20:, 18:46].mean() > 10 > 2 > max(difference[20:, :14].mean(), difference[20:, 50:].mean())


def test_progress_lines_count_frames_and_windows_with_an_eta(tiny_cfg, tiny_model, video_40, tmp_path, caplog):
    progress = DemoProgress(bar=False, interval=0.0)
    with caplog.at_level(logging.INFO, logger="video3d.inference.progress"):
        LongVideoDemo(tiny_cfg, tiny_model, NAMES, progress=progress).run(video_40, str(tmp_path / "out"))
    lines = [r.getMessage() for r in caplog.records if r.name == "video3d.inference.progress"]
    assert len(lines) == 40 and lines[-1].startswith("demo: frames 40/40 (100.0 %), 9 windows, 1.3 s of video")
    assert "ETA 0s" in lines[-1] and "ETA" in lines[0]
    assert [format_eta(s) for s in (5, 65, 3725)] == ["5s", "1m05s", "1h02m"]


def test_a_failed_run_removes_the_folder_it_created_but_not_one_that_was_there(tiny_cfg, tiny_model, tmp_path):
    demo = LongVideoDemo(tiny_cfg, tiny_model, NAMES)
    with pytest.raises(DecodeError):
        demo.run(str(tmp_path / "missing.mp4"), str(tmp_path / "new"))
    assert not (tmp_path / "new").exists()
    (tmp_path / "kept").mkdir()
    with pytest.raises(DecodeError):
        demo.run(str(tmp_path / "missing.mp4"), str(tmp_path / "kept"))
    assert (tmp_path / "kept").is_dir()
    # a run that wrote something keeps it even when it fails later
    ok = write_video(tmp_path / "ok.mp4", 12)
    demo.run(ok, str(tmp_path / "done"))
    assert (tmp_path / "done" / "windows.jsonl").is_file()


def test_a_176x144_phone_clip_keeps_its_size_and_gets_a_small_label_box(tiny_cfg, tiny_model, tmp_path):
    from pathlib import Path

    video = str(Path(__file__).resolve().parents[1] / "data" / "real" / "carphone_pristine.mp4")  # real footage
    LongVideoDemo(tiny_cfg, tiny_model, NAMES, topk=5).run(video, str(tmp_path / "out"))
    with av.open(video) as source, av.open(str(tmp_path / "out" / "annotated.mp4")) as result:
        before = [f.to_ndarray(format="rgb24").astype(int) for f in source.decode(video=0)]
        after = [f.to_ndarray(format="rgb24").astype(int) for f in result.decode(video=0)]
    assert len(after) == len(before) == 120 and after[0].shape == (144, 176, 3)
    difference = np.mean([np.abs(a - b).mean(axis=2) for a, b in zip(after, before, strict=True)], axis=0)
    box_rows, box_cols = int(0.35 * 144), int(0.6 * 176)
    assert difference[:20, :60].mean() > 30  # the darkened box with its text
    assert difference[box_rows + 2:].mean() < 6 and difference[:, box_cols + 2:].mean() < 6  # only codec noise


def test_visualize_leaves_no_empty_folder_after_a_failure(tiny_cfg, tiny_model, tmp_path):
    from video3d.errors import Video3DError
    from video3d.visualize.explain import write_gradcam

    with pytest.raises(Video3DError):
        write_gradcam(tiny_cfg, tiny_model, str(tmp_path / "missing.mp4"), str(tmp_path / "cam"))
    assert not (tmp_path / "cam").exists()
