"""Long-video jobs: the demo's sliding windows (`LongVideoDemo`) run in a background thread per
job, their windows visible while it runs, their files kept for a bounded time, count and disk.

A job folder holds annotated.mp4, windows.jsonl, timeline.png and segments.json (the demo's
outputs) once it is done; the uploaded video is deleted as soon as the job ends, so only those
results count against the disk budget. Finished jobs are dropped, oldest first, when they are
older than `ttl_s`, when there would be more than `max_jobs`, or when the folders would pass
`max_disk_bytes`; a job still running is never dropped.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from video3d.errors import Video3DError
from video3d.inference.long_video import ANNOTATED, TIMELINE, LongVideoDemo, WindowResult
from video3d.inference.segments import SEGMENTS_JSON
from video3d.serve.model import ServedModel
from video3d.utils.precision import with_inference_precision
from video3d.visualize.gradcam import default_layer, window_explainer

logger = logging.getLogger(__name__)

RESULT_FILES = (ANNOTATED, TIMELINE, SEGMENTS_JSON)
_JOB_ID = re.compile(r"^[0-9a-f]{32}$")


class JobsFull(Exception):
    """No room for another job: every kept job is still running, or the disk budget is spent."""


class ServerClosing(Exception):
    """Raised inside a running job when the server shuts down: the job stops at its next window."""


@dataclass
class Job:
    """One long-video job. `state`: queued, running, done or failed (`error` says why)."""

    id: str
    source: str
    folder: str
    frames_total: int
    created: float = field(default_factory=time.time)
    state: str = "queued"
    frames_done: int = 0
    windows: list[dict] = field(default_factory=list)
    prediction: dict | None = None
    error: str | None = None
    finished: float | None = None

    @property
    def ended(self) -> bool:
        return self.state in ("done", "failed")

    def progress(self) -> float:
        if self.state == "done":
            return 1.0
        return min(self.frames_done / self.frames_total, 1.0) if self.frames_total > 0 else 0.0

    def as_json(self, since: int = 0) -> dict:
        """GET /v1/jobs/{id}: state, progress, the windows from index `since` on, and when done the
        video-level prediction and the result files' addresses."""
        answer = {"id": self.id, "state": self.state, "source": self.source, "progress": round(self.progress(), 4),
                  "frames_done": self.frames_done, "frames_total": self.frames_total,
                  "windows_total": len(self.windows), "windows": self.windows[since:],
                  "prediction": self.prediction, "error": self.error}
        if self.state == "done":
            answer["files"] = {name: f"/v1/jobs/{self.id}/{name}" for name in RESULT_FILES
                               if os.path.isfile(os.path.join(self.folder, name))}
        return answer


def folder_bytes(path: str) -> int:
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            with contextlib.suppress(FileNotFoundError):
                total += os.path.getsize(os.path.join(root, name))
    return total


class JobProgress:
    """The demo's progress hook (`video3d.inference.progress.DemoProgress`'s methods) counting
    into the job: frames done of the frames the input's header announces."""

    def __init__(self, job: Job):
        self.job = job

    def start(self, total_frames: int, fps: float) -> None:
        self.job.frames_total = max(int(total_frames), 0) or self.job.frames_total

    def update(self, frames: int, windows: int) -> None:
        self.job.frames_done = frames

    def close(self) -> None:
        pass


