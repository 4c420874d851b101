"""Intra-op threads of a training or test process: the cores its loader workers leave free.

PyTorch gives every process as many OpenMP threads as the machine has cores, and each
DataLoader worker busy decoding takes a core of its own. In training a worker decodes one clip
per sample, so with 2 threads and 1 worker on 2 cores the threads wait for each other at every
parallel region while the worker holds a core: the main job's training step measured 0.094 s
at 2 threads against 0.070 s at 1 (AMD EPYC, 2 cores, docs/BENCHMARKS.md). The 30-view test's
worker decodes once per 30 views and is mostly idle, so the test keeps every core (16.4 s at 2
threads against 22.2 s at 1 for the main job's test, same machine).

`CPU_THREADS 0` (auto) therefore gives training the cores per process minus the loader workers
(at least 1) and the test the cores per process. It never raises the count, so
OMP_NUM_THREADS or torch.set_num_threads set by the caller keep their word.
"""

from __future__ import annotations

import contextlib
import itertools
import os
from collections.abc import Iterator

import torch
from fvcore.common.config import CfgNode

from video3d.utils.logging import get_logger

logger = get_logger(__name__)

PHASES = ("train", "test")


def usable_cores() -> int:
    """Cores this process may run on (its affinity mask, e.g. under taskset or a CPU-quota'd job)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def processes_per_node(environ: dict | None = None) -> int:
    """Processes sharing this node's cores: torchrun's LOCAL_WORLD_SIZE, else SLURM's tasks per
    node ("2(x3)" reads as 2), else 1."""
    env = os.environ if environ is None else environ
    for key in ("LOCAL_WORLD_SIZE", "SLURM_NTASKS_PER_NODE"):
        digits = "".join(itertools.takewhile(str.isdigit, env.get(key, "")))
        if digits and int(digits) > 0:
            return int(digits)
    return 1


def auto_threads(cores: int, processes: int, busy_workers: int) -> int:
    """Cores per process on this node, less the loader workers that keep a core busy; at least 1."""
    return max(1, cores // max(1, processes) - busy_workers)


def planned_threads(cfg: CfgNode, phase: str, current: int, cores: int, processes: int) -> tuple[int, str]:
    """The thread count CPU_THREADS asks for in `phase` ("train" or "test"), and why, in words."""
    if phase not in PHASES:
        raise ValueError(f"phase must be one of {PHASES}, got {phase!r}")
    if cfg.CPU_THREADS > 0:
        return cfg.CPU_THREADS, f"CPU_THREADS {cfg.CPU_THREADS}"
    busy = cfg.DATA_LOADER.NUM_WORKERS if phase == "train" else 0
    wanted = auto_threads(cores, processes, busy)
    why = f"CPU_THREADS 0 (auto): {cores} core(s) / {processes} process(es) on this node"
    why += f" - {busy} loader worker(s)" if phase == "train" else " (the test's loader workers are mostly idle)"
    if current < wanted:
        return current, f"{why} allows {wanted}; keeping the {current} set before the run (OMP_NUM_THREADS or the caller)"
    return wanted, why


@contextlib.contextmanager
def run_threads(cfg: CfgNode, phase: str) -> Iterator[int]:
    """Set the intra-op thread count for one phase of a run and restore the previous count
    afterwards (a run may sit inside a larger process: tests, notebooks)."""
    previous = torch.get_num_threads()
    threads, why = planned_threads(cfg, phase, previous, usable_cores(), processes_per_node())
    if threads != previous:
        torch.set_num_threads(threads)
    logger.info("%s: %d intra-op CPU thread(s) (%s)", "training" if phase == "train" else "test", threads, why)
    try:
        yield threads
    finally:
        if torch.get_num_threads() != previous:
            torch.set_num_threads(previous)
