import torch

from video3d.utils.confusion import confusion_matrix, row_normalise, save_confusion_matrix_png

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_confusion_matrix_rows_are_true_classes_and_columns_predictions():
    labels = torch.tensor([0, 0, 1, 2, 2, 2])
    preds = torch.tensor([0, 1, 1, 2, 0, 2])
    assert confusion_matrix(preds, labels, 3).tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 2]]


def test_row_normalise_gives_recall_on_the_diagonal_and_keeps_empty_rows_zero():
    matrix = torch.tensor([[3, 1], [0, 0]])
    assert row_normalise(matrix).tolist() == [[0.75, 0.25], [0.0, 0.0]]


def test_confusion_png_is_written_with_class_names(tmp_path):
    path = tmp_path / "plots" / "confusion_matrix.png"
    save_confusion_matrix_png(torch.tensor([[2, 0], [1, 1]]), str(path), ["left", "right"])
    data = path.read_bytes()
    assert data.startswith(PNG_MAGIC)
    assert len(data) < 200_000
    assert [p.name for p in path.parent.iterdir()] == ["confusion_matrix.png"]  # no temp file left


def test_confusion_png_for_many_classes_is_written_without_tick_labels(tmp_path):
    path = tmp_path / "cm.png"
    save_confusion_matrix_png(torch.eye(400, dtype=torch.long), str(path))
    assert path.read_bytes().startswith(PNG_MAGIC)
