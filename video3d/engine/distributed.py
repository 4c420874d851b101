"""Process-group set-up and tear-down: torchrun (env://) or SLURM, gloo on CPU, nccl on GPU.

    torchrun --nproc_per_node 8 tools/run_net.py --cfg FILE                 (one node)
    torchrun --nnodes 2 --node_rank R --master_addr HOST --nproc_per_node 8 tools/run_net.py ...
    srun --ntasks-per-node 8 python tools/run_net.py --cfg FILE            (SLURM, no torchrun)
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

import torch
import torch.distributed as dist
from fvcore.common.config import CfgNode

from video3d.errors import ConfigError
from video3d.utils.logging import get_logger

logger = get_logger(__name__)

DEFAULT_MASTER_PORT = "29500"


@dataclass(frozen=True)
class ProcessInfo:
    rank: int
    world_size: int
    local_rank: int


def first_slurm_host(nodelist: str) -> str:
    """First host name of a SLURM node list: "gpu[03-05,07],cpu1" -> "gpu03"."""
    match = re.match(r"([^,\[]+)(?:\[([^\]]+)\])?", nodelist.strip())
    if not match:
        raise ConfigError(f"cannot parse SLURM node list {nodelist!r}")
    prefix, ranges = match.groups()
    if not ranges:
        return prefix
    return prefix + re.split(r"[-,]", ranges)[0]


def process_info(environ: dict | None = None) -> ProcessInfo:
    """Rank, world size and local rank from torchrun's variables, else SLURM's, else 0 / 1 / 0."""
    env = os.environ if environ is None else environ
    if "RANK" in env and "WORLD_SIZE" in env:
        return ProcessInfo(int(env["RANK"]), int(env["WORLD_SIZE"]), int(env.get("LOCAL_RANK", 0)))
    if "SLURM_PROCID" in env and "SLURM_NTASKS" in env:
        return ProcessInfo(int(env["SLURM_PROCID"]), int(env["SLURM_NTASKS"]), int(env.get("SLURM_LOCALID", 0)))
    return ProcessInfo(0, 1, 0)


def env_rank(environ: dict | None = None) -> int:
    """Global rank of this process before any group exists (for logging set-up)."""
    return process_info(environ).rank


def get_device(cfg: CfgNode, local_rank: int = 0) -> torch.device:
    """cuda:LOCAL_RANK when NUM_GPUS > 0, the CPU when NUM_GPUS is 0."""
    if cfg.NUM_GPUS == 0:
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise ConfigError(f"NUM_GPUS is {cfg.NUM_GPUS} but no CUDA device is available; set NUM_GPUS 0 to run on the CPU")
    return torch.device("cuda", local_rank % torch.cuda.device_count())


def backend_for(cfg: CfgNode) -> str:
    if cfg.DIST_BACKEND != "auto":
        return cfg.DIST_BACKEND
    return "nccl" if cfg.NUM_GPUS > 0 else "gloo"


def init_distributed(cfg: CfgNode) -> ProcessInfo:
    """Join the process group when more than one process runs; a single process needs none."""
    info = process_info()
    if info.world_size == 1 or dist.is_initialized():
        return info
    if "SLURM_PROCID" in os.environ and "RANK" not in os.environ:
        os.environ.setdefault("MASTER_ADDR", first_slurm_host(os.environ.get("SLURM_JOB_NODELIST", "localhost")))
        os.environ.setdefault("MASTER_PORT", DEFAULT_MASTER_PORT)
    if "MASTER_ADDR" not in os.environ:
        raise ConfigError("WORLD_SIZE > 1 but MASTER_ADDR is not set; launch with torchrun or set MASTER_ADDR/MASTER_PORT")
    expected = cfg.NUM_GPUS * cfg.NUM_SHARDS
    if cfg.NUM_GPUS > 0 and expected != info.world_size:
        logger.warning("NUM_GPUS x NUM_SHARDS = %d but the launcher started %d processes; using %d",
                       expected, info.world_size, info.world_size)
    device = get_device(cfg, info.local_rank)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    backend = backend_for(cfg)
    dist.init_process_group(backend=backend, init_method="env://", rank=info.rank, world_size=info.world_size)
    logger.info("process group: %s, rank %d of %d (local rank %d)", backend, info.rank, info.world_size,
                info.local_rank)
    return info


def destroy_distributed() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
