"""Multigrid in the trainer: shapes and LR follow the schedule, sub-batch BN, full-shape precise
BN, and a run killed mid-cycle resumes bit for bit."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest
import torch
from engine_toys import toy_cfg, toy_components

from video3d.engine.checkpoint import load_checkpoint, unwrap_model
from video3d.engine.hooks import Hook, default_hooks
from video3d.engine.trainer import Trainer, seed_everything
from video3d.models.sub_batchnorm import SubBatchNorm3d

SCRIPT = os.path.join(os.path.dirname(__file__), "engine_toy_run.py")
# Both cycles on a 4-frame, 8-pixel toy clip; steps [0, 2] of 3 epochs -> 4 multigrid epochs
# of 2, 2, 4 and 9 steps (batch factors 7, 7, 4, 1; short cycles of 3 shapes each).
OPTS = ["MODEL.MODEL_NAME", "toy_bn", "MODEL.DROPOUT_RATE", "0.3", "TRAIN.BATCH_SIZE", "1",
        "SOLVER.BASE_BATCH_SIZE", "1", "SOLVER.LR_POLICY", "steps_with_relative_lrs", "SOLVER.STEPS", "[0, 2]",
        "SOLVER.LRS", "[1.0, 0.1]", "SOLVER.MAX_EPOCH", "3", "SOLVER.BASE_LR", "0.05",
        "MULTIGRID.LONG_CYCLE", "True", "MULTIGRID.SHORT_CYCLE", "True", "MULTIGRID.BN_BASE_SIZE", "2",
        "DATA.NUM_FRAMES", "4", "DATA.TRAIN_CROP_SIZE", "8", "DATA.TRAIN_JITTER_SCALES", "[8, 10]",
        "RESNET.STEM_POOL", "False", "RESNET.SPATIAL_STRIDES", "[1, 1, 1, 1]", "BN.USE_PRECISE_STATS", "True",
        "BN.NUM_BATCHES_PRECISE", "2", "TRAIN.CHECKPOINT_ITERS", "2"]
STEPS = [2, 2, 4, 9]


class ShapeRecorder(Hook):
    def __init__(self):
        self.seen = []

    def before_step(self, trainer) -> None:
        self.seen.append((trainer.state.epoch, trainer.state.iteration, round(trainer.state.events.get("lr"), 6)))


def _train(output_dir, *extra, hooks=None):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        cfg = toy_cfg(str(output_dir), *OPTS, *extra)
        seed_everything(cfg.RNG_SEED, 0)
        trainer = Trainer(cfg, toy_components(), hooks=None if hooks is None else default_hooks(cfg) + hooks)
        trainer.train()
        return trainer
    finally:
        torch.set_num_threads(threads)


def test_epochs_batches_and_lr_follow_the_long_cycle(tmp_path):
    recorder = ShapeRecorder()
    trainer = _train(tmp_path, hooks=[recorder])
    assert trainer.state.max_epoch == 4 and trainer.cfg.SOLVER.MAX_EPOCH == 3  # the schedule, not a rewritten cfg
    assert trainer.state.global_step == sum(STEPS)
    per_epoch = [sum(1 for e, _, _ in recorder.seen if e == epoch) for epoch in range(4)]
    assert per_epoch == STEPS
    # LR = 0.05 x the phase's batch factor (7, 7, 4), then 1 for the full shape, 0.1 x in its second half
    assert {lr for e, _, lr in recorder.seen if e < 2} == {0.35} and {lr for e, _, lr in recorder.seen if e == 2} == {0.2}
    assert any(isinstance(m, SubBatchNorm3d) and m.group_size == 2 for m in unwrap_model(trainer.model).modules())
    final = load_checkpoint(os.path.join(tmp_path, "checkpoints", "checkpoint_epoch_00004.pyth"))
    assert "norm.running_mean" in final["model_state"]  # plain BatchNorm keys: the test builds a plain model


def _run(output_dir, *extra) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, SCRIPT, str(output_dir), *extra, *OPTS], capture_output=True,
                          text=True, timeout=600, env=env)


def test_killed_mid_short_cycle_resumes_bit_identically(tmp_path):
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    _train(straight)
    # Step 7 = epoch 3, batch 3; the rolling checkpoint of step 6 (epoch 3, 2 batches done) survives.
    crash = _run(killed, "--kill-after-step", "7")
    assert crash.returncode == -signal.SIGKILL, crash.stderr[-2000:]
    resumed = _run(killed)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "at epoch 3, iteration 2" in (killed / "stdout.log").read_text()
    a = load_checkpoint(os.path.join(straight, "checkpoints", "checkpoint_epoch_00004.pyth"))
    b = load_checkpoint(os.path.join(killed, "checkpoints", "checkpoint_epoch_00004.pyth"))
    for name, tensor in a["model_state"].items():
        assert torch.equal(tensor, b["model_state"][name]), name
    for index, state in a["optimizer_state"]["state"].items():
        assert torch.equal(state["momentum_buffer"], b["optimizer_state"]["state"][index]["momentum_buffer"])
    assert a["global_step"] == b["global_step"] == sum(STEPS)


def test_two_gloo_processes_match_one_process_under_the_long_cycle(tmp_path):
    opts = ["MODEL.MODEL_NAME", "toy", "MODEL.DROPOUT_RATE", "0.0", "TRAIN.BATCH_SIZE", "2",
            "SOLVER.BASE_BATCH_SIZE", "2", "SOLVER.LR_POLICY", "steps_with_relative_lrs", "SOLVER.STEPS", "[0, 1]",
            "SOLVER.LRS", "[1.0, 0.1]", "SOLVER.MAX_EPOCH", "2", "MULTIGRID.LONG_CYCLE", "True",
            "MULTIGRID.LONG_CYCLE_FACTORS", "[[0.5, 1.0], [1.0, 1.0]]", "MULTIGRID.EPOCH_FACTOR", "1.0",
            "DATA.NUM_FRAMES", "4", "DATA.TRAIN_CROP_SIZE", "8", "DATA.TRAIN_JITTER_SCALES", "[8, 10]",
            "RESNET.STEM_POOL", "False", "RESNET.SPATIAL_STRIDES", "[1, 1, 1, 1]"]
    single, pair = tmp_path / "single", tmp_path / "pair"
    done = subprocess.run([sys.executable, SCRIPT, str(single), *opts], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
               SCRIPT, str(pair), *opts]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-3000:]

    def losses(run) -> list[float]:
        lines = (run / "stdout.log").read_text().splitlines()
        return [json.loads(line.split("json_stats: ")[1])["loss"] for line in lines if '"train_iter"' in line]

    assert "process group: gloo, rank 0 of 2" in (pair / "stdout.log").read_text()
    assert len(losses(single)) > 3
    assert losses(pair) == pytest.approx(losses(single), rel=1e-5)
