"""TV-L1 optical flow (Zach, Pock, Bischof 2007; Sanchez, Meinhardt-Llopis, Facciolo, IPOL
2013) on a batch of frame pairs, on whatever device the frames are on.

It follows OpenCV contrib's `DualTVL1OpticalFlow` step for step (docs/FLOW.md): a pyramid of
`scales` levels each `scale_step` smaller (bilinear, no pre-blur), zero flow at the coarsest
level; per level `warps` warps of the second frame by the current flow (bicubic remap of the
frame and its centered gradient); per warp up to `outer_iterations` rounds of a 5x5 median
filter followed by up to `inner_iterations` primal-dual steps, stopping as soon as a step
changes the flow by at most epsilon^2 * pixels in summed squares. The stopping rule is
evaluated per pair: a pair that has converged is frozen while the rest of the batch goes on,
so each pair's flow is the one it would get alone; once a quarter of the batch has converged,
the rest goes on as a smaller batch (eager or `dynamic=True`), so frozen pairs cost nothing.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch

from video3d.errors import DataError
from video3d.flow.ops import (
    centered_gradient,
    divergence,
    downscale,
    forward_gradient,
    median5,
    median5_minmax,
    pyramid_depth,
    remap_cubic,
    upscale_to,
)

logger = logging.getLogger(__name__)

_FLT_EPSILON = float(torch.finfo(torch.float32).eps)
_RECOMPILE_LIMIT = 64


@dataclass(frozen=True)
class TVL1Params:
    """The solver's settings; the defaults are `cv2.optflow.DualTVL1OpticalFlow_create()`'s."""

    tau: float = 0.25
    lambda_: float = 0.15
    theta: float = 0.3
    scales: int = 5
    warps: int = 5
    epsilon: float = 0.01
    inner_iterations: int = 30
    outer_iterations: int = 10
    scale_step: float = 0.8
    gamma: float = 0.0
    median_filtering: int = 5

    def __post_init__(self):
        for name in ("tau", "lambda_", "theta", "epsilon"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise DataError(f"TV-L1 {name} must be a finite number > 0, got {value}")
        for name in ("scales", "warps", "inner_iterations", "outer_iterations"):
            if getattr(self, name) < 1:
                raise DataError(f"TV-L1 {name} must be >= 1, got {getattr(self, name)}")
        if not 0.0 < self.scale_step < 1.0:
            raise DataError(f"TV-L1 scale_step must be in (0, 1), got {self.scale_step}")
        if self.gamma != 0.0:
            raise DataError(f"TV-L1 gamma (illumination term) is not supported, got {self.gamma}; use 0")
        if self.median_filtering not in (0, 1, 5):
            raise DataError(f"TV-L1 median_filtering must be 5 (on) or 0/1 (off), got {self.median_filtering}")

    def as_dict(self) -> dict:
        """The settings under OpenCV's getter names, for manifests and configs."""
        values = asdict(self)
        return {"Tau": values["tau"], "Lambda": values["lambda_"], "Theta": values["theta"],
                "ScalesNumber": values["scales"], "WarpingsNumber": values["warps"],
                "Epsilon": values["epsilon"], "InnerIterations": values["inner_iterations"],
                "OuterIterations": values["outer_iterations"], "ScaleStep": values["scale_step"],
                "Gamma": values["gamma"], "MedianFiltering": values["median_filtering"],
                "UseInitialFlow": False}


