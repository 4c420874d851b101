import math

import pytest
import torch
from torch import nn

from video3d.config import get_cfg
from video3d.engine.optim import (
    build_optimizer,
    describe_lr,
    learning_rate,
    lr_at_epoch,
    param_groups,
    steps_with_relative_lrs,
)


def _cfg(**solver):
    cfg = get_cfg()
    for key, value in solver.items():
        setattr(cfg.SOLVER, key, value)
    return cfg


def test_step_policy_factors_at_the_boundaries():
    steps, lrs = [0, 30, 60, 80], [1.0, 0.1, 0.01, 0.001]
    assert steps_with_relative_lrs(0.0, steps, lrs) == 1.0
    assert steps_with_relative_lrs(29.999, steps, lrs) == 1.0
    assert steps_with_relative_lrs(30.0, steps, lrs) == 0.1
    assert steps_with_relative_lrs(79.5, steps, lrs) == 0.01
    assert steps_with_relative_lrs(89.9, steps, lrs) == 0.001


def test_base_lr_is_the_lr_used_unless_the_config_asks_for_linear_scaling():
    cfg = _cfg(BASE_LR=0.03)  # PySlowFast's SSv2 recipe: batch 16, BASE_LR 0.03 is the rate used
    cfg.TRAIN.BATCH_SIZE = 16
    assert cfg.SOLVER.LR_SCALING == "none"
    assert lr_at_epoch(cfg, 0.0) == pytest.approx(0.03, abs=1e-15)
    assert describe_lr(cfg) == "effective base LR 0.03 = SOLVER.BASE_LR (SOLVER.LR_SCALING none)"
    cfg.SOLVER.LR_SCALING = "linear"
    assert lr_at_epoch(cfg, 0.0) == pytest.approx(0.03 * 16 / 64, abs=1e-15)
    assert describe_lr(cfg).startswith("effective base LR 0.0075 = SOLVER.BASE_LR 0.03 x TRAIN.BATCH_SIZE 16 / ")


def test_lrs_longer_than_steps_is_accepted_as_in_pyslowfast():
    # configs/SSv2/SLOWFAST_16x8_R50.yaml: six factors for three steps; the extra ones are unused.
    steps, lrs = [0, 14, 18], [1, 0.1, 0.01, 0.001, 0.0001, 0.00001]
    assert [steps_with_relative_lrs(e, steps, lrs) for e in (0, 13.9, 14, 18, 21.9)] == [1, 1, 0.1, 0.01, 0.01]


def test_iresnet_recipe_scales_linearly_with_the_global_batch():
    cfg = _cfg(BASE_LR=0.1, BASE_BATCH_SIZE=64, LR_SCALING="linear")
    cfg.TRAIN.BATCH_SIZE = 128  # twice the base batch: twice the LR
    assert lr_at_epoch(cfg, 0.0) == pytest.approx(0.2, abs=1e-12)
    assert lr_at_epoch(cfg, 30.0) == pytest.approx(0.02, abs=1e-12)
    assert lr_at_epoch(cfg, 60.5) == pytest.approx(0.002, abs=1e-12)
    assert lr_at_epoch(cfg, 85.0) == pytest.approx(0.0002, abs=1e-12)


def test_linear_warmup_reaches_the_policy_value_at_its_end():
    cfg = _cfg(BASE_LR=0.1, BASE_BATCH_SIZE=64, WARMUP_EPOCHS=5.0, WARMUP_START_LR=0.01, LR_SCALING="linear")
    cfg.TRAIN.BATCH_SIZE = 128
    assert lr_at_epoch(cfg, 0.0) == pytest.approx(0.02, abs=1e-12)
    assert lr_at_epoch(cfg, 2.5) == pytest.approx(0.11, abs=1e-12)  # halfway from 0.02 to 0.2
    assert lr_at_epoch(cfg, 5.0) == pytest.approx(0.2, abs=1e-12)


def test_cosine_values():
    kwargs = {"policy": "cosine", "base_lr": 0.1, "max_epoch": 10, "cosine_end_lr": 0.0}
    assert learning_rate(0.0, **kwargs) == pytest.approx(0.1, abs=1e-12)
    assert learning_rate(5.0, **kwargs) == pytest.approx(0.05, abs=1e-12)
    assert learning_rate(2.5, **kwargs) == pytest.approx(0.05 * (math.cos(math.pi / 4) + 1), abs=1e-12)
    assert learning_rate(10.0, **kwargs) == pytest.approx(0.0, abs=1e-12)
    assert learning_rate(10.0, **{**kwargs, "cosine_end_lr": 0.001}) == pytest.approx(0.001, abs=1e-12)


def test_cosine_with_warmup_at_a_fractional_epoch():
    cfg = _cfg(BASE_LR=0.1, BASE_BATCH_SIZE=8, LR_POLICY="cosine", MAX_EPOCH=10, WARMUP_EPOCHS=1.0,
               WARMUP_START_LR=0.01)
    cfg.TRAIN.BATCH_SIZE = 8
    end_of_warmup = 0.05 * (math.cos(math.pi / 10) + 1)
    # iteration 3 of an 8-iteration epoch: fractional epoch 0.375
    assert lr_at_epoch(cfg, 3 / 8) == pytest.approx(0.01 + (end_of_warmup - 0.01) * 0.375, abs=1e-12)
    assert lr_at_epoch(cfg, 1.0) == pytest.approx(end_of_warmup, abs=1e-12)


def _tiny():
    return nn.Sequential(nn.Conv3d(3, 4, 3), nn.BatchNorm3d(4), nn.Flatten(), nn.Linear(4, 2))


def test_bn_parameters_take_bn_weight_decay_and_biases_decay_unless_zero_wd_1d():
    cfg = _cfg(WEIGHT_DECAY=1e-4)  # PySlowFast's defaults: ZERO_WD_1D_PARAM False, BN.WEIGHT_DECAY 0
    bn, rest = param_groups(_tiny(), cfg)
    assert (len(bn["params"]), bn["weight_decay"]) == (2, 0.0)
    assert [p.ndim for p in rest["params"]] == [5, 1, 2, 1] and rest["weight_decay"] == 1e-4
    cfg.SOLVER.ZERO_WD_1D_PARAM = True  # video3d's shipped recipe: biases without decay too
    bn, rest, zero = param_groups(_tiny(), cfg)
    assert [p.ndim for p in rest["params"]] == [5, 2] and [p.ndim for p in zero["params"]] == [1, 1]
    assert (bn["weight_decay"], zero["weight_decay"]) == (0.0, 0.0)
    cfg.BN.WEIGHT_DECAY = 5e-5
    assert param_groups(_tiny(), cfg)[0]["weight_decay"] == 5e-5


def test_build_optimizer_sgd_settings():
    cfg = _cfg(MOMENTUM=0.9, NESTEROV=True, WEIGHT_DECAY=5e-4)
    optimizer = build_optimizer(nn.Linear(3, 2), cfg)
    assert isinstance(optimizer, torch.optim.SGD)
    assert optimizer.param_groups[0]["momentum"] == 0.9 and optimizer.param_groups[0]["nesterov"]
    assert optimizer.param_groups[0]["weight_decay"] == 5e-4
