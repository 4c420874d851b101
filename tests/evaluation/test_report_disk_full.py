"""A full disk at the end of a test run: the result line is printed first, then one line names
the file that could not be written; nothing half-written is left. The same for config.yaml and
for the log file."""

import errno
import logging
import os

import pytest
import torch

from video3d.config import dump_config, get_cfg
from video3d.errors import DataError
from video3d.evaluation.report import report_results
from video3d.evaluation.results import VideoResult, summarise
from video3d.utils.logging import setup_logging


@pytest.fixture
def full_disk(monkeypatch):
    """Every fsync fails as on a full disk (where a buffered write's ENOSPC surfaces)."""
    def no_space(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    monkeypatch.setattr(os, "fsync", no_space)


@pytest.fixture
def quiet_logging():
    yield
    setup_logging(None)  # drop the handlers bound to this test's captured stdout
    logging.getLogger("video3d").setLevel(logging.WARNING)


def test_the_result_line_comes_before_the_one_line_naming_results_json(tmp_path, full_disk, quiet_logging, capsys):
    cfg = get_cfg()
    cfg.OUTPUT_DIR, cfg.MODEL.NUM_CLASSES = str(tmp_path), 2
    setup_logging(None)
    results = [VideoResult(0, "a", 1, torch.tensor([0.2, 0.8]), 1), VideoResult(1, "b", 0, torch.tensor([0.6, 0.4]), 0)]
    with pytest.raises(DataError) as info:
        report_results(cfg, results, summarise(results, 1))
    assert str(info.value) == f"cannot write {tmp_path / 'results.json'}: No space left on device"
    assert "test result: top-1 100.00%" in capsys.readouterr().out  # before: a traceback and no result line
    assert os.listdir(tmp_path) == []  # no results.json, no temp file


def test_config_yaml_on_a_full_disk_is_one_line(tmp_path, full_disk):
    with pytest.raises(DataError, match=f"^cannot write {tmp_path / 'config.yaml'}: No space left on device$"):
        dump_config(get_cfg(), str(tmp_path))
    assert os.listdir(tmp_path) == []


def test_a_log_file_that_cannot_be_written_is_said_once(tmp_path, quiet_logging, capsys):
    logger = setup_logging(str(tmp_path))
    file_handler = next(h for h in logger.handlers if isinstance(h, logging.FileHandler))
    file_handler.stream = open("/dev/full", "w")  # the kernel's ENOSPC on every flush
    logger.info("first line")
    logger.info("second line")
    captured = capsys.readouterr()
    assert captured.out.count("line") == 2  # the console keeps logging
    assert captured.err == (f"warning: cannot write {tmp_path / 'stdout.log'}: No space left on device; "
                            "the log goes to the console only\n")  # before: a traceback per line


def test_json_stats_log_on_a_full_disk_is_one_line_after_the_stats_line(tmp_path, quiet_logging, monkeypatch, capsys):
    from video3d.utils import logging as video3d_logging

    setup_logging(None)
    real_open = open

    def full_disk_open(path, *args, **kwargs):
        if str(path).endswith("json_stats.log"):
            return real_open("/dev/full", "a")
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr("builtins.open", full_disk_open)
    with pytest.raises(DataError, match=f"^cannot write {tmp_path / 'json_stats.log'}: No space left on device$"):
        video3d_logging.log_json_stats({"_type": "train_epoch", "epoch": "1/2", "loss": 0.5}, str(tmp_path))
    assert '"_type": "train_epoch"' in capsys.readouterr().out
