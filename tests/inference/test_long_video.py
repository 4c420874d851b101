"""The long-video demo: outputs at the input's rate and size, one line per window, bad input."""

import json
import time

import av
import pytest
import torch

from tests.inference.conftest import DEMO, NAMES, TINY, write_faststart_video, write_video
from video3d.config import load_config
from video3d.data import open_source
from video3d.errors import ConfigError, DataError, DecodeError
from video3d.flow.recipe import FlowRecipe
from video3d.inference.long_video import LongVideoDemo
from video3d.inference.preprocess import ClipPreprocessor
from video3d.inference.scores import clip_scores
from video3d.models import build_model


def _frames(path):
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        images = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
        return images, float(stream.average_rate), stream.width, stream.height


def _lines(path):
    return [json.loads(line) for line in (path / "windows.jsonl").read_text().splitlines()]


def test_outputs_cover_every_frame_at_the_input_rate_and_size(tiny_cfg, tiny_model, video_40, tmp_path):
    report = LongVideoDemo(tiny_cfg, tiny_model, NAMES, topk=3).run(video_40, str(tmp_path / "out"))
    out = tmp_path / "out"
    images, fps, width, height = _frames(out / "annotated.mp4")
    assert (len(images), fps, width, height) == (40, 30.0, 32, 32)
    windows = _lines(out)
    # span 8, stride 4: regular windows 0..28 (ready at frames 7..35), then the tail 32..39
    assert [(w["start_frame"], w["end_frame"]) for w in windows] == [(s, s + 7) for s in range(0, 29, 4)] + [(32, 39)]
    assert windows[1]["start_time"] == pytest.approx(4 / 30, abs=1e-4) and windows[1]["end_time"] == pytest.approx(11 / 30, abs=1e-4)
    first = windows[0]
    assert [t["name"] for t in first["topk"]] and len(first["topk"]) == 3
    assert sorted(t["score"] for t in first["topk"]) == [t["score"] for t in first["topk"]][::-1]
    assert first["vote"]["outputs"] == 7 and 1 <= first["vote"]["votes"] <= 7
    assert first["vote"]["name"] == NAMES[first["vote"]["class"]]
    assert (out / "timeline.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert report.frames == 40 and report.windows == len(windows) and report.stopped is None
    # the labels are drawn: the top-left corner differs from the input's
    source, _, _, _ = _frames(video_40)
    assert abs(images[20][:6, :20].astype(int) - source[20][:6, :20].astype(int)).mean() > 10


def test_a_video_shorter_than_a_window_gets_one_window(tiny_cfg, tiny_model, tmp_path):
    video = write_video(tmp_path / "short.mp4", 5)
    report = LongVideoDemo(tiny_cfg, tiny_model, NAMES).run(video, str(tmp_path / "out"))
    assert [(w["start_frame"], w["end_frame"]) for w in _lines(tmp_path / "out")] == [(0, 4)]
    assert len(_frames(tmp_path / "out" / "annotated.mp4")[0]) == 5 and report.windows == 1


def test_stride_sets_the_distance_between_windows(tiny_cfg, tiny_model, video_40, tmp_path):
    LongVideoDemo(tiny_cfg, tiny_model, NAMES, stride=16).run(video_40, str(tmp_path / "out"))
    assert [w["start_frame"] for w in _lines(tmp_path / "out")] == [0, 16, 32]


def test_a_truncated_file_keeps_what_was_done_and_says_where_it_stopped(tiny_cfg, tiny_model, tmp_path):
    whole = write_faststart_video(tmp_path / "whole.mp4", 90)
    data = open(whole, "rb").read()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) * 2 // 3])
    report = LongVideoDemo(tiny_cfg, tiny_model, NAMES).run(str(cut), str(tmp_path / "out"))
    assert report.stopped is not None and f"after frame {report.frames} " in report.stopped
    images, _, _, _ = _frames(tmp_path / "out" / "annotated.mp4")
    assert 0 < len(images) == report.frames < 90
    assert len(_lines(tmp_path / "out")) == report.windows > 0


