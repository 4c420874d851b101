"""video3d-fuse-scores (tools/fuse_scores.py): fused metrics of matched videos, one-line errors with exit code 2."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from video3d.cli import fuse_scores
from video3d.evaluation.results import VideoResult, load_results, results_to_dict, save_results, summarise

ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT / "tools" / "fuse_scores.py"


def _write(path, videos, num_classes=3):
    """videos: (video_id, label, probs) triples."""
    results = [VideoResult(i, vid, label, torch.tensor(probs), int(torch.tensor(probs).argmax()))
               for i, (vid, label, probs) in enumerate(videos)]
    save_results(str(path), results_to_dict(results, summarise(results, 30), num_classes))
    return str(path)


@pytest.fixture
def two_streams(tmp_path):
    rgb = _write(tmp_path / "rgb.json", [("a", 0, [0.6, 0.4, 0.0]), ("b", 1, [0.5, 0.3, 0.2])])
    flow = _write(tmp_path / "flow.json", [("b", 1, [0.0, 0.9, 0.1]), ("a", 0, [0.1, 0.8, 0.1])])
    return rgb, flow


def test_fusion_prints_each_input_and_the_fused_metrics_and_writes_them(two_streams, tmp_path, capsys):
    rgb, flow = two_streams
    out = tmp_path / "fused.json"
    assert fuse_scores.main([rgb, flow, "--weights", "1", "3", "--out", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"{rgb}: top-1 50.00%  top-5 100.00%  mean class 50.00%  (2 videos)"
    assert lines[1].startswith(f"{flow}: top-1 50.00%")
    # a: [.225, .7, .075] -> 1 (wrong); b: [.125, .75, .125] -> 1 (right)
    assert lines[2] == "fused (weights 1, 3): top-1 50.00%  top-5 100.00%  mean class 50.00%  (2 videos)"
    fused = load_results(str(out))
    assert fused["videos"][0]["probs"] == pytest.approx([0.225, 0.7, 0.075])


def test_equal_weights_by_default(two_streams, tmp_path, capsys):
    # a: [.35, .6, .05] -> 1 (wrong); b: [.25, .6, .15] -> 1 (right)
    assert fuse_scores.main([*two_streams, "--out", str(tmp_path / "f.json")]) == 0
    assert "fused (weights 1, 1): top-1 50.00%" in capsys.readouterr().out
    assert json.loads((tmp_path / "f.json").read_text())["ensemble"]["weights"] == [1.0, 1.0]


def test_mismatched_video_sets_give_one_line_and_exit_2(tmp_path, capsys):
    rgb = _write(tmp_path / "rgb.json", [("a", 0, [0.6, 0.4, 0.0]), ("b", 1, [0.5, 0.3, 0.2])])
    flow = _write(tmp_path / "flow.json", [("a", 0, [0.6, 0.4, 0.0]), ("c", 1, [0.5, 0.3, 0.2])])
    assert fuse_scores.main([rgb, flow]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and "hold different videos" in err


def test_mismatched_class_counts_and_labels_are_errors(tmp_path, capsys):
    rgb = _write(tmp_path / "rgb.json", [("a", 0, [0.6, 0.4, 0.0])])
    four = _write(tmp_path / "four.json", [("a", 0, [0.6, 0.2, 0.1, 0.1])], num_classes=4)
    relabelled = _write(tmp_path / "relabelled.json", [("a", 2, [0.6, 0.4, 0.0])])
    assert fuse_scores.main([rgb, four]) == 2
    assert "has 4 classes but" in capsys.readouterr().err
    assert fuse_scores.main([rgb, relabelled]) == 2
    assert "video 'a' has label 2" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--weights", "1"], "one weight per results file"),
        ([], "at least two results files"),
        (["--weights", "0", "0"], "not all zero"),
    ],
)
def test_bad_arguments_exit_2_with_a_usage_line(two_streams, capsys, args, message):
    files = [two_streams[0]] if not args else list(two_streams)
    with pytest.raises(SystemExit) as exit_info:
        fuse_scores.main([*files, *args])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_a_missing_file_exits_2_with_one_line_and_no_traceback(two_streams, tmp_path):
    res = subprocess.run([sys.executable, str(TOOL), two_streams[0], str(tmp_path / "missing file.json")],
                         capture_output=True, text=True, check=False)
    assert res.returncode == 2
    assert res.stderr == f"error: results file not found: {tmp_path / 'missing file.json'}\n"


@pytest.mark.parametrize(("change", "message"), [
    (lambda doc: doc["videos"].append(dict(doc["videos"][0])), "video 'b' is listed twice (entries 0 and 2)"),
    (lambda doc: doc["videos"][1]["probs"].__setitem__(0, float("nan")), "video 'a' has score nan"),
    (lambda doc: doc.update(videos=None), "videos must be a list of video entries, got None"),
    (lambda doc: doc["videos"][0].update(video_id=["a"]), "video entry 0 has video_id ['a']"),
    (lambda doc: doc["videos"][1]["probs"].__setitem__(2, -0.1), "video 'a' has score -0.1; scores are softmax"),
    (lambda doc: doc.pop("classes"), "no classes field"),
])
def test_malformed_inputs_are_refused_with_one_line_and_exit_2(two_streams, capsys, change, message):
    rgb, flow = two_streams
    document = json.loads(Path(flow).read_text())
    change(document)
    Path(flow).write_text(json.dumps(document))
    assert fuse_scores.main([rgb, flow]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {flow}: {message}") and err.count("\n") == 1


def test_same_classes_in_another_order_are_reordered_not_refused(tmp_path, capsys):
    def named(path, classes, videos):
        results = [VideoResult(i, vid, label, torch.tensor(probs), int(torch.tensor(probs).argmax()))
                   for i, (vid, label, probs) in enumerate(videos)]
        save_results(str(path), results_to_dict(results, summarise(results, 30), 3, classes))
        return str(path)

    rgb = named(tmp_path / "rgb.json", ["x", "y", "z"], [("a", 0, [0.4, 0.5, 0.1])])
    flow = named(tmp_path / "flow.json", ["z", "y", "x"], [("a", 2, [0.0, 0.1, 0.9])])
    assert fuse_scores.main([rgb, flow]) == 0
    assert "fused (weights 1, 1): top-1 100.00%" in capsys.readouterr().out


def test_an_out_file_that_cannot_be_written_comes_after_the_metrics_in_one_line(two_streams, tmp_path, capsys):
    rgb, flow = two_streams
    (tmp_path / "a file").write_text("x")
    out = tmp_path / "a file" / "fused.json"  # its folder is a file
    assert fuse_scores.main([rgb, flow, "--out", str(out)]) == 2
    captured = capsys.readouterr()
    assert captured.out.splitlines()[-1].startswith("fused (weights 1, 1): top-1")  # the result first
    assert captured.err == f"error: cannot write {out}: part of its folder path is a file, not a folder\n"
