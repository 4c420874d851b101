"""Process-group set-up, and a real 2-process gloo run under torchrun against 1 process."""

import json
import os
import socket
import subprocess
import sys

import pytest
import torch
from engine_toys import toy_cfg, toy_components

from video3d.config import get_cfg
from video3d.engine.checkpoint import load_checkpoint
from video3d.engine.distributed import (
    ProcessInfo,
    backend_for,
    first_slurm_host,
    get_device,
    init_distributed,
    process_info,
)
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


def _cfg(**top):
    cfg = get_cfg()
    for key, value in top.items():
        setattr(cfg, key, value)
    return cfg


@pytest.mark.parametrize("top", [{"NUM_GPUS": 8}, {"NUM_GPUS": 0, "NUM_SHARDS": 2}])
def test_several_gpus_or_shards_in_one_process_is_an_error_naming_torchrun(monkeypatch, top):
    for name in ("RANK", "WORLD_SIZE", "SLURM_PROCID", "SLURM_NTASKS"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigError, match="launch with torchrun .*--nproc_per_node") as err:
        init_distributed(_cfg(**top))
    assert "\n" not in str(err.value)


def test_init_method_with_several_gpus_per_node_names_the_torchrun_line(monkeypatch):
    monkeypatch.delenv("RANK", raising=False)
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    cfg = _cfg(NUM_GPUS=8, NUM_SHARDS=2, SHARD_ID=1)
    with pytest.raises(ConfigError, match="torchrun --nnodes 2 --node_rank 1 --rdzv_endpoint node0:9999 "
                                          "--nproc_per_node 8 tools/run_net.py"):
        init_distributed(cfg, "tcp://node0:9999")
    with pytest.raises(ConfigError, match="tcp://HOST:PORT"):
        init_distributed(_cfg(NUM_GPUS=0, NUM_SHARDS=2), "env://")


_SHARD = """
import sys
from video3d.config import load_config
from video3d.engine.distributed import destroy_distributed, init_distributed
from video3d.utils.distributed import all_gather_objects, get_rank, get_world_size
cfg = load_config(None, ["NUM_GPUS", "0", "NUM_SHARDS", "2", "SHARD_ID", sys.argv[1]])
info = init_distributed(cfg, sys.argv[2])
print(info.rank, info.world_size, get_rank(), get_world_size(), all_gather_objects(int(sys.argv[1]) * 10))
destroy_distributed()
"""


@pytest.mark.slow  # two fresh interpreters: about 20 s on two loaded cores
def test_pyslowfast_launch_flags_join_two_shards_over_tcp(tmp_path):
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    script = tmp_path / "shard.py"
    script.write_text(_SHARD)
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env["PYTHONPATH"] = os.pathsep.join([os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                                         env.get("PYTHONPATH", "")])
    procs = [subprocess.Popen([sys.executable, str(script), str(shard), f"tcp://127.0.0.1:{port}"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) for shard in (0, 1)]
    outputs = [proc.communicate(timeout=120) for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], outputs
    assert [out.strip() for out, _ in outputs] == ["0 2 0 2 [0, 10]", "1 2 1 2 [0, 10]"]


@pytest.mark.slow
def test_a_rank_that_loses_its_peer_outside_torchrun_ends_with_one_line_naming_it(tmp_path):
    script = os.path.join(os.path.dirname(__file__), "engine_lost_peer.py")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    procs = []
    for rank in (0, 1):
        env = {**os.environ, "RANK": str(rank), "WORLD_SIZE": "2", "LOCAL_RANK": str(rank),
               "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)}
        procs.append(subprocess.Popen([sys.executable, script, str(tmp_path / "out")], env=env, text=True,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    _, err = procs[0].communicate(timeout=300)
    procs[1].communicate(timeout=60)
    assert procs[0].returncode == 2
    assert err.startswith("error: rank 0 lost its peer rank 1 (gloo: connection ") and err.count("\n") == 1


def test_lost_peer_messages_name_the_rank_and_leave_other_errors_alone():
    from video3d.engine.distributed import lost_peer_error

    gloo = RuntimeError("[pair.cc:561] Connection closed by peer [127.0.0.1]:46823. This is typically caused by ...")
    assert str(lost_peer_error(gloo, 1, 2)) == ("rank 1 lost its peer rank 0 (gloo: connection closed by peer "
                                                "[127.0.0.1]:46823): that process stopped; its log says why")
    assert "rank 3 lost a peer rank of the 4 processes" in str(lost_peer_error(gloo, 3, 4))
    assert lost_peer_error(RuntimeError("CUDA out of memory"), 0, 2) is None
    assert lost_peer_error(gloo, 0, 1) is None
