import pytest

from video3d.config import ConfigError, check_config, get_cfg, load_config


def _write(path, text):
    path.write_text(text)
    return str(path)


@pytest.fixture
def cfg_files(tmp_path):
    _write(tmp_path / "base.yaml", "MODEL:\n  NUM_CLASSES: 51\nDATA:\n  NUM_FRAMES: 8\nSOLVER:\n  BASE_LR: 0.01\n")
    child = _write(tmp_path / "child.yaml", "_BASE_: base.yaml\nSOLVER:\n  BASE_LR: 0.05\n  MAX_EPOCH: 7\n")
    return child


def test_defaults_then_base_then_yaml_then_overrides(cfg_files):
    cfg = load_config(cfg_files, ["DATA.NUM_FRAMES", "4", "MODEL.HEAD", "ffc"])
    assert cfg.MODEL.NUM_CLASSES == 51  # from _BASE_
    assert cfg.SOLVER.BASE_LR == 0.05  # child overrides base
    assert cfg.SOLVER.MAX_EPOCH == 7
    assert cfg.DATA.NUM_FRAMES == 4  # command line overrides both
    assert cfg.MODEL.HEAD == "ffc"
    assert cfg.SOLVER.MOMENTUM == get_cfg().SOLVER.MOMENTUM  # untouched default


def test_dumped_config_loads_back_identically(cfg_files, tmp_path):
    cfg = load_config(cfg_files, ["DATA.FLIP_LABEL_MAP", "[[0, 1], [4, 5]]"])
    dumped = _write(tmp_path / "dumped.yaml", cfg.dump())
    again = load_config(dumped)
    assert again == cfg


def test_unknown_key_names_the_key(cfg_files):
    with pytest.raises(ConfigError, match="unknown config key SOLVER.NOPE"):
        load_config(cfg_files, ["SOLVER.NOPE", "1"])


def test_unknown_key_in_yaml_names_file_and_key(tmp_path):
    bad = _write(tmp_path / "bad.yaml", "DATA:\n  NUM_FRAMEZ: 3\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml: unknown config key DATA\.NUM_FRAMEZ"):
        load_config(bad)


def test_wrong_type_names_key_and_value(cfg_files):
    with pytest.raises(ConfigError, match=r"DATA\.NUM_FRAMES expects 'int'.*got abc"):
        load_config(cfg_files, ["DATA.NUM_FRAMES", "abc"])


def test_missing_file_and_missing_base(tmp_path):
    with pytest.raises(ConfigError, match="config file not found: .*nope.yaml"):
        load_config(str(tmp_path / "nope.yaml"))
    orphan = _write(tmp_path / "orphan.yaml", "_BASE_: gone.yaml\n")
    with pytest.raises(ConfigError, match="gone.yaml"):
        load_config(orphan)


def test_odd_override_count_is_rejected():
    with pytest.raises(ConfigError, match="'MODEL.HEAD' has no value"):
        load_config(None, ["MODEL.HEAD"])


@pytest.mark.parametrize("modality, channels", [("rgb", [3]), ("flow", [2])])
def test_input_channels_are_inferred_from_modality(modality, channels):
    opts = ["DATA.MODALITY", modality, "DATA.FORMAT", "frames"]
    assert load_config(None, opts).DATA.INPUT_CHANNEL_NUM == channels


@pytest.mark.parametrize(
    "opts, keys",
    [
        (["MODEL.HEAD", "conv"], "MODEL.HEAD"),
        (["DATA.FLOW_SHORT_SIDE", "256", "DATA.FLOW_SIZE", "[340, 256]"], "DATA.FLOW_SHORT_SIDE"),
        (["DATA.FLOW_SIZE", "[340]"], "DATA.FLOW_SIZE"),
        (["DATA.TRAIN_CROP_SIZE", "300"], "DATA.TRAIN_CROP_SIZE"),
        (["SOLVER.STEPS", "[0, 10, 20, 30, 40]"], "SOLVER.STEPS"),
        (["SOLVER.LR_SCALING", "sqrt"], "SOLVER.LR_SCALING"),
        (["DATA.INPUT_CHANNEL_NUM", "[3, 3]"], "two-pathway SlowFast"),
        (["DATA.INPUT_CHANNEL_NUM", "[3]", "DATA.MODALITY", "flow", "DATA.FORMAT", "frames"], "DATA.INPUT_CHANNEL_NUM"),
        (["RESNET.SPATIAL_STRIDES", "[[1, 1], [2, 2], [2, 2], [2, 2]]"], "RESNET.SPATIAL_STRIDES"),
        (["RESNET.TEMPORAL_STRIDES", "[1, 2]"], "RESNET.TEMPORAL_STRIDES"),
        (["TEST.NUM_SPATIAL_CROPS", "2"], "TEST.NUM_SPATIAL_CROPS"),
        (["RESNET.BLOCK", "basic"], "RESNET.BLOCK"),
        (["TRAIN.BATCH_SIZE", "0"], "TRAIN.BATCH_SIZE"),
        (["DATA.FLIP_LABEL_MAP", "[[0, 400]]"], "DATA.FLIP_LABEL_MAP"),
    ],
)
def test_inconsistent_values_are_rejected_naming_the_keys(opts, keys):
    from video3d.known_names import load_checked_config  # builder names (MODEL.HEAD) are checked there

    with pytest.raises(ConfigError, match=keys.replace(".", r"\.")):
        load_checked_config(None, opts)


def test_every_default_key_has_a_comment():
    import inspect

    import video3d.config.defaults as defaults

    for line in inspect.getsource(defaults).splitlines():
        if line.startswith("_C.") and "CfgNode()" not in line:
            assert "  # " in line, f"uncommented key: {line}"


def test_check_config_accepts_the_defaults():
    cfg = check_config(get_cfg())
    assert cfg.DATA.INPUT_CHANNEL_NUM == [3]


def test_single_pathway_lists_of_pyslowfast_are_read_as_plain_lists():
    cfg = load_config(None, ["RESNET.SPATIAL_STRIDES", "[[1], [2], [2], [2]]", "DATA.INPUT_CHANNEL_NUM", "[3]"])
    assert cfg.RESNET.SPATIAL_STRIDES == [1, 2, 2, 2]
    assert cfg.DATA.INPUT_CHANNEL_NUM == [3]


def test_a_per_pathway_list_is_one_line_not_a_traceback_from_conv3d():
    with pytest.raises(ConfigError) as err:
        load_config(None, ["RESNET.SPATIAL_STRIDES", "[[1, 1], [2, 2], [2, 2], [2, 2]]"])
    assert "\n" not in str(err.value) and "RESNET.SPATIAL_STRIDES" in str(err.value)
