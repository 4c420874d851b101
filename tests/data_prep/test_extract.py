import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest

from data_prep import extract_flow, extract_frames
from data_prep.inputs import collect_videos
from data_prep.pool import PARTIAL_DIR
from video3d.data import open_source
from video3d.errors import DataError

HOSTILE = "-lead 'single' \"double\" space"


def _names(folder):
    return sorted(os.listdir(folder))


def _tree(root):
    """Relative path -> bytes of every file under root, except the run's lock and failures."""
    files = {}
    for directory, _, names in os.walk(root):
        for name in names:
            rel = os.path.relpath(os.path.join(directory, name), root)
            if name not in (".lock", "failures.jsonl"):
                with open(os.path.join(directory, name), "rb") as handle:
                    files[rel] = handle.read()
    return files


def test_frames_layout_count_and_short_side(tmp_path, put_video):
    put_video(tmp_path / "src" / "cls" / "a.mp4")
    out = tmp_path / "out"
    assert extract_frames.main([str(tmp_path / "src"), str(out), "--short-side", "32", "--workers", "1",
                                "--no-progress"]) == 0
    names = _names(out / "cls" / "a")
    assert names == [f"img_{i:05d}.jpg" for i in range(1, 11)]
    assert cv2.imread(str(out / "cls" / "a" / "img_00001.jpg")).shape == (32, 43, 3)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["short_side"] == 32 and manifest["content"] == "rgb"
    assert not (out / PARTIAL_DIR).exists()


def test_frames_fps_resampling_halves_a_30fps_video(tmp_path, put_video):
    put_video(tmp_path / "src" / "a.mp4")
    assert extract_frames.main([str(tmp_path / "src"), str(tmp_path / "out"), "--fps", "15", "--workers", "1",
                                "--no-progress"]) == 0
    assert len(_names(tmp_path / "out" / "a")) == 5  # source frames 0, 2, 4, 6, 8


def test_flow_with_rgb_gives_n_frames_and_n_minus_1_pairs_read_by_the_data_layer(tmp_path, put_video):
    put_video(tmp_path / "src" / "a.mp4")
    out = tmp_path / "out"
    assert extract_flow.main([str(tmp_path / "src"), str(out), "--algo", "dis", "--with-rgb", "--workers", "1",
                              "--no-progress"]) == 0
    names = _names(out / "a")
    assert sum(n.startswith("img_") for n in names) == 10
    assert [n for n in names if n.startswith("flow_x_")] == [f"flow_x_{i:05d}.jpg" for i in range(1, 10)]
    assert sum(n.startswith("flow_y_") for n in names) == 9
    with open_source(str(out / "a"), fmt="frames", modality="flow", num_frames=10) as source:
        assert source.num_frames == 9
        flow = source.get_frames([0, 8]).numpy()
    assert flow.shape == (2, 48, 64, 2)
    # the texture slides right by 2 px a frame: x well above 128 (+2 px = 140.25), y near 128
    assert abs(np.median(flow[..., 0]) - 140) <= 3 and abs(np.median(flow[..., 1]) - 128) <= 3
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["algorithm"] == "dis" and manifest["bound"] == 20.0 and manifest["content"] == "flow+rgb"


def test_static_video_gives_flow_128(tmp_path, put_video, make_frames):
    from data_prep.synthetic import encode_mp4

    still = np.repeat(make_frames(frames=1), 4, axis=0)
    (tmp_path / "src").mkdir()
    encode_mp4(still, str(tmp_path / "src" / "still.mp4"), 30)
    assert extract_flow.main([str(tmp_path / "src"), str(tmp_path / "out"), "--algo", "farneback", "--workers", "1",
                              "--no-progress"]) == 0
    flow_x = cv2.imread(str(tmp_path / "out" / "still" / "flow_x_00001.jpg"), cv2.IMREAD_GRAYSCALE)
    assert np.median(flow_x) == 128


