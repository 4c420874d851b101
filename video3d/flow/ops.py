"""The image operations TV-L1 is built from, as batched tensor functions on [B, H, W] floats.

Each one reproduces the OpenCV call that OpenCV contrib's `DualTVL1OpticalFlow` uses
(`modules/optflow/src/tvl1flow.cpp`), boundary handling included, because the flow of the
whole pyramid depends on them: `resize_linear` is `cv::resize(INTER_LINEAR)` on float images,
`remap_cubic` is `cv::remap(INTER_CUBIC, BORDER_CONSTANT 0)`, `median5` is `cv::medianBlur(ksize 5)` (replicated border). docs/FLOW.md lists them.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def gray_from_bgr_uint8(frames: torch.Tensor) -> torch.Tensor:
    """uint8 [..., H, W, 3] BGR -> uint8 [..., H, W], cv::cvtColor(COLOR_BGR2GRAY) bit for bit
    (fixed point: (1868 B + 9617 G + 4899 R + 8192) >> 14)."""
    weights = torch.tensor([1868, 9617, 4899], dtype=torch.int32, device=frames.device)
    gray = (frames.to(torch.int32) * weights).sum(-1)
    return ((gray + 8192) >> 14).to(torch.uint8)


def _axis_taps(src: int, dst: int, scale: float, device: torch.device):
    """Source indices and weights of cv::resize INTER_LINEAR along one axis: the pixel-centre
    mapping (d + 0.5) * scale - 0.5 evaluated in float32, clamped to the edge."""
    position = ((torch.arange(dst, dtype=torch.float64) + 0.5) * scale - 0.5).to(torch.float32)
    first = torch.floor(position)
    weight = position - first
    first = first.to(torch.int64)
    low, high = first < 0, first >= src - 1
    weight = torch.where(low | high, torch.zeros_like(weight), weight)
    first = first.clamp(0, src - 1)
    second = (first + 1).clamp(max=src - 1)
    return first.to(device), second.to(device), weight.to(device)


def resize_linear(images: torch.Tensor, height: int, width: int, scale_y: float, scale_x: float) -> torch.Tensor:
    """[..., H, W] -> [..., height, width] like cv::resize(INTER_LINEAR) on float images, where
    `scale_*` is OpenCV's source-per-destination step (1 / fx when fx is given, else src / dst).
    Horizontal pass first, then vertical, as OpenCV's separable resize does."""
    src_h, src_w = images.shape[-2:]
    x0, x1, wx = _axis_taps(src_w, width, scale_x, images.device)
    y0, y1, wy = _axis_taps(src_h, height, scale_y, images.device)
    rows = images.index_select(-1, x0) * (1 - wx) + images.index_select(-1, x1) * wx
    wy = wy[:, None]
    return rows.index_select(-2, y0) * (1 - wy) + rows.index_select(-2, y1) * wy


def pyramid_size(height: int, width: int, factor: float) -> tuple[int, int]:
    """cv::resize's output size for fx = fy = factor: each side times factor, rounded half to even."""
    return int(round(height * factor)), int(round(width * factor))


def downscale(images: torch.Tensor, factor: float) -> torch.Tensor:
    """One pyramid step: cv::resize(src, dst, Size(), factor, factor, INTER_LINEAR)."""
    height, width = pyramid_size(*images.shape[-2:], factor)
    return resize_linear(images, height, width, 1.0 / factor, 1.0 / factor)


