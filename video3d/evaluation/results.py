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
`load_results` checks every field (`validate_results`): each video once, K finite scores >= 0,
labels and predictions among the K classes, distinct class names, a classes field (null or names).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch

from video3d.errors import DataError
from video3d.evaluation.metrics import compute_metrics
from video3d.utils.io import atomic_write_text, write_failure
from video3d.utils.logging import get_logger
from video3d.utils.paths import is_file, is_local, local_copy, open_for_writing

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
                "probs": stored_probs(r.probs),
            }
            for r in done
        ],
        "failed": list(summary["failed"]),
        "metrics": metrics,
    }


def save_results(path: str, document: Mapping) -> None:
    """Write a results document atomically (compact: a Kinetics run holds 20k x 400 scores); a
    write that fails is a `DataError` naming the file."""
    text = json.dumps(document, separators=(",", ":")) + "\n"
    if is_local(path):
        try:
            atomic_write_text(path, text)
        except OSError as error:  # a full disk, a folder that cannot be written: nothing is left
            raise DataError(write_failure(path, error)) from None
    else:
        with open_for_writing(path) as handle:
            handle.write(text)


def load_results(path: str) -> dict:
    """Read and check a results file; `DataError` naming the file and the fault otherwise."""
    try:
        with open(local_copy(path, DataError), encoding="utf-8") as handle:
            document = json.load(handle)
    except FileNotFoundError as err:
        raise DataError(f"results file not found: {path}") from err
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DataError(f"{path}: not a readable JSON results file ({err})") from err
    validate_results(document, path)
    return document


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def validate_results(document, path: str) -> None:
    """Check every field of a "video3d-results-v1" document; `DataError` naming `path` and the
    entry at fault: wrong types, a video listed twice, scores that are not K finite numbers,
    labels or predictions outside the classes, duplicated class names."""
    if not isinstance(document, dict) or document.get("format") != RESULTS_FORMAT:
        raise DataError(f"{path}: not a {RESULTS_FORMAT} results file")
    num_classes = document.get("num_classes")
    if not _is_int(num_classes) or num_classes < 1:
        raise DataError(f"{path}: num_classes must be a positive integer, got {num_classes!r}")
    classes = document.get("classes")
    if classes is not None:
        if not isinstance(classes, list) or len(classes) != num_classes or not all(isinstance(c, str) for c in classes):
            raise DataError(f"{path}: classes must be null or a list of {num_classes} names (strings)")
        if len(set(classes)) != len(classes):
            twice = next(c for c in classes if classes.count(c) > 1)
            raise DataError(f"{path}: class name {twice!r} appears twice in classes")
    if not _is_int(document.get("num_views", 0)):
        raise DataError(f"{path}: num_views must be an integer, got {document['num_views']!r}")
    videos = document.get("videos")
    if not isinstance(videos, list):
        raise DataError(f"{path}: videos must be a list of video entries, got {videos!r}"[:300])
    first_seen: dict[str, int] = {}
    for position, video in enumerate(videos):
        if not isinstance(video, dict) or not {"video_id", "label", "probs"} <= video.keys():
            raise DataError(f"{path}: video entry {position} lacks video_id, label or probs")
        _check_video(video, position, num_classes, path)
        video_id = video["video_id"]
        if video_id in first_seen:
            raise DataError(f"{path}: video {video_id!r} is listed twice (entries {first_seen[video_id]} and {position})")
        first_seen[video_id] = position
    failed = document.get("failed", [])
    if not isinstance(failed, list) or not all(
        isinstance(entry, dict) and isinstance(entry.get("video_id"), str) for entry in failed
    ):
        raise DataError(f"{path}: failed must be a list of entries with a video_id string")
    metrics = document.get("metrics")
    if not isinstance(metrics, dict) or not all(
        metrics.get(key) is None or _is_number(metrics.get(key)) for key in ("top1", "top5", "mean_class_acc")
    ) or not _is_int(metrics.get("num_videos")):
        raise DataError(f"{path}: metrics must hold top1, top5, mean_class_acc (numbers or null) and num_videos")
    if "classes" not in document:  # null says "no names"; a missing key, a file from elsewhere
        raise DataError(f"{path}: no classes field (a list of class names, or null when the run had none)")


