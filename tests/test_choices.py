"""video3d.choices.Choices and the builder tables the config checks read."""

import pytest

from video3d.choices import Choices
from video3d.config.choices import TABLES
from video3d.errors import ConfigError
from video3d.known_names import builder_tables
from video3d.known_names import load_checked_config as load_config
from video3d.models.choices import BLOCKS

DEMO = "configs/demo/synthmotion_iresnet3d_ffc.yaml"


def test_lookup_returns_the_builder_and_a_bad_name_names_key_and_allowed_values():
    table = Choices("SOLVER.THING", {"a": 1, "b": 2})
    assert table["b"] == 2 and table.names == ("a", "b") and "a" in table and "c" not in table
    with pytest.raises(ConfigError, match=r"^config key SOLVER.THING is 'c'; expected one of a, b$"):
        table["c"]
    with pytest.raises(ConfigError, match=r"^config key OTHER.KEY is 'c'"):
        table.lookup("c", "OTHER.KEY")


def test_register_adds_an_entry_once():
    table = Choices("K", {"a": 1})
    table.register("b")(2)
    assert table["b"] == 2
    with pytest.raises(ValueError):
        table.register("a")(3)


@pytest.mark.parametrize("key, table", builder_tables() + [(t.key, t) for t in TABLES], ids=lambda v: v if isinstance(v, str) else "")
def test_config_checks_accept_exactly_the_table_names(key, table):
    for name in table.names:
        if key == "MODEL.ARCH":  # the PySlowFast presets fix keys the demo config sets
            load_config(None, [key, name])
        elif key == "DATA.MODALITY" and name == "flow":  # flow from frame folders (video files: online flow)
            load_config(DEMO, [key, name, "DATA.FORMAT", "frames"])
        elif key == "RESNET.BLOCK" and name == "basic":  # basic blocks need a shallow depth
            load_config(DEMO, [key, name, "RESNET.DEPTH", "18", "RESNET.STAGE_BLOCKS", "[]"])
        else:
            load_config(DEMO, [key, name])
    with pytest.raises(ConfigError, match=f"config key {key} is 'no-such-choice'; expected one of"):
        load_config(DEMO, [key, "no-such-choice"])


def test_blocks_carry_their_expansion():
    assert {name: BLOCKS[name].expansion for name in BLOCKS} == {"basic": 1, "bottleneck": 4, "hs": 4, "splat": 4}
