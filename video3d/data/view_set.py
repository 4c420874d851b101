"""The test-time views of one video, not yet cut: its clips' frames once, and where each view lies.

A 30-view Kinetics item holds 30 views of 8 x 256^2, 47 MB of uint8, cut from the ~80 frames
its clips share (21 MB at short side 256). Cutting them in the loader worker cost 44 ms per
video of CPU and pushed 2.3x the bytes through the worker queue and onto the GPU
(docs/BENCHMARKS.md "data at scale"). A `ViewSet` carries the frames and the cut instead; the
consumer cuts each chunk it sends to the network on the network's device, straight into the
float32 tensor the normalisation needs (`transforms.Normalizer.views`), so every view byte is
written once.

View v is clip v // crops, crop v % crops, as before. `len`, `shape`, `dtype`, `float()` and
integer indexing behave as on the uint8 `[V, C, T, S, S]` tensor it stands for; a slice gives
a ViewSet of those views (no copy); `cut()` gives the tensor.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch


@dataclass(frozen=True)
class ViewSet:
    """`frames` uint8 [U, C, H, W] (resized, on any device); `clips` int64 [clips, T], each clip's
    frames as positions in `frames`; `boxes` int64 [crops, 2], (top, left) of each square crop of
    side `size`; views `start` to `stop` of clips x crops (the whole set by default)."""

    frames: torch.Tensor
    clips: torch.Tensor
    boxes: torch.Tensor
    size: int
    start: int = 0
    stop: int | None = None

    def __post_init__(self) -> None:
        total = len(self.clips) * len(self.boxes)
        stop = total if self.stop is None else self.stop
        if not 0 <= self.start <= stop <= total:
            raise ValueError(f"views {self.start}:{stop} outside 0:{total}")
        object.__setattr__(self, "stop", stop)

    def __len__(self) -> int:
        return self.stop - self.start

    @property
    def shape(self) -> torch.Size:
        return torch.Size((len(self), self.frames.shape[1], self.clips.shape[1], self.size, self.size))

    @property
    def dtype(self) -> torch.dtype:
        return self.frames.dtype

    @property
    def device(self) -> torch.device:
        return self.frames.device

    def __getitem__(self, key):
        """A slice (step 1): a ViewSet of those views, no copy. Anything else indexes the cut
        tensor (`views[0]` is view 0, uint8 [C, T, S, S])."""
        if isinstance(key, slice):
            start, stop, step = key.indices(len(self))
            if step != 1:
                raise ValueError("a ViewSet slice takes step 1")
            return replace(self, start=self.start + start, stop=self.start + max(start, stop))
        if isinstance(key, int):
            index = key + len(self) if key < 0 else key
            if not 0 <= index < len(self):
                raise IndexError(f"view {key} of {len(self)}")
            return self[index:index + 1].cut()[0]
        return self.cut()[key]

    def to(self, device: torch.device | str, non_blocking: bool = False) -> ViewSet:
        """The same views with the frames on `device` (the cut happens there)."""
        return replace(self, frames=self.frames.to(device, non_blocking=non_blocking))

    def pin_memory(self) -> ViewSet:
        """Page-locked frames (called by the DataLoader's pin_memory)."""
        return replace(self, frames=self.frames.pin_memory())

    def float(self) -> torch.Tensor:
        return self.cut(torch.float32)

    def cut(self, dtype: torch.dtype = torch.uint8, out: torch.Tensor | None = None) -> torch.Tensor:
        """The views `[len, C, T, S, S]` in `dtype` (into `out` if given), on the frames' device.

        Every frame of every view is one copy of whole crop rows, converting on the way: with
        float32 the uint8 -> float conversion is this same pass."""
        if out is None:
            out = torch.empty(self.shape, dtype=dtype, device=self.frames.device)
        elif tuple(out.shape) != tuple(self.shape):
            raise ValueError(f"out has shape {tuple(out.shape)}, the views {tuple(self.shape)}")
        crops, size = len(self.boxes), self.size
        boxes, clips = self.boxes.tolist(), self.clips.tolist()
        for i, v in enumerate(range(self.start, self.stop)):
            clip, crop = divmod(v, crops)
            top, left = boxes[crop]
            view = out[i]
            for t, position in enumerate(clips[clip]):
                view[:, t].copy_(self.frames[position, :, top:top + size, left:left + size])
        return out


def cut_views(parts: list, device: torch.device, dtype: torch.dtype | None = None) -> torch.Tensor:
    """One tensor `[sum of len, C, T, S, S]` on `device` from views of several videos, in `dtype`
    (None: the views' own): ViewSets are cut into their slice of it, tensors copied in."""
    dtype = parts[0].dtype if dtype is None else dtype
    if len(parts) == 1 and not isinstance(parts[0], ViewSet):
        return parts[0].to(device, non_blocking=True).to(dtype)
    shape = parts[0].shape
    out = torch.empty((sum(len(p) for p in parts), *shape[1:]), dtype=dtype, device=device)
    offset = 0
    for part in parts:
        target = out[offset:offset + len(part)]
        if isinstance(part, ViewSet):
            part.to(device, non_blocking=True).cut(out=target)
        else:
            target.copy_(part.to(device, non_blocking=True))
        offset += len(part)
    return out
