"""Training stores the training set's class names in every checkpoint."""

from types import SimpleNamespace

from engine_toys import toy_cfg, toy_components

from video3d.engine import checkpoint as ckpt
from video3d.engine.trainer import Trainer


def test_checkpoints_carry_the_training_sets_class_names(tmp_path):
    trainer = Trainer(toy_cfg(str(tmp_path)), toy_components())
    assert trainer.checkpoint_state(0, 0)["class_names"] is None  # the toy set has no names
    trainer._train_loader = SimpleNamespace(dataset=SimpleNamespace(class_names=["walk", "run"]))
    path = ckpt.save_checkpoint(str(tmp_path / "c.pyth"), trainer.checkpoint_state(1, 0))
    assert ckpt.load_checkpoint(path)["class_names"] == ["walk", "run"]
