"""Speed settings of the training step: TRAIN.CHANNELS_LAST, TRAIN.COMPILE and
TRAIN.MIXED_PRECISION.

`to_training_layout` puts the model in channels_last_3d memory, `compile_training_model`
wraps it in `torch.compile` (mode TRAIN.COMPILE_MODE), `prepare_batch` gives the input clip
the model's layout. Both are off by default: measured on the CPU (README, benchmarks/bench_models.py)
neither made the fp32 training step faster there. A torch build that cannot compile for
the training device is refused up front with one line naming TRAIN.COMPILE, instead of a
long inductor traceback at the first step. `autocast_dtype` resolves TRAIN.MIXED_PRECISION
(auto, fp32, bf16, fp16) through video3d.utils.precision: bfloat16 autocast on a CPU is fast on
AMX / AVX512-BF16 units (0.49x the float32 step, docs/BENCHMARKS.md), emulated elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from fvcore.common.config import CfgNode
from torch import nn

from video3d.config.choices import COMPILE_MODES
from video3d.errors import ConfigError
from video3d.utils.logging import get_logger
from video3d.utils.precision import training_precision

logger = get_logger(__name__)



def _dynamo_supported() -> bool:
    import torch._dynamo

    return bool(torch._dynamo.is_dynamo_supported())


def _cpp_compiler_problem() -> str | None:
    try:
        from torch._inductor.cpp_builder import get_cpp_compiler

        get_cpp_compiler()
    except Exception as error:  # the exception type differs between torch versions
        return f"inductor finds no C++ compiler for CPU kernels ({str(error).splitlines()[0]})"
    return None


def _triton_problem() -> str | None:
    from torch.utils._triton import has_triton

    return None if has_triton() else "inductor needs triton for CUDA kernels and it is not importable"


def compile_problem(device: torch.device,
                    dynamo_supported: Callable[[], bool] = _dynamo_supported,
                    cpp_compiler_problem: Callable[[], str | None] = _cpp_compiler_problem,
                    triton_problem: Callable[[], str | None] = _triton_problem) -> str | None:
    """Why this torch build cannot `torch.compile` a model for `device`, or None if it can."""
    if not hasattr(torch, "compile"):
        return f"torch {torch.__version__} has no torch.compile"
    if not dynamo_supported():
        return f"TorchDynamo does not support this platform (torch {torch.__version__})"
    return triton_problem() if device.type == "cuda" else cpp_compiler_problem()


def check_compile(cfg: CfgNode, device: torch.device, problem: Callable[[torch.device], str | None] = compile_problem
                  ) -> None:
    """ConfigError naming TRAIN.COMPILE (one line) when compilation is asked for and impossible."""
    COMPILE_MODES[cfg.TRAIN.COMPILE_MODE]  # the table's one-line error for an unknown mode
    if not cfg.TRAIN.COMPILE:
        return
    reason = problem(device)
    if reason:
        raise ConfigError(f"config key TRAIN.COMPILE is True but this torch build cannot compile for {device.type}: "
                          f"{reason}; set TRAIN.COMPILE False")


def to_training_layout(model: nn.Module, cfg: CfgNode) -> nn.Module:
    """`model` in channels_last_3d memory with TRAIN.CHANNELS_LAST, in place (the parameter
    objects stay, so an optimiser and checkpoints see the same tensors). Call it before a
    DistributedDataParallel wrap, whose gradient buckets follow the parameters' layout."""
    if cfg.TRAIN.CHANNELS_LAST:
        model.to(memory_format=torch.channels_last_3d)
    return model


def compile_training_model(model: nn.Module, cfg: CfgNode, device: torch.device) -> nn.Module:
    """The module the training step calls: `model` itself, or with TRAIN.COMPILE its
    torch.compile wrapper (after any DDP wrap); `video3d.engine.checkpoint.unwrap_model`
    peels it for checkpoints and validation."""
    check_compile(cfg, device)
    if not cfg.TRAIN.COMPILE:
        return model
    mode = None if cfg.TRAIN.COMPILE_MODE == "default" else cfg.TRAIN.COMPILE_MODE
    logger.info("TRAIN.COMPILE: torch.compile (mode %s); the first step of each input shape compiles",
                cfg.TRAIN.COMPILE_MODE)
    return torch.compile(model, mode=mode)


def prepare_training_model(model: nn.Module, cfg: CfgNode, device: torch.device) -> nn.Module:
    """`to_training_layout`, then `compile_training_model` (a single-process model)."""
    return compile_training_model(to_training_layout(model, cfg), cfg, device)


def prepare_batch(videos: torch.Tensor, cfg: CfgNode) -> torch.Tensor:
    """The input clip in the layout of the model (channels_last_3d with TRAIN.CHANNELS_LAST)."""
    if cfg.TRAIN.CHANNELS_LAST and videos.dim() == 5:
        return videos.contiguous(memory_format=torch.channels_last_3d)
    return videos


def autocast_dtype(cfg: CfgNode, device: torch.device) -> torch.dtype | None:
    """The autocast dtype of TRAIN.MIXED_PRECISION on `device` (None = float32 training), with
    the one log line saying which and why (video3d.utils.precision decides)."""
    return training_precision(cfg, device).dtype