@pytest.mark.parametrize("backend", ["opencv", None])
def test_tvl1_at_tiny_size_records_its_parameters(tmp_path, put_video, backend):
    put_video(tmp_path / "src" / "a.mp4")
    out = tmp_path / "out"
    chosen = ["--backend", backend] if backend else ["--no-compile"]  # default: video3d's TV-L1
    assert extract_flow.main([str(tmp_path / "src"), str(out), "--size", "32x24", "--workers", "1",
                              "--no-progress", *chosen]) == 0
    assert cv2.imread(str(out / "a" / "flow_y_00009.jpg"), cv2.IMREAD_GRAYSCALE).shape == (24, 32)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["algorithm"] == "tvl1" and manifest["size"] == [32, 24]
    assert manifest["parameters"]["Tau"] == pytest.approx(0.25)
    assert manifest.get("backend", "opencv").split()[0] == (backend or "torch")


def test_dis_and_farneback_default_to_opencv(tmp_path, put_video):
    put_video(tmp_path / "src" / "a.mp4")
    out = tmp_path / "out"
    assert extract_flow.main([str(tmp_path / "src"), str(out), "--algo", "dis", "--size", "32x24", "--workers", "1",
                              "--no-progress"]) == 0
    assert "backend" not in json.loads((out / "manifest.json").read_text())


def test_resume_after_kill_redoes_partial_skips_finished_and_matches_a_clean_run(tmp_path, put_video):
    for name in ("a", "b", "c"):
        put_video(tmp_path / "src" / f"{name}.mp4")
    args = ["--algo", "dis", "--with-rgb", "--workers", "1", "--no-progress"]
    clean = tmp_path / "clean"
    assert extract_flow.main([str(tmp_path / "src"), str(clean), *args]) == 0
    # the state a killed run leaves: one finished folder, one half-written temp folder
    resumed = tmp_path / "resumed"
    (resumed / PARTIAL_DIR / "b").mkdir(parents=True)
    (resumed / PARTIAL_DIR / "b" / "img_00001.jpg").write_bytes(b"half")
    (resumed / "manifest.json").write_bytes((clean / "manifest.json").read_bytes())
    os.makedirs(resumed / "a")
    for name in _names(clean / "a"):
        (resumed / "a" / name).write_bytes((clean / "a" / name).read_bytes())
    (resumed / "a" / "marker").write_text("kept")  # proves the finished folder is not redone
    assert extract_flow.main([str(tmp_path / "src"), str(resumed), *args]) == 0
    assert (resumed / "a" / "marker").read_text() == "kept"
    (resumed / "a" / "marker").unlink()
    assert not (resumed / PARTIAL_DIR).exists()
    assert _tree(resumed) == _tree(clean)


