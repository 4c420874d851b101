"""Exact resume: a toy run killed with SIGKILL mid-epoch and resumed (TRAIN.AUTO_RESUME) ends
with the same weights and optimiser state as an uninterrupted run, bit for bit."""

import json
import os
import signal
import subprocess
import sys

import pytest
import torch
from engine_toys import toy_cfg, toy_components

from data_prep.synthetic import generate
from video3d.engine.checkpoint import load_checkpoint
from video3d.engine.trainer import Trainer, seed_everything

SCRIPT = os.path.join(os.path.dirname(__file__), "engine_toy_run.py")
# BN, dropout and mixup draw on every RNG stream the resume must continue.
OPTS = ["MODEL.MODEL_NAME", "toy_bn", "MODEL.DROPOUT_RATE", "0.3", "MIXUP.ENABLE", "True",
        "TRAIN.CHECKPOINT_ITERS", "2", "SOLVER.MAX_EPOCH", "2"]
STEPS_PER_EPOCH = 6


def _run(output_dir, *extra, opts=OPTS) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, SCRIPT, str(output_dir), *extra, *opts], capture_output=True,
                          text=True, timeout=600, env=env)


def _final(output_dir) -> dict:
    return load_checkpoint(os.path.join(output_dir, "checkpoints", "checkpoint_epoch_00002.pyth"))


def _assert_same_training_state(a: dict, b: dict, steps: int = 2 * STEPS_PER_EPOCH) -> None:
    assert a["model_state"].keys() == b["model_state"].keys()
    for name, tensor in a["model_state"].items():
        assert torch.equal(tensor, b["model_state"][name]), name
    for index, state in a["optimizer_state"]["state"].items():
        assert torch.equal(state["momentum_buffer"], b["optimizer_state"]["state"][index]["momentum_buffer"])
    assert a["global_step"] == b["global_step"] == steps


def _last_epoch_numbers(output_dir) -> list[tuple]:
    """(type, loss, top-1 error) of the epoch-2 train and val lines of json_stats.log."""
    with open(os.path.join(output_dir, "json_stats.log"), encoding="utf-8") as handle:
        stats = [json.loads(line.split("json_stats: ", 1)[1]) for line in handle]
    numbers = [(s["_type"], s["loss"], s["top1_err"]) for s in stats if s["epoch"] == "2/2"]
    assert len(numbers) == 2
    return numbers


def _straight_run(output_dir) -> None:
    """The uninterrupted reference, in this process, seeded and threaded as the script does."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        cfg = toy_cfg(str(output_dir), *OPTS)
        seed_everything(cfg.RNG_SEED, 0)
        Trainer(cfg, toy_components()).train()
    finally:
        torch.set_num_threads(threads)


def test_sigkill_mid_epoch_then_auto_resume_matches_an_uninterrupted_run(tmp_path):
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    _straight_run(straight)

    # Killed after step 9 = epoch 2, batch 3; the rolling checkpoint of step 8 survives.
    crash = _run(killed, "--kill-after-step", "9")
    assert crash.returncode == -signal.SIGKILL, crash.stderr[-2000:]
    assert not os.path.exists(killed / "checkpoints" / "checkpoint_epoch_00002.pyth")

    resumed = _run(killed)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "checkpoint_last.pyth at epoch 2, iteration 2" in (killed / "stdout.log").read_text()
    _assert_same_training_state(_final(straight), _final(killed))
    # The resumed epoch reports totals over all its batches, as the uninterrupted run does.
    assert _last_epoch_numbers(straight) == _last_epoch_numbers(killed)


@pytest.mark.slow
def test_sigkill_resume_of_the_demo_network_on_real_videos_matches(tmp_path):
    """Same on the real builders: decoded SynthMotion clips with random crops and flips."""
    data = str(tmp_path / "synthmotion")
    generate(data, num_train=8, num_val=4, size=64, frames=24, workers=1)
    opts = ["--demo-data", data, "SOLVER.MAX_EPOCH", "2", "TRAIN.CHECKPOINT_ITERS", "1", "MIXUP.ENABLE", "True"]
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    done = _run(straight, opts=opts)
    assert done.returncode == 0, done.stderr[-2000:]
    crash = _run(killed, "--kill-after-step", "3", opts=opts)  # 2 steps per epoch: epoch 2, batch 2
    assert crash.returncode == -signal.SIGKILL, crash.stderr[-2000:]
    resumed = _run(killed, opts=opts)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "checkpoint_last.pyth at epoch 2, iteration 1" in (killed / "stdout.log").read_text()
    _assert_same_training_state(_final(straight), _final(killed), steps=4)
