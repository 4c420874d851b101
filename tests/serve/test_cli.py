"""video3d-serve's command line: user errors are one line and exit code 2, before serving."""

import socket

import pytest

from tests.inference.conftest import DEMO
from video3d.cli import serve

pytestmark = pytest.mark.usefixtures("one_thread")


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "Traceback" not in err[0], err
    return err[0]


def test_a_missing_model_file_is_one_line(served_files, tmp_path, capsys):
    missing = str(tmp_path / "nowhere.pyth")
    assert serve.main(["--cfg", DEMO, "--checkpoint", missing, "--port", "0", *served_files["opts"]]) == 2
    assert missing in _one_error_line(capsys)


def test_a_port_in_use_is_one_line(served_files, capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert serve.main(["--cfg", DEMO, "--checkpoint", served_files["checkpoint"], "--port", str(port),
                           *served_files["opts"]]) == 2
    assert f"cannot listen on 127.0.0.1:{port}" in _one_error_line(capsys)


def test_stray_positionals_are_refused(served_files, capsys):
    with pytest.raises(SystemExit) as exit_info:
        serve.main(["--cfg", DEMO, "--checkpoint", served_files["checkpoint"], "video.mp4", *served_files["opts"]])
    assert exit_info.value.code == 2 and "unexpected arguments video.mp4" in capsys.readouterr().err
