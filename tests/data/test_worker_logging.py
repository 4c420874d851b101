"""A broken file met by two DataLoader workers is logged once, by the main process (before:
once per worker), and decord's native stderr lines about it are not shown."""

import logging
import os
import signal

import pytest
import torch

from video3d.data.datasets import build_dataset
from video3d.data.decoders import DecordSource
from video3d.data.loader import build_loader, set_loader_epoch
from video3d.data.worker_errors import UnwrappingDataLoader
from video3d.errors import DataError, DecodeError


@pytest.fixture
def broken_twice_cfg(small_cfg, video_dir, tmp_path):
    """A validation list in which the same broken file comes first in both workers' batches."""
    lists = tmp_path / "lists"
    lists.mkdir()
    names = ["not_a_video.mp4 0", "land_30.mp4 1", "not_a_video.mp4 2", "port_25.mp4 3"]
    (lists / "val.csv").write_text("".join(f"{n}\n" for n in names))
    small_cfg.DATA.PATH_TO_DATA_DIR, small_cfg.DATA.PATH_PREFIX = str(lists), video_dir
    small_cfg.TRAIN.BATCH_SIZE = 1  # one sample a batch: batches 0 and 2 (the broken file) go to workers 0 and 1
    small_cfg.DATA_LOADER.NUM_WORKERS = 2
    return small_cfg


def _warnings(caplog):
    return [r for r in caplog.records if r.levelno == logging.WARNING and "not_a_video.mp4" in r.getMessage()]


@pytest.mark.parametrize("workers", [0, 2])
def test_a_broken_file_is_logged_once_from_the_main_process(broken_twice_cfg, video3d_caplog, workers):
    broken_twice_cfg.DATA_LOADER.NUM_WORKERS = workers
    loader = build_loader(broken_twice_cfg, "val", False)
    for epoch in range(2):
        set_loader_epoch(loader, epoch)
        batches = list(loader)
        assert len(batches) == 4 and all("failures" not in batch for batch in batches)
    lines = _warnings(video3d_caplog)
    assert len(lines) == 1, [r.getMessage() for r in lines]  # before: 2 with two workers
    assert lines[0].process == os.getpid() and "skipping" in lines[0].getMessage()


def test_a_dataset_item_carries_a_workers_lines_only_in_a_worker(broken_twice_cfg, video3d_caplog):
    dataset = build_dataset(broken_twice_cfg, "val", False)
    assert dataset[(0, 0)]["failures"] == ""  # the main process logs at once
    assert len(_warnings(video3d_caplog)) == 1


def test_decords_native_lines_about_a_broken_file_are_not_shown(video_dir, capfd):
    pytest.importorskip("decord")
    with pytest.raises(DecodeError, match="not_a_video.mp4"):
        DecordSource(os.path.join(video_dir, "not_a_video.mp4"))
    captured = capfd.readouterr()
    assert "video_reader.cc" not in captured.err and "moov atom" not in captured.err  # before: 2 native lines


class _KilledByTheKernel(torch.utils.data.Dataset):
    """Each sample SIGKILLs its worker, as the out-of-memory killer does."""

    def __len__(self):
        return 4

    def __getitem__(self, index):
        os.kill(os.getpid(), signal.SIGKILL)


def test_a_worker_killed_by_the_oom_killer_is_one_line_naming_memory_and_the_key():
    loader = UnwrappingDataLoader(_KilledByTheKernel(), num_workers=2)
    with pytest.raises(DataError) as info:
        list(loader)  # before: RuntimeError "DataLoader worker (pid(s) N) exited unexpectedly", 68 lines
    message = str(info.value)
    assert "\n" not in message and "out-of-memory" in message and "DATA_LOADER.NUM_WORKERS (now 2)" in message
