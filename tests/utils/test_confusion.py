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


def test_cell_counts_are_readable_on_every_cell_colour():
    """The count's colour follows the cell's brightness: at least 4.5:1 contrast (WCAG AA) on
    every shade of the map, light cells just above half recall included."""
    from matplotlib import colormaps

    from video3d.utils.confusion import contrast_ratio, relative_luminance, text_colour

    blues = colormaps["Blues"]
    for value in [i / 100 for i in range(101)]:
        cell = blues(value)[:3]
        text = 0.0 if text_colour(cell) == "black" else 1.0
        assert contrast_ratio(relative_luminance(cell), text) >= 4.5, value
    assert text_colour(blues(0.55)[:3]) == "black" and text_colour(blues(1.0)[:3]) == "white"


def test_a_light_cell_above_half_recall_gets_a_black_count(tmp_path, monkeypatch):
    from matplotlib.axes import Axes

    drawn = {}
    original = Axes.text

    def record(self, x, y, text, **kwargs):
        drawn[(y, x)] = kwargs.get("color")
        return original(self, x, y, text, **kwargs)

    monkeypatch.setattr(Axes, "text", record)
    save_confusion_matrix_png(torch.tensor([[11, 9], [0, 20]]), str(tmp_path / "cm.png"))
    assert drawn == {(0, 0): "black", (0, 1): "black", (1, 1): "white"}  # 55 %, 45 %, 100 % recall
