"""PySlowFast's own configs (tests/config/data/pyslowfast, written from the public files) load
or fail with the message the README documents; PySlowFast keys are sieved: unknown ones all
reported at once with hints, no-op ones listed in one warning."""

import logging
import pathlib
import re

import pytest

from video3d.config import ConfigError, load_config
from video3d.models import build_model

DATA = pathlib.Path(__file__).parent / "data" / "pyslowfast"

# file -> None (loads) or the start of the one-line error (the README's "conventions you know").
EXPECTED = {
    "Kinetics_SLOW_8x8_R50.yaml": None,
    "Kinetics_C2D_8x8_R50.yaml": None,
    "Kinetics_I3D_8x8_R50.yaml": None,
    "SSv2_SLOWFAST_16x8_R50.yaml": "MODEL.ARCH slowfast: two-pathway SlowFast is not built by video3d",
}

# PySlowFast's model zoo: Slow 8x8 R50 32.5M, C2D 24.3M, I3D 28.0M (400 classes).
PARAMS = {"slow": 32_454_096, "c2d": 24_327_632, "i3d": 28_043_472}


def _write(path, text):
    path.write_text(text)
    return str(path)


def test_the_four_pyslowfast_configs_are_all_here():
    assert sorted(p.name for p in DATA.glob("*.yaml")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_pyslowfast_config_loads_or_fails_with_the_documented_line(name):
    path = str(DATA / name)
    if EXPECTED[name] is None:
        cfg = load_config(path)
        assert cfg.MODEL.ARCH == name.split("_")[1].lower()
        assert (cfg.NUM_GPUS, cfg.TEST.BATCH_SIZE, cfg.SOLVER.WARMUP_EPOCHS) == (8, 64, 34.0)
        assert sum(p.numel() for p in build_model(cfg).parameters()) == PARAMS[cfg.MODEL.ARCH]
        return
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value).startswith(f"{path}: {EXPECTED[name]}")
    assert "\n" not in str(err.value)


def test_every_unknown_key_of_a_file_is_reported_at_once_with_hints(tmp_path):
    bad = _write(tmp_path / "bad.yaml", "DATA:\n  NUM_FRAMEZ: 3\n  REVERSE_INPUT_CHANNEL: True\n"
                 "RESNET:\n  SPATIAL_DILATIONS: [[2], [1], [1], [1]]\n  TRANS_FUNC: x3d_transform\nFOO: 1\n")
    with pytest.raises(ConfigError) as err:
        load_config(bad)
    message = str(err.value)
    assert message.startswith(f"{bad}: 5 unknown config keys: ")
    assert "DATA.NUM_FRAMEZ = 3 (did you mean DATA.NUM_FRAMES?)" in message
    assert "DATA.REVERSE_INPUT_CHANNEL = True (video3d decodes RGB frames)" in message
    assert "RESNET.SPATIAL_DILATIONS = [[2], [1], [1], [1]] (video3d builds no dilated stages)" in message
    assert "RESNET.TRANS_FUNC = 'x3d_transform' (video3d's RESNET.BLOCK" in message
    assert "FOO = 1" in message and "\n" not in message


def test_pyslowfast_no_op_keys_are_accepted_with_one_warning_line(tmp_path, caplog):
    path = _write(tmp_path / "psf.yaml", "LOG_MODEL_INFO: False\nMODEL:\n  LOSS_FUNC: cross_entropy\n"
                  "NONLOCAL:\n  LOCATION: [[[]], [[]], [[]], [[]]]\n  GROUP: [[1], [1], [1], [1]]\n"
                  "RESNET:\n  STRIDE_1X1: False\n  TRANS_FUNC: bottleneck_transform\n"
                  "  SPATIAL_STRIDES: [[1], [2], [2], [2]]\nBN:\n  WEIGHT_DECAY: 0.0\n"
                  "SOLVER:\n  WARMUP_EPOCHS: 34\n  WEIGHT_DECAY: 1e-4\n")
    with caplog.at_level(logging.WARNING, logger="video3d"):
        cfg = load_config(path)
    lines = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert lines == [f"{path}: PySlowFast keys accepted with no effect in video3d: LOG_MODEL_INFO, "
                     "MODEL.LOSS_FUNC, NONLOCAL.LOCATION, NONLOCAL.GROUP, "
                     "RESNET.TRANS_FUNC bottleneck_transform (= RESNET.BLOCK bottleneck)"]
    assert cfg.BN.WEIGHT_DECAY == 0.0  # a video3d key now: PySlowFast's BN optimizer group
    assert cfg.RESNET.BLOCK == "bottleneck" and cfg.RESNET.SPATIAL_STRIDES == [1, 2, 2, 2]
    assert cfg.SOLVER.WARMUP_EPOCHS == 34.0 and cfg.SOLVER.WEIGHT_DECAY == 1e-4  # int and "1e-4" read as floats


def test_a_non_empty_nonlocal_location_is_refused():
    with pytest.raises(ConfigError, match=re.escape("NONLOCAL.LOCATION = [[[1]], [[]], [[]], [[]]] (video3d builds no "
                                                    "non-local blocks")):
        load_config(None, ["NONLOCAL.LOCATION", "[[[1]], [[]], [[]], [[]]]"])


def test_model_arch_is_checked_when_the_config_loads():
    from video3d.known_names import load_checked_config

    with pytest.raises(ConfigError, match="MODEL.ARCH is 'resnet'; expected one of resnet3d"):
        load_checked_config(None, ["MODEL.ARCH", "resnet"])
    with pytest.raises(ConfigError, match="command line: MODEL.ARCH x3d: X3D is not built by video3d"):
        load_config(None, ["MODEL.ARCH", "x3d"])


def test_several_files_merge_in_order(tmp_path):
    first = _write(tmp_path / "a.yaml", "SOLVER:\n  BASE_LR: 0.5\n  MAX_EPOCH: 7\n")
    second = _write(tmp_path / "b.yaml", "SOLVER:\n  BASE_LR: 0.25\n")
    cfg = load_config([first, second], ["SOLVER.MAX_EPOCH", "9"])
    assert (cfg.SOLVER.BASE_LR, cfg.SOLVER.MAX_EPOCH) == (0.25, 9)
    assert load_config([second, first]).SOLVER.BASE_LR == 0.5
