"""List formats: Kinetics video / frame lists, SSv2 json files, HMDB51 official splits."""

import json
import os

import pytest

from video3d.data.lists import hmdb51_records, kinetics_records, read_list, ssv2_records, ssv2_template_label
from video3d.errors import DataError


def _write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
    return str(path)


def test_video_list_paths_may_hold_spaces_and_dashes(tmp_path):
    path = _write(tmp_path / "train.csv", "a/x 1.mp4 3\n\n-b/y.mp4 0\n")
    records = read_list(path, "video", "/data", num_classes=4)
    assert [(r.video_id, r.path, r.label, r.num_frames) for r in records] == [
        ("a/x 1", "/data/a/x 1.mp4", 3, None), ("-b/y", "/data/-b/y.mp4", 0, None)]


def test_frame_list_reads_count(tmp_path):
    path = _write(tmp_path / "val.csv", "cls/vid 1 300 2\n")
    (record,) = read_list(path, "frames", "root", num_classes=4)
    assert (record.video_id, record.path, record.num_frames, record.label) == ("cls/vid 1", "root/cls/vid 1", 300, 2)


@pytest.mark.parametrize(("text", "message"), [
    ("a.mp4\n", "expected '<path> <label>'"),
    ("a.mp4 x\n", "label 'x' is not an integer"),
    ("a.mp4 7\n", "label 7 outside"),
    ("", "empty"),
])
def test_bad_list_lines_name_file_and_line(tmp_path, text, message):
    path = _write(tmp_path / "train.csv", "ok.mp4 1\n" + text if text else "")
    with pytest.raises(DataError, match=message) as info:
        read_list(path, "video", "", num_classes=4)
    assert str(tmp_path / "train.csv") in str(info.value)


def test_kinetics_records_from_split_csv_and_missing_split(tmp_path, small_cfg):
    _write(tmp_path / "lists" / "train.csv", "v/a.mp4 1\n")
    small_cfg.DATA.PATH_TO_DATA_DIR = str(tmp_path / "lists")
    small_cfg.DATA.PATH_PREFIX = "/videos"
    assert kinetics_records(small_cfg, "train")[0].path == "/videos/v/a.mp4"
    with pytest.raises(DataError, match="val.csv"):
        kinetics_records(small_cfg, "val")


def write_ssv2_labels(folder):
    labels = {"Pushing something from left to right": "0", "Pushing something from right to left": "1",
              "Holding something": "2"}
    _write(os.path.join(folder, "something-something-v2-labels.json"), json.dumps(labels))
    train = [{"id": "10", "template": "Pushing [something] from left to right", "label": "x", "placeholders": []},
             {"id": "11", "template": "Holding [something]", "label": "y", "placeholders": []}]
    _write(os.path.join(folder, "something-something-v2-train.json"), json.dumps(train))
    val = [{"id": "12", "template": "Pushing [something] from right to left", "label": "z", "placeholders": []}]
    _write(os.path.join(folder, "something-something-v2-validation.json"), json.dumps(val))
    return folder


def test_ssv2_labels_from_templates_without_brackets(tmp_path, small_cfg):
    small_cfg.DATA.SSV2_LABELS_DIR = write_ssv2_labels(str(tmp_path / "labels"))
    small_cfg.DATA.PATH_PREFIX = "/f"
    small_cfg.DATA.FORMAT = "frames"
    assert [(r.video_id, r.path, r.label) for r in ssv2_records(small_cfg, "train")] == [
        ("10", "/f/10", 0), ("11", "/f/11", 2)]
    small_cfg.DATA.FORMAT = "video"
    assert [(r.path, r.label) for r in ssv2_records(small_cfg, "val")] == [("/f/12.webm", 1)]
    assert ssv2_records(small_cfg, "test") == ssv2_records(small_cfg, "val")


def test_ssv2_unknown_template_is_a_data_error():
    with pytest.raises(DataError, match="Spinning something"):
        ssv2_template_label("Spinning [something]", {"Holding something": "2"}, "train.json entry 5")


def write_hmdb51_splits(folder, split_id=1):
    _write(os.path.join(folder, f"wave_test_split{split_id}.txt"), "w1.avi 1 \nw2.avi 2 \nw3.avi 0 \n")
    _write(os.path.join(folder, f"brush_hair_test_split{split_id}.txt"), "b1.avi 2\nb2.avi 1\n")
    return folder


def test_hmdb51_sorted_classes_and_split_ids(tmp_path, small_cfg):
    small_cfg.DATA.PATH_TO_DATA_DIR = write_hmdb51_splits(str(tmp_path / "splits"), split_id=2)
    small_cfg.DATA.SPLIT_ID = 2
    small_cfg.DATA.PATH_PREFIX = "/h"
    small_cfg.DATA.FORMAT = "frames"
    assert [(r.video_id, r.path, r.label) for r in hmdb51_records(small_cfg, "train")] == [
        ("b2", "/h/brush_hair/b2", 0), ("w1", "/h/wave/w1", 1)]
    small_cfg.DATA.FORMAT = "video"
    assert [(r.path, r.label) for r in hmdb51_records(small_cfg, "test")] == [
        ("/h/brush_hair/b1.avi", 0), ("/h/wave/w2.avi", 1)]
    small_cfg.DATA.SPLIT_ID = 3
    with pytest.raises(DataError, match="_test_split3.txt"):
        hmdb51_records(small_cfg, "train")


def test_class_names_from_file_ssv2_json_and_hmdb51_splits(tmp_path, small_cfg):
    from video3d.data.datasets import class_names_for

    assert class_names_for(small_cfg, "kinetics") is None
    small_cfg.DATA.SSV2_LABELS_DIR = write_ssv2_labels(str(tmp_path / "labels"))
    assert class_names_for(small_cfg, "ssv2") == ["Pushing something from left to right",
                                                  "Pushing something from right to left", "Holding something"]
    small_cfg.DATA.PATH_TO_DATA_DIR = write_hmdb51_splits(str(tmp_path / "splits"))
    assert class_names_for(small_cfg, "hmdb51") == ["brush_hair", "wave"]
    small_cfg.DATA.CLASS_NAMES_FILE = _write(tmp_path / "names.txt", "a\nb\nc\nd\n")
    assert class_names_for(small_cfg, "kinetics") == ["a", "b", "c", "d"]
    small_cfg.MODEL.NUM_CLASSES = 5
    with pytest.raises(DataError, match="4 class names"):
        class_names_for(small_cfg, "kinetics")
