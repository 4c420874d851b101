import csv
import json
import os

import pytest

from data_prep.build_lists import kinetics_video_name, main
from video3d.config import load_config
from video3d.data.lists import hmdb51_records, read_class_names, read_list, ssv2_records


def _frames(folder, rgb=0, flow=0):
    os.makedirs(folder, exist_ok=True)
    for i in range(1, rgb + 1):
        open(os.path.join(folder, f"img_{i:05d}.jpg"), "wb").close()
    for i in range(1, flow + 1):
        for axis in "xy":
            open(os.path.join(folder, f"flow_{axis}_{i:05d}.jpg"), "wb").close()


def _touch(path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    open(path, "wb").close()


def _cfg(**opts):
    items = []
    for key, value in opts.items():
        items += [key.replace("__", "."), str(value)]
    return load_config(None, items)


def test_kinetics_name_is_zero_padded_seconds():
    assert kinetics_video_name("-abc_D", "14", "24.0") == "-abc_D_000014_000024"


def test_kinetics_from_class_folders_video_and_frame_lists(tmp_path):
    root = tmp_path / "k400"
    _touch(root / "train" / "zumba" / "z 1.mp4")
    _touch(root / "train" / "abseiling" / "-a1.mp4")
    _touch(root / "val" / "abseiling" / "a2.mp4")
    _touch(root / "val" / "abseiling" / "notes.txt")
    out = tmp_path / "lists"
    assert main(["kinetics", str(out), "--root", str(root)]) == 0
    assert read_class_names(str(out / "classnames.txt")) == ["abseiling", "zumba"]
    train = read_list(str(out / "train.csv"), "video", str(root), 2)
    assert [(r.path, r.label) for r in train] == [(str(root / "train/abseiling/-a1.mp4"), 0),
                                                   (str(root / "train/zumba/z 1.mp4"), 1)]
    assert (out / "val.csv").read_text() == "val/abseiling/a2.mp4 0\n"

    frames = tmp_path / "frames"
    _frames(frames / "train" / "abseiling" / "-a1", rgb=7)
    _frames(frames / "train" / "zumba" / "z 1", rgb=5)
    _frames(frames / "val" / "abseiling" / "a2", rgb=3)
    assert main(["kinetics", str(tmp_path / "fl"), "--root", str(frames), "--format", "frames"]) == 0
    records = read_list(str(tmp_path / "fl" / "train.csv"), "frames", str(frames), 2)
    assert [(r.video_id, r.num_frames, r.label) for r in records] == [("train/abseiling/-a1", 7, 0),
                                                                       ("train/zumba/z 1", 5, 1)]


def test_kinetics_from_official_csv_finds_clips_anywhere_and_reports_missing(tmp_path):
    rows = [("tai chi", "yt1", 3, 13, "train"), ("abseiling", "-yt2", 0, 10, "train"),
            ("abseiling", "yt3", 100, 110, "train"), ("tai chi", "yt4", 7, 17, "validate")]
    for name, split in (("train.csv", "train"), ("validate.csv", "validate")):
        with open(tmp_path / name, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["label", "youtube_id", "time_start", "time_end", "split"])
            writer.writerows(r for r in rows if r[4] == split)
    root = tmp_path / "videos"
    _touch(root / "tai_chi" / "yt1_000003_000013.mp4")
    _touch(root / "abseiling" / "-yt2_000000_000010.mp4")
    _touch(root / "val" / "yt4_000007_000017.mp4")
    out = tmp_path / "lists"
    code = main(["kinetics", str(out), "--root", str(root), "--annotations", f"train={tmp_path / 'train.csv'}",
                 "--annotations", f"val={tmp_path / 'validate.csv'}"])
    assert code == 1  # yt3 is missing
    assert (out / "missing.txt").read_text() == "yt3_000100_000110\n"
    assert read_class_names(str(out / "classnames.txt")) == ["abseiling", "tai chi"]
    assert (out / "train.csv").read_text() == "tai_chi/yt1_000003_000013.mp4 1\nabseiling/-yt2_000000_000010.mp4 0\n"
    assert [r.label for r in read_list(str(out / "val.csv"), "video", str(root), 2)] == [1]


def test_ssv2_lists_match_what_the_data_layer_reads_from_the_json(tmp_path):
    labels = {"Pushing something from left to right": "1", "Holding something": "0"}
    train = [{"id": "12", "template": "Holding [something]", "label": "holding a cup", "placeholders": ["a cup"]},
             {"id": "7", "template": "Pushing [something] from left to right"}]
    val = [{"id": "3", "template": "Pushing [something] from left to right"}]
    for name, data in (("labels", labels), ("train", train), ("validation", val)):
        (tmp_path / f"something-something-v2-{name}.json").write_text(json.dumps(data))
    out = tmp_path / "lists"
    assert main(["ssv2", str(out), "--labels-dir", str(tmp_path)]) == 0
    assert (out / "train.csv").read_text() == "12.webm 0\n7.webm 1\n"
    assert read_class_names(str(out / "classnames.txt")) == ["Holding something", "Pushing something from left to right"]
    cfg = _cfg(DATA__SSV2_LABELS_DIR=tmp_path, DATA__PATH_PREFIX="/v", MODEL__NUM_CLASSES=2)
    for split in ("train", "val"):
        ours = read_list(str(out / f"{split}.csv"), "video", "/v", 2)
        assert [(r.path, r.label) for r in ours] == [(r.path, r.label) for r in ssv2_records(cfg, split)]

    frames = tmp_path / "frames"
    _frames(frames / "12", rgb=4)
    _frames(frames / "7", flow=5)
    _frames(frames / "3", flow=2)
    assert main(["ssv2", str(tmp_path / "fl"), "--labels-dir", str(tmp_path), "--root", str(frames),
                 "--format", "frames", "--modality", "flow"]) == 1  # 12 has no flow
    assert (tmp_path / "fl" / "train.csv").read_text() == "7 6 1\n"  # 5 pairs -> 6 RGB frames


def _hmdb51_splits(folder):
    os.makedirs(folder)
    content = {"walk": ["w_1.avi 1", "w_2.avi 2", "w_3.avi 0"], "brush_hair": ["-b 1.avi 2", "b_2.avi 1", "b_3.avi 1"]}
    for name, lines in content.items():
        for split_id in (1, 2, 3):
            rotated = lines[split_id - 1:] + lines[: split_id - 1]  # a different split per file
            ids = [line.rsplit(" ", 1)[1] for line in lines]
            text = "".join(f"{r.rsplit(' ', 1)[0]} {i} \n" for r, i in zip(rotated, ids, strict=True))
            (folder / f"{name}_test_split{split_id}.txt").write_text(text)


def test_hmdb51_rgb_and_flow_frame_lists_parse_back_like_the_split_files(tmp_path):
    splits = tmp_path / "splits"
    _hmdb51_splits(splits)
    frames = tmp_path / "frames"
    for name, count in (("walk/w_1", 9), ("walk/w_2", 8), ("walk/w_3", 7), ("brush_hair/-b 1", 6),
                        ("brush_hair/b_2", 5), ("brush_hair/b_3", 4)):
        _frames(frames / name, rgb=count, flow=count - 1)
    out = tmp_path / "lists"
    assert main(["hmdb51", str(out), "--splits-dir", str(splits), "--root", str(frames), "--format", "frames"]) == 0
    assert read_class_names(str(out / "classnames.txt")) == ["brush_hair", "walk"]
    assert (out / "split_1" / "rgb" / "train.csv").read_text() == "brush_hair/b_2 5 0\nbrush_hair/b_3 4 0\nwalk/w_1 9 1\n"
    for split_id in (1, 2, 3):
        cfg = _cfg(DATA__PATH_TO_DATA_DIR=splits, DATA__PATH_PREFIX=frames, DATA__FORMAT="frames",
                   DATA__SPLIT_ID=split_id, MODEL__NUM_CLASSES=2)
        for split in ("train", "val", "test"):
            official = [(r.path, r.label) for r in hmdb51_records(cfg, split)]
            for modality in ("rgb", "flow"):
                ours = read_list(str(out / f"split_{split_id}" / modality / f"{split}.csv"), "frames", str(frames), 2)
                assert [(r.path, r.label) for r in ours] == official
                assert all(r.num_frames == len(os.listdir(r.path)) // 3 + 1 for r in ours)


def test_hmdb51_video_lists_and_bad_split_lines(tmp_path):
    splits = tmp_path / "splits"
    _hmdb51_splits(splits)
    out = tmp_path / "lists"
    assert main(["hmdb51", str(out), "--splits-dir", str(splits), "--split-ids", "2"]) == 0
    assert (out / "split_2" / "test.csv").read_text() == (out / "split_2" / "val.csv").read_text()
    cfg = _cfg(DATA__PATH_TO_DATA_DIR=splits, DATA__PATH_PREFIX="/h", DATA__SPLIT_ID=2, MODEL__NUM_CLASSES=2)
    ours = read_list(str(out / "split_2" / "train.csv"), "video", "/h", 2)
    assert [(r.path, r.label) for r in ours] == [(r.path, r.label) for r in hmdb51_records(cfg, "train")]
    (splits / "walk_test_split1.txt").write_text("w_1.avi 5\n")
    assert main(["hmdb51", str(out), "--splits-dir", str(splits), "--split-ids", "1"]) == 2


@pytest.mark.parametrize("argv", [["kinetics", "o"], ["ssv2", "o", "--labels-dir", "nowhere"],
                                  ["hmdb51", "o", "--splits-dir", "nowhere"]])
def test_missing_inputs_are_usage_errors(tmp_path, argv, capsys):
    argv = [argv[0], str(tmp_path / argv[1]), *argv[2:]]
    assert main(argv) == 2
    assert capsys.readouterr().err.startswith("error: ")


def test_kinetics_tree_reports_a_folder_named_like_a_video_as_missing(tmp_path, capsys):
    root = tmp_path / "k400"
    _touch(root / "train" / "abseiling" / "a1.mp4")
    (root / "train" / "abseiling" / "a2.mp4").mkdir(parents=True)  # e.g. an unpacked archive
    _touch(root / "val" / "abseiling" / "a3.mp4")
    out = tmp_path / "lists"
    assert main(["kinetics", str(out), "--root", str(root)]) == 1
    assert (out / "train.csv").read_text() == "train/abseiling/a1.mp4 0\n"
    assert (out / "missing.txt").read_text() == "train/abseiling/a2.mp4\n"
    assert "1 videos not found, left out of the lists" in capsys.readouterr().out