def upscale_to(images: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """cv::resize(src, dst, Size(width, height), 0, 0, INTER_LINEAR)."""
    src_h, src_w = images.shape[-2:]
    return resize_linear(images, height, width, 1.0 / (height / src_h), 1.0 / (width / src_w))


def centered_gradient(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Half the central difference; at the borders half the one-sided difference, which is the
    central difference on a replicated border."""
    padded = F.pad(images.unsqueeze(1), (1, 1, 1, 1), mode="replicate").squeeze(1)
    dx = 0.5 * (padded[..., 1:-1, 2:] - padded[..., 1:-1, :-2])
    dy = 0.5 * (padded[..., 2:, 1:-1] - padded[..., :-2, 1:-1])
    return dx, dy


def forward_gradient(u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Forward differences, zero in the last column (dx) and the last row (dy)."""
    dx = F.pad(u[..., :, 1:] - u[..., :, :-1], (0, 1))
    dy = F.pad(u[..., 1:, :] - u[..., :-1, :], (0, 0, 0, 1))
    return dx, dy


def divergence(px: torch.Tensor, py: torch.Tensor) -> torch.Tensor:
    """Backward differences with zero outside the image: the adjoint of -forward_gradient."""
    return (px - F.pad(px[..., :, :-1], (1, 0))) + (py - F.pad(py[..., :-1, :], (0, 0, 1, 0)))


def remap_cubic(images: torch.Tensor, flow_x: torch.Tensor, flow_y: torch.Tensor) -> torch.Tensor:
    """images [B, C, H, W] sampled at (x + flow_x, y + flow_y) with bicubic interpolation
    (a = -0.75) and zero outside, like cv::remap(INTER_CUBIC, BORDER_CONSTANT) in the pinned
    OpenCV 5.0, which weights by the exact float coordinates (no 1/32-pixel rounding; measured
    within 4e-4 grey levels of it)."""
    _, _, height, width = images.shape
    xs = torch.arange(width, dtype=images.dtype, device=images.device)
    ys = torch.arange(height, dtype=images.dtype, device=images.device)[:, None]
    map_x = xs + flow_x
    map_y = ys + flow_y
    # align_corners=True puts -1 / +1 on the first / last pixel centre.
    grid = torch.stack((map_x * (2.0 / max(width - 1, 1)) - 1.0, map_y * (2.0 / max(height - 1, 1)) - 1.0), -1)
    return F.grid_sample(images, grid, mode="bicubic", padding_mode="zeros", align_corners=True)


def median5(u: torch.Tensor) -> torch.Tensor:
    """5x5 median with a replicated border, cv::medianBlur(ksize 5) on float images."""
    padded = F.pad(u.unsqueeze(1), (2, 2, 2, 2), mode="replicate")
    patches = F.unfold(padded, 5)  # [B, 25, H * W]
    return patches.median(dim=1).values.view_as(u)


def _odd_even_merge(low: int, high: int, step: int):
    double = step * 2
    if double < high - low:
        yield from _odd_even_merge(low, high, double)
        yield from _odd_even_merge(low + step, high, double)
        yield from ((i, i + step) for i in range(low + step, high - step, double))
    else:
        yield low, low + step


def _odd_even_merge_sort(low: int, high: int):
    if high - low >= 1:
        middle = low + (high - low) // 2
        yield from _odd_even_merge_sort(low, middle)
        yield from _odd_even_merge_sort(middle + 1, high)
        yield from _odd_even_merge(low, high, 1)


def median_network(size: int = 25) -> list[tuple[int, int, bool, bool]]:
    """Compare-exchange steps that leave the median of `size` values at index size // 2:
    Batcher's odd-even merge sort for the next power of two (comparators with a padding wire
    dropped, which is exact: padding would be +inf at the end) pruned to the comparators the
    median depends on. Each step is (i, j, keep_min_at_i, keep_max_at_j)."""
    width = 1 << (size - 1).bit_length()
    network = [(i, j) for i, j in _odd_even_merge_sort(0, width - 1) if j < size]
    needed, steps = {size // 2}, []
    for i, j in reversed(network):
        low, high = i in needed, j in needed
        if low or high:
            steps.append((i, j, low, high))
            needed.update((i, j))
    return steps[::-1]


_MEDIAN25 = median_network(25)


def median5_minmax(u: torch.Tensor) -> torch.Tensor:
    """The same 5x5 median as `median5`, as ~200 element-wise min / max on 25 shifted views:
    slow eagerly, one fused loop under torch.compile."""
    height, width = u.shape[-2:]
    padded = F.pad(u.unsqueeze(1), (2, 2, 2, 2), mode="replicate").squeeze(1)
    wires = [padded[..., dy:dy + height, dx:dx + width] for dy in range(5) for dx in range(5)]
    for i, j, keep_low, keep_high in _MEDIAN25:
        low = torch.minimum(wires[i], wires[j]) if keep_low else None
        high = torch.maximum(wires[i], wires[j]) if keep_high else None
        wires[i], wires[j] = low, high
    return wires[12]


def pyramid_depth(height: int, width: int, scales: int, factor: float, min_side: int = 16) -> int:
    """How many scales OpenCV builds: it stops before the first level with a side under 16."""
    depth = 1
    while depth < scales:
        height, width = pyramid_size(height, width, factor)
        if height < min_side or width < min_side:
            break
        depth += 1
    return depth

