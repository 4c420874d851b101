"""CPU_THREADS: training gets the cores its loader workers leave, the test every core, and a
lower count set before the run is kept."""

import pytest
import torch

from video3d.config import load_config
from video3d.errors import ConfigError
from video3d.utils.threads import auto_threads, planned_threads, processes_per_node, run_threads


def _cfg(*opts):
    return load_config(None, ["DATA_LOADER.NUM_WORKERS", "1", *opts])


@pytest.mark.parametrize("cores, processes, workers, expected", [
    (2, 1, 1, 1), (2, 1, 0, 2), (16, 1, 8, 8), (16, 2, 4, 4), (16, 4, 8, 1), (1, 1, 2, 1),
])
def test_auto_threads_are_the_cores_per_process_less_busy_workers(cores, processes, workers, expected):
    assert auto_threads(cores, processes, workers) == expected


def test_training_leaves_the_workers_their_cores_and_the_test_keeps_them():
    cfg = _cfg()
    train, why = planned_threads(cfg, "train", current=2, cores=2, processes=1)
    assert train == 1 and "1 loader worker" in why
    test, why = planned_threads(cfg, "test", current=2, cores=2, processes=1)
    assert test == 2 and "mostly idle" in why


def test_auto_never_raises_the_count_set_before_the_run():
    threads, why = planned_threads(_cfg(), "test", current=1, cores=8, processes=1)
    assert threads == 1 and "keeping the 1 set before the run" in why


def test_an_explicit_cpu_threads_wins():
    assert planned_threads(_cfg("CPU_THREADS", "3"), "train", current=1, cores=2, processes=1)[0] == 3


def test_a_negative_cpu_threads_is_a_config_error():
    with pytest.raises(ConfigError, match="CPU_THREADS must be >= 0"):
        _cfg("CPU_THREADS", "-1")


@pytest.mark.parametrize("environ, expected", [
    ({}, 1), ({"LOCAL_WORLD_SIZE": "4"}, 4), ({"SLURM_NTASKS_PER_NODE": "2(x3)"}, 2),
    ({"LOCAL_WORLD_SIZE": "", "SLURM_NTASKS_PER_NODE": "8"}, 8), ({"LOCAL_WORLD_SIZE": "0"}, 1),
])
def test_processes_per_node_come_from_torchrun_or_slurm(environ, expected):
    assert processes_per_node(environ) == expected


def test_run_threads_sets_the_count_for_the_phase_and_restores_it(caplog):
    previous = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        with caplog.at_level("INFO"), run_threads(_cfg("CPU_THREADS", "1"), "train") as threads:
            assert threads == 1 and torch.get_num_threads() == 1
        assert torch.get_num_threads() == 2
        assert "training: 1 intra-op CPU thread(s) (CPU_THREADS 1)" in caplog.text
    finally:
        torch.set_num_threads(previous)


def test_an_unknown_phase_is_refused():
    with pytest.raises(ValueError, match="phase must be one of"):
        planned_threads(_cfg(), "predict", current=1, cores=1, processes=1)