def _check_video(video: dict, position: int, num_classes: int, path: str) -> None:
    video_id, label, probs = video["video_id"], video["label"], video["probs"]
    if not isinstance(video_id, str) or not video_id:
        raise DataError(f"{path}: video entry {position} has video_id {video_id!r}, expected a non-empty string")
    where = f"{path}: video {video_id!r}"
    if not _is_int(label) or not 0 <= label < num_classes:
        raise DataError(f"{where} has label {label!r}, expected an integer in [0, {num_classes})")
    pred = video.get("pred")
    if pred is not None and (not _is_int(pred) or not 0 <= pred < num_classes):
        raise DataError(f"{where} has pred {pred!r}, expected an integer in [0, {num_classes})")
    if not isinstance(probs, list):
        raise DataError(f"{where}: probs must be a list of {num_classes} numbers, got {type(probs).__name__}")
    if len(probs) != num_classes:
        raise DataError(f"{where} has {len(probs)} scores, expected num_classes = {num_classes}")
    bad = [p for p in probs if not (_is_number(p) and math.isfinite(p))]
    if bad:
        raise DataError(f"{where} has score {bad[0]!r}; scores must be finite numbers")
    negative = [p for p in probs if p < 0]
    if negative:
        raise DataError(f"{where} has score {negative[0]!r}; scores are softmax scores, never negative")


def _class_order(document: Mapping, reference: Mapping, name: str, ref_name: str) -> list[int] | None:
    """For each reference class, its index in `document` when both name their classes in a
    different order (None: same order); `DataError` when the names differ."""
    names, ref_names = document.get("classes"), reference.get("classes")
    if not names or not ref_names or names == ref_names:
        return None
    if set(names) != set(ref_names):
        example = sorted(set(names) ^ set(ref_names))[0]
        raise DataError(f"{name} and {ref_name} name different classes (e.g. {example!r} is in only one of them)")
    position = {class_name: index for index, class_name in enumerate(names)}
    logger.info("%s lists the classes of %s in another order: its scores are re-ordered", name, ref_name)
    return [position[class_name] for class_name in ref_names]


def _in_reference_order(document: Mapping, order: list[int] | None) -> list[dict]:
    """The videos of `document` with scores and labels in the reference's class order."""
    if order is None:
        return list(document["videos"])
    back = {old: new for new, old in enumerate(order)}
    return [{**video, "label": back[video["label"]], "probs": [video["probs"][old] for old in order],
             "pred": None if video.get("pred") is None else back[video["pred"]]} for video in document["videos"]]


def stored_probs(probs: torch.Tensor) -> list[float]:
    """A video's scores as a results file stores them (rounded to 6 decimals)."""
    return [round(p, _PROB_DECIMALS) for p in probs.tolist()]


def fuse_probs(probs: Sequence[Sequence[float]], weights: Sequence[float]) -> torch.Tensor:
    """One video's fused scores: the `weights`-weighted average of its streams' (stored) scores,
    in float64. `fuse_results` and two-stream prediction both fuse with it."""
    return sum(w * torch.tensor(p, dtype=torch.float64) for w, p in zip(weights, probs, strict=True)) / sum(weights)


def fuse_results(documents: Sequence[Mapping], weights: Sequence[float], names: Sequence[str]) -> dict:
    """Weighted average of the per-video scores of several results documents (two-stream fusion).

    Videos are matched by `video_id`; the fused prediction is the arg-max of the fused scores.
    Files that name the same classes in another order are re-ordered to the first file's.
    Raises `DataError` when class counts or names, video sets or labels differ (naming `names[i]`).
    Returns a results document whose `ensemble` records the inputs and weights.
    """
    if len(weights) != len(documents):
        raise DataError(f"{len(weights)} weights given for {len(documents)} results files")
    reference, ref_name = documents[0], names[0]
    for doc, name in zip(documents[1:], names[1:], strict=True):
        if doc["num_classes"] != reference["num_classes"]:
            raise DataError(
                f"{name} has {doc['num_classes']} classes but {ref_name} has {reference['num_classes']}"
            )
    by_id = [{v["video_id"]: v for v in _in_reference_order(doc, _class_order(doc, reference, name, ref_name))}
             for doc, name in zip(documents, names, strict=True)]
    for videos, name in zip(by_id[1:], names[1:], strict=True):
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
        probs = fuse_probs([v[video["video_id"]]["probs"] for v in by_id], weights)
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
    if not is_file(path):
        logger.warning("DATA.CLASS_NAMES_FILE %s not found; class indices are used instead", path)
        return None
    with open(local_copy(path, DataError), encoding="utf-8") as handle:
        names = [line.strip() for line in handle if line.strip()]
    if len(names) != num_classes:
        logger.warning(
            "DATA.CLASS_NAMES_FILE %s holds %d names but MODEL.NUM_CLASSES is %d; class indices are used",
            path, len(names), num_classes,
        )
        return None
    return names
