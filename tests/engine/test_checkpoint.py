import errno
import os
import pickle
import random
import time

import numpy as np
import pytest
import torch
from torch import nn

from video3d.config import get_cfg
from video3d.engine import checkpoint as ckpt
from video3d.errors import CheckpointError


class _Payload:
    """An arbitrary object: pickling it is what weights_only=True must refuse."""

    def __reduce__(self):
        return (os.getcwd, ())


@pytest.fixture
def cfg(tmp_path):
    cfg = get_cfg()
    cfg.OUTPUT_DIR = str(tmp_path)
    return cfg


def _state(epoch: int) -> dict:
    return {"model_state": {"w": torch.full((3,), float(epoch))}, "epoch": epoch, "iteration": 0,
            "cfg": "A: 1\n"}


def _write(path: str, state: dict, mtime: float) -> None:
    ckpt.save_checkpoint(path, state)
    os.utime(path, (mtime, mtime))


def test_save_then_load_round_trips_tensors_and_plain_values(tmp_path):
    path = str(tmp_path / "sub" / "a.pyth")
    ckpt.save_checkpoint(path, _state(3))
    loaded = ckpt.load_checkpoint(path)
    assert loaded["epoch"] == 3 and loaded["cfg"] == "A: 1\n"
    assert torch.equal(loaded["model_state"]["w"], torch.full((3,), 3.0))
    assert os.listdir(tmp_path / "sub") == ["a.pyth"]  # no temp file left behind


def test_load_refuses_a_pickled_payload_and_names_the_file(tmp_path):
    path = str(tmp_path / "evil.pyth")
    torch.save({"model_state": {}, "payload": _Payload()}, path)
    with pytest.raises(CheckpointError, match="evil.pyth"):
        ckpt.load_checkpoint(path)


def test_load_refuses_a_plain_pickle_file(tmp_path):
    path = tmp_path / "plain.pyth"
    path.write_bytes(pickle.dumps({"a": 1}, protocol=2))
    with pytest.raises(CheckpointError, match="plain.pyth"):
        ckpt.load_checkpoint(str(path))


def test_load_refuses_a_truncated_file(tmp_path):
    path = tmp_path / "cut.pyth"
    ckpt.save_checkpoint(str(path), _state(1))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="cut.pyth"):
        ckpt.load_checkpoint(str(path))


def test_load_of_a_missing_file_names_it(tmp_path):
    with pytest.raises(CheckpointError, match="nope.pyth"):
        ckpt.load_checkpoint(str(tmp_path / "nope.pyth"))


def test_latest_checkpoint_skips_a_truncated_newest_file_with_a_warning(cfg, caplog):
    now = time.time()
    first = ckpt.epoch_checkpoint_path(cfg, 1)
    second = ckpt.epoch_checkpoint_path(cfg, 2)
    _write(first, _state(1), now - 20)
    _write(second, _state(2), now - 10)
    assert ckpt.latest_checkpoint(cfg) == second
    data = open(second, "rb").read()
    with open(second, "wb") as handle:
        handle.write(data[:100])
    with caplog.at_level("WARNING", logger="video3d"):
        assert ckpt.latest_checkpoint(cfg) == first
    assert "checkpoint_epoch_00002.pyth" in caplog.text


def test_latest_checkpoint_prefers_a_newer_rolling_checkpoint(cfg):
    now = time.time()
    _write(ckpt.epoch_checkpoint_path(cfg, 1), _state(1), now - 20)
    last = os.path.join(ckpt.checkpoint_dir(cfg), ckpt.LAST_NAME)
    _write(last, _state(1), now - 5)
    assert ckpt.latest_checkpoint(cfg) == last


def test_latest_checkpoint_is_none_without_checkpoints(cfg):
    assert ckpt.latest_checkpoint(cfg) is None


def test_find_test_checkpoint_order(cfg, tmp_path):
    now = time.time()
    epoch_file = ckpt.epoch_checkpoint_path(cfg, 1)
    _write(epoch_file, _state(1), now - 20)
    assert ckpt.find_test_checkpoint(cfg) == epoch_file
    best = os.path.join(ckpt.checkpoint_dir(cfg), ckpt.BEST_NAME)
    _write(best, _state(1), now - 30)
    assert ckpt.find_test_checkpoint(cfg) == best
    explicit = str(tmp_path / "given.pyth")
    ckpt.save_checkpoint(explicit, _state(0))
    cfg.TEST.CHECKPOINT_FILE_PATH = explicit
    assert ckpt.find_test_checkpoint(cfg) == explicit
    cfg.TEST.CHECKPOINT_FILE_PATH = str(tmp_path / "missing.pyth")
    with pytest.raises(CheckpointError, match="missing.pyth"):
        ckpt.find_test_checkpoint(cfg)


def test_load_model_weights_strips_the_ddp_prefix(tmp_path):
    source = nn.Linear(3, 2)
    path = str(tmp_path / "m.pyth")
    ckpt.save_checkpoint(path, {"model_state": {f"module.{k}": v for k, v in source.state_dict().items()}})
    target = nn.Linear(3, 2)
    ckpt.load_model_weights(target, path)
    assert torch.equal(target.weight, source.weight)


def test_load_model_weights_reports_a_shape_mismatch(tmp_path):
    path = str(tmp_path / "m.pyth")
    ckpt.save_checkpoint(path, {"model_state": nn.Linear(3, 2).state_dict()})
    with pytest.raises(CheckpointError, match="m.pyth"):
        ckpt.load_model_weights(nn.Linear(4, 2), path)


