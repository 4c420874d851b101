"""HMDB51 fine-tuning recipes: they load, fit the Kinetics model, and start from its weights
(RGB -> flow through cross-modality init) on tiny widths of the same network."""

import os

import pytest
import torch

from video3d.config import load_config
from video3d.engine.checkpoint import save_checkpoint
from video3d.engine.trainer import Trainer
from video3d.models import build_model

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KINETICS = os.path.join(REPO, "configs", "kinetics", "iresnet3d_50.yaml")
RECIPES = {name: os.path.join(REPO, "configs", "hmdb51", f"iresnet3d_50_{name}.yaml")
           for name in ("rgb_from_kinetics", "flow_from_kinetics", "flow_from_rgb")}
TINY = ["RESNET.STEM_WIDTH", "8", "RESNET.WIDTH_PER_GROUP", "4", "RESNET.STAGE_BLOCKS", "[1, 1, 1, 1]",
        "NUM_GPUS", "0"]


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_recipe_loads_and_matches_the_kinetics_network(name):
    cfg = load_config(RECIPES[name])
    kinetics = load_config(KINETICS)
    assert cfg.RESNET == kinetics.RESNET and cfg.MODEL.HEAD == kinetics.MODEL.HEAD
    assert (cfg.TRAIN.DATASET, cfg.MODEL.NUM_CLASSES, cfg.TEST.SPLIT) == ("hmdb51", 51, "test")
    assert cfg.TRAIN.CHECKPOINT_FILE_PATH.endswith("checkpoint_best.pyth")
    assert cfg.DATA.INPUT_CHANNEL_NUM == ([2] if "flow" in name else [3])
    assert cfg.OUTPUT_DIR.endswith(os.path.basename(RECIPES[name])[: -len(".yaml")])


@pytest.mark.parametrize("name", ["flow_from_rgb", "rgb_from_kinetics"])
def test_recipe_starts_from_the_kinetics_rgb_weights(name, tmp_path):
    torch.manual_seed(0)
    rgb = build_model(load_config(KINETICS, TINY))
    path = str(tmp_path / "kinetics_rgb.pyth")
    save_checkpoint(path, {"model_state": rgb.state_dict(), "epoch": 90})
    cfg = load_config(RECIPES[name], [*TINY, "TRAIN.CHECKPOINT_FILE_PATH", path, "OUTPUT_DIR", str(tmp_path / "run")])
    model = Trainer(cfg, hooks=[]).model
    source, target = rgb.state_dict(), model.state_dict()
    stem = source["stem.conv1.weight"]
    expected_stem = stem.mean(dim=1, keepdim=True).expand(-1, 2, -1, -1, -1) if "flow" in name else stem
    assert torch.equal(target["stem.conv1.weight"], expected_stem)
    assert target["head.fc.weight"].shape[0] == 51  # new head, not the 400-class one
    body = [key for key in source if not key.startswith(("stem.conv1.", "head."))]
    assert body and all(torch.equal(source[key], target[key]) for key in body)
