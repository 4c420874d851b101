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
        (["DATA_LOADER.NUM_WORKERS", "-1"], "DATA_LOADER.NUM_WORKERS must be >= 0"),
        (["DATA.MEAN", "[0.45, 0.45]"], "DATA.MEAN needs one value per channel"),
        (["DATA.STD", "[0.2, 0.0, 0.2]"], "DATA.STD values must be > 0"),
        (["DATA.FLOW_MEAN", "[128.0]"], "DATA.FLOW_MEAN needs one value per channel"),
        (["NETWORK_TIMEOUT", "0"], "NETWORK_TIMEOUT must be a number of seconds > 0"),
        (["SOLVER", "5"], "config key SOLVER is a section of keys"),
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


def test_a_base_cycle_is_one_line_naming_the_files(tmp_path):
    first = _write(tmp_path / "a.yaml", "_BASE_: b.yaml\n")
    _write(tmp_path / "b.yaml", "_BASE_: [c.yaml, a.yaml]\n")
    _write(tmp_path / "c.yaml", "MODEL:\n  NUM_CLASSES: 3\n")
    with pytest.raises(ConfigError) as info:
        load_config(first)
    assert str(info.value) == f"_BASE_ cycle: {tmp_path / 'a.yaml'} -> {tmp_path / 'b.yaml'} -> {tmp_path / 'a.yaml'}"
    with pytest.raises(ConfigError, match="_BASE_ cycle: .*self.yaml -> .*self.yaml"):
        load_config(_write(tmp_path / "self.yaml", "_BASE_: self.yaml\n"))


def test_a_diamond_of_bases_is_no_cycle(tmp_path):
    _write(tmp_path / "root.yaml", "MODEL:\n  NUM_CLASSES: 3\n")
    _write(tmp_path / "left.yaml", "_BASE_: root.yaml\nDATA:\n  NUM_FRAMES: 4\n")
    _write(tmp_path / "right.yaml", "_BASE_: root.yaml\nSOLVER:\n  MAX_EPOCH: 2\n")
    cfg = load_config(_write(tmp_path / "top.yaml", "_BASE_: [left.yaml, right.yaml]\nDATA:\n  NUM_FRAMES: 6\n"))
    assert (cfg.MODEL.NUM_CLASSES, cfg.DATA.NUM_FRAMES, cfg.SOLVER.MAX_EPOCH) == (3, 6, 2)


@pytest.mark.parametrize("text", ["", "# only a comment\n"])
def test_an_empty_config_file_is_one_line(tmp_path, text):
    empty = _write(tmp_path / "empty.yaml", text)
    with pytest.raises(ConfigError, match=r"empty\.yaml: the config file is empty \(no config keys\)$"):
        load_config(empty)


def test_a_section_given_a_value_is_named_as_a_section(tmp_path):
    bad = _write(tmp_path / "bad.yaml", "SOLVER: 5\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml: config key SOLVER is a section of keys .* got SOLVER = 5$"):
        load_config(bad)
