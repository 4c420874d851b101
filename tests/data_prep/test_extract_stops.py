"""extract_frames / extract_flow stopped from outside: a full disk stops the run at the first
video with one line naming the output folder; `kill PID` (SIGTERM) and Ctrl-C (SIGINT to the
process group) stop it with one line, no worker tracebacks, and no `.partial/` left behind."""

import glob
import os
import signal
import subprocess
import sys
import time

import pytest

from data_prep import extract_flow, extract_frames
from data_prep.pool import PARTIAL_DIR


def _into_full_disk(path, image, quality):
    with open("/dev/full", "wb") as handle:  # the kernel's ENOSPC, as a full disk gives it
        handle.write(b"x" * 100_000)
        handle.flush()


@pytest.mark.parametrize("workers", ["1", "2"])
@pytest.mark.parametrize("tool", [extract_frames, extract_flow])
def test_a_full_disk_stops_at_the_first_video_with_one_line(tool, workers, tmp_path, put_video, monkeypatch, capsys):
    for name in ("a", "b", "c"):
        put_video(tmp_path / "src" / f"{name}.mp4")
    monkeypatch.setattr(tool, "write_jpeg", _into_full_disk)
    extra = ["--algo", "farneback"] if tool is extract_flow else []
    out = tmp_path / "out"
    assert tool.main([str(tmp_path / "src"), str(out), "--workers", workers, "--no-progress", *extra]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {out}: disk full") and "Traceback" not in err[0]
    # before: three failures recorded ("OSError: [Errno 28] ...") and the run went on
    assert (out / "failures.jsonl").read_text() == ""
    assert not (out / PARTIAL_DIR).exists() and not glob.glob(str(out / "?"))


_SLOW_TOOL = """
import os, sys, time
from data_prep import extract_frames

def slow(path, folder, options):  # a long video: still running when the run is stopped
    open(os.path.join(folder, "img_00001.jpg"), "w").write("x")
    time.sleep(60)
    return 1

extract_frames.extract_video_frames = slow
sys.exit(extract_frames.main([sys.argv[1], sys.argv[2], "--workers", "2", "--no-progress"]))
"""


@pytest.mark.slow  # a fresh interpreter importing torch: ~20 s on the shared 2-core machine
@pytest.mark.parametrize("how", ["SIGTERM to the process", "SIGINT to the group"])
def test_a_stopped_run_prints_one_line_and_leaves_no_partial_folder(how, tmp_path, put_video):
    for name in ("a", "b", "c", "d"):
        put_video(tmp_path / "src" / f"{name}.mp4")
    out = tmp_path / "out"
    run = subprocess.Popen([sys.executable, "-c", _SLOW_TOOL, str(tmp_path / "src"), str(out)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and len(glob.glob(str(out / PARTIAL_DIR / "*" / "img_00001.jpg"))) < 2:
        time.sleep(0.1)
    if how == "SIGTERM to the process":
        run.send_signal(signal.SIGTERM)  # before: died at once, .partial/ with two half-written folders left
    else:
        os.killpg(run.pid, signal.SIGINT)
    _, err = run.communicate(timeout=60)
    assert run.returncode == 130 and err == "interrupted\n"
    assert sorted(os.listdir(out)) == [".lock", "failures.jsonl", "manifest.json"]


def test_a_shard_removes_its_partial_folder_and_the_emptied_parent(tmp_path, put_video):
    put_video(tmp_path / "src" / "a.mp4")
    out = tmp_path / "out"
    assert extract_frames.main([str(tmp_path / "src"), str(out), "--workers", "1", "--no-progress",
                                "--shard", "0", "--num-shards", "2"]) in (0, 1)
    assert not (out / PARTIAL_DIR).exists()  # before: an empty .partial/ stayed
