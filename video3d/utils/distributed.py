"""Queries about the process group that any layer may ask (data, models, engine).

Set-up and tear-down of the group live in `video3d.engine.distributed`; these helpers
work whether or not a group exists (a single process is rank 0 of 1).
"""

from __future__ import annotations

import torch.distributed as dist


def is_distributed() -> bool:
    """True inside an initialised process group."""
    return dist.is_available() and dist.is_initialized()


def get_rank() -> int:
    """This process's global rank (0 without a process group)."""
    return dist.get_rank() if is_distributed() else 0


def get_world_size() -> int:
    """Number of processes (1 without a process group)."""
    return dist.get_world_size() if is_distributed() else 1


def is_main_process() -> bool:
    """Rank 0: the process that writes files and logs."""
    return get_rank() == 0


def all_gather_objects(obj) -> list:
    """Every rank's `obj`, in rank order (a one-element list without a group)."""
    if not is_distributed():
        return [obj]
    gathered = [None] * get_world_size()
    dist.all_gather_object(gathered, obj)
    return gathered


def barrier() -> None:
    """Wait for every process (no-op without a process group)."""
    if is_distributed():
        dist.barrier()
