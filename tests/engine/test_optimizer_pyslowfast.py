"""The optimiser built for PySlowFast's own Kinetics configs has the parameter groups PySlowFast
builds (tensor counts, weight decay, momentum, Nesterov), and video3d's shipped configs keep
their own recipe (no Nesterov, no weight decay on BN parameters and biases)."""

import pathlib

import pytest
import torch
import yaml

from video3d.config import load_config
from video3d.engine.optim import build_optimizer
from video3d.models import build_model

ROOT = pathlib.Path(__file__).resolve().parents[2]
PYSLOWFAST = ROOT / "tests" / "config" / "data" / "pyslowfast"
KINETICS = ["Kinetics_SLOW_8x8_R50.yaml", "Kinetics_C2D_8x8_R50.yaml", "Kinetics_I3D_8x8_R50.yaml"]

# slowfast/config/defaults.py: the defaults its construct_optimizer reads.
PYSLOWFAST_DEFAULTS = {("SOLVER", "MOMENTUM"): 0.9, ("SOLVER", "NESTEROV"): True, ("SOLVER", "DAMPENING"): 0.0,
                       ("SOLVER", "WEIGHT_DECAY"): 1e-4, ("SOLVER", "ZERO_WD_1D_PARAM"): False,
                       ("BN", "WEIGHT_DECAY"): 0.0}


def _pyslowfast_value(tree: dict, section: str, key: str):
    value = tree.get(section, {}).get(key, PYSLOWFAST_DEFAULTS[(section, key)])
    return float(value) if isinstance(value, str) else value  # yaml reads 1e-4 as a string


def pyslowfast_groups(model: torch.nn.Module, tree: dict) -> list[tuple[int, float, float, bool]]:
    """(tensors, weight decay, momentum, nesterov) per group, by the rule of
    slowfast/models/optimizer.py construct_optimizer with SOLVER.LAYER_DECAY 1.0: a parameter of
    a _NormBase module goes to the BN group (BN.WEIGHT_DECAY); with ZERO_WD_1D_PARAM a 1-D one
    or one named *.bias to the zero group; the rest to SOLVER.WEIGHT_DECAY. Groups in the order
    bn, non-bn, zero; empty ones dropped."""
    bn, non_bn, zero = [], [], []
    zero_wd_1d = _pyslowfast_value(tree, "SOLVER", "ZERO_WD_1D_PARAM")
    for name_m, m in model.named_modules():
        is_bn = isinstance(m, torch.nn.modules.batchnorm._NormBase)
        for name_p, p in m.named_parameters(recurse=False):
            name = f"{name_m}.{name_p}".strip(".")
            if is_bn:
                bn.append(p)
            elif zero_wd_1d and (len(p.shape) == 1 or name.endswith(".bias")):
                zero.append(p)
            else:
                non_bn.append(p)
    decays = [_pyslowfast_value(tree, "BN", "WEIGHT_DECAY"), _pyslowfast_value(tree, "SOLVER", "WEIGHT_DECAY"), 0.0]
    momentum, nesterov = _pyslowfast_value(tree, "SOLVER", "MOMENTUM"), _pyslowfast_value(tree, "SOLVER", "NESTEROV")
    return [(len(params), wd, momentum, nesterov) for params, wd in zip((bn, non_bn, zero), decays, strict=True) if params]


def video3d_groups(optimizer: torch.optim.Optimizer) -> list[tuple[int, float, float, bool]]:
    return [(len(g["params"]), g["weight_decay"], g["momentum"], g["nesterov"]) for g in optimizer.param_groups]


def _build(path: pathlib.Path, overrides=()):
    cfg = load_config(str(path), list(overrides))
    with torch.device("meta"):  # the groups need the parameters' shapes only
        model = build_model(cfg)
    return cfg, model


@pytest.mark.parametrize("name", KINETICS)
@pytest.mark.parametrize("zero_wd_1d", [None, True])
def test_groups_of_pyslowfast_kinetics_configs_follow_construct_optimizer(name, zero_wd_1d):
    path = PYSLOWFAST / name
    tree = yaml.safe_load(path.read_text())
    overrides = []
    if zero_wd_1d is not None:
        tree.setdefault("SOLVER", {})["ZERO_WD_1D_PARAM"] = zero_wd_1d
        overrides = ["SOLVER.ZERO_WD_1D_PARAM", str(zero_wd_1d)]
    cfg, model = _build(path, overrides)
    groups = video3d_groups(build_optimizer(model, cfg))
    assert groups == pyslowfast_groups(model, tree)
    # As measured with PySlowFast's own construct_optimizer on its SLOW_8x8_R50 model (53 BN layers).
    expected = [(106, 0.0, 0.9, True), (55, 1e-4, 0.9, True)]
    if zero_wd_1d:
        expected = [(106, 0.0, 0.9, True), (54, 1e-4, 0.9, True), (1, 0.0, 0.9, True)]
    assert groups == expected


SHIPPED_BASES = sorted((ROOT / "configs").glob("*/_base_.yaml"))


@pytest.mark.parametrize("path", SHIPPED_BASES, ids=lambda p: p.parent.name)
def test_shipped_configs_keep_their_recipe(path):
    # video3d's recipe before PySlowFast's defaults were adopted: plain momentum, no weight decay
    # on BN parameters and biases, initial weights start at epoch 0. Every shipped config chains
    # to one of these bases.
    cfg = load_config(str(path))
    assert (cfg.SOLVER.NESTEROV, cfg.SOLVER.ZERO_WD_1D_PARAM, cfg.BN.WEIGHT_DECAY) == (False, True, 0.0)
    assert cfg.TRAIN.CHECKPOINT_EPOCH_RESET is True
    with torch.device("meta"):
        model = build_model(cfg)
    optimizer = build_optimizer(model, cfg)
    decay_of = {id(p): g["weight_decay"] for g in optimizer.param_groups for p in g["params"]}
    for name, param in model.named_parameters():
        want = 0.0 if param.ndim <= 1 else cfg.SOLVER.WEIGHT_DECAY
        assert decay_of[id(param)] == want, name
    assert not any(g["nesterov"] for g in optimizer.param_groups)


def test_every_shipped_config_chains_to_a_base_with_the_recipe():
    for path in sorted((ROOT / "configs").rglob("*.yaml")):
        cfg = load_config(str(path))
        assert (cfg.SOLVER.NESTEROV, cfg.SOLVER.ZERO_WD_1D_PARAM, cfg.TRAIN.CHECKPOINT_EPOCH_RESET) == \
            (False, True, True), path
