"""TRAIN.MIXED_PRECISION / TEST.MIXED_PRECISION: the auto rule, the fallback, the one-line errors."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from video3d.config import load_config
from video3d.errors import ConfigError
from video3d.utils.precision import (
    InferencePrecision,
    cpu_bf16_flags,
    resolve_precision,
    with_inference_precision,
)

CPU = torch.device("cpu")
CUDA = torch.device("cuda", 0)


def _runs(_device, _dtype):
    return None


def test_auto_on_a_cpu_follows_its_bf16_flags():
    native = resolve_precision("auto", CPU, bf16_flags=lambda: ("avx512_bf16",), autocast_problem=_runs)
    assert native.dtype is torch.bfloat16 and "avx512_bf16" in native.describe()
    plain = resolve_precision("auto", CPU, bf16_flags=lambda: (), autocast_problem=_runs)
    assert plain.dtype is None and "no amx_bf16 or avx512_bf16" in plain.describe()


def test_auto_on_cuda_is_bf16_where_supported_else_fp16_with_the_scaler():
    ampere = resolve_precision("auto", CUDA, gpu_bf16=lambda _d: True, autocast_problem=_runs)
    volta = resolve_precision("auto", CUDA, gpu_bf16=lambda _d: False, autocast_problem=_runs)
    assert (ampere.dtype, ampere.needs_scaler) == (torch.bfloat16, False)
    assert (volta.dtype, volta.needs_scaler) == (torch.float16, True)


def test_auto_falls_back_to_fp32_in_one_line_when_autocast_fails(caplog):
    with caplog.at_level("WARNING"):
        chosen = resolve_precision("auto", CPU, bf16_flags=lambda: ("amx_bf16",),
                                   autocast_problem=lambda _d, _t: "no kernel")
    assert chosen.dtype is None
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "falling back to fp32" in warnings[0] and "no kernel" in warnings[0]


def test_explicit_bf16_on_a_cpu_without_units_warns_and_is_kept(caplog):
    with caplog.at_level("WARNING"):
        chosen = resolve_precision("bf16", CPU, bf16_flags=lambda: ())
    assert chosen.dtype is torch.bfloat16 and "emulated" in caplog.text


def test_fp16_inference_on_a_cpu_is_allowed_but_training_is_refused():
    assert resolve_precision("fp16", CPU, "TEST.MIXED_PRECISION", training=False).dtype is torch.float16
    with pytest.raises(ConfigError, match=r"^config key TRAIN.MIXED_PRECISION is 'fp16'"):
        resolve_precision("fp16", CPU, "TRAIN.MIXED_PRECISION", training=True)


@pytest.mark.parametrize("key", ["TRAIN.MIXED_PRECISION", "TEST.MIXED_PRECISION"])
def test_an_unknown_value_is_refused_in_one_line_naming_the_key(key):
    with pytest.raises(ConfigError) as info:
        load_config(None, [key, "half"])
    assert str(info.value).startswith(f"config key {key} is 'half'") and "\n" not in str(info.value)


def test_cpu_flags_are_read_from_cpuinfo(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu sse avx512f avx512_bf16 amx_tile\n")
    assert cpu_bf16_flags.__wrapped__(str(cpuinfo)) == ("avx512_bf16",)
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu sse avx2\n")
    assert cpu_bf16_flags.__wrapped__(str(cpuinfo)) == ()


def test_the_inference_wrapper_autocasts_and_returns_float32():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(16, 4)).eval()
    cfg = load_config(None, ["TEST.MIXED_PRECISION", "bf16"])
    wrapped = with_inference_precision(model, cfg)
    assert isinstance(wrapped, InferencePrecision) and with_inference_precision(wrapped, cfg) is wrapped
    x = torch.randn(3, 16)
    with torch.inference_mode():
        out, reference = wrapped(x), model(x)
    assert out.dtype == torch.float32 and not torch.equal(out, reference)  # bf16 matmul rounding
    assert torch.allclose(out, reference, atol=0.05)
    assert with_inference_precision(model, load_config(None, ["TEST.MIXED_PRECISION", "fp32"])) is model
