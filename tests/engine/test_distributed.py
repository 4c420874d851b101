"""Process-group set-up, and a real 2-process gloo run under torchrun against 1 process."""

import json
import os
import subprocess
import sys

import pytest
import torch
from engine_toys import toy_cfg, toy_components

from video3d.config import get_cfg
from video3d.engine.checkpoint import load_checkpoint
from video3d.engine.distributed import ProcessInfo, backend_for, first_slurm_host, get_device, process_info
from video3d.engine.trainer import Trainer, seed_everything
from video3d.errors import ConfigError
from video3d.utils.logging import setup_logging

SCRIPT = os.path.join(os.path.dirname(__file__), "engine_toy_run.py")
ONE_EPOCH_OF_8 = ["TRAIN.BATCH_SIZE", "8", "SOLVER.BASE_BATCH_SIZE", "8", "SOLVER.MAX_EPOCH", "1"]


def test_first_slurm_host():
    assert first_slurm_host("gpu[03-05,07],cpu1") == "gpu03"
    assert first_slurm_host("node7") == "node7"
    assert first_slurm_host("a1,b2") == "a1"


def test_process_info_from_torchrun_then_slurm_then_default():
    torchrun = {"RANK": "3", "WORLD_SIZE": "8", "LOCAL_RANK": "1", "SLURM_PROCID": "0", "SLURM_NTASKS": "1"}
    assert process_info(torchrun) == ProcessInfo(3, 8, 1)
    slurm = {"SLURM_PROCID": "5", "SLURM_NTASKS": "16", "SLURM_LOCALID": "5"}
    assert process_info(slurm) == ProcessInfo(5, 16, 5)
    assert process_info({}) == ProcessInfo(0, 1, 0)


def test_device_and_backend_follow_num_gpus():
    cfg = get_cfg()
    cfg.NUM_GPUS = 0
    assert get_device(cfg) == torch.device("cpu") and backend_for(cfg) == "gloo"
    cfg.NUM_GPUS = 1
    assert backend_for(cfg) == "nccl"
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="NUM_GPUS 0"):
            get_device(cfg)


def _iter_losses(log_text: str) -> list[float]:
    stats = [json.loads(line.split("json_stats: ")[1]) for line in log_text.splitlines() if '"train_iter"' in line]
    return [s["loss"] for s in stats]


def test_two_gloo_processes_match_one_process_with_the_same_global_batch(tmp_path):
    single = tmp_path / "single"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        setup_logging(str(single), 0)
        cfg = toy_cfg(str(single), *ONE_EPOCH_OF_8)
        seed_everything(cfg.RNG_SEED, 0)
        Trainer(cfg, toy_components()).train()
    finally:
        torch.set_num_threads(threads)
        setup_logging(None, 0)

    pair = tmp_path / "pair"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
               SCRIPT, str(pair), *ONE_EPOCH_OF_8, "BN.NORM_TYPE", "sync_batchnorm"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]

    single_log, pair_log = (single / "stdout.log").read_text(), (pair / "stdout.log").read_text()
    assert "process group: gloo, rank 0 of 2" in pair_log
    assert "sync_batchnorm needs GPUs" in pair_log  # on the CPU, SyncBN falls back with a warning
    assert len(_iter_losses(single_log)) == 3  # 24 clips, global batch 8
    assert _iter_losses(pair_log) == pytest.approx(_iter_losses(single_log), rel=1e-5)
    # Rank 0 alone writes: one line per epoch record, one set of checkpoints, no stray files.
    assert len((pair / "json_stats.log").read_text().splitlines()) == 2
    assert sorted(os.listdir(pair / "checkpoints")) == ["checkpoint_best.pyth", "checkpoint_epoch_00001.pyth"]
    mine = load_checkpoint(str(pair / "checkpoints" / "checkpoint_epoch_00001.pyth"))["model_state"]
    reference = load_checkpoint(str(single / "checkpoints" / "checkpoint_epoch_00001.pyth"))["model_state"]
    for name, tensor in reference.items():
        assert torch.allclose(mine[name], tensor, atol=1e-6), name
