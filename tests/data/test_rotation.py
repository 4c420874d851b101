"""Rotation metadata (a display matrix, as phones write it) is applied as players apply it:
PyAV and decord sources, the extraction decode, the demo's stream and its annotated video all
come out upright. The rotated files are the real carphone clip remuxed (same bitstream) with a
display matrix, so the upright frames must equal the plain file's frames turned, exactly.
Also here: a video source (RTSP, a video URL) that accepts and never answers is given up after
the timeout, in one line naming the URL."""

import socket
import time
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from data_prep import extract_frames
from data_prep.decode import iter_frames
from tests.inference.conftest import DEMO, TINY
from video3d.cli import demo
from video3d.config import load_config
from video3d.data.decoders import DecordSource, PyAVSource
from video3d.data.rotation import quarter_turns
from video3d.errors import DecodeError
from video3d.inference.stream import VideoStream
from video3d.models import build_model

REAL = Path(__file__).parent / "real" / "carphone_pristine.mp4"  # 176x144, 120 frames
INDICES = [0, 7, 60, 119]


def rotated_copy(source: Path, path: Path, degrees: int) -> str:
    """`source`'s packets unchanged in a new mp4 whose display matrix turns them by `degrees`."""
    with av.open(str(source)) as inp, av.open(str(path), "w", format="mp4") as out:
        stream = inp.streams.video[0]
        copy = out.add_stream_from_template(stream)
        copy.set_display_rotation(degrees)
        for packet in inp.demux(stream):
            if packet.dts is not None:
                packet.stream = copy
                out.mux(packet)
    return str(path)


def _turned(frames: np.ndarray, degrees: int) -> np.ndarray:
    return np.rot90(frames, quarter_turns(degrees), axes=(1, 2))


@pytest.fixture(scope="module")
def upright_frames():
    with PyAVSource(str(REAL)) as source:
        return source.get_frames(INDICES).numpy()


@pytest.mark.parametrize("decoder", [PyAVSource, DecordSource])
@pytest.mark.parametrize("degrees", [90, -90, 180])
def test_decoders_return_the_upright_frames(tmp_path, upright_frames, decoder, degrees):
    path = rotated_copy(REAL, tmp_path / "phone.mp4", degrees)
    with decoder(path) as source:
        frames = source.get_frames(INDICES).numpy()
        size = (source.height, source.width)
        assert source.num_frames == 120
    expected = _turned(upright_frames, degrees)
    # before: PyAV returned the stored landscape frames; decord failed on a quarter turn
    assert frames.shape == expected.shape and np.array_equal(frames, expected)
    assert size == expected.shape[1:3] == ((176, 144) if degrees % 180 else (144, 176))


def test_pyav_source_reports_the_upright_size_before_any_frame_is_read(tmp_path):
    with PyAVSource(rotated_copy(REAL, tmp_path / "phone.mp4", 90)) as source:
        assert (source.height, source.width) == (176, 144)


def test_extraction_decode_and_extract_frames_are_upright(tmp_path):
    (tmp_path / "src").mkdir()
    path = rotated_copy(REAL, tmp_path / "src" / "phone.mp4", -90)
    plain = np.stack(list(iter_frames(str(REAL))))
    turned = np.stack(list(iter_frames(path)))
    assert np.array_equal(turned, _turned(plain, -90))
    assert extract_frames.main([str(tmp_path / "src"), str(tmp_path / "out"), "--workers", "1", "--no-progress"]) == 0
    jpegs = sorted((tmp_path / "out" / "phone").glob("img_*.jpg"))
    assert len(jpegs) == 120
    with av.open(str(jpegs[0])) as image:
        assert (image.streams.video[0].height, image.streams.video[0].width) == (176, 144)


def test_the_demo_stream_is_upright(tmp_path, upright_frames):
    with VideoStream(rotated_copy(REAL, tmp_path / "phone.mp4", 90)) as stream:
        assert (stream.width, stream.height) == (144, 176)
        frames = np.stack([frame.image for frame in stream])
        assert stream.stopped is None
    assert np.array_equal(frames[INDICES], _turned(upright_frames, 90))


@pytest.fixture
def silent_port():
    """A TCP port on 127.0.0.1 whose connections are accepted (by the kernel) and never answered."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    yield listener.getsockname()[1]
    listener.close()


def test_an_rtsp_source_that_never_answers_is_given_up_after_the_timeout(silent_port):
    url = f"rtsp://127.0.0.1:{silent_port}/live"
    started = time.monotonic()
    with pytest.raises(DecodeError) as info:
        VideoStream(url, timeout=0.5)
    assert time.monotonic() - started < 5  # before: no timeout, it waited forever
    assert str(info.value) == f"{url}: no answer in 0.5 s (NETWORK_TIMEOUT / --timeout)"


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("rotation_demo") / "weights.pyth"
    torch.manual_seed(0)
    cfg = load_config(DEMO, TINY)
    # As trained checkpoints do: the names travel with the weights (data/synthmotion may not exist).
    names = [f"class {i}" for i in range(cfg.MODEL.NUM_CLASSES)]
    torch.save({"model_state": build_model(cfg).state_dict(), "class_names": names}, path)
    return str(path)


def test_the_demo_of_a_portrait_phone_video_writes_a_portrait_video(tmp_path, checkpoint, capsys):
    video = rotated_copy(REAL, tmp_path / "phone.mp4", 90)
    assert demo.main(["--cfg", DEMO, "--checkpoint", checkpoint, "--out", str(tmp_path / "out"), "--no-audio",
                      video, *TINY]) == 0
    with av.open(str(tmp_path / "out" / "annotated.mp4")) as annotated:
        stream = annotated.streams.video[0]
        frame = next(annotated.decode(stream))
        assert (stream.width, stream.height, frame.rotation) == (144, 176, 0)  # before: 176 x 144, sideways


def test_the_demo_gives_up_a_silent_rtsp_source_in_one_line(silent_port, checkpoint, tmp_path, capsys):
    url = f"rtsp://127.0.0.1:{silent_port}/live"
    assert demo.main(["--cfg", DEMO, "--checkpoint", checkpoint, "--out", str(tmp_path / "out"), "--timeout", "0.5",
                      url, *TINY]) == 2
    assert capsys.readouterr().err == f"error: {url}: no answer in 0.5 s (NETWORK_TIMEOUT / --timeout)\n"
    assert not (tmp_path / "out").exists()


def test_a_video_url_whose_server_never_answers_is_given_up_after_the_timeout(silent_port, monkeypatch):
    from video3d.utils import paths

    monkeypatch.setattr(paths, "_timeout", [0.5])
    url = f"http://127.0.0.1:{silent_port}/clip.mp4"
    started = time.monotonic()
    with pytest.raises(DecodeError) as info:
        PyAVSource(url)  # predict / test of a list of video URLs; before: no timeout
    assert time.monotonic() - started < 5
    assert str(info.value) == f"{url}: no answer in 0.5 s (NETWORK_TIMEOUT / --timeout)"
