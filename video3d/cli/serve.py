"""Serve a trained model over HTTP with a web page (console script `video3d-serve`, or tools/serve.py).

    video3d-serve --cfg FILE --checkpoint CKPT|MODEL.onnx|MODEL.pt [--host 127.0.0.1] [--port 8000]
                  [--max-upload-mb 500] [--queue 8] [--gradcam] [KEY VALUE ...]

Open http://HOST:PORT/ and drop a video: it is uploaded as a job, the model's windows slide over
it as in video3d-demo, and the page plays the annotated video with its label timeline and each
window's top-5. The API (docs/SERVE.md) answers in the shapes of `video3d-predict --json` and
the demo's windows.jsonl:

  POST /v1/predict   a short video -> its top-5 (multi-view test protocol, as video3d-predict)
  POST /v1/jobs      a long video -> a job; GET /v1/jobs/ID for progress and windows, and
                     /v1/jobs/ID/annotated.mp4, timeline.png, segments.json for the results
  GET  /v1/model     classes, architecture, input shape, checkpoint checksum
  GET  /healthz

It binds 127.0.0.1 unless --host says otherwise (there is no authentication). Uploads go to a
work folder (--work-dir, default a temp folder removed at exit) under a generated name; past
--queue requests and jobs at once the answer is 503. Finished jobs are kept --job-ttl seconds,
at most --max-jobs of them and --jobs-disk-mb of files. With --gradcam the annotated video
shows each window's Grad-CAM (as video3d-demo --gradcam). Needs the `serve` extra
(pip install -e ".[serve]": starlette, uvicorn, python-multipart). Decoding runs in the request's
thread (DATA_LOADER.NUM_WORKERS is set to 0: no worker processes are forked per request).
"""

from __future__ import annotations

import socket

import torch

from video3d.cli.base import (
    command,
    config_parser,
    load_cfg,
    parse_config_args,
    positive_int,
    split_overrides,
)
from video3d.errors import ConfigError


def _serve_modules():
    """The optional web stack, or a one-line error saying how to install it."""
    try:
        import uvicorn

        from video3d.serve.app import ServeSettings, create_app
        from video3d.serve.model import ServedModel
    except ImportError as missing:
        raise ConfigError(f"video3d-serve needs {missing.name}: pip install -e \".[serve]\" "
                          "(starlette, uvicorn, python-multipart)") from None
    return uvicorn, ServeSettings, create_app, ServedModel


def _bind(host: str, port: int) -> socket.socket:
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as error:
        raise ConfigError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    return sock


@command
def main(argv: list[str]) -> int:
    """Serve until interrupted (Ctrl-C exits 130 after removing the work folder)."""
    parser = config_parser(__doc__)
    parser.add_argument("--checkpoint", required=True, help="checkpoint (.pyth), ONNX (.onnx) or TorchScript file")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000; 0: any free port, printed)")
    parser.add_argument("--max-upload-mb", type=positive_int, default=500, help="largest upload in MiB (default 500)")
    parser.add_argument("--queue", type=positive_int, default=8,
                        help="requests and jobs admitted at once, waiting or running (default 8); the next get 503")
    parser.add_argument("--work-dir", default=None, help="folder for uploads and job results (default: a temp folder)")
    parser.add_argument("--max-jobs", type=positive_int, default=20, help="finished jobs kept (default 20)")
    parser.add_argument("--job-ttl", type=positive_int, default=3600, help="seconds a finished job is kept (default 3600)")
    parser.add_argument("--jobs-disk-mb", type=positive_int, default=2048, help="disk for job files in MiB (default 2048)")
    parser.add_argument("--threads", type=positive_int, default=None, help="CPU threads per forward (default: torch's)")
    parser.add_argument("--gradcam", action="store_true",
                        help="jobs draw each window's Grad-CAM into annotated.mp4, as video3d-demo --gradcam "
                             "(a .pyth checkpoint of an RGB model; a forward and a backward per window)")
    args, rest = parse_config_args(parser, argv)
    positionals, overrides = split_overrides(rest)
    if positionals:
        parser.error(f"unexpected arguments {' '.join(positionals)} (config overrides are KEY VALUE pairs)")
    uvicorn, ServeSettings, create_app, ServedModel = _serve_modules()
    cfg = load_cfg(args, [*overrides, "DATA_LOADER.NUM_WORKERS", "0"])
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    model = ServedModel.load(cfg, args.checkpoint)
    settings = ServeSettings(max_upload_bytes=args.max_upload_mb * 2**20, queue=args.queue, work_dir=args.work_dir,
                             max_jobs=args.max_jobs, job_ttl_s=float(args.job_ttl),
                             jobs_disk_bytes=args.jobs_disk_mb * 2**20, gradcam=args.gradcam)
    sock = _bind(args.host, args.port)
    app = create_app(model, settings)
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    print(f"serving {cfg.MODEL.MODEL_NAME} on http://{shown}:{port}/ (work folder {app.state.server.work_dir})",
          flush=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=5))
    server.run(sockets=[sock])
    return 0
