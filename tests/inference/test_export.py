"""ONNX (onnxruntime) and TorchScript exports reproduce the eager model, with any batch size."""

import pytest
import torch

from tests.inference.conftest import ROOT
from video3d.config import load_config
from video3d.errors import CheckpointError, ConfigError
from video3d.inference.export import export_model, relative_error
from video3d.inference.runners import OnnxRunner, TorchScriptRunner, load_runner, model_file_kind
from video3d.models import build_model

# Tiny widths and inputs; the backbones' blocks, stems and shortcuts are the shipped ones.
TINY = ["RESNET.STAGE_BLOCKS", "[1, 1, 1, 1]", "RESNET.STEM_WIDTH", "8", "RESNET.WIDTH_PER_GROUP", "8",
        "MODEL.NUM_CLASSES", "5", "DATA.NUM_FRAMES", "8", "DATA.TEST_CROP_SIZE", "48"]
BACKBONES = ["resnet3d_50", "iresnet3d_50", "hsresnet3d_50", "resnest3d_50", "iresnet3d_50_ffc"]
FAST = {("iresnet3d_50_ffc", "onnx"), ("hsresnet3d_50", "torchscript")}


def _model(name, *extra):
    cfg = load_config(str(ROOT / "configs" / "kinetics" / f"{name}.yaml"), [*TINY, *extra])
    torch.manual_seed(0)
    model = build_model(cfg).eval()
    with torch.no_grad():  # non-trivial BN statistics, so a wrong BN export would show
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm3d):
                module.running_mean.uniform_(-0.2, 0.2)
                module.running_var.uniform_(0.5, 1.5)
    return cfg, model


# One export per format in the unit suite (a few CPU seconds each); the whole matrix with -m slow.
CASES = [pytest.param(name, fmt, marks=() if (name, fmt) in FAST else pytest.mark.slow)
         for name in BACKBONES for fmt in ("onnx", "torchscript")]


@pytest.mark.parametrize(("name", "fmt"), CASES)
def test_export_matches_eager_within_1e4_for_batch_1_and_4(name, fmt, tmp_path):
    cfg, model = _model(name)
    path = str(tmp_path / f"model.{fmt}")
    check = export_model(model, cfg, fmt, path)
    assert check.ok, check.relative_error
    runner = OnnxRunner(path) if fmt == "onnx" else TorchScriptRunner(path)
    for batch in (1, 4):
        clips = torch.randn(batch, 3, 8, 48, 48)
        with torch.no_grad():
            expected = model(clips)
        actual = runner(clips)
        assert actual.shape == expected.shape == ((batch, 7, 5) if name.endswith("_ffc") else (batch, 5))
        assert relative_error(actual, expected) <= 1e-4


def test_exported_file_for_another_input_size_is_refused_in_one_line(tmp_path):
    cfg, model = _model("resnet3d_50")
    path = str(tmp_path / "model.onnx")
    export_model(model, cfg, "onnx", path)
    other = load_config(str(ROOT / "configs" / "kinetics" / "resnet3d_50.yaml"), [*TINY, "DATA.TEST_CROP_SIZE", "64"])
    with pytest.raises(CheckpointError, match=r"model.onnx takes clips of shape \[3, 8, 48, 48\].*\[3, 8, 64, 64\]"):
        load_runner(other, path)
    assert isinstance(load_runner(cfg, path), OnnxRunner)


def test_file_kinds_are_told_apart(tmp_path):
    cfg, model = _model("resnet3d_50")
    torch.save({"model_state": model.state_dict()}, tmp_path / "w.pyth")
    export_model(model, cfg, "torchscript", str(tmp_path / "m.pt"))
    (tmp_path / "junk.onnx").write_bytes(b"junk")
    assert model_file_kind(str(tmp_path / "w.pyth")) == "checkpoint"
    assert model_file_kind(str(tmp_path / "m.pt")) == "torchscript"
    with pytest.raises(CheckpointError, match="junk.onnx is not a readable ONNX model"):
        load_runner(cfg, str(tmp_path / "junk.onnx"))


def test_bf16_torchscript_export_matches_eager_bf16_and_onnx_bf16_is_refused(tmp_path):
    cfg, model = _model("iresnet3d_50_ffc")
    path = str(tmp_path / "model_bf16.pt")
    check = export_model(model, cfg, "torchscript", path, dtype="bf16")
    assert check.ok, check.relative_error  # against eager under the same bfloat16 autocast
    clips = torch.randn(2, 3, 8, 48, 48)
    with torch.no_grad():
        fp32 = model(clips)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            bf16 = model(clips).float()
    actual = TorchScriptRunner(path)(clips)
    assert actual.dtype == torch.float32
    assert relative_error(actual, bf16) <= 1e-4 < relative_error(actual, fp32)  # bfloat16 is in the file
    with pytest.raises(ConfigError, match=r"^--dtype bf16 needs --format torchscript") as info:
        export_model(model, cfg, "onnx", str(tmp_path / "model.onnx"), dtype="bf16")
    assert "\n" not in str(info.value)
