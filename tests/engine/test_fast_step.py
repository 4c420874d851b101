"""TRAIN.CHANNELS_LAST / TRAIN.COMPILE: layout, numerics, the one-line refusal, unwrapping."""

from __future__ import annotations

import json

import pytest
import torch
from engine_toys import toy_cfg, toy_components

from video3d.config import load_config
from video3d.engine.checkpoint import load_checkpoint, unwrap_model
from video3d.engine.fast_step import (
    autocast_dtype,
    check_compile,
    compile_problem,
    prepare_batch,
    prepare_training_model,
)
from video3d.engine.trainer import Trainer, seed_everything
from video3d.errors import ConfigError
from video3d.models import build_model
from video3d.models.sub_batchnorm import use_sub_batch_norm
from video3d.utils.logging import setup_logging

TINY = ["RESNET.STEM_WIDTH", "8", "RESNET.WIDTH_PER_GROUP", "4", "MODEL.NUM_CLASSES", "5",
        "RESNET.STEM_TEMPORAL_KERNEL", "3", "RESNET.STAGE_BLOCKS", "[1, 1, 1, 1]", "RESNET.LAYOUT", "improved",
        "RESNET.SHORTCUT", "maxpool", "MODEL.DROPOUT_RATE", "0.0"]


def tiny_cfg(*opts: str):
    return load_config(None, [*TINY, *opts])


def test_the_speed_keys_are_off_by_default():
    cfg = load_config(None, [])
    assert (cfg.TRAIN.CHANNELS_LAST, cfg.TRAIN.COMPILE, cfg.TRAIN.COMPILE_MODE) == (False, False, "default")


def test_compile_on_a_build_that_cannot_compile_names_the_key():
    cfg = tiny_cfg("TRAIN.COMPILE", "True")
    with pytest.raises(ConfigError, match=r"^config key TRAIN.COMPILE is True .*no C\+\+ compiler") as info:
        check_compile(cfg, torch.device("cpu"), problem=lambda device: "inductor finds no C++ compiler")
    assert "\n" not in str(info.value)


def test_compile_off_is_never_refused():
    check_compile(tiny_cfg(), torch.device("cpu"), problem=lambda device: "no compiler")


def test_unknown_compile_mode_names_the_key():
    with pytest.raises(ConfigError, match="TRAIN.COMPILE_MODE"):
        load_config(None, ["TRAIN.COMPILE_MODE", "fastest"])


def test_compile_problem_reports_each_missing_piece():
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert compile_problem(cpu, lambda: True, lambda: None, lambda: "no triton") is None
    assert "TorchDynamo" in compile_problem(cpu, lambda: False, lambda: None, lambda: None)
    assert compile_problem(cpu, lambda: True, lambda: "no compiler", lambda: None) == "no compiler"
    assert compile_problem(cuda, lambda: True, lambda: "no compiler", lambda: "no triton") == "no triton"


def test_channels_last_training_step_matches_eager_and_keeps_the_layout():
    torch.manual_seed(0)
    plain = build_model(tiny_cfg())
    cfg = tiny_cfg("TRAIN.CHANNELS_LAST", "True")
    fast = build_model(cfg)
    fast.load_state_dict(plain.state_dict())
    fast = prepare_training_model(fast, cfg, torch.device("cpu"))
    assert fast.stem.conv1.weight.is_contiguous(memory_format=torch.channels_last_3d)
    clip = torch.randn(2, 3, 4, 32, 32)
    fast_clip = prepare_batch(clip, cfg)
    assert fast_clip.is_contiguous(memory_format=torch.channels_last_3d)
    plain(clip).logsumexp(1).sum().backward()
    fast(fast_clip).logsumexp(1).sum().backward()
    torch.testing.assert_close(fast.stem.conv1.weight.grad, plain.stem.conv1.weight.grad, rtol=1e-4, atol=1e-5)


def test_without_channels_last_the_batch_is_untouched():
    clip = torch.randn(1, 3, 2, 4, 4)
    assert prepare_batch(clip, tiny_cfg()) is clip


def test_unwrap_model_peels_the_compiled_wrapper():
    model = build_model(tiny_cfg())
    compiled = torch.compile(model)  # lazy: nothing compiles until it is called
    assert unwrap_model(compiled) is model
    assert list(unwrap_model(compiled).state_dict()) == list(model.state_dict())


