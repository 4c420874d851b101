import json
import math

import pytest
import torch

from video3d.errors import DataError
from video3d.evaluation.results import (
    RESULTS_FORMAT,
    VideoResult,
    fuse_results,
    load_class_names,
    load_results,
    results_to_dict,
    save_results,
    summarise,
)


def _video(index, label, probs, pred=None):
    probs = torch.tensor(probs)
    return VideoResult(index, f"v{index}", label, probs, int(probs.argmax()) if pred is None else pred,
                       path=f"/d/v{index}.mp4", num_views=6)


def _document(videos, num_classes=3, failed=(), classes=None):
    results = list(videos) + [VideoResult(99, vid, 0, path=f"/d/{vid}.mp4", error="truncated")
                              for vid in failed]
    return results_to_dict(results, summarise(results, 6), num_classes, classes)


def test_summarise_excludes_and_lists_failed_videos():
    results = [
        _video(0, 0, [0.7, 0.2, 0.1]),
        VideoResult(1, "bad", 1, path="/d/bad.mp4", error="moov atom not found"),
        _video(2, 2, [0.6, 0.1, 0.3]),
    ]
    summary = summarise(results, 30)
    assert summary["num_videos"] == 2
    assert summary["num_views"] == 30
    assert summary["top1"] == pytest.approx(50.0)
    assert summary["failed"] == [{"video_id": "bad", "path": "/d/bad.mp4", "reason": "moov atom not found"}]


def test_results_document_has_the_documented_fields():
    doc = _document([_video(0, 0, [0.7, 0.2, 0.1]), _video(1, 2, [0.2, 0.2, 0.6])], failed=["x"],
                    classes=["a", "b", "c"])
    assert doc["format"] == RESULTS_FORMAT
    assert doc["num_classes"] == 3 and doc["classes"] == ["a", "b", "c"] and doc["num_views"] == 6
    assert doc["videos"][1] == {"video_id": "v1", "label": 2, "pred": 2, "probs": [0.2, 0.2, 0.6]}
    assert doc["failed"] == [{"video_id": "x", "path": "/d/x.mp4", "reason": "truncated"}]
    assert doc["metrics"] == {"top1": 100.0, "top5": 100.0, "mean_class_acc": 100.0,
                              "num_videos": 2, "num_views": 6, "num_failed": 1}


def test_results_of_only_failed_videos_store_null_metrics(tmp_path):
    doc = _document([], failed=["x"])
    assert doc["metrics"]["top1"] is None and doc["videos"] == []
    save_results(str(tmp_path / "r.json"), doc)
    json.loads((tmp_path / "r.json").read_text(), parse_constant=pytest.fail)  # strict JSON, no NaN