def test_rng_state_survives_a_weights_only_round_trip(tmp_path):
    random.seed(1)
    np.random.seed(2)
    torch.manual_seed(3)
    np.random.standard_normal()  # leaves a cached gaussian in numpy's state
    path = str(tmp_path / "rng.pyth")
    ckpt.save_checkpoint(path, {"rng_state": ckpt.capture_rng_state()})
    expected = (random.random(), np.random.standard_normal(), torch.rand(2))
    random.seed(9)
    np.random.seed(9)
    torch.manual_seed(9)
    ckpt.restore_rng_state(ckpt.load_checkpoint(path)["rng_state"])
    got = (random.random(), np.random.standard_normal(), torch.rand(2))
    assert got[0] == expected[0] and got[1] == expected[1] and torch.equal(got[2], expected[2])


def test_stale_temp_files_are_removed(cfg):
    folder = ckpt.checkpoint_dir(cfg)
    os.makedirs(folder)
    stale = os.path.join(folder, ".tmp-abc-checkpoint_last.pyth")
    open(stale, "wb").close()
    assert ckpt.remove_stale_temp_files(cfg) == [stale]
    assert not os.path.exists(stale)


def _damage_middle(path: str, size: int = 4096) -> None:
    """Random bytes written over the middle of the file, the way a bad disk or copy does it."""
    data = bytearray(open(path, "rb").read())
    middle = len(data) // 2
    data[middle: middle + size] = np.random.default_rng(0).integers(0, 256, size, dtype=np.uint8).tobytes()
    with open(path, "wb") as handle:
        handle.write(bytes(data))


def _big_state(epoch: int) -> dict:
    return {"model_state": {"w": torch.linspace(0, 1, 64 * 1024)}, "epoch": epoch, "iteration": 0, "cfg": "A: 1\n"}


def test_load_refuses_a_checkpoint_damaged_in_the_middle_as_a_checksum_mismatch(tmp_path):
    path = str(tmp_path / "checkpoint_last.pyth")
    ckpt.save_checkpoint(path, _big_state(1))
    _damage_middle(path)
    with pytest.raises(CheckpointError, match=r"checkpoint_last.pyth: checksum mismatch"):
        ckpt.load_checkpoint(path)
    with pytest.raises(CheckpointError, match="checksum mismatch"):
        ckpt.load_checkpoint(path, mmap=True)


def test_latest_checkpoint_falls_back_past_a_checksum_mismatch(cfg, caplog):
    now = time.time()
    first, second = ckpt.epoch_checkpoint_path(cfg, 1), ckpt.epoch_checkpoint_path(cfg, 2)
    _write(first, _big_state(1), now - 20)
    _write(second, _big_state(2), now - 10)
    _damage_middle(second)
    os.utime(second, (now - 10, now - 10))
    with caplog.at_level("WARNING", logger="video3d"):
        assert ckpt.latest_checkpoint(cfg) == first
    assert "checkpoint_epoch_00002.pyth: checksum mismatch" in caplog.text


@pytest.mark.parametrize(("content", "words"), [
    ("random", "not a video3d checkpoint"), ("empty", "empty file"), ("truncated", "truncated"),
    ("payload", "holds objects other than tensors"),
])
def test_unusable_checkpoint_messages_say_what_is_wrong_in_plain_words(tmp_path, content, words):
    path = tmp_path / "given.pyth"
    if content == "truncated":
        ckpt.save_checkpoint(str(path), _big_state(1))
        path.write_bytes(path.read_bytes()[:-200])
    elif content == "payload":
        torch.save({"model_state": {}, "payload": _Payload()}, str(path))
    elif content == "random":
        path.write_bytes(np.random.default_rng(1).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    else:
        path.write_bytes(b"")
    with pytest.raises(CheckpointError) as info:
        ckpt.load_checkpoint(str(path))
    message = str(info.value)
    assert message.startswith(f"unusable checkpoint {path}: {words}")
    assert "weights_only" not in message and "\n" not in message


def test_checksum_is_stored_and_a_foreign_checkpoint_without_one_still_loads(tmp_path):
    path = str(tmp_path / "a.pyth")
    ckpt.save_checkpoint(path, _state(2))
    raw = torch.load(path, weights_only=True)
    assert raw[ckpt.CHECKSUM_KEY].startswith("sha256:")
    assert ckpt.CHECKSUM_KEY not in ckpt.load_checkpoint(path)
    foreign = str(tmp_path / "resnet.pth")
    torch.save({"conv1.weight": torch.ones(2)}, foreign)
    assert torch.equal(ckpt.load_checkpoint(foreign)["conv1.weight"], torch.ones(2))


class _FullDisk:
    """A file whose writes fail with ENOSPC once `room` bytes are written (a full disk)."""

    def __init__(self, handle, room: int):
        self.handle, self.room = handle, room

    def write(self, data) -> int:
        self.room -= len(data)
        if self.room < 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return self.handle.write(data)

    def __getattr__(self, name):
        return getattr(self.handle, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.handle.close()


def fill_disk(monkeypatch, room: int = 1000) -> None:
    """Every file atomic_write opens from now on takes only `room` bytes."""
    from video3d.utils import io

    real_fdopen = os.fdopen
    monkeypatch.setattr(io.os, "fdopen", lambda *args, **kwargs: _FullDisk(real_fdopen(*args, **kwargs), room))


def test_a_full_disk_is_one_line_naming_the_checkpoint_and_the_old_file_stays(tmp_path, monkeypatch):
    path = str(tmp_path / "checkpoint_last.pyth")
    ckpt.save_checkpoint(path, _big_state(1))
    fill_disk(monkeypatch)
    with pytest.raises(CheckpointError) as info:
        ckpt.save_checkpoint(path, _big_state(2))
    assert str(info.value) == f"cannot save checkpoint {path}: no space left on device"
    monkeypatch.undo()
    assert ckpt.load_checkpoint(path)["epoch"] == 1 and os.listdir(tmp_path) == ["checkpoint_last.pyth"]
