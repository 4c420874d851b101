"""benchmarks/bench_data_scale.py --quick: the whole rehearsal on a tiny corpus, and its parts."""

from __future__ import annotations

import json
import os
import sys

import pytest

from tests.benchmark_script import load_benchmark


@pytest.fixture(scope="module")
def bench():
    yield load_benchmark("bench_data_scale", register=True)  # its pool pickles functions by module name
    sys.modules.pop("bench_data_scale", None)


def test_the_floor_decodes_from_the_keyframe_before_each_needed_frame(bench, tmp_path, monkeypatch):
    path = str(tmp_path / "v.mp4")
    bench.write_video(path, 3.0, 30, 64, 48, seed=0)
    keyframes = bench.KeyframeIndex()
    pts, keys = keyframes(path)
    assert keys == [0, 60] and len(pts) == 90  # a keyframe every 2 s
    converted = []
    monkeypatch.setattr(bench, "frame_to_ndarray", lambda frame, fmt: converted.append(pts.index(frame.pts)))
    bench.decode_floor(path, [70, 10, 70, 20], keyframes)
    assert converted == [10, 20, 70]  # each needed frame once, in order, nothing else converted


def test_big_list_is_links_over_classes(bench, tmp_path):
    videos = [str(tmp_path / f"v{i}.mp4") for i in range(3)]
    for video in videos:
        open(video, "wb").close()
    list_dir = bench.make_big_list(str(tmp_path), videos, 50, 7)
    lines = open(os.path.join(list_dir, "train.csv")).read().splitlines()
    assert len(lines) == 50 and lines[8] == "class_001/000008.mp4 1"
    assert os.path.realpath(tmp_path / "links" / "class_001" / "000008.mp4") == os.path.realpath(videos[8 % 3])


@pytest.mark.slow  # ~40 s on a loaded 2-core machine: eight loaders start their workers
def test_quick_rehearsal_prints_every_named_field(bench, capsys, tmp_path):
    result = bench.main(["--quick", "--json", "--work-dir", str(tmp_path)])
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line == json.loads(json.dumps(result))
    for key in ("startup_s", "loader_clips_per_core_s", "loader_over_floor", "test_views_per_core_s",
                "test_over_floor", "rss_growth_mb", "decoders"):
        assert key in line
    assert set(line["loader_clips_per_core_s"]) == set(line["loader_over_floor"]) == {"8x8", "16x4"}
    assert all(value > 0 for value in line["loader_clips_per_core_s"].values())
    assert line["test_views_per_core_s"] > 0 and line["test_over_floor"] > 0
    assert "pyav" in line["decoders"] and line["decoders"]["pyav"] > 0
    assert len(line["rss_mb"]["workers"]) == 2
