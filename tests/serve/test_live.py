"""The server on a real socket (uvicorn on 127.0.0.1): the size limit refuses a body while it is
streaming, and clients that vanish mid-upload or mid-request leave no file behind."""

import json
import os
import select
import socket
import time

import pytest

pytestmark = pytest.mark.usefixtures("one_thread")

BOUNDARY = "video3dboundary"
PREAMBLE = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"video\"; filename=\"big.mp4\"\r\n"
            "Content-Type: video/mp4\r\n\r\n").encode()
EPILOGUE = f"\r\n--{BOUNDARY}--\r\n".encode()


def _request_head(url: str, length: int | None) -> bytes:
    size = f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked"
    return (f"POST {url} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
            f"{size}\r\n\r\n").encode()


def _read_response(sock: socket.socket) -> tuple[int, object]:
    """Status and JSON body of one response (read up to its Content-Length)."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return int(head.split()[1]), json.loads(body)


def _wait_until(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def _health(port: int) -> dict:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        return _read_response(sock)[1]


@pytest.mark.parametrize("url", ["/v1/predict", "/v1/jobs"])
def test_a_declared_length_over_the_limit_is_refused_before_the_body(live_app, url):
    app, live = live_app
    with socket.create_connection(("127.0.0.1", live.port), timeout=10) as sock:
        sock.sendall(_request_head(url, 50 * 2**20))  # 50 MiB announced, none sent
        status, body = _read_response(sock)
    assert status == 413 and "1 MiB limit" in body["error"]
    assert _health(live.port)["queued"] == 0


def test_a_streamed_body_is_refused_where_it_crosses_the_limit(live_app):
    app, live = live_app
    sent = 0
    answer = None
    with socket.create_connection(("127.0.0.1", live.port), timeout=10) as sock:
        sock.sendall(_request_head("/v1/predict", None))
        chunk = PREAMBLE + b"\0" * 65536
        try:
            while sent < 50 * 2**20 and answer is None:
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent += len(chunk)
                chunk = b"\0" * 65536
                if select.select([sock], [], [], 0.002)[0]:
                    answer = _read_response(sock)
        except (BrokenPipeError, ConnectionResetError):
            pass
        if answer is None:
            answer = _read_response(sock)
    assert answer[0] == 413 and "limit" in answer[1]["error"]
    assert sent < 4 * 2**20, f"{sent} bytes went in before the refusal (limit 1 MiB)"
    _wait_until(lambda: os.listdir(app.state.server.uploads) == [])
    assert _health(live.port)["queued"] == 0


@pytest.mark.parametrize("url", ["/v1/predict", "/v1/jobs"])
def test_an_upload_cut_mid_stream_leaves_no_file_and_the_server_serves_on(live_app, served_files, url):
    app, live = live_app
    video = open(served_files["video"], "rb").read()
    body = PREAMBLE + video + EPILOGUE
    with socket.create_connection(("127.0.0.1", live.port), timeout=10) as sock:
        sock.sendall(_request_head(url, len(body)) + body[:len(PREAMBLE) + len(video) // 2])
        _wait_until(lambda: os.listdir(app.state.server.uploads) != [])  # the partial file exists
    _wait_until(lambda: os.listdir(app.state.server.uploads) == [] and app.state.server.admission.inside == 0)
    assert os.listdir(app.state.server.jobs.root) == []
    assert _health(live.port)["status"] == "ok"


def test_a_client_gone_while_its_video_is_classified_leaves_no_file(live_app, served_files):
    app, live = live_app
    body = PREAMBLE + open(served_files["video"], "rb").read() + EPILOGUE
    for _ in range(3):
        with socket.create_connection(("127.0.0.1", live.port), timeout=10) as sock:
            sock.sendall(_request_head("/v1/predict", len(body)) + body)  # and leave without the answer
    _wait_until(lambda: app.state.server.admission.inside == 0)
    assert os.listdir(app.state.server.uploads) == []
    with socket.create_connection(("127.0.0.1", live.port), timeout=10) as sock:
        sock.sendall(_request_head("/v1/predict", len(body)) + body)
        status, answer = _read_response(sock)
    assert status == 200 and answer[0]["path"] == "big.mp4"