def test_broken_videos_are_recorded_and_the_run_goes_on(tmp_path, put_video, video_bytes, capsys):
    put_video(tmp_path / "src" / "good.mp4")
    put_video(tmp_path / "src" / "garbage.mp4", b"not a video" * 50)
    put_video(tmp_path / "src" / "truncated.mp4", video_bytes[: len(video_bytes) // 2])
    put_video(tmp_path / "src" / "empty.mp4", b"")
    (tmp_path / "src" / "a_directory.mp4").mkdir()  # named like a video: logged, not skipped unsaid
    out = tmp_path / "out"
    assert extract_flow.main([str(tmp_path / "src"), str(out), "--algo", "dis", "--workers", "1",
                              "--no-progress"]) == 1
    failures = [json.loads(line) for line in (out / "failures.jsonl").read_text().splitlines()]
    reasons = {f["video_id"]: f["reason"] for f in failures}
    assert sorted(reasons) == ["a_directory", "empty", "garbage", "truncated"]
    assert all(f["path"].startswith(str(tmp_path / "src")) and f["reason"] for f in failures)
    # Plain words first, FFmpeg's own text after (all four are InvalidDataError or errno to PyAV).
    assert reasons["a_directory"].startswith("a directory, not a video file (IsADirectoryError: ")
    assert reasons["empty"].startswith("empty file (0 bytes) (InvalidDataError: ")
    assert reasons["garbage"].startswith("not a video: FFmpeg recognises no video format in it (InvalidDataError: ")
    assert reasons["truncated"].startswith("truncated or damaged video: ")
    assert _names(out) == [".lock", "failures.jsonl", "good", "manifest.json"]
    assert "1 videos written" in capsys.readouterr().out


def test_hostile_names_from_a_list_through_the_cli_with_two_workers(tmp_path, put_video):
    src = tmp_path / "-src dir"
    put_video(src / "it's" / f"{HOSTILE}.mp4")
    put_video(src / "plain.mp4")
    put_video(src / "bad file.mp4", b"junk" * 100)
    listing = src / "list.csv"
    listing.write_text(f"it's/{HOSTILE}.mp4 3\nplain.mp4 0\nbad file.mp4 1\n")
    out = tmp_path / "-out 'x'"
    result = subprocess.run([sys.executable, "-m", "data_prep.extract_flow", "--algo", "farneback", "--workers", "2",
                             "--no-progress", "--", str(listing), str(out)], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 1, result.stderr
    assert len(_names(out / "it's" / HOSTILE)) == 18
    assert len(_names(out / "plain")) == 18
    assert json.loads((out / "failures.jsonl").read_text())["video_id"] == "bad file"


def test_usage_errors_exit_2_with_one_line(tmp_path, put_video, capsys):
    assert extract_frames.main([str(tmp_path / "missing"), str(tmp_path / "out")]) == 2
    assert "missing: no such folder or list file" in capsys.readouterr().err
    put_video(tmp_path / "src" / "a.mp4")
    base = [str(tmp_path / "src"), str(tmp_path / "out"), "--workers", "1", "--no-progress"]
    assert extract_flow.main([*base, "--algo", "dis"]) == 0
    assert extract_flow.main([*base, "--algo", "farneback"]) == 2  # other settings, same folder
    assert "other settings (algorithm, parameters)" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        extract_flow.main([*base, "--size", "340by256"])
    assert exit_info.value.code == 2


def test_list_inputs_drop_labels_and_refuse_escaping_or_clashing_ids(tmp_path):
    (tmp_path / "l.txt").write_text("a b.mp4 3\n/abs/c.avi\n\n")
    tasks = collect_videos(str(tmp_path / "l.txt"), prefix="/data")
    assert [(t.path, t.video_id) for t in tasks] == [("/data/a b.mp4", "a b"), ("/abs/c.avi", "c")]
    (tmp_path / "escape.txt").write_text("../x.mp4\n")
    with pytest.raises(DataError, match="escape.txt:1"):
        collect_videos(str(tmp_path / "escape.txt"))
    (tmp_path / "clash.txt").write_text("x.mp4\nx.avi\n")
    with pytest.raises(DataError, match="both map to output 'x'"):
        collect_videos(str(tmp_path / "clash.txt"))


_ORPHAN_PARENT = """
import os, sys, time
from data_prep.inputs import VideoTask
from data_prep.pool import run_videos

def slow_work(path, folder, options):
    open(os.path.join(folder, "pid"), "w").write(str(os.getpid()))
    time.sleep(60)  # a long video: still running when the parent is killed
    return 1

tasks = [VideoTask(path=f"/v/{i}.mp4", video_id=f"v{i}") for i in range(4)]
run_videos(tasks, sys.argv[1], slow_work, None, workers=2, unit="frames", manifest={}, progress=False)
"""


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has exited
    except FileNotFoundError:
        return False


def test_workers_exit_quietly_when_the_parent_is_killed(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "out"
    stderr = tmp_path / "stderr.txt"
    with open(stderr, "w") as err:
        parent = subprocess.Popen([sys.executable, "-c", _ORPHAN_PARENT, str(out)], stderr=err,
                                  stdout=subprocess.DEVNULL)
    partial = out / ".partial"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(list(partial.glob("*/pid"))) < 2:
        time.sleep(0.1)
    pids = [int(p.read_text()) for p in partial.glob("*/pid") if p.read_text()]
    assert len(pids) == 2
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_running(pid) for pid in pids):
        time.sleep(0.1)
    assert not any(_running(pid) for pid in pids)  # before: they slept on, then BrokenPipeError
    assert stderr.read_text() == ""
