"""What rank 0 does with gathered test results: log lines, results JSON, confusion-matrix PNG."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import torch
from fvcore.common.config import CfgNode

from video3d.errors import DataError
from video3d.evaluation.results import (
    VideoResult,
    load_class_names,
    results_to_dict,
    save_results,
    split_failed,
)
from video3d.utils.confusion import confusion_matrix, save_confusion_matrix_png
from video3d.utils.io import write_failure
from video3d.utils.logging import get_logger, log_json_stats

logger = get_logger(__name__)


def results_path(cfg: CfgNode) -> str:
    """TEST.SAVE_RESULTS_PATH, relative to OUTPUT_DIR unless absolute; "" when off."""
    path = cfg.TEST.SAVE_RESULTS_PATH
    if not path:
        return ""
    return path if os.path.isabs(path) else os.path.join(cfg.OUTPUT_DIR, path)


def confusion_matrix_path(cfg: CfgNode) -> str:
    """OUTPUT_DIR/plots/confusion_matrix.png."""
    return os.path.join(cfg.OUTPUT_DIR, "plots", "confusion_matrix.png")


def final_test_stats(summary: Mapping) -> dict:
    """The `json_stats` line of a finished test (PySlowFast's `test_final`, plus our counts)."""
    return {
        "_type": "test_final",
        "split": "test_final",  # PySlowFast's key for the test summary
        "top1_acc": summary["top1"],
        "top5_acc": summary["top5"],
        "mean_class_acc": summary["mean_class_acc"],
        "num_videos": summary["num_videos"],
        "num_views": summary["num_views"],
        "num_failed": len(summary["failed"]),
    }


def report_results(cfg: CfgNode, results: Sequence[VideoResult], summary: Mapping) -> None:
    """Log each failed video once and the metrics, then write the results file and confusion
    PNG. The result line comes first: a write that fails (a full disk) then costs only the
    files, and is one line naming the file (DataError) instead of a traceback."""
    done, failed = split_failed(results)
    for video in failed:
        where = "" if not video.path or video.path in video.error else f" ({video.path})"
        logger.warning("test video %s failed and is excluded: %s%s", video.video_id, video.error, where)
    if done:
        logger.info(
            "test result: top-1 %.2f%%, top-5 %.2f%%, mean class accuracy %.2f%% over %d videos x %d views"
            " (%d failed and excluded)",
            summary["top1"], summary["top5"], summary["mean_class_acc"], summary["num_videos"],
            summary["num_views"], len(failed),
        )
    else:
        logger.error("no test video could be evaluated (%d failed)", len(failed))
    num_classes = cfg.MODEL.NUM_CLASSES
    class_names = load_class_names(cfg.DATA.CLASS_NAMES_FILE, num_classes)
    path = results_path(cfg)
    try:
        if path:
            ensemble = {"views": cfg.DATA.ENSEMBLE_METHOD, "head": cfg.MODEL.HEAD}
            if cfg.MODEL.HEAD == "ffc":
                ensemble["ffc"] = cfg.FFC.TEST_ENSEMBLE
            save_results(path, results_to_dict(results, summary, num_classes, class_names, ensemble))
            logger.info("per-video test scores written to %s", path)
        if not done:
            return
        path = confusion_matrix_path(cfg)
        matrix = confusion_matrix(
            torch.tensor([r.pred for r in done]), torch.tensor([r.label for r in done]), num_classes
        )
        save_confusion_matrix_png(matrix, path, class_names)
    except OSError as error:
        raise DataError(write_failure(path, error)) from None
    log_json_stats(final_test_stats(summary), cfg.OUTPUT_DIR)
