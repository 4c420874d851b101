"""A resumable worker pool that writes one output folder per video.

Each video is written into `OUT_DIR/.partial/<id>/` and renamed to `OUT_DIR/<id>/` once
complete, so a finished folder is always whole. A new run removes `.partial/` (what a killed
run left half done), skips the ids whose folder exists and redoes the rest. A video that
fails is recorded in `OUT_DIR/failures.jsonl` as {"path", "video_id", "reason"} and the run
goes on. `OUT_DIR/.lock` keeps two runs from writing to the same folder at once.

A tool whose output per video is one file (resize_videos) passes `suffix`: the video's output
is then `OUT_DIR/<id><suffix>`, written as `OUT_DIR/.partial/<id><suffix>` first.

A full disk (ENOSPC, or a quota: EDQUOT) stops the run at once with one line naming OUT_DIR
(a DataError), instead of one failure per remaining video; rerunning resumes.

A sharded run (data_prep/shards.py) works only on its share of the videos, in its own
`.partial/shard-K-of-N/`, logs to its own `failures.shard-K-of-N.jsonl`, and holds `.lock`
shared with the other shards (plus its own shard lock), so N shards run at once into one
folder while an unsharded run still excludes them all. An unsharded run covers every video,
so it replaces the shards' failure logs and records with its own `failures.jsonl`.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import glob
import json
import os
import shutil
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing import get_context
from typing import Any

import cv2
import torch
from tqdm import tqdm

from data_prep.inputs import VideoTask
from data_prep.shards import SHARDS_DIR, Shard, failures_name
from video3d.errors import DataError, DecodeError
from video3d.utils.io import atomic_write_text, is_disk_full

PARTIAL_DIR = ".partial"
FAILURES_FILE = "failures.jsonl"
MANIFEST_FILE = "manifest.json"

# work(video_path, folder_to_fill, options) -> units written (frames or flow pairs); with a
# `suffix`, work(video_path, file_to_write, options).
WorkFn = Callable[[str, str, Any], int]


@dataclass
class RunSummary:
    """Counts of one extraction run: videos in total, skipped (already done), done, failed."""
    total: int = 0
    skipped: int = 0
    done: int = 0
    failed: int = 0
    units: int = 0


PARENT_POLL_SECONDS = 0.5  # how soon a worker notices that its parent is gone


def _init_worker() -> None:
    cv2.setNumThreads(1)  # parallel over videos, one core each (docs/ENVIRONMENT.md)
    torch.set_num_threads(1)


@contextlib.contextmanager
def opencv_quiet_for_fork() -> Iterator[None]:
    """OpenCV's thread pool does not survive fork(): a child that touches it (setNumThreads,
    any parallel cv2 call) can wait forever on a condition variable whose waiters were the
    parent's pool threads. Shrinking the parent's pool to one thread (no worker threads) before
    forking and restoring it afterwards gives the children a clean pool."""
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        yield
    finally:
        cv2.setNumThreads(threads)


def _init_pool_worker() -> None:
    _init_worker()
    # Ctrl-C reaches the whole process group: the parent stops the pool and cleans up; a
    # worker interrupted mid-video would only print a KeyboardInterrupt traceback. SIGTERM is
    # how the parent's pool stops workers: the default action, not the parent's handler.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    parent = os.getppid()
    threading.Thread(target=_exit_when_orphaned, args=(parent,), daemon=True).start()


def _exit_when_orphaned(parent: int) -> None:
    """Stop this worker quietly once the parent that handed out the videos is gone (killed):
    finishing the current video would only end in BrokenPipeError tracebacks. Its half-written
    folder stays in .partial/, which the next run removes."""
    while os.getppid() == parent:
        time.sleep(PARENT_POLL_SECONDS)
    os._exit(0)


def caused_by_full_disk(error: BaseException | None) -> bool:
    """True when `error`, or an error it was raised from, says the disk (or quota) is full."""
    while error is not None:
        if is_disk_full(error):
            return True
        error = error.__cause__ or error.__context__
    return False


def disk_full_error(out_dir: str) -> DataError:
    return DataError(f"{out_dir}: disk full (no space left on device); stopped. "
                     f"Free space and rerun the same command: finished videos are kept")


def _output_path(root: str, task: VideoTask, suffix: str) -> str:
    return os.path.join(root, task.video_id + suffix)


def _remove(path: str) -> None:
    if os.path.isdir(path):
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.lexists(path):
        os.remove(path)


def _run_one(work: WorkFn, out_dir: str, partial_root: str, options: Any, suffix: str,
             task: VideoTask) -> tuple[VideoTask, int, str | None]:
    partial = _output_path(partial_root, task, suffix)
    final = _output_path(out_dir, task, suffix)
    try:
        _remove(partial)
        os.makedirs(os.path.dirname(partial) if suffix else partial, exist_ok=True)
        units = work(task.path, partial, options)
    except Exception as error:  # one bad video never stops the run (a full disk does); the reason is kept
        _remove(partial)
        if caused_by_full_disk(error):
            raise disk_full_error(out_dir) from None
        return task, 0, error.reason if isinstance(error, DecodeError) else f"{type(error).__name__}: {error}"
    os.makedirs(os.path.dirname(final), exist_ok=True)
    os.rename(partial, final)
    return task, units, None


def _results(work: WorkFn, out_dir: str, partial_root: str, options: Any, tasks: list[VideoTask],
             workers: int, suffix: str = "") -> Iterator[tuple[VideoTask, int, str | None]]:
    job = functools.partial(_run_one, work, out_dir, partial_root, options, suffix)
    if workers <= 1 or len(tasks) <= 1:
        _init_worker()
        yield from map(job, tasks)
        return
    with opencv_quiet_for_fork(), get_context().Pool(min(workers, len(tasks)), initializer=_init_pool_worker) as pool:
        yield from pool.imap_unordered(job, tasks)


@contextlib.contextmanager
def locked(out_dir: str, shard: Shard | None = None) -> Iterator[None]:
    """Exclusive use of OUT_DIR, or for a shard: shared with other shards, exclusive of its own."""
    with contextlib.ExitStack() as stack:
        handle = stack.enter_context(open(os.path.join(out_dir, ".lock"), "a"))
        try:
            fcntl.flock(handle, (fcntl.LOCK_EX if shard is None else fcntl.LOCK_SH) | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DataError(f"{out_dir}: another run is writing to this folder") from None
        if shard is not None:
            own = stack.enter_context(open(os.path.join(out_dir, f".lock.shard-{shard.name}"), "a"))
            try:
                fcntl.flock(own, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise DataError(f"{out_dir}: shard {shard.name} is already running into this folder") from None
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


def _record_shard(out_dir: str, shard: Shard, tasks: list[VideoTask], suffix: str = "") -> None:
    os.makedirs(os.path.join(out_dir, SHARDS_DIR), exist_ok=True)
    record = {"shard": shard.index, "num_shards": shard.count, "videos": [t.video_id for t in tasks],
              "paths": [t.path for t in tasks], "suffix": suffix}
    atomic_write_text(os.path.join(out_dir, SHARDS_DIR, f"{shard.name}.json"), json.dumps(record) + "\n")


def _drop_shard_records(out_dir: str) -> None:
    """An unsharded run saw every video: the shards' logs and records are out of date."""
    for path in glob.glob(os.path.join(glob.escape(out_dir), "failures.shard-*.jsonl")):
        os.remove(path)
    for path in glob.glob(os.path.join(glob.escape(out_dir), ".lock.shard-*")):
        os.remove(path)
    shutil.rmtree(os.path.join(out_dir, SHARDS_DIR), ignore_errors=True)


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """`kill PID` (SIGTERM) stops the run as Ctrl-C does: workers stopped, `.partial/` removed,
    "interrupted" (the CLI wrapper), instead of dying with half-written folders left."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_videos(tasks: list[VideoTask], out_dir: str, work: WorkFn, options: Any, workers: int,
               unit: str, manifest: dict, progress: bool = True, shard: Shard | None = None,
               suffix: str = "") -> RunSummary:
    """Run `work` on every video (of `shard`'s share) whose output folder (or, with `suffix`,
    output file) is missing; see the module docstring."""
    try:
        os.makedirs(out_dir, exist_ok=True)
        with _terminate_as_interrupt():
            return _run_videos(tasks, out_dir, work, options, workers, unit, manifest, progress, shard, suffix)
    except OSError as error:
        if caused_by_full_disk(error):  # the manifest, a shard record or the failure log could not be written
            raise disk_full_error(out_dir) from None
        raise


def _run_videos(tasks: list[VideoTask], out_dir: str, work: WorkFn, options: Any, workers: int,
                unit: str, manifest: dict, progress: bool, shard: Shard | None, suffix: str) -> RunSummary:
    if shard is not None:
        tasks = shard.select(tasks)
    summary = RunSummary(total=len(tasks))
    done = os.path.isfile if suffix else os.path.isdir
    with locked(out_dir, shard):
        check_manifest(out_dir, manifest)
        partial_root = os.path.join(out_dir, PARTIAL_DIR)
        if shard is not None:
            partial_root = os.path.join(partial_root, f"shard-{shard.name}")
            _record_shard(out_dir, shard, tasks, suffix)
        shutil.rmtree(partial_root, ignore_errors=True)
        pending = [t for t in tasks if not done(_output_path(out_dir, t, suffix))]
        summary.skipped = len(tasks) - len(pending)
        start = time.monotonic()
        try:
            with open(os.path.join(out_dir, failures_name(shard)), "w", encoding="utf-8") as failures, \
                    tqdm(total=len(pending), unit="video", disable=not progress, dynamic_ncols=True) as bar:
                for task, units, reason in _results(work, out_dir, partial_root, options, pending, workers, suffix):
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
        finally:  # also after a full disk or an interrupt: what was half written frees its space
            shutil.rmtree(partial_root, ignore_errors=True)
            with contextlib.suppress(OSError):  # a shard's: .partial/ itself, unless another shard uses it
                os.rmdir(os.path.join(out_dir, PARTIAL_DIR))
        if shard is None:
            _drop_shard_records(out_dir)
    return summary


def report(summary: RunSummary, out_dir: str, unit: str, shard: Shard | None = None) -> int:
    """Print the one-line outcome; exit code 0 when nothing failed, else 1."""
    line = (f"{summary.done} videos written ({summary.units} {unit}), {summary.skipped} already done, "
            f"{summary.failed} failed")
    if shard is not None:
        line = f"shard {shard.name}: " + line
    if summary.failed:
        line += f" (see {os.path.join(out_dir, failures_name(shard))})"
    print(line)
    return 1 if summary.failed else 0
