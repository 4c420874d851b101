"""A parser written for PySlowFast's logs reads video3d's logs unchanged.

The parser below is written from PySlowFast's published key list (slowfast/utils/meters.py:
TrainMeter, ValMeter and TestMeter's `log_json_stats` calls): each line type, the keys it
always carries, and how a PySlowFast log reader converts them (epoch "e/E", iter "i/N", eta
"H:MM:SS", gpu_mem and RAM strings in GB, floats elsewhere; grad_norm a float when present).
"""

import datetime
import json

import pytest
import torch
from engine_toys import toy_cfg, toy_components

from video3d.engine.trainer import Trainer, seed_everything
from video3d.evaluation.report import final_test_stats
from video3d.utils.logging import format_json_stats, setup_logging

PYSLOWFAST_KEYS = {
    "train_iter": ("epoch", "iter", "dt", "dt_data", "dt_net", "eta", "loss", "lr", "gpu_mem", "top1_err", "top5_err"),
    "train_epoch": ("epoch", "dt", "dt_data", "dt_net", "eta", "lr", "gpu_mem", "RAM", "top1_err", "top5_err", "loss"),
    "val_iter": ("epoch", "iter", "time_diff", "eta", "gpu_mem", "top1_err", "top5_err"),
    "val_epoch": ("epoch", "time_diff", "gpu_mem", "RAM", "top1_err", "top5_err", "min_top1_err", "min_top5_err"),
    "test_final": ("split", "top1_acc", "top5_acc"),
}
FLOATS = {"dt", "dt_data", "dt_net", "loss", "lr", "top1_err", "top5_err", "time_diff", "min_top1_err",
          "min_top5_err", "top1_acc", "top5_acc", "grad_norm"}


def _fraction(text: str) -> tuple[int, int]:
    done, total = text.split("/")
    return int(done), int(total)


def _eta(text: str) -> datetime.timedelta:
    hours, minutes, seconds = (int(part) for part in text.split(":"))
    return datetime.timedelta(hours=hours, minutes=minutes, seconds=seconds)


def _gigabytes(text: str) -> float:
    return float(text.split("/")[0].rstrip("G").strip())


def parse_pyslowfast_log(text: str) -> dict[str, list[dict]]:
    """Lines `json_stats: {...}` grouped by type (`_type`, or `split` for the test summary),
    each converted as a PySlowFast log reader does; a missing key or a value of the wrong kind raises."""
    parsed: dict[str, list[dict]] = {}
    for line in text.splitlines():
        if "json_stats: " not in line:
            continue
        stats = json.loads(line.split("json_stats: ", 1)[1])
        kind = stats["split"] if stats.get("split") == "test_final" else stats["_type"]
        if kind not in PYSLOWFAST_KEYS:
            continue
        row = {}
        for key in PYSLOWFAST_KEYS[kind] + tuple(k for k in ("grad_norm",) if k in stats):
            value = stats[key]
            if key in ("epoch", "iter"):
                row[key] = _fraction(value)
            elif key == "eta":
                row[key] = _eta(value)
            elif key in ("gpu_mem", "RAM"):
                row[key] = _gigabytes(value)
            elif key in FLOATS:
                row[key] = float(value)
            else:
                row[key] = value
        parsed.setdefault(kind, []).append(row)
    return parsed


@pytest.fixture
def toy_log(tmp_path):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    setup_logging(str(tmp_path), 0)
    try:
        cfg = toy_cfg(str(tmp_path), "LOG_PERIOD", "2", "TRAIN.CLIP_GRAD_NORM", "100.0")
        seed_everything(cfg.RNG_SEED, 0)
        Trainer(cfg, toy_components()).train()
    finally:
        torch.set_num_threads(threads)
        setup_logging(None, 0)
    summary = {"top1": 75.0, "top5": 100.0, "mean_class_acc": 70.0, "num_videos": 4, "num_views": 30, "failed": []}
    return (tmp_path / "stdout.log").read_text() + format_json_stats(final_test_stats(summary)) + "\n"


def test_a_pyslowfast_log_parser_reads_video3d_logs(toy_log):
    parsed = parse_pyslowfast_log(toy_log)
    assert {kind: len(rows) for kind, rows in parsed.items()} == {
        "train_iter": 6, "train_epoch": 2, "val_iter": 2, "val_epoch": 2, "test_final": 1}
    assert [row["iter"] for row in parsed["train_iter"]] == [(2, 6), (4, 6), (6, 6)] * 2
    assert all(row["gpu_mem"] == 0.0 for rows in parsed.values() for row in rows if "gpu_mem" in row)  # CPU
    assert all(row["grad_norm"] > 0 for row in parsed["train_iter"])  # numeric, from the clipping
    assert [row["epoch"] for row in parsed["val_epoch"]] == [(1, 2), (2, 2)]
    second = parsed["val_epoch"][1]
    assert second["min_top1_err"] <= second["top1_err"] and second["min_top5_err"] <= second["top5_err"]
    assert parsed["train_epoch"][1]["eta"] == datetime.timedelta(0)
    assert parsed["test_final"] == [{"split": "test_final", "top1_acc": 75.0, "top5_acc": 100.0}]


def _train_lines(output_dir, *opts) -> list[dict]:
    setup_logging(str(output_dir), 0)
    try:
        seed_everything(0, 0)
        Trainer(toy_cfg(str(output_dir), "SOLVER.MAX_EPOCH", "1", "TRAIN.EVAL_PERIOD", "0", *opts),
                toy_components()).train()
    finally:
        setup_logging(None, 0)
    return [json.loads(line.split("json_stats: ", 1)[1])
            for line in (output_dir / "stdout.log").read_text().splitlines() if "json_stats: " in line]


def test_grad_norm_is_written_without_clipping_as_the_global_norm(tmp_path):
    # PySlowFast writes grad_norm on every train line; with clipping it is the norm before clipping.
    lines = _train_lines(tmp_path / "plain")
    train = [line for line in lines if line["_type"].startswith("train")]
    assert train and all(isinstance(line["grad_norm"], float) and line["grad_norm"] > 0 for line in train)
    clipped = _train_lines(tmp_path / "clip", "TRAIN.CLIP_GRAD_NORM", "1e9")  # clip_grad_norm_'s total norm
    assert [line["grad_norm"] for line in train] == \
        [line["grad_norm"] for line in clipped if line["_type"].startswith("train")]
    assert all(line["gpu_mem"] == "0.00G" for line in lines)
