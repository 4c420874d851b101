"""TRAIN.CHECKPOINT_FILE_PATH with PySlowFast's default TRAIN.CHECKPOINT_EPOCH_RESET False: a
PySlowFast .pyth continues at its epoch + 1 with its optimizer state placed by parameter name;
groups that do not fit restart the optimizer with one warning line. Also the auto inflation
method and TRAIN.CHECKPOINT_ALLOW_PARTIAL with tensors of another shape."""

import logging
import random
import sys
from pathlib import Path

import pytest
import torch

from video3d.config import load_config
from video3d.engine import checkpoint as ckpt
from video3d.engine.hooks import PlotHook, default_hooks
from video3d.engine.initial_weights import inflate_method
from video3d.engine.optim import build_optimizer, config_param_group_names
from video3d.engine.optimizer_state import legacy_group_names
from video3d.engine.trainer import Trainer
from video3d.models import build_model, load_pretrained

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "cli"))
from engine_toys import ToyNet, toy_cfg, toy_components  # noqa: E402
from test_convert_weights import SLOW_LIKE, pyslowfast_names  # noqa: E402


@pytest.fixture
def cfg_file(tmp_path):
    path = tmp_path / "slow_like.yaml"
    path.write_text(SLOW_LIKE + "TEST:\n  ENABLE: False\nSOLVER:\n  MAX_EPOCH: 10\n")
    return str(path)


def _pyslowfast_file(tmp_path, cfg, epoch: int, shuffle: bool) -> tuple[str, dict]:
    """A .pyth as PySlowFast saves it: model_state under its names, optimizer_state numbered by
    construct_optimizer's groups over the model's state-dict order, epoch = the completed one.
    With `shuffle` the file's tensor order differs from video3d's module order, so only a
    placement by name gives each parameter its own momentum."""
    torch.manual_seed(0)
    model = build_model(cfg)
    optimizer = build_optimizer(model, cfg)
    for param in model.parameters():
        param.grad = torch.randn_like(param)
    optimizer.step()
    momentum = {name: optimizer.state[param]["momentum_buffer"] for name, param in model.named_parameters()}
    names = list(model.state_dict())
    if shuffle:
        random.Random(1).shuffle(names)
    order = [n for n in names if n in momentum]
    name_of = {id(p): n for n, p in model.named_parameters()}
    saved_groups, state, index = [], {}, 0
    for group, saved in zip(optimizer.param_groups, optimizer.state_dict()["param_groups"], strict=True):
        members = {name_of[id(p)] for p in group["params"]}
        ids = []
        for name in (n for n in order if n in members):
            state[index] = {"momentum_buffer": momentum[name].clone()}
            ids.append(index)
            index += 1
        saved_groups.append({**saved, "params": ids})
    weights = model.state_dict()
    path = str(tmp_path / "SLOW_8x8.pyth")
    torch.save({"model_state": pyslowfast_names({n: weights[n] for n in names}),
                "optimizer_state": {"state": state, "param_groups": saved_groups},
                "epoch": epoch, "cfg": "MODEL:\n  ARCH: slow\n"}, path)
    return path, momentum


def _trainer(cfg_file, tmp_path, path, *opts):
    components = toy_components()
    components.build_model, components.load_pretrained = build_model, load_pretrained
    cfg = load_config(cfg_file, ["OUTPUT_DIR", str(tmp_path / "run"), "TRAIN.CHECKPOINT_FILE_PATH", path, *opts])
    return Trainer(cfg, components)


@pytest.mark.parametrize("shuffle", [False, True])
def test_a_pyslowfast_checkpoint_continues_at_its_epoch_plus_one_with_its_momentum(tmp_path, cfg_file, shuffle,
                                                                                   caplog):
    path, momentum = _pyslowfast_file(tmp_path, load_config(cfg_file), epoch=3, shuffle=shuffle)
    with caplog.at_level(logging.INFO, logger="video3d"):
        trainer = _trainer(cfg_file, tmp_path, path)
    assert trainer.state.start_epoch == 4  # PySlowFast: start_epoch = checkpoint_epoch + 1
    model, optimizer = ckpt.unwrap_model(trainer.model), trainer.optimizer
    for name, param in model.named_parameters():
        assert torch.equal(optimizer.state[param]["momentum_buffer"], momentum[name]), name
    assert f"{path}: continuing at epoch 5 of 10 (TRAIN.CHECKPOINT_EPOCH_RESET False), optimizer state loaded" in \
        caplog.text


def test_groups_that_do_not_fit_restart_the_optimizer_with_one_line(tmp_path, cfg_file, caplog):
    saved_cfg = load_config(cfg_file, ["SOLVER.ZERO_WD_1D_PARAM", "True"])  # three groups, this run two
    path, _ = _pyslowfast_file(tmp_path, saved_cfg, epoch=3, shuffle=False)
    with caplog.at_level(logging.WARNING, logger="video3d"):
        trainer = _trainer(cfg_file, tmp_path, path)
    assert trainer.state.start_epoch == 4
    assert not trainer.optimizer.state
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [f"{path}: optimizer state not loaded (3 parameter groups in the file, 2 in this run); "
                        "the optimizer restarts"]


