import json

from data_prep.scan_videos import default_output, main


def test_scan_records_good_and_broken_videos_in_list_order(tmp_path, put_video, video_bytes, capsys):
    put_video(tmp_path / "v" / "-good 'x'.mp4")
    put_video(tmp_path / "v" / "truncated.mp4", video_bytes[: len(video_bytes) // 2])
    put_video(tmp_path / "v" / "garbage.mp4", b"\x00garbage" * 64)
    listing = tmp_path / "train.csv"
    listing.write_text("v/truncated.mp4 1\nv/-good 'x'.mp4 0\nv/garbage.mp4 2\nv/absent.mp4 0\n")
    assert main([str(listing), "--workers", "2", "--no-progress"]) == 1
    rows = [json.loads(line) for line in (tmp_path / "train_manifest.jsonl").read_text().splitlines()]
    assert [r["path"] for r in rows] == [str(tmp_path / "v" / n) for n in
                                         ("truncated.mp4", "-good 'x'.mp4", "garbage.mp4", "absent.mp4")]
    good = rows[1]
    assert good == {"path": good["path"], "frames": 10, "fps": 30.0, "width": 64, "height": 48, "ok": True,
                    "reason": None}
    assert [r["ok"] for r in rows] == [False, True, False, False]
    assert "truncated" in rows[0]["reason"] or "decoding failed" in rows[0]["reason"]
    assert all(r["reason"] for r in rows if not r["ok"])
    assert "1 of 4 videos decode" in capsys.readouterr().out


def test_all_good_exits_0_and_writes_where_asked(tmp_path, put_video):
    put_video(tmp_path / "a.mp4")
    (tmp_path / "l.txt").write_text("a.mp4\n")
    out = tmp_path / "m.jsonl"
    assert main([str(tmp_path / "l.txt"), "--out", str(out), "--workers", "1", "--no-progress"]) == 0
    assert json.loads(out.read_text())["ok"] is True
    assert default_output("x/hmdb51.txt") == "x/hmdb51_manifest.jsonl"
    assert main([str(tmp_path / "nope.csv")]) == 2


def test_broken_paths_are_printed_with_their_reasons_then_a_count(tmp_path, put_video, capsys):
    put_video(tmp_path / "good.mp4")
    for index in range(23):
        put_video(tmp_path / f"bad {index:02d}.mp4", b"\x00garbage" * 8)
    listing = tmp_path / "l.txt"
    listing.write_text("good.mp4\n" + "".join(f"bad {i:02d}.mp4\n" for i in range(23)))
    assert main([str(listing), "--workers", "1", "--no-progress"]) == 1
    lines = capsys.readouterr().out.splitlines()
    rows = [json.loads(line) for line in (tmp_path / "l_manifest.jsonl").read_text().splitlines()]
    assert lines[:20] == [f"broken: {r['path']}: {r['reason']}" for r in rows[1:21]]
    assert lines[0].startswith(f"broken: {tmp_path / 'bad 00.mp4'}: ") and len(lines[0]) > len("broken: : ") + 20
    assert lines[20] == f"and 3 more, see {tmp_path / 'l_manifest.jsonl'}"
    assert lines[21].startswith("1 of 24 videos decode; 23 broken")
