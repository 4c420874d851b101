import json
import os
import shutil
from pathlib import Path

import av
import numpy as np
import pytest

from data_prep import merge_shards, resize_videos
from data_prep.pool import PARTIAL_DIR, caused_by_full_disk
from data_prep.resize_videos import EncodeOptions, even_output_size, resize_video

REAL = Path(__file__).parents[1] / "data" / "real"


def _decode(path):
    """(frames uint8 [T, H, W, 3], key-frame flags, pts, rotation of the first frame)."""
    with av.open(str(path)) as container:
        frames = list(container.decode(container.streams.video[0]))
    return (np.stack([f.to_ndarray(format="rgb24") for f in frames]), [f.key_frame for f in frames],
            [f.pts for f in frames], frames[0].rotation)


def _run(*args):
    return resize_videos.main([*map(str, args), "--workers", "1", "--no-progress"])


def test_even_output_size_scales_the_short_side_and_never_enlarges():
    assert even_output_size(1280, 720, 320) == (568, 320)  # 568.9 -> 569 -> even
    assert even_output_size(720, 1280, 320) == (320, 568)
    assert even_output_size(175, 99, 320) == (174, 98)  # smaller than asked: kept, made even


def test_layout_size_every_frame_and_keyframe_interval(tmp_path, put_video):
    put_video(tmp_path / "src" / "cls" / "a.mp4")
    out = tmp_path / "out"
    assert _run(tmp_path / "src", out, "--short-side", "32", "--gop-seconds", "0.1") == 0
    frames, keys, pts, rotation = _decode(out / "cls" / "a.mp4")
    assert frames.shape == (10, 32, 42, 3) and rotation == 0
    key_at = [i for i, key in enumerate(keys) if key]
    assert key_at[0] == 0 and max(np.diff(key_at + [len(keys)])) <= 3  # 0.1 s at 30 fps
    assert pts == sorted(pts) and len(set(pts)) == 10
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["short_side"] == 32 and manifest["content"] == "video" and manifest["gop_seconds"] == 0.1
    assert not (out / PARTIAL_DIR).exists()


def test_fps_resamples_to_the_nearest_frames(tmp_path, put_video):
    put_video(tmp_path / "src" / "a.mp4")
    assert _run(tmp_path / "src", tmp_path / "out", "--short-side", "48", "--fps", "15") == 0
    with av.open(str(tmp_path / "out" / "a.mp4")) as container:
        stream = container.streams.video[0]
        assert stream.frames == 5 and float(stream.average_rate) == 15


def _rotated_copy(frames: np.ndarray, path: str, degrees: int) -> None:
    """`frames` encoded as they are, with a display matrix asking players to turn them."""
    with av.open(path, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=30, options={"crf": "0"})
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        stream.set_display_rotation(degrees)
        for image in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode(None))


