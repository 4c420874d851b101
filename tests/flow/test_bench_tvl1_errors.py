"""benchmarks/bench_tvl1.py: bad input is one line on stderr and exit code 2, no traceback or usage block."""

from __future__ import annotations

import pytest
import torch

from tests.benchmark_script import load_benchmark


@pytest.fixture(scope="module")
def bench():
    return load_benchmark("bench_tvl1")


def _one_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and "usage" not in err and "Traceback" not in err
    return err


def test_an_undecodable_video_is_one_line_naming_it(bench, tmp_path, capsys):
    video = tmp_path / "notes.mp4"
    video.write_text("not a video\n" * 20)
    assert bench.main(["--video", str(video)]) == 2
    assert f"{video}: not a video" in _one_line(capsys)


@pytest.mark.parametrize("device, named", [
    ("nonsense", "'nonsense' is not a device name"),
    ("cuda:63", "cuda:63"),  # no CUDA here, or no 64th GPU
])
def test_an_unusable_device_is_one_line(bench, tmp_path, capsys, device, named):
    assert bench.main(["--video", str(tmp_path / "unused.mp4"), "--device", device]) == 2
    assert named in _one_line(capsys)


@pytest.mark.skipif(torch.cuda.is_available(), reason="the message for a machine without CUDA")
def test_cuda_without_cuda_says_so(bench, tmp_path, capsys):
    assert bench.main(["--video", str(tmp_path / "unused.mp4"), "--device", "cuda"]) == 2
    assert "no CUDA GPU is available" in _one_line(capsys)