def test_saved_results_load_back_unchanged(tmp_path):
    doc = _document([_video(0, 1, [0.1, 0.8, 0.1])])
    path = tmp_path / "sub" / "results.json"
    save_results(str(path), doc)
    assert load_results(str(path)) == doc


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not a readable JSON"),
        ('{"format": "other"}', "not a video3d-results-v1"),
        (json.dumps({"format": RESULTS_FORMAT, "num_classes": 3,
                     "videos": [{"video_id": "a", "label": 0, "probs": [1.0, 0.0]}]}),
         "has 2 scores, expected num_classes = 3"),
        (json.dumps({"format": RESULTS_FORMAT, "num_classes": 3, "videos": [{"video_id": "a"}]}),
         "lacks video_id, label or probs"),
    ],
)
def test_load_results_names_the_file_and_the_fault(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(DataError, match=message) as err:
        load_results(str(path))
    assert str(path) in str(err.value)


def test_load_results_of_a_missing_file_names_it(tmp_path):
    with pytest.raises(DataError, match="results file not found: .*nope.json"):
        load_results(str(tmp_path / "nope.json"))


def test_fusion_is_the_weighted_average_of_scores_matched_by_video_id():
    rgb = _document([_video(0, 0, [0.6, 0.4, 0.0]), _video(1, 1, [0.5, 0.3, 0.2])])
    # the flow file lists the same videos in the other order
    flow = _document([_video(1, 1, [0.0, 0.9, 0.1]), _video(0, 0, [0.1, 0.8, 0.1])])
    fused = fuse_results([rgb, flow], [1.0, 3.0], ["rgb.json", "flow.json"])
    by_id = {v["video_id"]: v for v in fused["videos"]}
    # v0: (1 * [.6,.4,0] + 3 * [.1,.8,.1]) / 4 = [.225, .7, .075] -> class 1, wrong
    assert by_id["v0"]["probs"] == pytest.approx([0.225, 0.7, 0.075])
    assert by_id["v0"]["pred"] == 1
    # v1: (1 * [.5,.3,.2] + 3 * [0,.9,.1]) / 4 = [.125, .75, .125] -> class 1, right
    assert by_id["v1"]["probs"] == pytest.approx([0.125, 0.75, 0.125])
    assert fused["metrics"]["top1"] == pytest.approx(50.0)
    assert fused["ensemble"] == {"fused": ["rgb.json", "flow.json"], "weights": [1.0, 3.0]}


def test_fusion_rejects_different_video_sets():
    rgb = _document([_video(0, 0, [0.6, 0.4, 0.0]), _video(1, 1, [0.5, 0.3, 0.2])])
    flow = _document([_video(0, 0, [0.6, 0.4, 0.0])])
    with pytest.raises(DataError, match="flow.json and rgb.json hold different videos: 0 only in flow.json, "
                                        "1 only in rgb.json .*'v1'"):
        fuse_results([rgb, flow], [1, 1], ["rgb.json", "flow.json"])


def test_fusion_rejects_different_labels():
    rgb = _document([_video(0, 0, [0.6, 0.4, 0.0])])
    flow = _document([_video(0, 2, [0.6, 0.4, 0.0])])
    with pytest.raises(DataError, match="video 'v0' has label 2 in flow.json but 0 in rgb.json"):
        fuse_results([rgb, flow], [1, 1], ["rgb.json", "flow.json"])


def test_fusion_rejects_different_class_counts_and_weight_counts():
    rgb = _document([_video(0, 0, [0.6, 0.4, 0.0])])
    flow = _document([_video(0, 0, [0.6, 0.2, 0.1, 0.1])], num_classes=4)
    with pytest.raises(DataError, match="flow.json has 4 classes but rgb.json has 3"):
        fuse_results([rgb, flow], [1, 1], ["rgb.json", "flow.json"])
    with pytest.raises(DataError, match="3 weights given for 2 results files"):
        fuse_results([rgb, rgb], [1, 1, 1], ["a", "b"])


def test_fusion_lists_a_video_failed_in_both_streams_once():
    rgb = _document([_video(0, 0, [0.6, 0.4, 0.0])], failed=["x"])
    flow = _document([_video(0, 0, [0.6, 0.4, 0.0])], failed=["x"])
    fused = fuse_results([rgb, flow], [1, 1], ["rgb", "flow"])
    assert [f["video_id"] for f in fused["failed"]] == ["x"]
    assert fused["metrics"]["num_failed"] == 1


def test_class_names_are_read_one_per_line_and_ignored_when_the_count_differs(tmp_path, caplog):
    path = tmp_path / "classes.txt"
    path.write_text("move left\nmove right\n\n")
    assert load_class_names(str(path), 2) == ["move left", "move right"]
    assert load_class_names(str(path), 3) is None
    assert "holds 2 names but MODEL.NUM_CLASSES is 3" in caplog.text
    assert load_class_names("", 2) is None
    assert load_class_names(str(tmp_path / "missing.txt"), 2) is None


def test_nan_metrics_never_reach_the_document():
    doc = _document([], failed=["x"])
    assert not any(isinstance(v, float) and math.isnan(v) for v in doc["metrics"].values())


def _raw(**changes):
    """A valid saved document with two videos (3 classes, named), then `changes` applied."""
    doc = _document([_video(0, 0, [0.7, 0.2, 0.1]), _video(1, 2, [0.2, 0.2, 0.6])], classes=["a", "b", "c"])
    doc.update(changes)
    return doc


def _first_video(**changes):
    doc = _raw()
    doc["videos"][0].update(changes)
    return doc


@pytest.mark.parametrize(("document", "message"), [
    (_raw(videos=None), "videos must be a list of video entries, got None"),
    (_first_video(probs=["0.7", "0.2", "0.1"]), "video 'v0' has score '0.7'; scores must be finite numbers"),
    (_first_video(probs=[float("nan"), 0.2, 0.1]), "video 'v0' has score nan; scores must be finite numbers"),
    (_first_video(probs="0.7 0.2 0.1"), "video 'v0': probs must be a list of 3 numbers, got str"),
    (_first_video(video_id=["v", "0"]), "video entry 0 has video_id \\['v', '0'\\], expected a non-empty string"),
    (_first_video(video_id="v1"), "video 'v1' is listed twice \\(entries 0 and 1\\)"),
    (_first_video(label="0"), "video 'v0' has label '0', expected an integer in \\[0, 3\\)"),
    (_first_video(label=3), "video 'v0' has label 3, expected an integer in \\[0, 3\\)"),
    (_first_video(pred=True), "video 'v0' has pred True"),
    (_raw(num_classes="3"), "num_classes must be a positive integer, got '3'"),
    (_raw(classes=["a", "b"]), "classes must be null or a list of 3 names"),
    (_raw(classes=["a", "b", "a"]), "class name 'a' appears twice"),
    (_raw(failed=None), "failed must be a list"),
    (_raw(metrics={"top1": "high"}), "metrics must hold top1"),
    (_first_video(probs=[0.7, -0.2, 0.1]), "video 'v0' has score -0.2; scores are softmax scores, never negative"),
    ({k: v for k, v in _raw().items() if k != "classes"}, "no classes field"),
])
def test_load_results_refuses_each_malformed_field_in_one_line(tmp_path, document, message):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(document))  # json writes NaN as NaN, which json.load reads back
    with pytest.raises(DataError, match=message) as err:
        load_results(str(path))
    assert str(err.value).startswith(f"{path}: ") and "\n" not in str(err.value)


