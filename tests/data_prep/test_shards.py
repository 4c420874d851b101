"""Sharded extraction: N runs into one folder == one run; SLURM arrays; merge_shards; the
torch TV-L1 backend of extract_flow."""

import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest

from data_prep import extract_flow, extract_frames, merge_shards
from data_prep.inputs import VideoTask
from data_prep.shards import Shard, resolve_shard
from video3d.errors import DataError

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BOOKKEEPING = (".lock", "failures.jsonl")


def _tree(root):
    """Relative path -> bytes of every video folder's files and the manifest."""
    files = {}
    for directory, subdirs, names in os.walk(root):
        subdirs[:] = [d for d in subdirs if not d.startswith(".")]
        for name in names:
            if name.startswith((".lock", "failures")):
                continue
            path = os.path.join(directory, name)
            with open(path, "rb") as handle:
                files[os.path.relpath(path, root)] = handle.read()
    return files


@pytest.fixture
def six_videos(tmp_path, put_video, make_frames):
    """Six videos in two class folders, with hostile names; one is a copy shifted in time."""
    source = tmp_path / "src"
    for k, name in enumerate(["-a b", "c'd", "e\"f"]):
        put_video(source / "left" / f"{name}.mp4")
        put_video(source / "right" / f"{name} {k}.mp4")
    return source


def test_shards_split_the_sorted_list_into_disjoint_complete_parts():
    tasks = [VideoTask(f"/v/{name}.mp4", name) for name in "qwertyuiopasd"]
    parts = [Shard(k, 4).select(tasks) for k in range(4)]
    ids = [t.video_id for part in parts for t in part]
    assert sorted(ids) == sorted(t.video_id for t in tasks) and len(set(ids)) == len(tasks)
    assert [t.video_id for t in parts[1]] == sorted("qwertyuiopasd")[1::4]


def test_slurm_array_variables_are_read_when_the_flags_are_absent():
    env = {"SLURM_ARRAY_TASK_ID": "7", "SLURM_ARRAY_TASK_MIN": "5", "SLURM_ARRAY_TASK_COUNT": "4"}
    assert resolve_shard(None, None, env) == Shard(2, 4)
    assert resolve_shard(1, 3, env) == Shard(1, 3)  # flags win
    assert resolve_shard(None, None, {}) is None
    with pytest.raises(DataError, match="SLURM array task 9"):
        resolve_shard(None, None, {**env, "SLURM_ARRAY_TASK_ID": "9"})


