"""Turn a user's device string into a torch.device that exists, or say why not in one line."""

from __future__ import annotations

import torch


def resolve_device(name: str) -> torch.device:
    """'cpu', 'cuda' or 'cuda:K' -> torch.device; ValueError naming the device if it is malformed,
    has no driver here, or K is not an index of this machine's GPUs."""
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ValueError(f"device {name!r} is not a device name; expected cpu, cuda or cuda:K") from None
    if device.type == "cpu":
        return device
    if device.type != "cuda":
        raise ValueError(f"device {name!r} is not supported; expected cpu, cuda or cuda:K")
    if not torch.cuda.is_available():
        raise ValueError(f"device {name!r} requested but no CUDA GPU is available on this machine")
    count = torch.cuda.device_count()
    index = device.index if device.index is not None else 0
    if index >= count:
        raise ValueError(f"device {name!r} does not exist: this machine has {count} CUDA GPU(s), cuda:0..cuda:{count - 1}")
    return torch.device("cuda", index)
