"""One flow recipe and one pair driver, for extracted and online flow alike.

`FlowRecipe` says how a flow model's input is computed from frames: the algorithm, the
quantisation bound, the frame size and rate the algorithm sees (data_prep.extract_flow's
`--algo`, `--bound`, `--short-side` / `--size`, `--fps`; a model's DATA.FLOW_ALGO, FLOW_BOUND,
FLOW_SHORT_SIDE / FLOW_SIZE, FLOW_FPS), plus where and how it runs (backend, device, compile,
pairs per call). `flow_pairs` computes the quantised flow of frame pairs with a recipe; the
online flow source (video3d.data.online_flow), the demo's flow windows
(video3d.inference.flow_windows) and extract_flow all call it, so the network sees the same
bytes whichever way its flow was made. The resize arithmetic is `video3d.flow.frames`; the
resize rules are `video3d.config.checks.check_flow_resize`, shared with the config checks.
"""

from __future__ import annotations

import multiprocessing
from dataclasses import dataclass

import numpy as np
import torch
from fvcore.common.config import CfgNode

from video3d.config.checks import check_flow_resize
from video3d.config.choices import FLOW_ALGORITHMS
from video3d.errors import ConfigError
from video3d.flow.frames import output_size
from video3d.flow.opencv import FlowComputer
from video3d.flow.quantize import quantize_flow
from video3d.flow.tvl1 import TVL1

DEFAULT_BOUND = 20.0  # pixels; denseflow -b 20 and MARS (docs/DATA.md)
FLOW_BACKENDS = ("torch", "opencv")  # TV-L1 on video3d.flow.TVL1, or OpenCV (DIS and Farneback always)


@dataclass(frozen=True)
class FlowRecipe:
    """How flow is computed from frames (see the module docstring). Unset sizes and rates are
    None (0 and an empty size, as a config writes them, mean the same); `backend` None picks
    torch for TV-L1 and OpenCV for the others; `compile` None tries torch.compile and falls back
    to eager; `dynamic` compiles once with symbolic sizes (extraction's many frame sizes)."""

    algorithm: str = "tvl1"
    bound: float = DEFAULT_BOUND
    short_side: int | None = None
    size: tuple[int, int] | None = None  # (width, height), extract_flow's --size WxH
    fps: float | None = None  # extract_flow's --fps: frames resampled to this rate first
    backend: str | None = None
    device: str = "cpu"
    compile: bool | None = False
    dynamic: bool = False
    batch: int = 16

    def __post_init__(self):
        if self.algorithm not in FLOW_ALGORITHMS:
            raise ConfigError(FLOW_ALGORITHMS.error(self.algorithm))
        if not self.bound > 0:
            raise ConfigError(f"config key DATA.FLOW_BOUND must be > 0, got {self.bound}")
        check_flow_resize(self.short_side or 0, list(self.size or []), self.fps or 0)
        object.__setattr__(self, "short_side", self.short_side or None)
        object.__setattr__(self, "size", tuple(self.size) if self.size else None)
        object.__setattr__(self, "fps", float(self.fps) if self.fps else None)
        if self.backend is None:
            object.__setattr__(self, "backend", "torch" if self.algorithm == "tvl1" else "opencv")
        if self.backend not in FLOW_BACKENDS:
            raise ConfigError(f"flow backend {self.backend!r} unknown; expected one of {', '.join(FLOW_BACKENDS)}")
        if self.backend == "torch" and self.algorithm != "tvl1":
            raise ConfigError(f"the torch flow backend computes TV-L1 only, not {self.algorithm}")
        if self.batch < 1:
            raise ConfigError(f"flow pairs per call must be >= 1, got {self.batch}")

    @classmethod
    def from_cfg(cls, cfg: CfgNode, device: str | None = None) -> FlowRecipe:
        """A flow model's recipe: DATA.FLOW_ALGO, FLOW_BOUND, FLOW_SHORT_SIDE, FLOW_SIZE, FLOW_FPS
        and FLOW_COMPILE; pairs per call = DATA.NUM_FRAMES (one clip); `device` defaults to
        `flow_device(cfg)`."""
        data = cfg.DATA
        return cls(data.FLOW_ALGO, float(data.FLOW_BOUND), int(data.FLOW_SHORT_SIDE),
                   tuple(int(v) for v in data.FLOW_SIZE), float(data.FLOW_FPS), device=device or flow_device(cfg),
                   compile=bool(data.FLOW_COMPILE), batch=max(int(data.NUM_FRAMES), 1))

    def output_size(self, width: int, height: int) -> tuple[int, int]:
        """(width, height) the flow is computed at for a `width` x `height` video."""
        return output_size(width, height, self.short_side, self.size)

    def torch_device(self) -> torch.device:
        """Where TV-L1 runs; `cuda` without an index: worker k of a pool takes GPU k modulo the
        GPU count (extraction spreads its workers over the GPUs)."""
        device = torch.device(self.device)
        if device.type == "cuda" and device.index is None:
            identity = multiprocessing.current_process()._identity
            worker = identity[0] - 1 if identity else 0
            device = torch.device("cuda", worker % torch.cuda.device_count())
        return device


def flow_device(cfg: CfgNode) -> str:
    """Where online TV-L1 runs: the GPU the model is on (NUM_GPUS > 0 and CUDA present), else the CPU."""
    if cfg.NUM_GPUS > 0 and torch.cuda.is_available():
        return f"cuda:{torch.cuda.current_device()}"
    return "cpu"


_SOLVERS: dict[tuple, object] = {}


def _solver(recipe: FlowRecipe):
    """One flow engine per process and setting (a compiled TV-L1 keeps its compiled graphs;
    an OpenCV object is built once)."""
    if recipe.backend == "opencv":
        key = ("opencv", recipe.algorithm)
        if key not in _SOLVERS:
            _SOLVERS[key] = FlowComputer(recipe.algorithm)
    else:
        key = ("torch", recipe.compile, recipe.dynamic)
        if key not in _SOLVERS:
            _SOLVERS[key] = TVL1(compile=recipe.compile, dynamic=recipe.dynamic)
    return _SOLVERS[key]


def flow_pairs(firsts: np.ndarray, seconds: np.ndarray, recipe: FlowRecipe) -> torch.Tensor:
    """The flow from `firsts[k]` to `seconds[k]` (gray uint8 `[B, H, W]`, already resized:
    `video3d.flow.frames.flow_gray`) -> quantised uint8 `[B, H, W, 2]` (x, y) on the CPU.
    TV-L1 on torch takes up to `recipe.batch` pairs per call on `recipe.torch_device()`;
    OpenCV takes one pair at a time on the CPU."""
    solver = _solver(recipe)
    if recipe.backend == "opencv":
        flows = torch.from_numpy(np.stack([solver(a, b) for a, b in zip(firsts, seconds, strict=True)]))
        return quantize_flow(flows, recipe.bound)
    device = recipe.torch_device()
    parts = []
    for start in range(0, len(firsts), recipe.batch):
        first = torch.from_numpy(np.ascontiguousarray(firsts[start:start + recipe.batch])).to(device)
        second = torch.from_numpy(np.ascontiguousarray(seconds[start:start + recipe.batch])).to(device)
        flow = solver(first, second)  # [B, 2, H, W] float32
        parts.append(quantize_flow(flow, recipe.bound).permute(0, 2, 3, 1).cpu())
    return torch.cat(parts)
