import json
import math
import os

import pytest
import torch
from evaluation_fakes import CountingVideos, ValueModel, tiny_test_cfg

from video3d.errors import CheckpointError, DataError
from video3d.evaluation import evaluator
from video3d.evaluation.evaluator import (
    forward_views,
    load_test_model,
    run_test,
    shard_indices,
)
from video3d.evaluation.scoring import aggregate_views, video_prediction
from video3d.models import build_model

LN = math.log


def test_aggregate_views_averages_softmax_not_logits():
    # softmax([0, ln 3]) = [.25, .75]; softmax([0, 0]) = [.5, .5]
    logits = torch.tensor([[0.0, LN(3)], [0.0, 0.0]])
    assert aggregate_views(logits, "mean").tolist() == pytest.approx([0.375, 0.625])
    assert aggregate_views(logits, "sum").tolist() == pytest.approx([0.75, 1.25])
    assert aggregate_views(logits, "max").tolist() == pytest.approx([0.5, 0.75])


def test_aggregate_views_keeps_the_ffc_outputs_apart():
    logits = torch.zeros(3, 7, 4)
    logits[0, 2, 1] = LN(5)  # view 0, output 2: [1, 5, 1, 1] / 8
    aggregated = aggregate_views(logits, "mean")
    assert aggregated.shape == (7, 4)
    assert aggregated[2].tolist() == pytest.approx([(1 / 8 + 0.5) / 3, (5 / 8 + 0.5) / 3,
                                                    (1 / 8 + 0.5) / 3, (1 / 8 + 0.5) / 3])
    assert aggregated[0].tolist() == pytest.approx([0.25] * 4)


def test_aggregate_views_rejects_an_unknown_method():
    with pytest.raises(ValueError, match="'median'"):
        aggregate_views(torch.zeros(2, 3), "median")


def _ffc_logits(per_view_output_probs):
    """Logits whose softmax is the given [V, 7, K] probabilities exactly."""
    return torch.tensor(per_view_output_probs, dtype=torch.float64).log()


def test_ffc_votes_after_averaging_each_output_over_views():
    # Outputs 0-3: view A [.9, .1], view B [.02, .98] -> averaged [.46, .54]: class 1.
    # Outputs 4-6: [.99, .01] in both views: class 0.
    # Vote after averaging: 4 outputs for class 1 against 3 -> 1. View A alone would vote 0
    # (all seven outputs prefer 0), and the mean of the seven averaged outputs prefers 0:
    # class 0 = (4 * .46 + 3 * .99) / 7 = .687.
    view_a = [[0.9, 0.1]] * 4 + [[0.99, 0.01]] * 3
    view_b = [[0.02, 0.98]] * 4 + [[0.99, 0.01]] * 3
    aggregated = aggregate_views(_ffc_logits([view_a, view_b]), "mean")
    assert aggregated[:4, 0].tolist() == pytest.approx([0.46] * 4)
    scores, voted = video_prediction(aggregated, "vote")
    assert voted == 1
    assert scores.tolist() == pytest.approx([(4 * 0.46 + 3 * 0.99) / 7, (4 * 0.54 + 3 * 0.01) / 7])
    assert video_prediction(aggregated, "mean")[1] == 0
    assert video_prediction(aggregate_views(_ffc_logits([view_a]), "mean"), "vote")[1] == 0


def test_linear_prediction_is_the_arg_max_of_the_view_average():
    scores, pred = video_prediction(torch.tensor([0.2, 0.5, 0.3]))
    assert pred == 1 and scores.tolist() == pytest.approx([0.2, 0.5, 0.3])


@pytest.mark.parametrize(("num_videos", "world_size"), [(7, 2), (10, 3), (2, 4), (0, 2)])
def test_shards_cover_every_video_exactly_once_without_padding(num_videos, world_size):
    shards = [shard_indices(num_videos, rank, world_size) for rank in range(world_size)]
    assert sorted(i for shard in shards for i in shard) == list(range(num_videos))
    assert shard_indices(7, 1, 2) == [1, 3, 5]


def test_test_batch_size_counts_views_over_all_processes_as_in_pyslowfast():
    assert evaluator.views_per_forward(64, 8) == 8
    assert evaluator.views_per_forward(30, 1) == 30
    assert evaluator.views_per_forward(30, 8) == 3
    assert evaluator.views_per_forward(4, 8) == 1


def test_forward_views_batches_views_across_videos_and_returns_each_video_its_logits():
    model = ValueModel(num_classes=6)
    items = [
        {"index": 0, "views": torch.full((2, 3, 2, 4, 4), 1.0)},
        {"index": 1, "views": torch.full((5, 3, 2, 4, 4), 2.0)},
        {"index": 2, "views": None, "error": "broken"},
        {"index": 3, "views": torch.full((3, 3, 2, 4, 4), 4.0)},
    ]
    with torch.no_grad():
        out = {item["index"]: logits for item, logits in forward_views(model, items, 4, torch.device("cpu"))}
        expected = {i: model(items[i]["views"]) for i in (0, 1, 3)}
    assert model.batch_sizes[:3] == [4, 4, 2]  # 10 views in forwards of 4, 4 and the rest
    assert out[2] is None
    for index, logits in expected.items():
        torch.testing.assert_close(out[index], logits)


