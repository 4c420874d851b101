"""Export a model to ONNX or TorchScript, then check the file against the eager model.

Both formats take clips `[B, C, T, S, S]` with a dynamic batch size and return the raw logits
of `build_model` (`[B, K]`, or the FFC head's seven outputs `[B, 7, K]`: the vote is a few
lines of Python, `video3d.models.ffc_vote`, kept out of the graph). The file records the
input shape and classes (`runners.export_note`), so a runner refuses a config it was not made
for, and the class names, so predict and demo name the classes without a names file. `dtype` bf16 (`--dtype bf16`) traces the model under bfloat16
autocast (float32 clips in, float32 logits out, as TEST.MIXED_PRECISION bf16 runs it eagerly)
and checks the file against that eager bf16 model; TorchScript only (ONNX's Conv takes no
bfloat16). ONNX goes through PyTorch's TorchScript-based exporter (opset 17), which needs no extra
package beyond `onnx`; TorchScript is a trace.
"""

from __future__ import annotations

import copy
import json
import os
import warnings
from dataclasses import dataclass

import torch
from fvcore.common.config import CfgNode
from torch import nn

from video3d.errors import ConfigError, DataError
from video3d.inference.runners import EXPORT_NOTE, OnnxRunner, TorchScriptRunner, expected_input, export_note
from video3d.models.pooling import ChannelsLastMaxPool3d
from video3d.utils.io import atomic_write, write_failure
from video3d.utils.precision import InferencePrecision, resolve_precision

FORMATS = ("onnx", "torchscript")
DTYPES = ("fp32", "bf16")  # fp32 unless asked: an exported file should not depend on the CPU at hand
ONNX_OPSET = 17
TOLERANCE = 1e-4  # relative: max |exported - eager| / max |eager|


@dataclass
class ExportCheck:
    """How the exported file compared with the eager model on random clips."""

    path: str
    relative_error: float
    batch_sizes: tuple[int, ...]

    @property
    def ok(self) -> bool:
        return self.relative_error <= TOLERANCE


def exportable(model: nn.Module) -> nn.Module:
    """An eval-mode copy whose layout-only tricks are undone: `ChannelsLastMaxPool3d` becomes a
    plain max-pool (same numbers; ONNX has no memory formats)."""
    model = copy.deepcopy(model).cpu().eval()
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, ChannelsLastMaxPool3d):
                setattr(parent, name, nn.MaxPool3d(child.kernel_size, child.stride, child.padding,
                                                   child.dilation, ceil_mode=child.ceil_mode))
    return model


def relative_error(actual: torch.Tensor, expected: torch.Tensor) -> float:
    """max |actual - expected| / max |expected| (the export check and the tests use it)."""
    scale = float(expected.abs().max()) or 1.0
    return float((actual.detach().float() - expected.detach().float()).abs().max()) / scale


def export_model(model: nn.Module, cfg: CfgNode, fmt: str, path: str, seed: int = 0,
                 class_names: list[str] | None = None, dtype: str = "fp32") -> ExportCheck:
    """Write `model` (built from `cfg`) to `path` as `fmt` in `dtype`, atomically, with
    `class_names` in its note, and compare the file's outputs with the eager model's in the
    same dtype on random clips of batch 2 and 3 (the batch is dynamic)."""
    if fmt not in FORMATS:
        raise ConfigError(f"--format is {fmt!r}; expected one of {', '.join(FORMATS)}")
    if dtype not in DTYPES:
        raise ConfigError(f"--dtype is {dtype!r}; expected one of {', '.join(DTYPES)}")
    if dtype == "bf16" and fmt == "onnx":
        raise ConfigError("--dtype bf16 needs --format torchscript: ONNX's Conv takes no bfloat16 tensors "
                          "(onnxruntime refuses the graph)")
    model = exportable(model)
    if dtype == "bf16":
        model = InferencePrecision(model, resolve_precision("bf16", torch.device("cpu"), "--dtype", training=False))
    generator = torch.Generator().manual_seed(seed)
    shape = expected_input(cfg)
    example = torch.randn([2, *shape], generator=generator)
    note = json.dumps({**export_note(cfg, class_names), "dtype": dtype})
    try:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with atomic_write(path, "wb") as handle, warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the exporters' deprecation and tracer notes
            if fmt == "onnx":
                _write_onnx(model, example, note, handle)
            else:
                traced = torch.jit.trace(model, example, check_trace=False)
                torch.jit.save(traced, handle, _extra_files={EXPORT_NOTE: note})
    except OSError as error:  # an unwritable folder, a full disk: nothing is left under `path`
        raise DataError(write_failure(path, error)) from None
    runner = OnnxRunner(path) if fmt == "onnx" else TorchScriptRunner(path)
    errors = []
    batches = (2, 3)
    with torch.inference_mode():
        for batch in batches:
            clips = torch.randn([batch, *shape], generator=generator)
            errors.append(relative_error(runner(clips), model(clips)))
    return ExportCheck(path, max(errors), batches)


def _write_onnx(model: nn.Module, example: torch.Tensor, note: str, handle) -> None:
    import io

    import onnx

    buffer = io.BytesIO()
    torch.onnx.export(
        model, (example,), buffer, input_names=["clips"], output_names=["logits"],
        dynamic_axes={"clips": {0: "batch"}, "logits": {0: "batch"}}, opset_version=ONNX_OPSET, dynamo=False,
    )
    proto = onnx.load_from_string(buffer.getvalue())
    onnx.helper.set_model_props(proto, {EXPORT_NOTE: note})
    handle.write(proto.SerializeToString())
