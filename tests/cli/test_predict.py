"""video3d-predict (tools/predict.py): top-5 per file with the test protocol, failed files reported and skipped."""

import json
import logging
from pathlib import Path

import pytest
import torch

from data_prep.synthetic import generate
from video3d.cli import predict
from video3d.cli.base import is_config_key
from video3d.config import load_config
from video3d.evaluation import evaluator
from video3d.models import build_model

ROOT = Path(__file__).resolve().parents[2]
DEMO = str(ROOT / "configs" / "demo" / "synthmotion_iresnet3d_ffc.yaml")

TINY = ["DATA.NUM_FRAMES", "4", "DATA.SAMPLING_RATE", "2", "DATA.TEST_CROP_SIZE", "32",
        "DATA.TRAIN_JITTER_SCALES", "[32, 40]", "DATA.TRAIN_CROP_SIZE", "32",
        "TEST.NUM_ENSEMBLE_VIEWS", "2", "DATA_LOADER.NUM_WORKERS", "0"]


@pytest.fixture(autouse=True)
def _restore_log_level():
    """main() quiets the video3d logger for the whole process; keep that out of other tests."""
    level = logging.getLogger("video3d").level
    yield
    logging.getLogger("video3d").setLevel(level)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("predict")
    generate(str(root), num_train=0, num_val=2, size=32, frames=20)
    cfg = load_config(DEMO, ["DATA.CLASS_NAMES_FILE", str(root / "classnames.txt"), *TINY])
    torch.manual_seed(0)
    checkpoint = root / "weights.pyth"
    torch.save({"model_state": build_model(cfg).state_dict()}, checkpoint)
    videos = sorted(str(p) for p in (root / "videos").rglob("*.mp4"))
    broken = root / "-not a video.mp4"
    broken.write_bytes(b"this is not an mp4 file")
    return root, str(checkpoint), videos, str(broken)


def _args(root, checkpoint, *videos, json_out=False):
    return ["--cfg", DEMO, "--checkpoint", checkpoint, *(["--json"] if json_out else []), *videos,
            "DATA.CLASS_NAMES_FILE", str(root / "classnames.txt"), *TINY]


def test_json_lists_top5_per_video_and_an_error_for_the_broken_file(setup, capsys):
    root, checkpoint, videos, broken = setup
    assert predict.main(_args(root, checkpoint, videos[0], broken, videos[1], json_out=True)) == 1
    captured = capsys.readouterr()
    entries = json.loads(captured.out)
    assert [e["path"] for e in entries] == [videos[0], broken, videos[1]]
    good = entries[0]
    assert good["error"] is None and len(good["top5"]) == 5
    assert all(e["name"] in {"move_left", "move_right", "move_up", "move_down", "rotate_clockwise",
                             "rotate_counterclockwise", "grow", "shrink"} for e in good["top5"])
    scores = [e["score"] for e in good["top5"]]
    assert 0 < sum(scores) <= 1.0 + 1e-5
    assert entries[1]["top5"] == [] and entries[1]["error"]
    assert captured.err.count("\n") == 1 and captured.err.startswith(f"error: {broken}: ")


def test_text_output_and_exit_0_when_all_decode(setup, capsys):
    root, checkpoint, videos, _ = setup
    assert predict.main(_args(root, checkpoint, *videos)) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 * 6 and lines[0] == videos[0] and lines[6] == videos[1]
    assert lines[1].startswith("  1. ")


def test_predictions_match_the_test_run_on_the_same_videos(setup, tmp_path, capsys):
    root, checkpoint, videos, _ = setup
    predict.main(_args(root, checkpoint, *videos, json_out=True))
    predicted = {Path(e["path"]).stem: e["top5"][0] for e in json.loads(capsys.readouterr().out)}
    cfg = load_config(DEMO, ["DATA.PATH_TO_DATA_DIR", str(root), "DATA.PATH_PREFIX", str(root),
                             "DATA.CLASS_NAMES_FILE", str(root / "classnames.txt"), "OUTPUT_DIR", str(tmp_path), "TEST.CHECKPOINT_FILE_PATH", checkpoint, *TINY])
    evaluator.run_test(cfg)
    for video in json.loads((tmp_path / "results.json").read_text())["videos"]:
        top = predicted[Path(video["video_id"]).stem]
        assert top["class"] == video["pred"]
        assert top["score"] == pytest.approx(video["probs"][video["pred"]], abs=1e-5)


def test_a_missing_checkpoint_is_one_line_and_exit_2(setup, capsys):
    root, _, videos, _ = setup
    assert predict.main(_args(root, str(root / "nope.pyth"), videos[0])) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "nope.pyth" in err


def test_overrides_start_at_the_first_config_key():
    args = predict.parse_args(["--cfg", "c.yaml", "--checkpoint", "w.pyth", "a b.mp4", "-x.mp4",
                               "TEST.NUM_SPATIAL_CROPS", "1", "OUTPUT_DIR", "o"])
    assert args.videos == ["a b.mp4", "-x.mp4"]
    assert args.overrides == ["TEST.NUM_SPATIAL_CROPS", "1", "OUTPUT_DIR", "o"]
    assert not is_config_key("TEST") and not is_config_key("TEST.NOPE")


def test_no_video_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        predict.parse_args(["--cfg", "c.yaml", "--checkpoint", "w.pyth", "TEST.BATCH_SIZE", "2"])
    assert exit_info.value.code == 2
    assert "at least one video" in capsys.readouterr().err
