"""--checkpoint URL in predict, demo, export and visualize (served from 127.0.0.1), and export
--out in a folder that cannot be written: one line, nothing left behind."""

import functools
import http.server
import json
import threading

import pytest
import torch

from tests.inference.conftest import DEMO, TINY, write_video
from video3d.cli import demo, export, predict, visualize
from video3d.config import load_config
from video3d.models import build_model

OPTS = [*TINY, "DATA.CLASS_NAMES_FILE", ""]  # the names stored in the served checkpoint


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("remote_ckpt")
    cfg = load_config(DEMO, OPTS)
    torch.manual_seed(0)
    torch.save({"model_state": build_model(cfg).state_dict(), "class_names": [f"c{k}" for k in range(8)]},
               root / "weights.pyth")
    video = write_video(root / "clip.mp4", 24)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *args: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}/weights.pyth", video
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("FVCORE_CACHE", str(tmp_path / "cache"))


def _predict(checkpoint, video, capsys):
    assert predict.main(["--cfg", DEMO, "--checkpoint", checkpoint, "--json", video, *OPTS]) == 0
    return json.loads(capsys.readouterr().out)[0]


def test_predict_and_demo_take_a_checkpoint_url(served, tmp_path, capsys):
    root, url, video = served
    local = _predict(str(root / "weights.pyth"), video, capsys)
    remote = _predict(url, video, capsys)  # before: "model file not found: http://..."
    assert remote["top5"] == local["top5"] and remote["top5"][0]["name"].startswith("c")
    assert demo.main(["--cfg", DEMO, "--checkpoint", url, "--out", str(tmp_path / "demo"), video, *OPTS]) == 0
    assert (tmp_path / "demo" / "windows.jsonl").read_text().count("\n") == 5


def test_export_and_visualize_take_a_checkpoint_url(served, tmp_path, capsys, monkeypatch):
    root, url, video = served
    monkeypatch.chdir(tmp_path)
    assert export.main(["--cfg", DEMO, "--checkpoint", url, "--format", "torchscript", *OPTS]) == 0
    assert "ok" in capsys.readouterr().out and (tmp_path / "weights.torchscript.pt").is_file()
    assert visualize.main(["gradcam", "--cfg", DEMO, "--checkpoint", url, "--out", str(tmp_path / "vis"),
                           video, *OPTS]) == 0
    assert any((tmp_path / "vis").iterdir())


def test_export_into_a_folder_that_cannot_be_written_is_one_line(served, tmp_path, capsys):
    root, _, _ = served
    (tmp_path / "a file").write_text("x")
    out = tmp_path / "a file" / "m.onnx"  # its folder is a file: cannot be created
    assert export.main(["--cfg", DEMO, "--checkpoint", str(root / "weights.pyth"), "--format", "onnx",
                        "--out", str(out), *OPTS]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [f"error: cannot write {out}: part of its folder path is a file, not a folder"]
    assert (tmp_path / "a file").read_text() == "x"