@pytest.mark.parametrize("degrees", [90, -90, 180])
def test_rotation_metadata_is_applied_and_the_output_is_upright(tmp_path, make_frames, degrees):
    frames = make_frames(frames=4)  # 64x48, a texture that differs under every turn
    (tmp_path / "src").mkdir()
    _rotated_copy(frames, str(tmp_path / "src" / "phone.mp4"), degrees)
    assert _decode(tmp_path / "src" / "phone.mp4")[3] % 360 == degrees % 360  # 180 reads -180
    assert _run(tmp_path / "src", tmp_path / "out", "--short-side", "320", "--crf", "0") == 0
    decoded, _, _, rotation = _decode(tmp_path / "out" / "phone.mp4")
    expected = np.rot90(_decode(tmp_path / "src" / "phone.mp4")[0], degrees // 90, axes=(1, 2)).astype(int)
    assert rotation == 0 and decoded.shape == expected.shape
    # lossless x264 and the planes turned as they are: the same pixels (a wrong turn: ~75 apart)
    assert np.abs(decoded - expected).mean() < 0.5


def test_real_video_keeps_its_frames_timing_and_content(tmp_path):
    (tmp_path / "src").mkdir()
    shutil.copy(REAL / "bikes.mp4", tmp_path / "src")
    assert _run(tmp_path / "src", tmp_path / "out", "--short-side", "136") == 0
    source, _, source_pts, _ = _decode(tmp_path / "src" / "bikes.mp4")
    resized, keys, pts, _ = _decode(tmp_path / "out" / "bikes.mp4")
    assert resized.shape == (250, 136, 320, 3)  # 640x272 -> 320x136
    with av.open(str(tmp_path / "out" / "bikes.mp4")) as container:
        stream = container.streams.video[0]
        assert float(stream.average_rate) == 25
        seconds = [float(p * stream.time_base) for p in pts]
    with av.open(str(tmp_path / "src" / "bikes.mp4")) as container:
        source_seconds = [float(p * container.streams.video[0].time_base) for p in source_pts]
    assert np.allclose(seconds, source_seconds, atol=1e-3)
    assert max(np.diff([i for i, key in enumerate(keys) if key] + [250])) <= 50  # 2 s at 25 fps
    import cv2

    halved = np.stack([cv2.resize(f, (320, 136), interpolation=cv2.INTER_AREA) for f in source[::50]])
    assert np.abs(resized[::50].astype(int) - halved).mean() < 6  # same picture, re-encoded


def test_variable_frame_rate_keeps_every_frame_at_its_time(tmp_path):
    from tests.data.conftest import frame_index_of, vfr_timestamps, write_vfr_video

    timestamps = vfr_timestamps(60)
    (tmp_path / "src").mkdir()
    write_vfr_video(str(tmp_path / "src" / "phone.mp4"), timestamps)
    assert _run(tmp_path / "src", tmp_path / "out", "--short-side", "48") == 0
    frames, _, pts, _ = _decode(tmp_path / "out" / "phone.mp4")
    with av.open(str(tmp_path / "out" / "phone.mp4")) as container:
        seconds = [float(p * container.streams.video[0].time_base) for p in pts]
    assert [frame_index_of(f) for f in frames] == list(range(60))
    assert np.allclose(np.array(seconds) - seconds[0], np.array(timestamps) / 3000, atol=1e-3)


def test_broken_files_are_logged_once_each_and_the_rest_is_done_then_resumed(tmp_path, put_video, video_bytes):
    put_video(tmp_path / "src" / "good.mp4")
    put_video(tmp_path / "src" / "garbage.mp4", b"not a video")
    put_video(tmp_path / "src" / "truncated.mp4", video_bytes[: len(video_bytes) // 2])
    out = tmp_path / "out"
    assert _run(tmp_path / "src", out, "--short-side", "32") == 1
    failures = [json.loads(line) for line in (out / "failures.jsonl").read_text().splitlines()]
    assert sorted(f["video_id"] for f in failures) == ["garbage", "truncated"]
    assert sorted(os.listdir(out)) == [".lock", "failures.jsonl", "good.mp4", "manifest.json"]
    before = (out / "good.mp4").stat().st_mtime_ns
    put_video(tmp_path / "src" / "garbage.mp4")  # fixed: the rerun does only that one
    assert _run(tmp_path / "src", out, "--short-side", "32") == 1
    assert (out / "good.mp4").stat().st_mtime_ns == before and (out / "garbage.mp4").is_file()
    assert [json.loads(line)["video_id"] for line in (out / "failures.jsonl").read_text().splitlines()] == ["truncated"]


def test_other_settings_into_the_same_folder_are_refused_in_one_line(tmp_path, put_video, capsys):
    put_video(tmp_path / "src" / "a.mp4")
    assert _run(tmp_path / "src", tmp_path / "out", "--short-side", "32") == 0
    assert _run(tmp_path / "src", tmp_path / "out", "--short-side", "40") == 2
    assert "short_side" in capsys.readouterr().err


CALLS = []


def _into_full_disk(path, out_path, options):
    """resize_video writing into /dev/full: the kernel's ENOSPC, through PyAV's writer."""
    CALLS.append(path)
    return resize_video(path, "/dev/full", options)


@pytest.mark.parametrize("workers", [1, 2])
def test_a_full_disk_stops_at_once_with_one_line_naming_the_output_folder(tmp_path, put_video, monkeypatch, capsys,
                                                                         workers):
    for name in "abcdef":
        put_video(tmp_path / "src" / f"{name}.mp4")
    CALLS.clear()
    monkeypatch.setattr(resize_videos, "resize_video", _into_full_disk)
    out = tmp_path / "out"
    code = resize_videos.main([str(tmp_path / "src"), str(out), "--short-side", "32", "--workers", str(workers),
                               "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and str(out) in err[0] and "disk full" in err[0]
    assert not (out / PARTIAL_DIR).exists() and not list(out.rglob("*.mp4"))
    assert (out / "failures.jsonl").read_text() == ""  # not one failure per video
    if workers == 1:
        assert len(CALLS) == 1  # (pool workers count in their own copies)


def test_disk_full_is_recognised_through_pyav(tmp_path, put_video):
    source = put_video(tmp_path / "a.mp4")
    with pytest.raises(OSError) as caught:
        resize_video(source, "/dev/full", EncodeOptions(short_side=32))
    assert caused_by_full_disk(caught.value)


def test_two_shards_fill_one_folder_and_merge(tmp_path, put_video, video_bytes):
    for name in ("a", "b", "c"):
        put_video(tmp_path / "src" / "x" / f"{name}.mp4")
    put_video(tmp_path / "src" / "x" / "bad.mp4", b"junk")
    out = tmp_path / "out"
    codes = [_run(tmp_path / "src", out, "--short-side", "32", "--shard", k, "--num-shards", 2) for k in (0, 1)]
    assert sorted(codes) == [0, 1]
    assert sorted(os.listdir(out / "x")) == ["a.mp4", "b.mp4", "c.mp4"]
    result = merge_shards.merge_shards(str(out))
    assert result["videos"] == 4 and [m["video_id"] for m in result["missing"]] == ["x/bad"]


def test_keep_audio_writes_an_aac_stream(tmp_path, make_frames):
    path = str(tmp_path / "src" / "talk.mp4")
    os.makedirs(os.path.dirname(path))
    with av.open(path, mode="w", format="mp4") as container:
        video = container.add_stream("libx264", rate=30)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        audio = container.add_stream("aac", rate=16000)
        for image in make_frames(frames=10):
            container.mux(video.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        tone = np.sin(np.arange(16000 // 3) / 10).astype(np.float32)[None]
        sound = av.AudioFrame.from_ndarray(tone, format="fltp", layout="mono")
        sound.sample_rate, sound.pts = 16000, 0
        container.mux(audio.encode(sound))
        container.mux(video.encode(None))
        container.mux(audio.encode(None))
    assert _run(tmp_path / "src", tmp_path / "plain", "--short-side", "32") == 0
    assert _run(tmp_path / "src", tmp_path / "audio", "--short-side", "32", "--keep-audio") == 0
    with av.open(str(tmp_path / "plain" / "talk.mp4")) as container:
        assert not container.streams.audio
    with av.open(str(tmp_path / "audio" / "talk.mp4")) as container:
        assert container.streams.audio[0].codec_context.name == "aac"
        assert sum(f.samples for f in container.decode(audio=0)) >= 16000 // 3 - 1024
