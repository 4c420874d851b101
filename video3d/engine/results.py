"""Per-video test results: the record, the saved JSON format, and two-stream fusion.

Results file (`TEST.SAVE_RESULTS_PATH`), format "video3d-results-v1", UTF-8 JSON:

    {
      "format": "video3d-results-v1",
      "num_classes": K,
      "classes": ["name0", ...] or null,         # DATA.CLASS_NAMES_FILE when set
      "num_views": V,                            # views per video (clips x crops)
      "ensemble": {"views": "mean", "head": "ffc", "ffc": "vote"},
      "videos": [{"video_id": str, "label": int, "pred": int, "probs": [K floats]}, ...],
      "failed": [{"video_id": str, "path": str, "reason": str}, ...],
      "metrics": {"top1": %, "top5": %, "mean_class_acc": %, "num_videos": n,
                  "num_views": V, "num_failed": m}    # accuracies null when n = 0
    }

`probs` are the view-aggregated softmax scores (`DATA.ENSEMBLE_METHOD`: a mean sums to 1; sum
and max do not); for FFC models the mean over the seven outputs, while `pred` is the class the
test rule chose (the vote). Videos are sorted by their index in the test list.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch

from video3d.engine.metrics import compute_metrics
from video3d.errors import DataError
from video3d.utils.io import atomic_write_text
from video3d.utils.logging import get_logger

logger = get_logger(__name__)

RESULTS_FORMAT = "video3d-results-v1"
_PROB_DECIMALS = 6  # float32 softmax carries ~7 significant digits


@dataclass
class VideoResult:
    """One test video: scores and prediction when it was evaluated, the reason when it failed."""

    index: int
    video_id: str
    label: int
    probs: torch.Tensor | None = None  # [K] aggregated scores
    pred: int | None = None
    path: str = ""
    error: str | None = None
    num_views: int = 0


def split_failed(results: Sequence[VideoResult]) -> tuple[list[VideoResult], list[VideoResult]]:
    """(evaluated videos, failed videos), each in input order."""
    done = [r for r in results if r.error is None]
    failed = [r for r in results if r.error is not None]
    return done, failed


def summarise(results: Sequence[VideoResult], num_views: int) -> dict:
    """Metrics of the evaluated videos plus counts; failed videos are excluded and listed."""
    done, failed = split_failed(results)
    if done:
        metrics = compute_metrics(
            torch.stack([r.probs for r in done]),
            torch.tensor([r.pred for r in done]),
            torch.tensor([r.label for r in done]),
        )
    else:
        metrics = {"top1": math.nan, "top5": math.nan, "mean_class_acc": math.nan}
    return {
        **metrics,
        "num_videos": len(done),
        "num_views": num_views,
        "failed": [{"video_id": r.video_id, "path": r.path, "reason": r.error} for r in failed],
    }


def _json_number(value: float) -> float | None:
    return None if isinstance(value, float) and math.isnan(value) else value


def results_to_dict(
    results: Sequence[VideoResult],
    summary: Mapping,
    num_classes: int,
    class_names: Sequence[str] | None = None,
    ensemble: Mapping | None = None,
) -> dict:
    """The "video3d-results-v1" document (see the module docstring)."""
    done, _ = split_failed(results)
    metrics = {key: _json_number(summary[key]) for key in ("top1", "top5", "mean_class_acc")}
    metrics.update(num_videos=summary["num_videos"], num_views=summary["num_views"])
    metrics["num_failed"] = len(summary["failed"])
    return {
        "format": RESULTS_FORMAT,
        "num_classes": num_classes,
        "classes": list(class_names) if class_names else None,
        "num_views": summary["num_views"],
        "ensemble": dict(ensemble or {}),
        "videos": [
            {
                "video_id": r.video_id,
                "label": r.label,
                "pred": r.pred,
                "probs": [round(p, _PROB_DECIMALS) for p in r.probs.tolist()],
            }
            for r in done
        ],
        "failed": list(summary["failed"]),
        "metrics": metrics,
    }


def save_results(path: str, document: Mapping) -> None:
    """Write a results document atomically (compact: a Kinetics run holds 20k x 400 scores)."""
    atomic_write_text(path, json.dumps(document, separators=(",", ":")) + "\n")


def load_results(path: str) -> dict:
    """Read and check a results file; `DataError` naming the file and the fault otherwise."""
    try:
        with open(path, encoding="utf-8") as handle:
            document = json.load(handle)
    except FileNotFoundError as err:
        raise DataError(f"results file not found: {path}") from err
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DataError(f"{path}: not a readable JSON results file ({err})") from err
    if not isinstance(document, dict) or document.get("format") != RESULTS_FORMAT:
        raise DataError(f"{path}: not a {RESULTS_FORMAT} results file")
    num_classes = document.get("num_classes")
    for position, video in enumerate(document.get("videos", [])):
        if not isinstance(video, dict) or not {"video_id", "label", "probs"} <= video.keys():
            raise DataError(f"{path}: video entry {position} lacks video_id, label or probs")
        if len(video["probs"]) != num_classes:
            raise DataError(
                f"{path}: video {video['video_id']!r} has {len(video['probs'])} scores, "
                f"expected num_classes = {num_classes}"
            )
    return document


def fuse_results(documents: Sequence[Mapping], weights: Sequence[float], names: Sequence[str]) -> dict:
    """Weighted average of the per-video scores of several results documents (two-stream fusion).

    Videos are matched by `video_id`; the fused prediction is the arg-max of the fused scores.
    Raises `DataError` when class counts, video sets or labels differ (naming `names[i]`).
    Returns a results document whose `ensemble` records the inputs and weights.
    """
    if len(weights) != len(documents):
        raise DataError(f"{len(weights)} weights given for {len(documents)} results files")
    reference, ref_name = documents[0], names[0]
    by_id = [{v["video_id"]: v for v in doc["videos"]} for doc in documents]
    for doc, videos, name in zip(documents[1:], by_id[1:], names[1:], strict=True):
        if doc["num_classes"] != reference["num_classes"]:
            raise DataError(
                f"{name} has {doc['num_classes']} classes but {ref_name} has {reference['num_classes']}"
            )
        only_here = videos.keys() - by_id[0].keys()
        only_there = by_id[0].keys() - videos.keys()
        if only_here or only_there:
            example = sorted(only_here or only_there)[0]
            raise DataError(
                f"{name} and {ref_name} hold different videos: {len(only_here)} only in {name}, "
                f"{len(only_there)} only in {ref_name} (e.g. {example!r}; a video that failed in one "
                "stream is missing from it)"
            )
        for video_id, video in videos.items():
            if video["label"] != by_id[0][video_id]["label"]:
                raise DataError(
                    f"video {video_id!r} has label {video['label']} in {name} "
                    f"but {by_id[0][video_id]['label']} in {ref_name}"
                )
    fused = []
    for index, video in enumerate(reference["videos"]):
        probs = sum(w * torch.tensor(v[video["video_id"]]["probs"], dtype=torch.float64)
                    for w, v in zip(weights, by_id, strict=True)) / sum(weights)
        fused.append(VideoResult(index, video["video_id"], video["label"], probs, int(probs.argmax())))
    failed_by_id: dict[str, dict] = {}
    for doc in documents:
        for entry in doc.get("failed", []):
            failed_by_id.setdefault(entry["video_id"], entry)
    summary = summarise(fused, reference.get("num_views", 0))
    summary["failed"] = list(failed_by_id.values())
    ensemble = {"fused": list(names), "weights": list(weights)}
    return results_to_dict(fused, summary, reference["num_classes"], reference.get("classes"), ensemble)


def load_class_names(path: str, num_classes: int) -> list[str] | None:
    """Class names, one per line (line i = label i); None with a warning when they do not fit."""
    if not path:
        return None
    if not os.path.isfile(path):
        logger.warning("DATA.CLASS_NAMES_FILE %s not found; class indices are used instead", path)
        return None
    with open(path, encoding="utf-8") as handle:
        names = [line.strip() for line in handle if line.strip()]
    if len(names) != num_classes:
        logger.warning(
            "DATA.CLASS_NAMES_FILE %s holds %d names but MODEL.NUM_CLASSES is %d; class indices are used",
            path, len(names), num_classes,
        )
        return None
    return names