def primal_dual_step(u1, u2, p11, p12, p21, p22, i1wx, i1wy, grad, inverse_grad, rho_c, error,
                     threshold: float, l_t: float, theta: float, taut: float):
    """One TV-L1 iteration on [B, H, W] tensors; pairs whose `error` [B] is already at or under
    `threshold` are left unchanged. Returns the updated (u1, u2, p11, p12, p21, p22, error).

    The thresholding step v = u + TH(rho(u)) (the data term), u = v + theta div(p), then the
    dual step p = (p + taut grad(u)) / (1 + taut |grad(u)|), one p per flow component.
    `inverse_grad` is 1 / grad where grad > FLT_EPSILON, else 0 (OpenCV leaves v = u there)."""
    active = error > threshold
    live = active[:, None, None]
    rho = rho_c + i1wx * u1 + i1wy * u2
    limit = l_t * grad
    coefficient = torch.where(rho < -limit, l_t, torch.where(rho > limit, -l_t, -rho * inverse_grad))
    new_u1 = u1 + coefficient * i1wx + theta * divergence(p11, p12)
    new_u2 = u2 + coefficient * i1wy + theta * divergence(p21, p22)
    change = ((new_u1 - u1) ** 2 + (new_u2 - u2) ** 2).sum((-2, -1))
    u1x, u1y = forward_gradient(new_u1)
    u2x, u2y = forward_gradient(new_u2)
    scale1 = 1.0 / (1.0 + taut * torch.sqrt(u1x * u1x + u1y * u1y))
    scale2 = 1.0 / (1.0 + taut * torch.sqrt(u2x * u2x + u2y * u2y))
    p11 = torch.where(live, (p11 + taut * u1x) * scale1, p11)
    p12 = torch.where(live, (p12 + taut * u1y) * scale1, p12)
    p21 = torch.where(live, (p21 + taut * u2x) * scale2, p21)
    p22 = torch.where(live, (p22 + taut * u2y) * scale2, p22)
    u1 = torch.where(live, new_u1, u1)
    u2 = torch.where(live, new_u2, u2)
    error = torch.where(active, change, error)
    return u1, u2, p11, p12, p21, p22, error


def _median_where(u: torch.Tensor, active: torch.Tensor) -> torch.Tensor:
    return torch.where(active[:, None, None], median5(u), u)


def _median_where_fused(u: torch.Tensor, active: torch.Tensor) -> torch.Tensor:
    return torch.where(active[:, None, None], median5_minmax(u), u)