@pytest.mark.slow
def test_compiled_training_step_matches_eager():
    torch.manual_seed(0)
    cfg = tiny_cfg("TRAIN.COMPILE", "True")
    plain = build_model(cfg)
    twin = build_model(cfg)
    twin.load_state_dict(plain.state_dict())
    compiled = prepare_training_model(twin, cfg, torch.device("cpu"))
    assert unwrap_model(compiled) is twin
    clip = torch.randn(2, 3, 4, 32, 32)
    torch.testing.assert_close(compiled(clip), plain(clip), rtol=1e-4, atol=1e-4)


def _toy_losses(output_dir, *opts) -> tuple[list[float], dict]:
    setup_logging(str(output_dir), 0)
    try:
        cfg = toy_cfg(str(output_dir), "MODEL.MODEL_NAME", "toy_bn", "SOLVER.MAX_EPOCH", "1", *opts)
        seed_everything(cfg.RNG_SEED, 0)
        Trainer(cfg, toy_components()).train()
    finally:
        setup_logging(None, 0)
    lines = (output_dir / "stdout.log").read_text().splitlines()
    losses = [json.loads(line.split("json_stats: ")[1])["loss"] for line in lines if '"train_iter"' in line]
    state = load_checkpoint(str(output_dir / "checkpoints" / "checkpoint_epoch_00001.pyth"))["model_state"]
    return losses, state


def test_trainer_with_channels_last_trains_like_the_default_layout(tmp_path):
    plain, plain_state = _toy_losses(tmp_path / "plain")
    fast, fast_state = _toy_losses(tmp_path / "fast", "TRAIN.CHANNELS_LAST", "True")
    assert len(plain) == 6 and fast == pytest.approx(plain, rel=1e-4)
    assert fast_state.keys() == plain_state.keys()


@pytest.mark.slow
def test_trainer_with_compile_saves_plain_checkpoints_and_trains_like_eager(tmp_path):
    plain, plain_state = _toy_losses(tmp_path / "plain")
    compiled, compiled_state = _toy_losses(tmp_path / "compiled", "TRAIN.COMPILE", "True")
    assert compiled == pytest.approx(plain, rel=1e-3)
    assert compiled_state.keys() == plain_state.keys()  # no _orig_mod. prefix


def test_mixed_precision_is_bfloat16_autocast_on_the_cpu():
    cpu = torch.device("cpu")
    assert autocast_dtype(tiny_cfg(), cpu) is None
    assert autocast_dtype(tiny_cfg("TRAIN.MIXED_PRECISION", "bf16"), cpu) is torch.bfloat16
    # PySlowFast's boolean still loads: True means auto, False fp32
    assert tiny_cfg("TRAIN.MIXED_PRECISION", "True").TRAIN.MIXED_PRECISION == "auto"
    assert tiny_cfg("TRAIN.MIXED_PRECISION", "False").TRAIN.MIXED_PRECISION == "fp32"


def test_float16_mixed_precision_on_the_cpu_names_the_key():
    cfg = tiny_cfg("TRAIN.MIXED_PRECISION", "fp16")
    with pytest.raises(ConfigError, match=r"^config key TRAIN.MIXED_PRECISION is 'fp16'") as info:
        autocast_dtype(cfg, torch.device("cpu"))
    assert "\n" not in str(info.value)


def test_bfloat16_step_of_a_real_network_with_sub_batch_norm_is_finite_and_close_to_float32():
    torch.manual_seed(0)
    model = build_model(tiny_cfg())
    use_sub_batch_norm(model, 2)
    clip = torch.randn(4, 3, 4, 32, 32)
    reference = model(clip)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = model(clip)
        loss = logits.float().logsumexp(1).sum()
    loss.backward()
    assert logits.dtype == torch.bfloat16
    assert model.stem.conv1.weight.dtype == torch.float32 and model.stem.conv1.weight.grad.dtype == torch.float32
    assert torch.isfinite(model.stem.conv1.weight.grad).all()
    # bfloat16 keeps 8 bits of mantissa: through this network about 10 % of the largest logit.
    assert (logits.float() - reference).abs().max() < 0.2 * reference.abs().max()


def test_trainer_with_mixed_precision_on_the_cpu_trains_in_bfloat16(tmp_path):
    plain, plain_state = _toy_losses(tmp_path / "plain")
    mixed, mixed_state = _toy_losses(tmp_path / "mixed", "TRAIN.MIXED_PRECISION", "bf16")
    assert len(mixed) == len(plain) == 6
    assert mixed != plain  # bfloat16 matmuls round differently: autocast is in effect
    assert mixed == pytest.approx(plain, rel=0.05)
    assert all(tensor.dtype == plain_state[name].dtype for name, tensor in mixed_state.items())