@pytest.mark.parametrize("shard, count, message", [
    (3, 3, "--shard must be in 0..2"), (-1, 3, "--shard must be in 0..2"), (0, 0, "--num-shards must be >= 1"),
    (1, None, "go together"),
])
def test_shard_numbers_out_of_range_are_one_line_and_write_nothing(tmp_path, six_videos, capsys, shard, count,
                                                                     message):
    out = tmp_path / "out"
    args = [str(six_videos), str(out), "--no-progress", "--shard", str(shard)]
    if count is not None:
        args += ["--num-shards", str(count)]
    assert extract_frames.main(args) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def _extract(tool, source, out, *extra):
    return subprocess.Popen([sys.executable, "-m", f"data_prep.{tool}", str(source), str(out), "--workers", "1",
                             "--no-progress", "--size", "32x24", *extra],
                            cwd=REPO, env={**os.environ, "PYTHONPATH": REPO}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_three_shards_at_once_give_the_bytes_of_one_unsharded_run(tmp_path, six_videos):
    tool, extra = "extract_flow", ("--algo", "dis", "--with-rgb")  # frames and flow, one decode
    whole, sharded = tmp_path / "whole", tmp_path / "sharded"
    runs = [_extract(tool, six_videos, whole, *extra)]
    runs += [_extract(tool, six_videos, sharded, *extra, "--shard", str(k), "--num-shards", "3") for k in range(3)]
    for run in runs:
        out, err = run.communicate(timeout=600)
        assert run.returncode == 0, err
    assert sorted(os.listdir(sharded / "left")) == sorted(os.listdir(whole / "left"))
    assert _tree(sharded) == _tree(whole) and len(_tree(whole)) > 6
    assert merge_shards.main([str(sharded)]) == 0
    assert (sharded / "failures.jsonl").read_text() == ""


def test_merge_reports_missing_shards_and_failed_videos(tmp_path, six_videos, put_video, capsys):
    put_video(six_videos / "right" / "broken.mp4", b"not a video")
    out = tmp_path / "out"
    # sorted ids: left/-a b, left/c'd, left/e"f, right/-a b 0, right/broken, ...: shard 0 holds the broken one
    assert extract_frames.main([str(six_videos), str(out), "--size", "32x24", "--workers", "1", "--no-progress",
                                "--shard", "0", "--num-shards", "2"]) == 1
    assert merge_shards.main([str(out)]) == 1
    assert "shards never run: 1" in capsys.readouterr().out
    assert extract_frames.main([str(six_videos), str(out), "--size", "32x24", "--workers", "1", "--no-progress",
                                "--shard", "1", "--num-shards", "2"]) == 0
    assert merge_shards.main([str(out)]) == 1
    missing = [json.loads(line) for line in (out / "failures.jsonl").read_text().splitlines()]
    assert [m["video_id"] for m in missing] == ["right/broken"] and missing[0]["reason"] != "not written"
    # the next unsharded run retries the broken file and replaces the shards' bookkeeping
    assert extract_frames.main([str(six_videos), str(out), "--size", "32x24", "--workers", "1",
                                "--no-progress"]) == 1
    assert not (out / ".shards").exists() and not list(out.glob("failures.shard-*"))


def test_merge_shards_on_an_unsharded_folder_is_one_line(tmp_path, capsys):
    (tmp_path / "out").mkdir()
    assert merge_shards.main([str(tmp_path / "out")]) == 2
    assert "no shard records" in capsys.readouterr().err


def test_torch_backend_agrees_with_opencv_after_quantisation(tmp_path, put_video):
    put_video(tmp_path / "src" / "a.mp4")
    common = ["--size", "48x32", "--workers", "1", "--no-progress"]
    assert extract_flow.main([str(tmp_path / "src"), str(tmp_path / "cv"), *common, "--backend", "opencv"]) == 0
    assert extract_flow.main([str(tmp_path / "src"), str(tmp_path / "pt"), *common, "--backend", "torch",
                              "--no-compile", "--batch", "4"]) == 0
    names = sorted(os.listdir(tmp_path / "cv" / "a"))
    assert names == sorted(os.listdir(tmp_path / "pt" / "a")) and len(names) == 18  # 10 frames, 9 pairs
    within = []
    for name in names:
        ours = cv2.imread(str(tmp_path / "pt" / "a" / name), cv2.IMREAD_GRAYSCALE).astype(int)
        theirs = cv2.imread(str(tmp_path / "cv" / "a" / name), cv2.IMREAD_GRAYSCALE).astype(int)
        within.append(np.abs(ours - theirs) <= 1)
    assert np.mean(within) >= 0.95
    manifest = json.loads((tmp_path / "pt" / "manifest.json").read_text())
    assert manifest["backend"].startswith("torch") and manifest["parameters"]["ScalesNumber"] == 5


@pytest.mark.parametrize("flags, named", [
    (["--backend", "torch", "--device", "cuda:7"], "cuda:7"),  # no such GPU (or no CUDA at all)
    (["--device", "nonsense"], "'nonsense' is not a device name"),
    (["--backend", "opencv", "--device", "cuda"], "runs on the CPU only"),  # not silently ignored
    (["--algo", "dis", "--device", "cuda:0"], "runs on the CPU only"),
])
def test_a_device_that_cannot_be_used_is_one_line(tmp_path, put_video, capsys, flags, named):
    put_video(tmp_path / "src" / "a.mp4")
    assert extract_flow.main([str(tmp_path / "src"), str(tmp_path / "out"), *flags]) == 2
    err = capsys.readouterr().err
    assert named in err and err.count("\n") == 1 and "usage" not in err and not (tmp_path / "out").exists()
