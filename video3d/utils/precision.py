"""TRAIN.MIXED_PRECISION / TEST.MIXED_PRECISION: which autocast dtype a run uses, and why.

Values (PRECISIONS, below): `fp32` (no autocast), `bf16`, `fp16`, and `auto`:
- on a CPU, bfloat16 autocast where the CPU computes bfloat16 natively (its flags name
  amx_bf16 or avx512_bf16), float32 elsewhere (emulated bfloat16 is slower than float32);
- on CUDA, bfloat16 where the GPU supports it, else float16 (training adds a GradScaler).
`auto` falls back to float32 with one warning line when the chosen autocast does not run here.

`resolve_precision` is the one decision; `training_precision` / `inference_precision` read it
from a config and log it once; `InferencePrecision` wraps an eager model for predict, the demo
and serve (fp32 logits out, so the softmax averaging and the FFC vote stay float32).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from dataclasses import dataclass

import torch
from fvcore.common.config import CfgNode
from torch import nn

from video3d.choices import Choices
from video3d.errors import ConfigError
from video3d.utils.logging import get_logger

# TRAIN.MIXED_PRECISION / TEST.MIXED_PRECISION (config/choices.py lists them with the other
# value-only keys; config checks them when a config loads).
_PRECISION_VALUES = {
    "auto": "bf16 on a CPU with native bfloat16 (amx_bf16, avx512_bf16), else fp32; on CUDA bf16, else fp16",
    "fp32": "no autocast",
    "bf16": "bfloat16 autocast",
    "fp16": "float16 autocast (a GradScaler in training; GPU training only)",
}
PRECISIONS = Choices("TRAIN.MIXED_PRECISION", _PRECISION_VALUES)
TEST_PRECISIONS = Choices("TEST.MIXED_PRECISION", _PRECISION_VALUES)


logger = get_logger(__name__)

BF16_FLAGS = ("amx_bf16", "avx512_bf16")  # /proc/cpuinfo flags of native bfloat16 arithmetic
TRAIN_KEY = "TRAIN.MIXED_PRECISION"
TEST_KEY = "TEST.MIXED_PRECISION"
_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


@functools.lru_cache(maxsize=1)
def cpu_bf16_flags(cpuinfo: str = "/proc/cpuinfo") -> tuple[str, ...]:
    """The native-bfloat16 flags of this CPU (amx_bf16, avx512_bf16), read from `cpuinfo`;
    where that file does not exist (macOS, Windows), from torch's own CPU probe."""
    try:
        with open(cpuinfo, encoding="utf-8", errors="replace") as handle:
            flags: set[str] = set()
            for line in handle:
                if line.startswith("flags"):
                    flags.update(line.split(":", 1)[-1].split())
                    break
        return tuple(flag for flag in BF16_FLAGS if flag in flags)
    except OSError:
        found = [torch.cpu._is_amx_tile_supported(), torch.cpu._is_avx512_bf16_supported()]
        return tuple(flag for flag, present in zip(BF16_FLAGS, found, strict=True) if present)


def cuda_supports_bf16(device: torch.device) -> bool:
    """Whether the GPU `device` computes bfloat16 (Ampere and later)."""
    with torch.cuda.device(device):
        return bool(torch.cuda.is_bf16_supported())


def _autocast_runs(device: torch.device, dtype: torch.dtype) -> str | None:
    """Why a small matmul under autocast(`dtype`) fails on `device`, or None if it runs."""
    try:
        with torch.autocast(device.type, dtype=dtype):
            torch.ones(2, 2, device=device) @ torch.ones(2, 2, device=device)
    except (RuntimeError, AssertionError) as error:
        return str(error).splitlines()[0] if str(error) else type(error).__name__
    return None


@dataclass(frozen=True)
class Precision:
    """The resolved setting: `dtype` None means float32 (no autocast)."""

    key: str
    value: str
    device_type: str
    dtype: torch.dtype | None
    reason: str

    @property
    def name(self) -> str:
        """fp32, bf16 or fp16: what the run computes in."""
        return {None: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}[self.dtype]

    @property
    def needs_scaler(self) -> bool:
        """float16 training on a GPU needs a GradScaler."""
        return self.dtype == torch.float16

    def autocast(self) -> contextlib.AbstractContextManager:
        """The autocast context of this setting (a no-op for float32)."""
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device_type, dtype=self.dtype)

    def describe(self) -> str:
        """One log line: the key, its value, the choice and why."""
        return f"{self.key} {self.value}: {self.name} on {self.device_type} ({self.reason})"


