"""Every shipped config builds the same modules, in the same order, with the same seeded init."""

import json
from pathlib import Path

import pytest
from state_digests import shipped_configs, state_digest

ROOT = Path(__file__).resolve().parents[2]
EXPECTED = json.loads((Path(__file__).parent / "data" / "tiny_state_digests.json").read_text())


def test_the_digest_file_covers_every_shipped_config():
    assert sorted(EXPECTED) == [str(p.relative_to(ROOT)) for p in shipped_configs()]


@pytest.mark.parametrize("cfg_file", shipped_configs(), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_seeded_state_dict_is_unchanged(cfg_file):
    assert state_digest(cfg_file, tiny=True) == EXPECTED[str(cfg_file.relative_to(ROOT))]