class JobStore:
    """Creates, runs, finds and forgets jobs under `root` (one folder per job)."""

    def __init__(self, root: str, model: ServedModel, max_jobs: int = 20, ttl_s: float = 3600.0,
                 max_disk_bytes: int = 2 * 2**30, on_end: Callable[[Job], None] | None = None,
                 gradcam: bool = False):
        self.root = root
        self.model = model
        self.gradcam = gradcam
        self._demo()  # a model the demo refuses (Grad-CAM of an exported file) is refused at start-up
        self.max_jobs = max_jobs
        self.ttl_s = ttl_s
        self.max_disk_bytes = max_disk_bytes
        self.on_end = on_end
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._closing = threading.Event()
        os.makedirs(root, exist_ok=True)

    # ------------------------------------------------------------------ lookup
    def get(self, job_id: str) -> Job | None:
        """The job, or None for an unknown (or malformed, or expired) id."""
        self.prune()
        if not _JOB_ID.match(job_id):
            return None
        with self._lock:
            return self._jobs.get(job_id)

    def result_path(self, job: Job, name: str) -> str | None:
        """The path of one of the job's RESULT_FILES, None for any other name or a missing file."""
        if name not in RESULT_FILES:
            return None
        path = os.path.join(job.folder, name)
        return path if os.path.isfile(path) else None

    # ------------------------------------------------------------------ retention
    def prune(self, room_for_bytes: int = 0, room_for_jobs: int = 0) -> None:
        """Drop finished jobs, oldest first: expired ones, then as many as needed to keep
        `room_for_jobs` more jobs and `room_for_bytes` more bytes within the bounds."""
        now = time.time()
        with self._lock:
            finished = sorted((j for j in self._jobs.values() if j.ended), key=lambda j: j.finished or 0.0)
            for job in finished:
                over_count = len(self._jobs) + room_for_jobs > self.max_jobs
                expired = now - (job.finished or now) > self.ttl_s
                over_disk = room_for_bytes and self._used_bytes() + room_for_bytes > self.max_disk_bytes
                if not (expired or over_count or over_disk):
                    continue
                self._forget(job)

    def _used_bytes(self) -> int:
        return sum(folder_bytes(job.folder) for job in self._jobs.values())

    def _forget(self, job: Job) -> None:
        self._jobs.pop(job.id, None)
        shutil.rmtree(job.folder, ignore_errors=True)
        logger.info("job %s dropped", job.id)

    # ------------------------------------------------------------------ running
    def submit(self, upload_path: str, source: str, frames_total: int) -> Job:
        """Start a job on the uploaded file (moved into the job's folder, deleted when the job
        ends). Raises `JobsFull` when no finished job can make room."""
        size = os.path.getsize(upload_path)
        self.prune(room_for_bytes=size, room_for_jobs=1)
        with self._lock:
            if len(self._jobs) >= self.max_jobs:
                raise JobsFull(f"{len(self._jobs)} jobs are kept and none can be dropped yet (--max-jobs {self.max_jobs})")
            if self._used_bytes() + size > self.max_disk_bytes:
                raise JobsFull(f"job storage is full ({self.max_disk_bytes // 2**20} MiB, --jobs-disk-mb)")
            job_id = uuid.uuid4().hex
            job = Job(job_id, source, os.path.join(self.root, job_id), frames_total)
            os.makedirs(job.folder)
            video = os.path.join(job.folder, "input" + os.path.splitext(upload_path)[1])
            os.replace(upload_path, video)
            self._jobs[job.id] = job
        thread = threading.Thread(target=self._run, args=(job, video), name=f"job-{job.id[:8]}", daemon=True)
        self._threads.append(thread)
        thread.start()
        return job

    def _run(self, job: Job, video: str) -> None:
        job.state = "running"

        def on_window(result: WindowResult) -> None:
            if self._closing.is_set():
                raise ServerClosing()
            job.windows.append(result.as_json(self.model.names, 5))

        try:
            report = self._demo(on_window, JobProgress(job)).run(video, job.folder)
            if report.stopped:
                raise Video3DError(f"{job.source}: {report.stopped.replace(video, job.source)}")
            job.prediction = self.model.predict(video, job.source)[0]
            job.state = "done"
        except Video3DError as error:
            job.error = str(error).replace(video, job.source)
            job.state = "failed"
        except ServerClosing:
            job.error = "the server shut down"
            job.state = "failed"
        except Exception as error:  # a bug: the server keeps serving, the job says so
            logger.exception("job %s failed", job.id)
            job.error = f"internal error: {type(error).__name__}"
            job.state = "failed"
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.remove(video)
            job.finished = time.time()
            if self.on_end is not None:
                self.on_end(job)

    def _demo(self, on_window: Callable[[WindowResult], None] | None = None,
              progress: JobProgress | None = None) -> LongVideoDemo:
        """The demo a job runs, as video3d-demo builds it: TEST.MIXED_PRECISION, or with
        `gradcam` each window's Grad-CAM drawn in float32 at the last stage."""
        runner, cfg = self.model.runner, self.model.cfg
        layer = f"runner.{default_layer(runner.runner)}" if self.gradcam and runner.kind is None else None
        model = runner if self.gradcam else with_inference_precision(runner, cfg)
        explain = window_explainer(layer, cfg.FFC.TEST_ENSEMBLE) if self.gradcam else None
        return LongVideoDemo(cfg, model, self.model.names, on_window=on_window, progress=progress, explain=explain)

    def wait(self, timeout: float | None = None) -> None:
        """Join the job threads."""
        for thread in list(self._threads):
            thread.join(timeout)

    def close(self, timeout: float = 30.0) -> None:
        """Stop the running jobs at their next window and wait for them (server shutdown)."""
        self._closing.set()
        self.wait(timeout)

    def running(self) -> int:
        with self._lock:
            return sum(not job.ended for job in self._jobs.values())
