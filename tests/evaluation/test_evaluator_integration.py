"""run_test end to end on real files: tiny SynthMotion videos (one of them broken), the real
decoders, views and network with random weights."""

import json
from collections import Counter

import pytest

from data_prep.synthetic import generate
from video3d.config import load_config
from video3d.data import FrameSource
from video3d.evaluation.evaluator import run_test
from video3d.models import build_model

NUM_VAL = 3


@pytest.fixture(scope="module")
def synthmotion(tmp_path_factory):
    root = tmp_path_factory.mktemp("synthmotion")
    generate(str(root), num_train=1, num_val=NUM_VAL, size=32, frames=20, num_broken=1)
    return root


def _cfg(root, tmp_path, head):
    return load_config("configs/demo/synthmotion_iresnet3d_ffc.yaml", [
        "DATA.PATH_TO_DATA_DIR", str(root), "DATA.PATH_PREFIX", str(root),
        "DATA.CLASS_NAMES_FILE", str(root / "classnames.txt"), "OUTPUT_DIR", str(tmp_path / "out"),
        "DATA.NUM_FRAMES", "4", "DATA.SAMPLING_RATE", "2", "DATA.TEST_CROP_SIZE", "32",
        "DATA.TRAIN_JITTER_SCALES", "[32, 40]", "DATA.TRAIN_CROP_SIZE", "32",
        "TEST.NUM_ENSEMBLE_VIEWS", "2", "TEST.BATCH_SIZE", "4", "DATA_LOADER.NUM_WORKERS", "0",
        "MODEL.HEAD", head,
    ])


@pytest.mark.parametrize("head", ["ffc", "linear"])
def test_run_test_on_synthmotion_decodes_each_video_once_and_writes_results(
    synthmotion, tmp_path, monkeypatch, head
):
    reads = Counter()
    original = FrameSource.get_frames

    def counting_get_frames(self, indices):
        reads[self.path] += 1
        return original(self, indices)

    monkeypatch.setattr(FrameSource, "get_frames", counting_get_frames)
    cfg = _cfg(synthmotion, tmp_path, head)
    summary = run_test(cfg, build_model(cfg))

    assert len(reads) == NUM_VAL and set(reads.values()) == {1}  # one decode request per video
    assert summary["num_videos"] == NUM_VAL and summary["num_views"] == 2 * 3
    assert len(summary["failed"]) == 1 and summary["failed"][0]["reason"]
    assert 0.0 <= summary["top1"] <= summary["top5"] <= 100.0
    saved = json.loads((tmp_path / "out" / "results.json").read_text())
    assert saved["classes"][0] == "move_left" and len(saved["videos"]) == NUM_VAL
    assert all(len(v["probs"]) == 8 for v in saved["videos"])
    assert (tmp_path / "out" / "plots" / "confusion_matrix.png").stat().st_size > 0
