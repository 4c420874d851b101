"""Lists, configs, checkpoints, results and class names read from http:// through iopath:
a server on 127.0.0.1 serves them; an unreachable URL is one line."""

import functools
import http.server
import socket
import threading
import time

import pytest
import torch

from video3d.config import get_cfg, load_config
from video3d.data.lists import kinetics_records
from video3d.engine import checkpoint as ckpt
from video3d.errors import CheckpointError, ConfigError, DataError
from video3d.evaluation.results import (
    VideoResult,
    load_class_names,
    load_results,
    results_to_dict,
    save_results,
    summarise,
)
from video3d.utils import paths


@pytest.fixture
def server(tmp_path, monkeypatch):
    """(base URL, served folder, list of requested paths) of an HTTP server on 127.0.0.1."""
    monkeypatch.setenv("FVCORE_CACHE", str(tmp_path / "cache"))
    served = tmp_path / "served"
    served.mkdir()
    requests = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def do_GET(self):
            requests.append(self.path)
            super().do_GET()

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(served)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", served, requests
    httpd.shutdown()
    httpd.server_close()


def test_a_checkpoint_url_is_fetched_once_into_the_iopath_cache(server, tmp_path):
    url, served, requests = server
    ckpt.save_checkpoint(str(served / "k400.pyth"), {"model_state": {"w": torch.arange(4.0)}, "epoch": 3})
    for _ in range(2):
        loaded = ckpt.load_checkpoint(f"{url}/k400.pyth")
        assert loaded["epoch"] == 3 and torch.equal(loaded["model_state"]["w"], torch.arange(4.0))
    assert requests == ["/k400.pyth"]
    assert any((tmp_path / "cache").rglob("k400.pyth"))


def test_a_list_config_results_and_class_names_over_http(server, tmp_path):
    url, served, _ = server
    (served / "lists").mkdir()
    (served / "lists" / "val.csv").write_text("a.mp4 1\nb c.mp4 0\n")
    (served / "classes.txt").write_text("left\nright\n")
    (served / "base.yaml").write_text("MODEL:\n  NUM_CLASSES: 2\n")
    (served / "run.yaml").write_text("_BASE_: base.yaml\nDATA:\n  PATH_PREFIX: /videos\n")
    cfg = load_config(f"{url}/run.yaml", ["DATA.PATH_TO_DATA_DIR", f"{url}/lists"])
    assert cfg.MODEL.NUM_CLASSES == 2
    records = kinetics_records(cfg, "val")
    assert [(r.path, r.label) for r in records] == [("/videos/a.mp4", 1), ("/videos/b c.mp4", 0)]
    assert load_class_names(f"{url}/classes.txt", 2) == ["left", "right"]
    result = VideoResult(0, "a", 1, torch.tensor([0.2, 0.8]), 1)
    save_results(str(served / "results.json"), results_to_dict([result], summarise([result], 1), 2))
    assert load_results(f"{url}/results.json")["videos"][0]["video_id"] == "a"


def test_an_unreachable_or_missing_url_is_one_line(server):
    url, _, _ = server
    dead = "http://127.0.0.1:9/nothing/here.pyth"  # port 9 (discard): nothing listens
    with pytest.raises(CheckpointError) as info:
        ckpt.load_checkpoint(dead)
    assert str(info.value).startswith(f"cannot fetch {dead}: ") and "\n" not in str(info.value)
    with pytest.raises(CheckpointError, match=f"cannot fetch {url}/gone.pyth: HTTP 404"):
        ckpt.load_checkpoint(f"{url}/gone.pyth")
    with pytest.raises(ConfigError, match=f"cannot fetch {url}/gone.yaml: HTTP 404"):
        load_config(f"{url}/gone.yaml", [])
    cfg = get_cfg()
    cfg.DATA.PATH_TO_DATA_DIR = "http://127.0.0.1:9/lists"
    with pytest.raises(DataError, match="cannot fetch http://127.0.0.1:9/lists/train.csv: "):
        kinetics_records(cfg, "train")


def _serve(folder, requests):
    class Handler(http.server.SimpleHTTPRequestHandler):
        def do_GET(self):
            requests.append(self.path)
            super().do_GET()

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(folder)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


