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

from video3d.errors import ConfigError, PeerLostError
from video3d.utils.logging import get_logger

logger = get_logger(__name__)

DEFAULT_MASTER_PORT = "29500"


@dataclass(frozen=True)
class ProcessInfo:
    """Global rank, number of processes, and rank on this node."""
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


def launch_rank(cfg: CfgNode, init_method: str | None = None) -> int:
    """This process's global rank before the group exists: torchrun's or SLURM's, else SHARD_ID
    under PySlowFast's --init_method launch (one process per node), else 0."""
    info = process_info()
    if info.world_size > 1 or not init_method:
        return info.rank
    return cfg.SHARD_ID


def get_device(cfg: CfgNode, local_rank: int = 0) -> torch.device:
    """cuda:LOCAL_RANK when NUM_GPUS > 0, the CPU when NUM_GPUS is 0."""
    if cfg.NUM_GPUS == 0:
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise ConfigError(f"NUM_GPUS is {cfg.NUM_GPUS} but no CUDA device is available; set NUM_GPUS 0 to run on the CPU")
    return torch.device("cuda", local_rank % torch.cuda.device_count())


def backend_for(cfg: CfgNode) -> str:
    """DIST_BACKEND, or for auto: nccl on GPUs, gloo on the CPU."""
    if cfg.DIST_BACKEND != "auto":
        return cfg.DIST_BACKEND
    return "nccl" if cfg.NUM_GPUS > 0 else "gloo"


def torchrun_command(cfg: CfgNode, master: str = "HOST:PORT") -> str:
    """The torchrun line that starts what NUM_GPUS / NUM_SHARDS / SHARD_ID describe."""
    per_node = max(cfg.NUM_GPUS, 1)
    nodes = f"--nnodes {cfg.NUM_SHARDS} --node_rank {cfg.SHARD_ID} --rdzv_endpoint {master} " \
        if cfg.NUM_SHARDS > 1 else ""
    return f"torchrun {nodes}--nproc_per_node {per_node} tools/run_net.py --cfg ..."


def _tcp_master(init_method: str) -> str:
    match = re.fullmatch(r"tcp://([^:/]+):(\d+)", init_method)
    if not match:
        raise ConfigError(f"--init_method {init_method!r}: expected tcp://HOST:PORT (or launch with torchrun)")
    return f"{match.group(1)}:{match.group(2)}"


def _pyslowfast_launch(cfg: CfgNode, init_method: str) -> ProcessInfo:
    """PySlowFast's multi-node launch (--init_method tcp://HOST:PORT --num_shards N --shard_id S)
    with one process per node: rank SHARD_ID of NUM_SHARDS. Several GPUs per node need one
    process each, which is torchrun's job."""
    master = _tcp_master(init_method)
    if cfg.NUM_GPUS > 1:
        raise ConfigError(
            f"NUM_GPUS {cfg.NUM_GPUS} with --init_method: video3d starts one process per GPU through "
            f"torchrun, on each node: {torchrun_command(cfg, master)}")
    if not 0 <= cfg.SHARD_ID < cfg.NUM_SHARDS:
        raise ConfigError(f"SHARD_ID {cfg.SHARD_ID} is not in 0..NUM_SHARDS-1 (NUM_SHARDS {cfg.NUM_SHARDS})")
    info = ProcessInfo(cfg.SHARD_ID, cfg.NUM_SHARDS, 0)
    if info.world_size == 1:
        return info
    device = get_device(cfg, 0)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    backend = backend_for(cfg)
    # torch.distributed helpers elsewhere read the rank from the environment, as under torchrun.
    os.environ.update(RANK=str(info.rank), WORLD_SIZE=str(info.world_size), LOCAL_RANK="0")
    dist.init_process_group(backend=backend, init_method=init_method, rank=info.rank, world_size=info.world_size)
    logger.info("process group: %s via %s, rank %d of %d (SHARD_ID %d of NUM_SHARDS %d)", backend, init_method,
                info.rank, info.world_size, cfg.SHARD_ID, cfg.NUM_SHARDS)
    return info


def init_distributed(cfg: CfgNode, init_method: str | None = None) -> ProcessInfo:
    """Join the process group when more than one process runs; a single process needs none.

    torchrun or SLURM variables decide first; else `init_method` (PySlowFast's --init_method,
    with NUM_SHARDS / SHARD_ID); a lone process asked for several GPUs or shards is an error
    naming the torchrun command, never a silent one-process run.
    """
    info = process_info()
    if dist.is_initialized():
        return info
    if info.world_size == 1 and init_method:
        return _pyslowfast_launch(cfg, init_method)
    if info.world_size == 1:
        if cfg.NUM_GPUS > 1 or cfg.NUM_SHARDS > 1:
            raise ConfigError(
                f"NUM_GPUS {cfg.NUM_GPUS} x NUM_SHARDS {cfg.NUM_SHARDS} asks for several processes but this is "
                f"one process: launch with {torchrun_command(cfg)} (or set NUM_GPUS 1 NUM_SHARDS 1)")
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


_LOST_PEER = re.compile(r"(Connection closed by peer|Connection reset by peer|Broken pipe)\s*(\[[^\]]*\]:\d+)?")


def lost_peer_error(error: BaseException, rank: int, world_size: int) -> PeerLostError | None:
    """One line for a collective that failed because another rank's process is gone (gloo
    reports only the peer's address); None for any other error."""
    match = _LOST_PEER.search(str(error))
    if world_size < 2 or not match:
        return None
    address = f" {match.group(2)}" if match.group(2) else ""
    gloo = f"gloo: {match.group(1).lower()}{address}"
    if world_size == 2:
        return PeerLostError(f"rank {rank} lost its peer rank {1 - rank} ({gloo}): that process stopped; "
                             "its log says why")
    return PeerLostError(f"rank {rank} lost a peer rank of the {world_size} processes ({gloo}): "
                         "another process stopped; the other ranks' logs say which and why")


def destroy_distributed() -> None:
    """Leave the process group, if one was joined."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
