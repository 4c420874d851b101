"""A resumable worker pool that writes one output folder per video.

Each video is written into `OUT_DIR/.partial/<id>/` and renamed to `OUT_DIR/<id>/` once
complete, so a finished folder is always whole. A new run removes `.partial/` (what a killed
run left half done), skips the ids whose folder exists and redoes the rest. A video that
fails is recorded in `OUT_DIR/failures.jsonl` as {"path", "video_id", "reason"} and the run
goes on. `OUT_DIR/.lock` keeps two runs from writing to the same folder at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing import get_context
from typing import Any

import cv2
from tqdm import tqdm

from data_prep.inputs import VideoTask
from video3d.errors import DataError, DecodeError
from video3d.utils.io import atomic_write_text

PARTIAL_DIR = ".partial"
FAILURES_FILE = "failures.jsonl"
MANIFEST_FILE = "manifest.json"

# work(video_path, folder_to_fill, options) -> units written (frames or flow pairs).
WorkFn = Callable[[str, str, Any], int]


@dataclass
class RunSummary:
    """Counts of one extraction run: videos in total, skipped (already done), done, failed."""
    total: int = 0
    skipped: int = 0
    done: int = 0
    failed: int = 0
    units: int = 0


def _init_worker() -> None:
    cv2.setNumThreads(1)  # parallel over videos, one core each (docs/ENVIRONMENT.md)


def _run_one(work: WorkFn, out_dir: str, options: Any, task: VideoTask) -> tuple[VideoTask, int, str | None]:
    partial = os.path.join(out_dir, PARTIAL_DIR, task.video_id)
    final = os.path.join(out_dir, task.video_id)
    shutil.rmtree(partial, ignore_errors=True)
    os.makedirs(partial)
    try:
        units = work(task.path, partial, options)
    except DecodeError as error:
        shutil.rmtree(partial, ignore_errors=True)
        return task, 0, error.reason
    except Exception as error:  # one bad video never stops the run; the reason is kept
        shutil.rmtree(partial, ignore_errors=True)
        return task, 0, f"{type(error).__name__}: {error}"
    os.makedirs(os.path.dirname(final), exist_ok=True)
    os.rename(partial, final)
    return task, units, None


def _results(work: WorkFn, out_dir: str, options: Any, tasks: list[VideoTask],
             workers: int) -> Iterator[tuple[VideoTask, int, str | None]]:
    job = functools.partial(_run_one, work, out_dir, options)
    if workers <= 1 or len(tasks) <= 1:
        _init_worker()
        yield from map(job, tasks)
        return
    with get_context().Pool(min(workers, len(tasks)), initializer=_init_worker) as pool:
        yield from pool.imap_unordered(job, tasks)


@contextlib.contextmanager
def _exclusive(out_dir: str) -> Iterator[None]:
    with open(os.path.join(out_dir, ".lock"), "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DataError(f"{out_dir}: another run is writing to this folder") from None
        yield


def check_manifest(out_dir: str, manifest: dict) -> None:
    """Refuse to mix outputs made with other settings; write the manifest for a new folder."""
    path = os.path.join(out_dir, MANIFEST_FILE)
    if os.path.exists(path):
        with open(path, encoding="utf-8") as handle:
            old = json.load(handle)
        if old != manifest:
            changed = sorted(k for k in set(old) | set(manifest) if old.get(k) != manifest.get(k))
            raise DataError(f"{path}: the folder was made with other settings ({', '.join(changed)}); "
                            f"use another OUT_DIR or remove it")
        return
    atomic_write_text(path, json.dumps(manifest, indent=1, sort_keys=True) + "\n")


def run_videos(tasks: list[VideoTask], out_dir: str, work: WorkFn, options: Any, workers: int,
               unit: str, manifest: dict, progress: bool = True) -> RunSummary:
    """Run `work` on every video whose output folder is missing; see the module docstring."""
    os.makedirs(out_dir, exist_ok=True)
    summary = RunSummary(total=len(tasks))
    with _exclusive(out_dir):
        check_manifest(out_dir, manifest)
        shutil.rmtree(os.path.join(out_dir, PARTIAL_DIR), ignore_errors=True)
        pending = [t for t in tasks if not os.path.isdir(os.path.join(out_dir, t.video_id))]
        summary.skipped = len(tasks) - len(pending)
        start = time.monotonic()
        with open(os.path.join(out_dir, FAILURES_FILE), "w", encoding="utf-8") as failures, \
                tqdm(total=len(pending), unit="video", disable=not progress, dynamic_ncols=True) as bar:
            for task, units, reason in _results(work, out_dir, options, pending, workers):
                if reason is None:
                    summary.done += 1
                    summary.units += units
                else:
                    summary.failed += 1
                    failures.write(json.dumps({"path": task.path, "video_id": task.video_id, "reason": reason}) + "\n")
                    failures.flush()
                bar.update(1)
                elapsed = max(time.monotonic() - start, 1e-9)
                bar.set_postfix_str(f"{summary.units / elapsed:.1f} {unit}/s, {summary.failed} failed", refresh=False)
        shutil.rmtree(os.path.join(out_dir, PARTIAL_DIR), ignore_errors=True)
    return summary


def report(summary: RunSummary, out_dir: str, unit: str) -> int:
    """Print the one-line outcome; exit code 0 when nothing failed, else 1."""
    line = (f"{summary.done} videos written ({summary.units} {unit}), {summary.skipped} already done, "
            f"{summary.failed} failed")
    if summary.failed:
        line += f" (see {os.path.join(out_dir, FAILURES_FILE)})"
    print(line)
    return 1 if summary.failed else 0