def test_two_servers_serving_the_same_path_are_two_files(tmp_path, monkeypatch):
    """iopath's handler cached by URL path alone: the second server's file was the first's."""
    monkeypatch.setenv("FVCORE_CACHE", str(tmp_path / "cache"))
    servers, requests = [], [[], []]
    for i in range(2):
        folder = tmp_path / f"served{i}"
        folder.mkdir()
        ckpt.save_checkpoint(str(folder / "checkpoint_best.pyth"), {"model_state": {}, "epoch": i})
        servers.append(_serve(folder, requests[i]))
    try:
        urls = [f"http://127.0.0.1:{s.server_address[1]}/checkpoint_best.pyth" for s in servers]
        assert [ckpt.load_checkpoint(url)["epoch"] for url in urls] == [0, 1]
        assert ckpt.load_checkpoint(urls[0] + "?v=2")["epoch"] == 0
        assert requests == [["/checkpoint_best.pyth", "/checkpoint_best.pyth?v=2"], ["/checkpoint_best.pyth"]]
    finally:
        for httpd in servers:
            httpd.shutdown()
            httpd.server_close()


@pytest.fixture
def silent_server():
    """A TCP port on 127.0.0.1 whose connections are accepted (by the kernel) and never answered."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    yield listener.getsockname()[1]
    listener.close()


def test_a_server_that_never_answers_is_given_up_after_the_timeout(silent_server, tmp_path, monkeypatch):
    monkeypatch.setenv("FVCORE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(paths, "_timeout", [0.3])
    url = f"http://127.0.0.1:{silent_server}/checkpoint_best.pyth"
    started = time.monotonic()
    with pytest.raises(CheckpointError) as info:
        ckpt.load_checkpoint(url)
    assert time.monotonic() - started < 5
    assert str(info.value) == f"cannot fetch {url}: no answer in 0.3 s (NETWORK_TIMEOUT / --timeout)"
    with pytest.raises(ConfigError, match="no answer in 0.3 s"):
        load_config(f"http://127.0.0.1:{silent_server}/run.yaml", [])
    cfg = get_cfg()
    cfg.DATA.PATH_TO_DATA_DIR = f"http://127.0.0.1:{silent_server}/lists"
    with pytest.raises(DataError, match=f"cannot fetch http://127.0.0.1:{silent_server}/lists/train.csv: no answer"):
        kinetics_records(cfg, "train")
    assert not list((tmp_path / "cache").rglob("*.pyth")) and not list((tmp_path / "cache").rglob(".tmp-*"))


def test_fuse_scores_of_two_urls_that_differ_by_port_fuses_both_files(tmp_path, monkeypatch, capsys):
    """Before: the second URL was served from the first one's cached copy (fused with itself)."""
    from video3d.cli import fuse_scores

    monkeypatch.setenv("FVCORE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(paths, "_timeout", list(paths._timeout))  # --timeout sets it for the process
    servers = []
    for i, probs in enumerate(([0.9, 0.1], [0.2, 0.8])):
        folder = tmp_path / f"served{i}"
        folder.mkdir()
        result = VideoResult(0, "a", 0, torch.tensor(probs), int(torch.tensor(probs).argmax()))
        save_results(str(folder / "results.json"), results_to_dict([result], summarise([result], 1), 2))
        servers.append(_serve(folder, []))
    try:
        urls = [f"http://127.0.0.1:{s.server_address[1]}/results.json" for s in servers]
        assert fuse_scores.main([*urls, "--timeout", "5"]) == 0
        lines = capsys.readouterr().out.splitlines()
        assert "top-1 100.00%" in lines[0] and "top-1 0.00%" in lines[1]
    finally:
        for httpd in servers:
            httpd.shutdown()
            httpd.server_close()


def test_the_timeout_flag_applies_to_a_config_url_before_it_is_read(silent_server, tmp_path, monkeypatch, capsys):
    from video3d.cli import predict

    monkeypatch.setenv("FVCORE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(paths, "_timeout", list(paths._timeout))
    url = f"http://127.0.0.1:{silent_server}/run.yaml"
    started = time.monotonic()
    assert predict.main(["--cfg", url, "--checkpoint", "w.pyth", "--timeout", "0.3", "v.mp4"]) == 2
    assert time.monotonic() - started < 10
    assert capsys.readouterr().err == f"error: cannot fetch {url}: no answer in 0.3 s (NETWORK_TIMEOUT / --timeout)\n"
