"""A checksum of a checkpoint's payload, stored in the checkpoint and verified on load.

Tensors count by dtype, shape and bytes; dicts, lists and tuples by their items in order;
plain values by type and repr. The same payload after a `torch.load(weights_only=True)`
round trip gives the same digest, and a few damaged bytes anywhere in the tensors or in the
pickled values change it.
"""

from __future__ import annotations

import hashlib
from typing import Any

import torch

ALGORITHM = "sha256"


def payload_checksum(payload: Any) -> str:
    """`"sha256:<hex digest>"` of `payload` (nested dicts / lists / tuples of tensors and values)."""
    digest = hashlib.new(ALGORITHM)
    _feed(digest, payload)
    return f"{ALGORITHM}:{digest.hexdigest()}"


def _feed(digest, value: Any) -> None:
    if isinstance(value, torch.Tensor):
        tensor = value.detach().cpu().contiguous()
        digest.update(f"T{tensor.dtype}{tuple(tensor.shape)}".encode())
        if tensor.numel():
            digest.update(tensor.reshape(-1).view(torch.uint8).numpy())
    elif isinstance(value, dict):
        digest.update(f"D{len(value)}".encode())
        for key, item in value.items():
            _feed(digest, key)
            _feed(digest, item)
    elif isinstance(value, list | tuple):
        digest.update(f"{type(value).__name__[0]}{len(value)}".encode())
        for item in value:
            _feed(digest, item)
    else:
        digest.update(f"V{type(value).__name__}:{value!r};".encode())
