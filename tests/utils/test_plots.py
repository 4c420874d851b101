import os

from video3d.utils.plots import plot_training_curves


def test_training_curves_png_is_written_atomically_and_redrawn(tmp_path):
    path = str(tmp_path / "plots" / "training_curves.png")
    history = [{"epoch": 1, "lr": 0.1, "train_loss": 2.0, "train_top1_err": 80.0, "val_loss": 1.9,
                "val_top1_err": 75.0},
               {"epoch": 2, "lr": 0.05, "train_loss": 1.5, "train_top1_err": None}]  # no val, mixup
    plot_training_curves(history[:1], path)
    first = open(path, "rb").read()
    plot_training_curves(history, path)
    second = open(path, "rb").read()
    assert first.startswith(b"\x89PNG") and second.startswith(b"\x89PNG") and first != second
    assert os.listdir(tmp_path / "plots") == ["training_curves.png"]  # no temp file left


def test_training_curves_accept_an_empty_history(tmp_path):
    path = str(tmp_path / "curves.png")
    plot_training_curves([], path)
    assert open(path, "rb").read().startswith(b"\x89PNG")