def resolve_precision(value: str, device: torch.device, key: str = TRAIN_KEY, training: bool = True,
                      bf16_flags: Callable[[], tuple[str, ...]] = cpu_bf16_flags,
                      gpu_bf16: Callable[[torch.device], bool] = cuda_supports_bf16,
                      autocast_problem: Callable[[torch.device, torch.dtype], str | None] = _autocast_runs,
                      ) -> Precision:
    """The precision config key `key` (value `value`) selects on `device`; a ConfigError naming
    the key for an unknown value, and for float16 on a CPU in training (no GradScaler there)."""
    PRECISIONS.lookup(value, key)  # the table's one-line error for an unknown value
    cpu = device.type == "cpu"
    if value == "fp32":
        return Precision(key, value, device.type, None, "asked for")
    if value in _DTYPES:
        dtype = _DTYPES[value]
        if cpu and dtype == torch.float16 and training:
            raise ConfigError(f"config key {key} is 'fp16', which training on the CPU does not support (no "
                              "GradScaler there); set it to bf16, auto or fp32 (or train on a GPU)")
        reason = "asked for"
        if cpu and dtype == torch.bfloat16 and not bf16_flags():
            logger.warning("%s bf16: this CPU has no amx_bf16 or avx512_bf16 flag, so bfloat16 is emulated and "
                           "likely slower than float32 (%s auto would choose fp32)", key, key)
            reason = "asked for; emulated on this CPU"
        return Precision(key, value, device.type, dtype, reason)
    # auto
    if cpu:
        flags = bf16_flags()
        if not flags:
            return Precision(key, value, device.type, None,
                             "this CPU has no amx_bf16 or avx512_bf16 flag: bfloat16 would be emulated, slower")
        dtype, reason = torch.bfloat16, f"this CPU computes bfloat16 natively: {', '.join(flags)}"
    elif device.type == "cuda":
        if gpu_bf16(device):
            dtype, reason = torch.bfloat16, "this GPU supports bfloat16"
        else:
            dtype, reason = torch.float16, "this GPU has no bfloat16" + (", float16 with a GradScaler" if training else "")
    else:
        return Precision(key, value, device.type, None, f"no mixed-precision rule for device type {device.type}")
    problem = autocast_problem(device, dtype)
    if problem:
        logger.warning("%s auto: falling back to fp32: %s autocast does not run on %s (%s)",
                       key, str(dtype).removeprefix("torch."), device.type, problem)
        return Precision(key, value, device.type, None, f"{str(dtype).removeprefix('torch.')} autocast failed here")
    return Precision(key, value, device.type, dtype, reason)


def training_precision(cfg: CfgNode, device: torch.device) -> Precision:
    """TRAIN.MIXED_PRECISION on `device`, logged in one line."""
    precision = resolve_precision(cfg.TRAIN.MIXED_PRECISION, device, TRAIN_KEY, training=True)
    logger.info(precision.describe())
    return precision


def inference_precision(cfg: CfgNode, device: torch.device, log: bool = True) -> Precision:
    """TEST.MIXED_PRECISION on `device` (the 30-view test, predict, the demo, serve), logged in one line."""
    precision = resolve_precision(cfg.TEST.MIXED_PRECISION, device, TEST_KEY, training=False)
    if log:
        logger.info(precision.describe())
    return precision


class InferencePrecision(nn.Module):
    """`model` run under `precision`'s autocast, its outputs returned in float32 (so the softmax
    averaging and the FFC vote downstream stay float32). Parameters stay the model's own."""

    def __init__(self, model: nn.Module, precision: Precision):
        super().__init__()
        self.model = model
        self.precision = precision

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        with self.precision.autocast():
            return self.model(clips).float()


def with_inference_precision(model: nn.Module, cfg: CfgNode) -> nn.Module:
    """`model` (an eager checkpoint model) under TEST.MIXED_PRECISION, or itself when that is
    fp32 here. Exported runners (a `kind` attribute: onnx, torchscript) keep the dtype they were
    exported in and are returned as they are. The one call predict, the demo and serve make."""
    if isinstance(model, InferencePrecision) or getattr(model, "kind", None) is not None:
        return model
    parameter = next(model.parameters(), None)
    device = parameter.device if parameter is not None else torch.device("cpu")
    precision = inference_precision(cfg, device)
    return model if precision.dtype is None else InferencePrecision(model, precision).eval()