def test_fusion_reorders_scores_and_labels_of_the_same_classes_in_another_order():
    rgb = _document([_video(0, 0, [0.6, 0.3, 0.1]), _video(1, 2, [0.1, 0.2, 0.7])], classes=["a", "b", "c"])
    # the same videos from a run whose class list was c, a, b: label and scores permuted
    flow = _document([_video(0, 1, [0.2, 0.8, 0.0]), _video(1, 0, [0.5, 0.3, 0.2])], classes=["c", "a", "b"])
    fused = fuse_results([rgb, flow], [1.0, 1.0], ["rgb.json", "flow.json"])
    by_id = {v["video_id"]: v for v in fused["videos"]}
    assert by_id["v0"]["probs"] == pytest.approx([0.7, 0.15, 0.15])  # flow v0 in a, b, c order: .8, 0, .2
    assert by_id["v1"]["probs"] == pytest.approx([0.2, 0.2, 0.6])
    assert fused["classes"] == ["a", "b", "c"] and fused["metrics"]["top1"] == pytest.approx(100.0)


def test_fusion_refuses_different_class_names():
    rgb = _document([_video(0, 0, [0.6, 0.3, 0.1])], classes=["a", "b", "c"])
    flow = _document([_video(0, 0, [0.6, 0.3, 0.1])], classes=["a", "b", "d"])
    with pytest.raises(DataError, match="flow.json and rgb.json name different classes \\(e.g. 'c'"):
        fuse_results([rgb, flow], [1, 1], ["rgb.json", "flow.json"])
