"""The trainer on the real builders (video3d.models, video3d.data) and tiny SynthMotion videos,
with the demo config (a small iResNet-3D with the FFC head)."""

import json
import os
import subprocess
import sys

import pytest
import torch
from engine_toys import DEMO, demo_opts

from data_prep.synthetic import generate
from video3d.config import load_config
from video3d.engine.checkpoint import load_checkpoint
from video3d.engine.trainer import Trainer, seed_everything
from video3d.utils.logging import setup_logging

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def synthmotion(tmp_path_factory) -> str:
    root = str(tmp_path_factory.mktemp("synthmotion"))
    generate(root, num_train=8, num_val=4, size=64, frames=24, workers=1)
    return root


def test_ffc_model_overfits_one_real_batch(synthmotion, tmp_path):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        cfg = load_config(DEMO, demo_opts(synthmotion, str(tmp_path), "MODEL.DROPOUT_RATE", "0.0",
                                      "SOLVER.WARMUP_EPOCHS", "0.0", "SOLVER.BASE_LR", "0.05"))
        seed_everything(cfg.RNG_SEED, 0)
        trainer = Trainer(cfg, hooks=[])
        batch = next(iter(trainer.train_loader))
        assert batch["video"].shape == (4, 3, 8, 56, 56)
        trainer.state.epoch_iters = 100
        losses = [trainer.run_step(batch)["meter"]["loss"] for _ in range(6)]
    finally:
        torch.set_num_threads(threads)
    assert losses[-1] < 0.7 * losses[0], losses


def test_run_net_trains_then_tests_the_demo_config(synthmotion, tmp_path):
    output = tmp_path / "run"
    command = [sys.executable, os.path.join(REPO, "tools", "run_net.py"), "--cfg", DEMO,
               *demo_opts(synthmotion, str(output), "SOLVER.MAX_EPOCH", "1", "TRAIN.CHECKPOINT_ITERS", "1")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=str(tmp_path),
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    names = sorted(os.listdir(output / "checkpoints"))
    assert names == ["checkpoint_best.pyth", "checkpoint_epoch_00001.pyth", "checkpoint_last.pyth"]
    state = load_checkpoint(str(output / "checkpoints" / "checkpoint_epoch_00001.pyth"))
    assert state["global_step"] == 2 and "head.fc.weight" in "".join(state["model_state"])
    epochs = [json.loads(line.split("json_stats: ")[1]) for line in open(output / "json_stats.log")]
    assert [s["_type"] for s in epochs][:2] == ["train_epoch", "val_epoch"]
    assert (output / "plots" / "training_curves.png").read_bytes().startswith(b"\x89PNG")
    log = (output / "stdout.log").read_text()
    assert "val (1 centre view), epoch 1" in log
    assert os.path.isfile(output / "results.json")  # the evaluator ran on checkpoint_best.pyth


def test_resuming_a_finished_run_trains_nothing_more(synthmotion, tmp_path):
    setup_logging(str(tmp_path), 0)
    try:
        cfg = load_config(DEMO, demo_opts(synthmotion, str(tmp_path), "SOLVER.MAX_EPOCH", "1", "TRAIN.EVAL_PERIOD", "0"))
        first = Trainer(cfg).train()
        again = Trainer(cfg)
        assert (again.state.start_epoch, again.state.start_iter) == (1, 0)
        assert again.train() == first  # history restored from the checkpoint, no new epoch
    finally:
        setup_logging(None, 0)
