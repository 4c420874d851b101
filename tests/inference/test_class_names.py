"""Class names: the file when given, else those stored with the model; a missing file is an error."""

import pytest
import torch
from torch import nn

from tests.inference.conftest import DEMO, TINY
from video3d.config import load_config
from video3d.errors import DataError
from video3d.inference.class_names import resolve_class_names, stored_class_names, valid_names

STORED = [f"s{k}" for k in range(8)]


def _cfg(names_file=""):
    return load_config(DEMO, [*TINY, "DATA.CLASS_NAMES_FILE", names_file])


def test_the_file_wins_then_the_stored_names_then_numbers(tmp_path):
    names = tmp_path / "names.txt"
    names.write_text("".join(f"f{k}\n" for k in range(8)))
    assert resolve_class_names(_cfg(str(names)), STORED) == [f"f{k}" for k in range(8)]
    assert resolve_class_names(_cfg(), STORED) == STORED
    assert resolve_class_names(_cfg(), None) is None
    assert resolve_class_names(_cfg(), STORED[:3]) is None  # stored for another class count


def test_a_missing_names_file_falls_back_to_the_stored_names_or_is_one_error(tmp_path, monkeypatch, caplog):
    monkeypatch.chdir(tmp_path)
    assert resolve_class_names(_cfg("data/names.txt"), STORED) == STORED
    assert "data/names.txt not found (relative to the current folder" in caplog.text
    with pytest.raises(DataError, match=r"DATA.CLASS_NAMES_FILE data/names.txt not found \(relative to the current "
                                        r"folder .*\) and the model stores no class names"):
        resolve_class_names(_cfg("data/names.txt"), None)


def test_stored_names_come_from_the_export_note_or_the_checkpoint(tmp_path):
    runner = nn.Identity()
    runner.note = {"num_classes": 8, "class_names": STORED}
    assert stored_class_names(runner, "unused.onnx") == STORED
    path = tmp_path / "c.pyth"
    torch.save({"model_state": {}, "class_names": STORED}, path)
    assert stored_class_names(nn.Identity(), str(path)) == STORED
    torch.save({"model_state": {}}, path)
    assert stored_class_names(nn.Identity(), str(path)) is None
    assert valid_names(["a", 3]) is None and valid_names(("a", "b"), 2) == ["a", "b"]
