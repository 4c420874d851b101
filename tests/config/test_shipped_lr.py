"""Every shipped config keeps the effective LR it had before SOLVER.LR_SCALING existed.

`data/shipped_effective_lr.json` was computed with the code of that time (BASE_LR always
scaled by TRAIN.BATCH_SIZE / SOLVER.BASE_BATCH_SIZE), at the config's own batch and at twice
it, at warm-up, middle and end epochs. The README's demo numbers rest on these values.
"""

import json
import pathlib

import pytest

from video3d.config import load_config
from video3d.engine.optim import lr_at_epoch

ROOT = pathlib.Path(__file__).resolve().parents[2]
BEFORE = json.loads((pathlib.Path(__file__).parent / "data" / "shipped_effective_lr.json").read_text())


def test_every_shipped_config_has_a_recorded_lr():
    assert sorted(BEFORE) == sorted(str(p.relative_to(ROOT)) for p in (ROOT / "configs").rglob("*.yaml"))


@pytest.mark.parametrize("name", sorted(BEFORE))
def test_effective_lr_is_unchanged(name):
    for record in BEFORE[name].values():
        cfg = load_config(str(ROOT / name), ["TRAIN.BATCH_SIZE", str(record["batch_size"])])
        for epoch, lr in record["lr"]:
            assert lr_at_epoch(cfg, epoch) == pytest.approx(lr, rel=1e-12, abs=0.0), (name, record["batch_size"], epoch)