@pytest.mark.parametrize("content", [b"", b"not a video at all" * 10])
def test_unreadable_input_is_a_decode_error_naming_it(tiny_cfg, tiny_model, tmp_path, content):
    bad = tmp_path / "-bad 'name'.mp4"
    bad.write_bytes(content)
    with pytest.raises(DecodeError, match="bad 'name'"):
        LongVideoDemo(tiny_cfg, tiny_model, NAMES).run(str(bad), str(tmp_path / "out"))
    assert not (tmp_path / "out" / "annotated.mp4").exists()


def test_output_folder_that_is_a_file_is_refused(tiny_cfg, tiny_model, video_40, tmp_path):
    (tmp_path / "out").write_text("x")
    with pytest.raises(DataError, match="is a file"):
        LongVideoDemo(tiny_cfg, tiny_model, NAMES).run(video_40, str(tmp_path / "out"))


def test_a_flow_model_reads_the_flow_of_the_stream_as_online_flow_gives_it(tmp_path):
    """Window pair i = flow from frame i to i + 1 (DIS, bound 2): the windows' scores are the
    model's on the clips `OnlineFlowSource` (the test and predict path) builds for those pairs."""
    cfg = load_config(DEMO, [*TINY, "DATA.MODALITY", "flow", "DATA.FORMAT", "video", "DATA.FLOW_ALGO", "dis",
                             "DATA.FLOW_BOUND", "2.0", "FFC.TEST_ENSEMBLE", "mean"])
    torch.manual_seed(0)
    model = build_model(cfg).eval()
    video = write_video(tmp_path / "flow.mp4", 20, label=4)
    LongVideoDemo(cfg, model, NAMES, topk=8).run(video, str(tmp_path / "out"))
    windows = _lines(tmp_path / "out")
    # span 8, stride 4 over 19 pairs: regular windows 0, 4, 8 (ready at frames 8, 12, 16), tail 11..18
    assert [(w["start_frame"], w["end_frame"]) for w in windows] == [(0, 7), (4, 11), (8, 15), (11, 18)]
    preprocess = ClipPreprocessor(cfg)
    with open_source(video, modality="flow", flow=FlowRecipe.from_cfg(cfg)) as source:
        for window in windows:
            pairs = [window["start_frame"] + offset for offset in (0, 2, 4, 6)]
            flows = source.get_frames(pairs).numpy()
            clip = preprocess.clip([preprocess.frame(f) for f in flows])
            with torch.inference_mode():
                expected = clip_scores(model(clip)[0].float(), "mean")
            assert [(t["class"], t["score"]) for t in window["topk"]] == [(k, round(v, 6)) for k, v in expected.topk(8)]


class _SlowModel(torch.nn.Module):
    def __init__(self, seconds):
        super().__init__()
        self.seconds = seconds

    def forward(self, clips):
        time.sleep(self.seconds)
        return torch.zeros(clips.shape[0], 8)


def test_realtime_skips_windows_when_the_model_is_slower_than_the_source(tiny_cfg, tmp_path):
    video = write_video(tmp_path / "v.mp4", 60)  # 2 s; a window every 4 frames (0.13 s)
    report = LongVideoDemo(tiny_cfg, _SlowModel(0.4), NAMES, realtime=True).run(video, str(tmp_path / "out"))
    assert report.skipped_windows > 0 and report.windows >= 1
    assert report.windows + report.skipped_windows == 14  # starts 0, 4, ..., 52; no tail needed
    assert len(report.latencies) == report.windows and min(report.latencies) >= 0.39
    assert report.seconds >= 1.9  # paced at the source's rate
    assert all("latency_s" in w for w in _lines(tmp_path / "out"))


def test_a_flow_model_extracted_at_another_rate_is_refused_in_one_line(tiny_model):
    cfg = load_config(DEMO, [*TINY, "DATA.MODALITY", "flow", "DATA.FLOW_FPS", "15"])
    with pytest.raises(ConfigError, match="DATA.FLOW_FPS 15.0: the demo computes flow between consecutive frames"):
        LongVideoDemo(cfg, tiny_model, NAMES)