class TVL1:
    """Batched TV-L1: `TVL1()(first, second)` -> flow [B, 2, H, W] (x, y) in pixels, float32.

    `first`, `second`: [B, H, W] or [H, W] grayscale, uint8 (0..255) or float (0..1, scaled by
    255 as OpenCV does), on any device; the flow comes back on the same device.
    `compile=True` fuses each iteration and the median filter into a few loops with
    torch.compile (a one-off cost per frame size and batch size, every pyramid level its own
    kernels; `dynamic=True`: one compile with symbolic sizes serves every frame size, batch size
    and level); `None` tries that and falls back to eager mode if no compiler works here;
    `False` stays eager. The host looks at the stopping rule
    every `check_every` iterations to end a warp early (the rule itself is applied to each pair
    at each iteration, on the device); default: every iteration on the CPU, where looking is
    free, every 10 on a GPU, where it waits for the queue to drain."""

    def __init__(self, params: TVL1Params | None = None, compile: bool | None = None,
                 check_every: int | None = None, dynamic: bool = False):
        self.params = params or TVL1Params()
        if check_every is not None and check_every < 1:
            raise DataError(f"TV-L1 check_every must be >= 1, got {check_every}")
        self.check_every = check_every
        self._compile = compile
        self.dynamic = dynamic
        self._step: Callable = primal_dual_step
        self._median: Callable = _median_where
        self._tried_compile = False

    @property
    def compiled(self) -> bool:
        """Whether the iterations run through torch.compile (False after a fallback)."""
        return self._step is not primal_dual_step

    def _prepare_compiled(self) -> None:
        if self._tried_compile or self._compile is False:
            return
        self._tried_compile = True
        self._step = torch.compile(primal_dual_step, dynamic=self.dynamic)
        self._median = torch.compile(_median_where_fused, dynamic=self.dynamic)

    def _fallback(self, error: BaseException) -> None:
        if self._compile:
            raise error
        logger.warning("torch.compile failed for TV-L1 (%s: %s); running eagerly",
                       type(error).__name__, str(error).splitlines()[0] if str(error) else "")
        self._step, self._median = primal_dual_step, _median_where

    def _run(self, name: str, *args):
        """Call the step or the median; a compiler failure on the first call falls back to eager."""
        function = getattr(self, name)
        if function in (primal_dual_step, _median_where):
            return function(*args)
        try:
            # One compiled variant per pyramid level and frame size: allow many.
            with torch._dynamo.config.patch(recompile_limit=_RECOMPILE_LIMIT):
                return function(*args)
        except Exception as error:  # no working C++ compiler / Triton for this device
            self._fallback(error)
            return getattr(self, name)(*args)

    def __call__(self, first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
        i0, i1, squeeze = _as_batch(first, second)
        self._prepare_compiled()
        with torch.no_grad():
            flow = self._pyramid(i0, i1)
        return flow[0] if squeeze else flow

    def _pyramid(self, i0: torch.Tensor, i1: torch.Tensor) -> torch.Tensor:
        params = self.params
        depth = pyramid_depth(i0.shape[-2], i0.shape[-1], params.scales, params.scale_step)
        firsts, seconds = [i0], [i1]
        for _ in range(1, depth):
            firsts.append(downscale(firsts[-1], params.scale_step))
            seconds.append(downscale(seconds[-1], params.scale_step))
        u1 = torch.zeros_like(firsts[-1])
        u2 = torch.zeros_like(firsts[-1])
        for level in range(depth - 1, -1, -1):
            u1, u2 = self._solve_level(firsts[level], seconds[level], u1, u2)
            if level:
                height, width = firsts[level - 1].shape[-2:]
                u1 = upscale_to(u1, height, width) * (1.0 / params.scale_step)
                u2 = upscale_to(u2, height, width) * (1.0 / params.scale_step)
        return torch.stack((u1, u2), 1)

    def _solve_level(self, i0, i1, u1, u2):
        params = self.params
        height, width = i0.shape[-2:]
        check_every = self.check_every or (1 if i0.device.type == "cpu" else 10)
        threshold = float(torch.tensor(params.epsilon ** 2 * height * width, dtype=torch.float32))
        l_t = float(torch.tensor(params.lambda_ * params.theta, dtype=torch.float32))
        taut = float(torch.tensor(params.tau / params.theta, dtype=torch.float32))
        theta = float(torch.tensor(params.theta, dtype=torch.float32))
        i1x, i1y = centered_gradient(i1)
        stacked = torch.stack((i1, i1x, i1y), 1)
        p11, p12, p21, p22 = (torch.zeros_like(u1) for _ in range(4))
        for _ in range(params.warps):
            i1w, i1wx, i1wy = remap_cubic(stacked, u1, u2).unbind(1)
            # The step's inputs own their storage, not views of one tensor: a compiled step guards
            # on views' bases, and a shrunk working set (index_select) passes plain tensors.
            i1wx, i1wy = i1wx.contiguous(), i1wy.contiguous()
            grad = i1wx * i1wx + i1wy * i1wy
            inverse_grad = torch.where(grad > _FLT_EPSILON, 1.0 / grad, 0.0)
            rho_c = i1w - i1wx * u1 - i1wy * u2 - i0
            error = torch.full(u1.shape[:1], math.inf, dtype=u1.dtype, device=u1.device)
            work = _WorkingSet([u1, u2, p11, p12, p21, p22, error], [i1wx, i1wy, grad, inverse_grad, rho_c],
                               shrink=self.dynamic or not self.compiled,
                               min_rows=2 if self.compiled else 1)
            for _ in range(params.outer_iterations):
                active = work.state[-1] > threshold
                if not bool(active.any()):
                    break
                active = work.shrink(active)
                if params.median_filtering == 5:
                    work.state[0] = self._run("_median", work.state[0], active)
                    work.state[1] = self._run("_median", work.state[1], active)
                for inner in range(params.inner_iterations):
                    work.state = list(self._run("_step", *work.state[:6], *work.constants, work.state[6],
                                                threshold, l_t, theta, taut))
                    if (inner + 1) % check_every == 0:
                        active = work.state[-1] > threshold
                        if not bool(active.any()):
                            break
                        work.shrink(active)
            u1, u2, p11, p12, p21, p22, _ = work.finish()
        return u1, u2


class _WorkingSet:
    """The pairs of a batch still iterating in one warp: once a quarter of them has converged
    (and stays frozen for the rest of the warp), the others are gathered into a smaller batch,
    so converged pairs cost no more arithmetic; `finish` scatters the results back. Each pair's
    numbers are unchanged: every operation is per pair."""

    _SHRINK_AT = 0.75

    def __init__(self, state: list[torch.Tensor], constants: list[torch.Tensor], shrink: bool = True,
                 min_rows: int = 1):
        # A static compile (dynamic=False) would recompile for every new batch size: no shrinking.
        # A dynamic compile specialises a batch of one: keep `min_rows` rows, padding with frozen
        # pairs (they stay frozen: the step skips a pair whose error is under the threshold).
        self._shrink_at = self._SHRINK_AT if shrink else 0.0
        self._min_rows = min_rows
        self._full_state, self._full_constants = state, constants
        self.state, self.constants = list(state), list(constants)
        self._rows: torch.Tensor | None = None  # indices into the full batch; None = all of it

    def shrink(self, active: torch.Tensor) -> torch.Tensor:
        """Drop converged pairs if enough have converged; returns `active` for the working set."""
        count = int(active.sum())
        if count > self._shrink_at * active.numel():
            return active
        rows = max(count, min(self._min_rows, active.numel()))
        if rows == active.numel():
            return active
        # the active rows, then the first frozen ones as padding, back in batch order
        keep = torch.argsort((~active).byte(), stable=True)[:rows].sort().values
        self._write_back()
        self._rows = keep if self._rows is None else self._rows[keep]
        self.state = [t.index_select(0, self._rows) for t in self._full_state]
        self.constants = [t.index_select(0, self._rows) for t in self._full_constants]
        return active[keep]

    def _write_back(self) -> None:
        if self._rows is None:
            self._full_state = list(self.state)
        else:
            for full, part in zip(self._full_state, self.state, strict=True):
                full.index_copy_(0, self._rows, part)

    def finish(self) -> list[torch.Tensor]:
        self._write_back()
        return self._full_state


def _as_batch(first: torch.Tensor, second: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, bool]:
    """Validate a batch of frame pairs and convert it to float32 0..255 [B, H, W]."""
    if not isinstance(first, torch.Tensor) or not isinstance(second, torch.Tensor):
        raise DataError(f"TV-L1 takes tensors, got {type(first).__name__} and {type(second).__name__}")
    if first.shape != second.shape:
        raise DataError(f"TV-L1 frame pair of different sizes: {tuple(first.shape)} vs {tuple(second.shape)}")
    if first.device != second.device:
        raise DataError(f"TV-L1 frames on different devices: {first.device} vs {second.device}")
    squeeze = first.dim() == 2
    if first.dim() not in (2, 3):
        raise DataError(f"TV-L1 takes grayscale [B, H, W] or [H, W] frames, got shape {tuple(first.shape)}")
    if squeeze:
        first, second = first.unsqueeze(0), second.unsqueeze(0)
    batch, height, width = first.shape
    if batch == 0:
        raise DataError("TV-L1 got an empty batch of frame pairs")
    if height < 3 or width < 3:
        raise DataError(f"TV-L1 frames must be at least 3x3 pixels, got {width}x{height}")
    frames = []
    for frame in (first, second):
        if frame.dtype == torch.uint8:
            frames.append(frame.to(torch.float32))
        elif frame.is_floating_point():
            if not bool(torch.isfinite(frame).all()):
                raise DataError("TV-L1 input holds NaN or infinite values")
            frames.append(frame.to(torch.float32) * 255.0)
        else:
            raise DataError(f"TV-L1 frames must be uint8 or floating point, got {frame.dtype}")
    return frames[0].contiguous(), frames[1].contiguous(), squeeze