def test_a_new_head_restarts_the_optimizer_and_epoch_reset_starts_at_zero(tmp_path, cfg_file, caplog):
    path, _ = _pyslowfast_file(tmp_path, load_config(cfg_file), epoch=3, shuffle=False)
    with caplog.at_level(logging.WARNING, logger="video3d"):
        trainer = _trainer(cfg_file, tmp_path, path, "MODEL.NUM_CLASSES", "7")
    assert "head.fc.weight: saved momentum_buffer of shape [5, 256], the parameter is [7, 256]" in caplog.text
    assert trainer.state.start_epoch == 4 and not trainer.optimizer.state
    trainer = _trainer(cfg_file, tmp_path, path, "TRAIN.CHECKPOINT_EPOCH_RESET", "True")
    assert trainer.state.start_epoch == 0 and not trainer.optimizer.state


def test_a_finished_pyslowfast_run_says_there_is_nothing_left_to_train(tmp_path, cfg_file, caplog):
    path, _ = _pyslowfast_file(tmp_path, load_config(cfg_file), epoch=9, shuffle=False)
    with caplog.at_level(logging.WARNING, logger="video3d"):
        _trainer(cfg_file, tmp_path, path)
    assert "nothing left to train; set TRAIN.CHECKPOINT_EPOCH_RESET True to fine-tune" in caplog.text


def test_auto_inflation_is_pyslowfast_mean_for_its_archs_and_centre_for_resnet3d():
    assert load_config(None).TRAIN.CHECKPOINT_INFLATE_METHOD == "auto"
    assert inflate_method(load_config(None, ["MODEL.ARCH", "i3d"]))[0] == "mean"
    assert inflate_method(load_config(None, ["MODEL.ARCH", "resnet3d"]))[0] == "centre"
    assert inflate_method(load_config(None, ["MODEL.ARCH", "i3d", "TRAIN.CHECKPOINT_INFLATE_METHOD", "centre"]))[0] \
        == "centre"


def test_allow_partial_skips_tensors_of_another_shape_with_a_count(tmp_path, caplog):
    source = ToyNet(4, 0.0, batchnorm=False).state_dict()
    source["conv.weight"] = torch.zeros(6, 3, 1, 3, 3)  # another temporal kernel
    path = str(tmp_path / "init.pyth")
    ckpt.save_checkpoint(path, {"model_state": source})
    components = toy_components()
    components.load_pretrained = load_pretrained
    with pytest.raises(ckpt.CheckpointError, match=r"conv.weight has shape \[6, 3, 1, 3, 3\]"):
        Trainer(toy_cfg(str(tmp_path / "a"), "TRAIN.CHECKPOINT_FILE_PATH", path), components)
    with caplog.at_level(logging.WARNING, logger="video3d"):
        trainer = Trainer(toy_cfg(str(tmp_path / "b"), "TRAIN.CHECKPOINT_FILE_PATH", path,
                                  "TRAIN.CHECKPOINT_ALLOW_PARTIAL", "True"), components)
    assert torch.equal(trainer.model.fc.weight, source["fc.weight"])
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "leave 1 of 4 backbone tensors unloaded (e.g. conv.weight); 1 of another shape skipped " \
           "(e.g. conv.weight [6, 3, 1, 3, 3] vs [6, 3, 3, 3, 3])" in warnings[0]


def test_auto_resume_of_a_checkpoint_in_video3ds_earlier_group_layout_continues_exactly(tmp_path):
    opts = ("MODEL.MODEL_NAME", "toy_bn", "SOLVER.ZERO_WD_1D_PARAM", "True", "TRAIN.EVAL_PERIOD", "0")
    def without_plots(cfg):  # the curves take most of a toy run's time
        return [hook for hook in default_hooks(cfg) if not isinstance(hook, PlotHook)]

    cfg = toy_cfg(str(tmp_path), *opts)
    straight = Trainer(cfg, toy_components(), hooks=without_plots(cfg))
    straight.train()
    folder = tmp_path / "checkpoints"
    (folder / "checkpoint_epoch_00002.pyth").unlink()
    first = folder / "checkpoint_epoch_00001.pyth"
    state = ckpt.load_checkpoint(str(first))
    # Rewrite its optimizer state as video3d wrote it before PySlowFast's groups: [>1-D, 1-D].
    model = ckpt.unwrap_model(straight.model)
    names = [name for name, _ in model.named_parameters()]
    groups = state["optimizer_state"]["param_groups"]  # bn, decayed, zero
    position = {name: i for i, name in enumerate(n for _, ns in config_param_group_names(model, straight.cfg)
                                                  for n in ns)}
    legacy = legacy_group_names(model, zero_wd_1d=True)
    assert sorted(n for ns in legacy for n in ns) == sorted(names) and len(groups) == 3
    entries = state["optimizer_state"]["state"]
    flat = [name for ns in legacy for name in ns]
    state["optimizer_state"] = {
        "state": {i: entries[position[name]] for i, name in enumerate(flat) if position[name] in entries},
        "param_groups": [{**groups[1], "params": list(range(len(legacy[0])))},
                         {**groups[2], "params": list(range(len(legacy[0]), len(flat)))}]}
    ckpt.save_checkpoint(str(first), state)
    resumed = Trainer(cfg, toy_components(), hooks=without_plots(cfg))
    assert resumed.state.start_epoch == 1
    resumed.train()
    for (name, mine), theirs in zip(ckpt.unwrap_model(resumed.model).state_dict().items(),
                                    model.state_dict().values(), strict=True):
        assert torch.equal(mine, theirs), name