def _run(tmp_path, monkeypatch, dataset, model, **cfg_overrides):
    cfg = tiny_test_cfg(str(tmp_path / "out"), **cfg_overrides)
    cfg.DATA.CLASS_NAMES_FILE = str(tmp_path / "classes.txt")
    (tmp_path / "classes.txt").write_text("".join(f"class {c}\n" for c in range(cfg.MODEL.NUM_CLASSES)))
    monkeypatch.setattr(evaluator, "build_multiview_dataset", lambda cfg, split: dataset)
    return cfg, run_test(cfg, model)


def test_run_test_reads_each_video_once_and_reports_metrics_files_and_stats(tmp_path, monkeypatch, caplog):
    caplog.set_level("INFO", logger="video3d")
    # labels 0 1 2 2 3 4; video 2 predicts 1 (wrong), 3 fails to decode, 5 raises.
    dataset = CountingVideos([0, 1, 2, 2, 3, 4], [0, 1, 1, 2, None, 4], num_views=6, raising=[5])
    model = ValueModel(num_classes=5)
    model.train()
    cfg, summary = _run(tmp_path, monkeypatch, dataset, model)

    assert dict(dataset.calls) == {i: 1 for i in range(6)}  # one read per video, not per view
    assert model.training  # mode restored after testing
    assert set(model.batch_sizes) == {4}  # 4 good videos x 6 views in forwards of 4
    assert summary["num_videos"] == 4 and summary["num_views"] == 6
    assert summary["top1"] == pytest.approx(75.0)
    # classes 0, 1, 2 (1 of 2 right) -> (100 + 100 + 50) / 3
    assert summary["mean_class_acc"] == pytest.approx(250 / 3)
    assert [f["video_id"] for f in summary["failed"]] == ["vid4", "vid5"]
    assert summary["failed"][0] == {"video_id": "vid4", "path": "/data/vid 4.mp4", "reason": "moov atom not found"}
    assert "invalid data found" in summary["failed"][1]["reason"]

    saved = json.loads((tmp_path / "out" / "results.json").read_text())
    assert [v["video_id"] for v in saved["videos"]] == ["vid0", "vid1", "vid2", "vid3"]
    assert saved["videos"][2]["pred"] == 1 and saved["classes"][4] == "class 4"
    assert sum(saved["videos"][0]["probs"]) == pytest.approx(1.0, abs=1e-5)
    assert saved["metrics"]["num_failed"] == 2
    assert (tmp_path / "out" / "plots" / "confusion_matrix.png").read_bytes().startswith(b"\x89PNG")

    stats = [r.getMessage() for r in caplog.records if r.getMessage().startswith("json_stats:")]
    assert len(stats) == 1
    line = json.loads(stats[0][len("json_stats: "):])
    assert line == {"_type": "test_final", "split": "test_final", "top1_acc": 75.0, "top5_acc": 100.0,
                    "mean_class_acc": pytest.approx(250 / 3, abs=1e-4), "num_videos": 4,
                    "num_views": 6, "num_failed": 2}
    failed_lines = [r for r in caplog.records if "failed and is excluded" in r.getMessage()]
    assert len(failed_lines) == 2


def test_run_test_votes_ffc_outputs(tmp_path, monkeypatch):
    dataset = CountingVideos([0, 1], [0, 2], num_views=3)
    _, summary = _run(tmp_path, monkeypatch, dataset, ValueModel(num_classes=3, ffc=True),
                      num_classes=3, clips=1, crops=3)
    assert summary["top1"] == pytest.approx(50.0)


def test_run_test_with_every_video_failing_lists_them_then_raises(tmp_path, monkeypatch):
    dataset = CountingVideos([0, 1], [None, None], num_views=6)
    with pytest.raises(DataError, match="no test video could be evaluated: 2 of 2 failed"):
        _run(tmp_path, monkeypatch, dataset, ValueModel(num_classes=5))
    saved = json.loads((tmp_path / "out" / "results.json").read_text())
    assert len(saved["failed"]) == 2 and saved["metrics"]["top1"] is None


def test_results_path_off_writes_no_results_file(tmp_path, monkeypatch):
    cfg = tiny_test_cfg(str(tmp_path / "out"))
    cfg.TEST.SAVE_RESULTS_PATH = ""
    monkeypatch.setattr(evaluator, "build_multiview_dataset", lambda cfg, split: CountingVideos([0], [0], 6))
    run_test(cfg, ValueModel(num_classes=5))
    assert not os.path.exists(tmp_path / "out" / "results.json")


def _tiny_model_cfg(tmp_path):
    cfg = tiny_test_cfg(str(tmp_path / "out"), num_classes=3)
    cfg.RESNET.DEPTH = 18
    cfg.RESNET.STAGE_BLOCKS = [1, 1, 1, 1]
    cfg.RESNET.STEM_WIDTH = 4
    cfg.RESNET.WIDTH_PER_GROUP = 4
    cfg.RESNET.BLOCK = "basic"
    return cfg


def test_testing_without_any_checkpoint_is_an_error_not_random_weights(tmp_path):
    with pytest.raises(CheckpointError, match="no weights to test"):
        load_test_model(_tiny_model_cfg(tmp_path))


def test_load_test_model_loads_the_configured_checkpoint(tmp_path):
    cfg = _tiny_model_cfg(tmp_path)
    trained = build_model(cfg)
    path = tmp_path / "weights.pyth"
    torch.save({"model_state": trained.state_dict()}, path)
    cfg.TEST.CHECKPOINT_FILE_PATH = str(path)
    loaded = load_test_model(cfg)
    for name, tensor in trained.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[name], tensor)
