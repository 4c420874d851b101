"""Kinetics-sized lists: compact record storage and mostly-missing files."""

import logging
import sys

import pytest

from video3d.data.datasets import build_dataset
from video3d.data.lists import RecordTable, VideoRecord
from video3d.errors import DataError


def _records(count):
    return [VideoRecord(f"class_{i % 400}/vid_{i:06d}", f"/data/k400/class_{i % 400}/vid_{i:06d}.mp4", i % 400,
                        None if i % 3 else i) for i in range(count)]


def test_record_table_gives_back_every_record_and_is_smaller_than_the_list():
    records = _records(3000) + [VideoRecord("é/ü 1", "/d/é/ü 1.mp4", 7, 0)]
    table = RecordTable(records)
    assert len(table) == len(records) and list(table) == records
    assert table[-1] == records[-1] and table[1234] == records[1234]
    with pytest.raises(IndexError):
        table[len(records)]
    in_objects = sum(sys.getsizeof(r) + sys.getsizeof(vars(r)) + sys.getsizeof(r.path) + sys.getsizeof(r.video_id)
                     for r in records)
    assert table.nbytes < in_objects / 2.5  # and in a few arrays that no worker ever writes to
    assert list(RecordTable([])) == []


def test_datasets_store_their_records_compactly(small_cfg, video_dir, tmp_path):
    (tmp_path / "train.csv").write_text("land_30.mp4 0\nport_25.mp4 1\n")
    small_cfg.DATA.PATH_TO_DATA_DIR, small_cfg.DATA.PATH_PREFIX = str(tmp_path), video_dir
    dataset = build_dataset(small_cfg, "train", True)
    assert isinstance(dataset.records, RecordTable) and dataset.records[1].video_id == "port_25"


def _mostly_missing(cfg, video_dir, tmp_path, count=400):
    """A list of `count` lines of which only one in 50 names a file that exists."""
    lines = [("land_30.mp4" if i % 50 == 0 else f"gone/v{i}.mp4") + f" {i % 4}" for i in range(count)]
    (tmp_path / "train.csv").write_text("\n".join(lines) + "\n")
    cfg.DATA.PATH_TO_DATA_DIR, cfg.DATA.PATH_PREFIX = str(tmp_path), video_dir
    return cfg


def test_mostly_missing_files_are_counted_and_said_in_plain_words(small_cfg, video_dir, tmp_path, video3d_caplog):
    cfg = _mostly_missing(small_cfg, video_dir, tmp_path)
    cfg.DATA.MAX_CONSECUTIVE_FAILURES = 1000
    dataset = build_dataset(cfg, "train", True)  # nothing is opened or stat'ed up front
    assert dataset.videos_met == 0
    for index in range(1, 6):
        assert dataset[(0, index)]["video_id"] == "land_30"
    assert dataset.num_missing >= 10 and dataset.videos_met == dataset.num_missing + 5
    lines = [r.getMessage() for r in video3d_caplog.records if r.levelno == logging.WARNING]
    missing_lines = [line for line in lines if "are missing" in line]
    assert len(missing_lines) in (2, 3)  # at 1, 10 (and 100) missing videos, not once per file
    assert "No such file or folder" in missing_lines[1] and " 10 of the " in missing_lines[1]
    assert "DATA.PATH_PREFIX" in missing_lines[1]


def test_the_stop_after_failures_in_a_row_says_how_many_files_are_missing(small_cfg, video_dir, tmp_path):
    cfg = _mostly_missing(small_cfg, video_dir, tmp_path)
    cfg.DATA.MAX_CONSECUTIVE_FAILURES = 5
    dataset = build_dataset(cfg, "train", True)
    with pytest.raises(DataError, match=r"5 samples in a row.* 5 of the 5 videos met so far do not exist"):
        dataset[(0, 1)]
