import json
import logging

from video3d.utils.logging import format_json_stats, get_logger, log_json_stats, setup_logging


def test_json_stats_line_rounds_floats_like_pyslowfast():
    line = format_json_stats({"_type": "train_iter", "loss": 1.234567891, "iter": 3, "epoch": "1/10"})
    assert line.startswith("json_stats: ")
    payload = json.loads(line[len("json_stats: "):])
    assert payload == {"_type": "train_iter", "loss": 1.23457, "iter": 3, "epoch": "1/10"}


def test_rank0_logs_to_stdout_log_and_epoch_stats_to_json_log(tmp_path, capsys):
    setup_logging(str(tmp_path), rank=0)
    get_logger("video3d.test").info("hello")
    log_json_stats({"_type": "train_epoch", "loss": 0.5}, str(tmp_path))
    log_json_stats({"_type": "train_iter", "loss": 0.7}, str(tmp_path))
    for handler in logging.getLogger("video3d").handlers:
        handler.flush()
    text = (tmp_path / "stdout.log").read_text()
    assert "hello" in text and '"train_iter"' in text
    assert "hello" in capsys.readouterr().out
    epoch_lines = (tmp_path / "json_stats.log").read_text().splitlines()
    assert len(epoch_lines) == 1 and '"train_epoch"' in epoch_lines[0]


def test_other_ranks_write_no_file_and_log_errors_only(tmp_path, capsys):
    setup_logging(str(tmp_path / "r1"), rank=1)
    get_logger("video3d.test").info("quiet")
    assert not (tmp_path / "r1").exists()
    assert "quiet" not in capsys.readouterr().out
    setup_logging(None, rank=0)
