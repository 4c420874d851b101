import json

from data_prep.ensure_synthetic import ensure_synthmotion
from video3d.config import load_config


def _cfg(out_dir, **overrides):
    opts = ["SYNTHMOTION.ENABLE", "True", "DATA.PATH_TO_DATA_DIR", str(out_dir),
            "SYNTHMOTION.NUM_TRAIN", "8", "SYNTHMOTION.NUM_VAL", "8", "SYNTHMOTION.FRAMES", "6",
            "SYNTHMOTION.SIZE", "32"]
    for key, value in overrides.items():
        opts += [key.replace("__", "."), str(value)]
    return load_config(None, opts)


def test_generates_once_then_reuses_and_regenerates_on_change(tmp_path):
    out = tmp_path / "synth"
    assert ensure_synthmotion(_cfg(out)) is True
    assert len((out / "train.csv").read_text().splitlines()) == 8
    assert ensure_synthmotion(_cfg(out)) is False  # same parameters: nothing to do
    assert ensure_synthmotion(_cfg(out, SYNTHMOTION__NUM_BROKEN=2)) is True
    assert json.loads((out / "synthmotion.json").read_text())["num_broken"] == 2
    assert len((out / "val.csv").read_text().splitlines()) == 10


def test_disabled_or_no_job_generates_nothing(tmp_path):
    out = tmp_path / "synth"
    assert ensure_synthmotion(_cfg(out, SYNTHMOTION__ENABLE=False)) is False
    assert ensure_synthmotion(_cfg(out, TRAIN__ENABLE=False, TEST__ENABLE=False)) is False
    assert not out.exists()
