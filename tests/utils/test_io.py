import os

import pytest

from video3d.utils.io import atomic_write, atomic_write_text


def test_atomic_write_replaces_file(tmp_path):
    path = tmp_path / "a.txt"
    atomic_write_text(str(path), "one")
    atomic_write_text(str(path), "two")
    assert path.read_text() == "two"
    assert os.listdir(tmp_path) == ["a.txt"]


def test_failed_write_keeps_old_content_and_leaves_no_temp(tmp_path):
    path = tmp_path / "a.txt"
    atomic_write_text(str(path), "old")
    with pytest.raises(RuntimeError), atomic_write(str(path)) as handle:
        handle.write("half")
        raise RuntimeError("crash mid-write")
    assert path.read_text() == "old"
    assert os.listdir(tmp_path) == ["a.txt"]


def test_written_file_gets_the_usual_mode_not_mkstemps_0600(tmp_path):
    path = tmp_path / "a.txt"
    atomic_write_text(str(path), "x")
    mask = os.umask(0)
    os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask
