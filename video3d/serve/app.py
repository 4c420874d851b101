"""The HTTP API and the page of `video3d-serve` (Starlette; docs/SERVE.md).

    POST /v1/predict            multipart field `video` -> [predict.py --json entry]
    POST /v1/jobs               multipart field `video` -> {"id", ...} (202)
    GET  /v1/jobs/{id}[?since=N] state, progress, windows (windows.jsonl lines) from N on
    GET  /v1/jobs/{id}/annotated.mp4 | timeline.png | segments.json
    GET  /v1/model              classes, architecture, input shape, checkpoint checksum
    GET  /healthz               {"status": "ok", ...}
    GET  /                      the page (static/index.html, static/app.js)

Every refusal is a 4xx/5xx JSON `{"error": "<one line>"}`. At most `queue` requests and jobs
are admitted at once (waiting or running); the next gets 503 before its body is read.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from video3d.errors import DecodeError
from video3d.inference.stream import VideoStream
from video3d.serve.jobs import Job, JobsFull, JobStore
from video3d.serve.model import ServedModel
from video3d.serve.uploads import ClientGone, SavedUpload, UploadError, receive_upload

logger = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
_MEDIA_TYPES = {"annotated.mp4": "video/mp4", "timeline.png": "image/png", "segments.json": "application/json"}


@dataclass
class ServeSettings:
    """The server's bounds (the `video3d-serve` flags)."""

    max_upload_bytes: int = 500 * 2**20
    queue: int = 8
    work_dir: str | None = None  # None: a fresh temp folder, removed at shutdown
    max_jobs: int = 20
    job_ttl_s: float = 3600.0
    jobs_disk_bytes: int = 2 * 2**30
    gradcam: bool = False  # jobs draw each window's Grad-CAM into annotated.mp4


class Admission:
    """At most `limit` requests and jobs in the house; `try_enter` says no instead of waiting."""

    def __init__(self, limit: int):
        self.limit = limit
        self.inside = 0
        self._lock = threading.Lock()

    def try_enter(self) -> bool:
        with self._lock:
            if self.inside >= self.limit:
                return False
            self.inside += 1
            return True

    def leave(self) -> None:
        with self._lock:
            self.inside -= 1


def error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": " ".join(message.split())}, status_code=status)


def probe_video(path: str, shown_name: str) -> int:
    """The frame count the file declares (0: unknown), after decoding its first frame; a file
    that is no video, or whose first frame cannot be decoded, is a `DecodeError` naming `shown_name`."""
    try:
        with VideoStream(path) as stream:
            if next(iter(stream), None) is None:
                raise DecodeError(shown_name, stream.stopped or "no frame could be decoded")
            return stream.declared_frames
    except DecodeError as failure:
        raise DecodeError(shown_name, failure.reason.replace(path, shown_name)) from None


