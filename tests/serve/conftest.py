"""A tiny served model (random weights of the demo config at 32 px), SynthMotion videos, and
the server both in-process (TestClient) and live on 127.0.0.1 (uvicorn in a thread)."""

import socket
import threading
import time

import pytest
import torch
from starlette.testclient import TestClient

from tests.inference.conftest import DEMO, TINY, write_faststart_video, write_video
from video3d.config import load_config
from video3d.models import build_model
from video3d.serve.app import ServeSettings, create_app
from video3d.serve.model import ServedModel

NAMES = ["move_left", "move_right", "move_up", "move_down", "rotate_clockwise",
         "rotate_counterclockwise", "grow", "shrink"]


@pytest.fixture(scope="session")
def served_files(tmp_path_factory):
    """Config overrides, a checkpoint and videos on disk, shared by the serve tests."""
    root = tmp_path_factory.mktemp("serve")
    names = root / "classnames.txt"
    names.write_text("".join(f"{n}\n" for n in NAMES))
    opts = [*TINY, "DATA.CLASS_NAMES_FILE", str(names)]
    cfg = load_config(DEMO, opts)
    torch.manual_seed(0)
    checkpoint = root / "weights.pyth"
    torch.save({"model_state": build_model(cfg).state_dict()}, checkpoint)
    return {"root": root, "opts": opts, "cfg": cfg, "checkpoint": str(checkpoint), "names": NAMES,
            "video": write_video(root / "clip.mp4", 24, label=2, seed=3),
            "long_video": write_video(root / "long.mp4", 40, label=6, seed=4),
            "faststart": write_faststart_video(root / "fast.mp4", 24)}


@pytest.fixture(scope="session")
def served_model(served_files):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield ServedModel.load(served_files["cfg"], served_files["checkpoint"])
    torch.set_num_threads(threads)


def make_client(model, tmp_path, **bounds) -> TestClient:
    return TestClient(create_app(model, ServeSettings(work_dir=str(tmp_path / "work"), **bounds)))


def wait_for_job(client, job_id: str, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = client.get(f"/v1/jobs/{job_id}").json()
        if status["state"] in ("done", "failed"):
            return status
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish in {timeout} s")


class LiveServer:
    """The app under uvicorn on 127.0.0.1 in a thread, for what needs real sockets (streamed
    limits, cut uploads)."""

    def __init__(self, app):
        import uvicorn

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self):
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture
def live_app(served_model, tmp_path):
    app = create_app(served_model, ServeSettings(work_dir=str(tmp_path / "work"), max_upload_bytes=2**20))
    with LiveServer(app) as live:
        yield app, live
