"""benchmarks/gpu_check.py: the clean skip without a GPU, the CPU dry run, the exit code."""

from __future__ import annotations

import json

import pytest
import torch

from tests.benchmark_script import load_benchmark


@pytest.fixture(scope="module")
def gpu_check():
    return load_benchmark("gpu_check")


def _summary(output: str) -> dict:
    lines = [line for line in output.splitlines() if line.startswith("gpu_check: {")]
    assert len(lines) == 1
    return json.loads(lines[0][len("gpu_check: "):])


@pytest.mark.skipif(torch.cuda.is_available(), reason="the skip line is for machines without a GPU")
def test_without_a_gpu_it_skips_in_one_line(gpu_check, capsys):
    assert gpu_check.main([]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].startswith("gpu_check: skipped, no CUDA device")


def test_dry_run_of_cheap_checks_passes_and_prints_table_and_json(gpu_check, capsys, tmp_path):
    torch.set_num_threads(1)
    out_file = tmp_path / "result.json"
    assert gpu_check.main(["--dry-run", "--checks", "channels_last,amp_fp16_scaler", "--out", str(out_file)]) == 0
    summary = _summary(capsys.readouterr().out)
    assert [row["check"] for row in summary["checks"]] == ["amp_fp16_scaler", "channels_last"]
    assert summary["failed"] == [] and all(row["status"] == "pass" for row in summary["checks"])
    assert json.loads(out_file.read_text())["dry_run"] is True


def test_dry_run_of_the_loader_feed_check_runs_both_decoders(gpu_check, capsys, tmp_path):
    torch.set_num_threads(1)
    assert gpu_check.main(["--dry-run", "--checks", "loader_feed", "--work-dir", str(tmp_path)]) == 0
    row, = _summary(capsys.readouterr().out)["checks"]
    assert row["status"] == "pass" and "synthetic" in row["detail"] and "pyav on the CPU (1 workers)" in row["detail"]
    assert "torchcodec on the GPU" in row["detail"]  # measured, or skipped naming what to install


def test_a_failing_check_makes_the_exit_code_non_zero(gpu_check, capsys, monkeypatch):
    def broken(ctx):
        raise AssertionError("logits differ by 1.0e+00")

    monkeypatch.setattr(gpu_check, "CHECKS", [("channels_last", broken), *gpu_check.CHECKS[-1:]])
    assert gpu_check.main(["--dry-run", "--checks", "channels_last"]) == 1
    summary = _summary(capsys.readouterr().out)
    assert summary["failed"] == ["channels_last"]
    assert summary["checks"][0]["detail"] == "AssertionError: logits differ by 1.0e+00"


@pytest.mark.slow
def test_full_dry_run_passes(gpu_check, capsys, tmp_path):
    torch.set_num_threads(1)
    assert gpu_check.main(["--dry-run", "--work-dir", str(tmp_path)]) == 0
    summary = _summary(capsys.readouterr().out)
    statuses = {row["check"]: row["status"] for row in summary["checks"]}
    assert set(statuses) == {name for name, _ in gpu_check.CHECKS}
    assert all(status in ("pass", "skip") for status in statuses.values())