class VideoServer:
    """The state behind the routes: the model, the jobs, the admission count, the work folder."""

    def __init__(self, model: ServedModel, settings: ServeSettings):
        self.model = model
        self.settings = settings
        self._own_work_dir = settings.work_dir is None
        self.work_dir = settings.work_dir or tempfile.mkdtemp(prefix="video3d-serve-")
        self.uploads = os.path.join(self.work_dir, "uploads")
        shutil.rmtree(self.uploads, ignore_errors=True)  # a previous server's leftovers
        os.makedirs(self.uploads, exist_ok=True)
        self.admission = Admission(settings.queue)
        # Predictions run one after the other on one thread, whose memory is reused from request
        # to request: on Starlette's thread pool the RSS grew by ~660 MiB over 24 requests at
        # concurrency 8 (most likely one malloc arena per pool thread), here it stays flat.
        self.predict_thread = ThreadPoolExecutor(1, thread_name_prefix="predict")
        try:
            self.jobs = JobStore(os.path.join(self.work_dir, "jobs"), model, settings.max_jobs, settings.job_ttl_s,
                                 settings.jobs_disk_bytes, on_end=lambda job: self.admission.leave(),
                                 gradcam=settings.gradcam)
        except Exception:  # refused at start-up (Grad-CAM of an exported file): leave nothing behind
            self._remove_folders()
            raise

    def close(self) -> None:
        """Stop the jobs, then remove the work folder's uploads and jobs (all of it when the
        server made it)."""
        self.jobs.close()
        self.predict_thread.shutdown(wait=True, cancel_futures=True)
        self._remove_folders()

    def _remove_folders(self) -> None:
        shutil.rmtree(self.work_dir if self._own_work_dir else self.uploads, ignore_errors=True)
        if not self._own_work_dir:
            shutil.rmtree(os.path.join(self.work_dir, "jobs"), ignore_errors=True)

    async def _upload(self, request: Request) -> SavedUpload:
        return await receive_upload(request.stream(), request.headers.get("content-type"),
                                    request.headers.get("content-length"), self.uploads,
                                    self.settings.max_upload_bytes)

    # ------------------------------------------------------------------ routes
    async def predict(self, request: Request) -> Response:
        if not self.admission.try_enter():
            return error(503, f"busy: {self.settings.queue} requests and jobs are already queued (--queue); retry later")
        saved = None
        try:
            saved = await self._upload(request)
            entry, seconds, cpu_seconds = await asyncio.get_running_loop().run_in_executor(
                self.predict_thread, self.model.predict, saved.path, saved.name)
            if entry["error"] is not None:
                return error(422, f"{saved.name}: {entry['error']}")
            timing = f"predict;dur={seconds * 1000:.1f}, predict-cpu;dur={cpu_seconds * 1000:.1f}"
            return JSONResponse([entry], headers={"Server-Timing": timing})
        except UploadError as refused:
            return error(refused.status, refused.message)
        except ClientGone:
            return Response(status_code=499)  # nobody reads it; the partial file is gone
        finally:
            if saved is not None:
                with contextlib.suppress(FileNotFoundError):
                    os.remove(saved.path)
            self.admission.leave()

    async def submit_job(self, request: Request) -> Response:
        if not self.admission.try_enter():
            return error(503, f"busy: {self.settings.queue} requests and jobs are already queued (--queue); retry later")
        saved = None
        job: Job | None = None
        try:
            saved = await self._upload(request)
            frames = await run_in_threadpool(probe_video, saved.path, saved.name)
            job = self.jobs.submit(saved.path, saved.name, frames)
            return JSONResponse(job.as_json(), status_code=202, headers={"Location": f"/v1/jobs/{job.id}"})
        except UploadError as refused:
            return error(refused.status, refused.message)
        except DecodeError as failure:
            return error(422, str(failure))
        except JobsFull as full:
            return error(503, str(full))
        except ClientGone:
            return Response(status_code=499)
        finally:
            if job is None:  # not started: the job would have left the queue when it ended
                self.admission.leave()
                if saved is not None:
                    with contextlib.suppress(FileNotFoundError):
                        os.remove(saved.path)

    def _job(self, request: Request) -> Job:
        job = self.jobs.get(request.path_params["job_id"])
        if job is None:
            raise HTTPException(404, f"no job {request.path_params['job_id'][:64]!r} (unknown, or expired)")
        return job

    async def job_status(self, request: Request) -> Response:
        job = self._job(request)
        try:
            since = max(int(request.query_params.get("since", "0")), 0)
        except ValueError:
            return error(400, f"since must be a window index, got {request.query_params.get('since')!r}")
        return JSONResponse(job.as_json(since))

    async def job_file(self, request: Request) -> Response:
        job = self._job(request)
        name = request.path_params["name"]
        path = self.jobs.result_path(job, name)
        if path is None:
            if name not in _MEDIA_TYPES:
                return error(404, f"no file {name[:64]!r}: a job has {', '.join(_MEDIA_TYPES)}")
            return error(404, f"{name} of job {job.id} is not ready (state {job.state})")
        return FileResponse(path, media_type=_MEDIA_TYPES[name])

    async def model_info(self, request: Request) -> Response:
        return JSONResponse(self.model.info())

    async def health(self, request: Request) -> Response:
        return JSONResponse({"status": "ok", "queued": self.admission.inside, "queue": self.admission.limit,
                             "jobs_running": self.jobs.running()})

    async def page(self, request: Request) -> Response:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    async def script(self, request: Request) -> Response:
        return FileResponse(STATIC / "app.js", media_type="text/javascript")


async def _http_error(request: Request, exc: HTTPException) -> Response:
    return error(exc.status_code, str(exc.detail))


async def _internal_error(request: Request, exc: Exception) -> Response:
    logger.exception("%s %s failed", request.method, request.url.path)
    return error(500, f"internal error: {type(exc).__name__}")


def create_app(model: ServedModel, settings: ServeSettings | None = None) -> Starlette:
    """The Starlette app serving `model`; its `state.server` is the `VideoServer` (closed, with
    its work folder, when the app shuts down)."""
    server = VideoServer(model, settings or ServeSettings())

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        try:
            yield
        finally:
            server.close()

    routes = [
        Route("/", server.page),
        Route("/app.js", server.script),
        Route("/healthz", server.health),
        Route("/v1/model", server.model_info),
        Route("/v1/predict", server.predict, methods=["POST"]),
        Route("/v1/jobs", server.submit_job, methods=["POST"]),
        Route("/v1/jobs/{job_id}", server.job_status),
        Route("/v1/jobs/{job_id}/{name}", server.job_file),
    ]
    app = Starlette(routes=routes, lifespan=lifespan,
                    exception_handlers={HTTPException: _http_error, Exception: _internal_error})
    app.state.server = server
    return app
